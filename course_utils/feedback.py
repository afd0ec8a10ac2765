"""How a checker talks to a student: one line per verdict, the mistake named, no traceback.

A checker opens a :class:`Check` for its task, runs its cases, and either calls
:meth:`Check.fail` with a message that names the mistake (which raises :class:`CheckFailed`)
or lets the ``with`` block end, which prints the success line::

    with Check("derivative") as check:
        check.case(...)            # one passed case
        check.fail("you returned f(x) instead of f'(x) ...")

The student sees ``✗ derivative — you returned f(x) ...`` or
``✓ derivative — 5/5 checks passed (max error 2e-16; should be below 1e-6)``. The same text
is what nbgrader records, because a failed check raises (so the graded cell fails) and
IPython shows only the message (``_render_traceback_``) instead of a stack trace.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from course_utils import verdict_log
from course_utils.i18n import _

PASS_MARK = "✓"
FAIL_MARK = "✗"
_PACKAGE_DIR = Path(__file__).resolve().parent


class CheckFailed(AssertionError):
    """A check that did not pass. Its message is the whole story: IPython shows no traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython hook: what to show instead of a trace
        return str(self).splitlines()


# `checks.load` re-executes this module; keep one CheckFailed class across reloads so that
# `except CheckFailed` written before a reload still catches failures raised after it.
_first = globals().get("_FIRST_CHECK_FAILED")
if isinstance(_first, type) and issubclass(_first, AssertionError):
    CheckFailed = _first  # noqa: F811
_FIRST_CHECK_FAILED = CheckFailed


class Check:
    """Collects the passed cases of one task and reports the verdict in one line."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.passed = 0
        self.details: list[str] = []

    def __enter__(self) -> Check:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            detail = f" ({'; '.join(self.details)})" if self.details else ""
            line = _("{mark} {task} — {passed}/{total} checks passed{detail}").format(
                mark=PASS_MARK, task=self.task, passed=self.passed, total=self.passed, detail=detail
            )
            verdict_log.record(True, line)
            print(line)
        elif issubclass(exc_type, CheckFailed):
            verdict_log.record(False, str(exc))
        return False

    def case(self, detail: str | None = None) -> None:
        """Record one passed case; ``detail`` (a measured number, say) is shown on success."""
        self.passed += 1
        if detail:
            self.details.append(detail)

    def fail(self, message: str) -> NoReturn:
        """Stop with the mistake named: ``✗ task — message``."""
        raise CheckFailed(
            _("{mark} {task} — {message}").format(mark=FAIL_MARK, task=self.task, message=message)
        )

    def require(self, condition: bool, message: str) -> None:
        """Pass one case if ``condition`` holds, else fail with ``message``."""
        if not condition:
            self.fail(message)
        self.case()

    def call(
        self,
        fn: Any,
        *args: Any,
        name: str | None = None,
        explain: Callable[[Exception], str | None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call the student's ``fn``; turn a stub or a crash into a message that says so.

        ``explain`` may recognise a known error and return the mistake it reveals.
        """
        label = name or getattr(fn, "__name__", "your function")
        if not callable(fn):
            self.fail(
                _(
                    "`{label}` should be a function, but it is a {kind}. "
                    "Define it with `def` in the answer cell and run that cell again."
                ).format(label=label, kind=type(fn).__name__)
            )
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError as error:
            if not is_stub(error):  # raised inside a library: a crash, not a stub
                self._crashed(error, label, explain)
            self.fail(
                _(
                    "not answered yet: `{label}` still raises NotImplementedError. Replace "
                    "`raise NotImplementedError()` in the answer cell with your code, run it, "
                    "then run this check again."
                ).format(label=label)
            )
        except CheckFailed:
            raise
        except Exception as error:  # the student's code crashed: say where, in their code
            self._crashed(error, label, explain)
        impostor = _impostor(result)
        if impostor:
            self.fail(
                _(
                    "`{label}` returned {impostor}. Return plain tensors, numbers or the objects "
                    "the exercise names, computed by your code."
                ).format(label=label, impostor=impostor)
            )
        return result


    def _crashed(
        self, error: Exception, label: str, explain: Callable[[Exception], str | None] | None
    ) -> NoReturn:
        """Fail with what ``explain`` makes of a crash, or with the error and its line."""
        hint = explain(error) if explain else None
        if not hint:
            from course_utils.checks.diagnosis import explain_torch_crash

            hint = explain_torch_crash(error)
        if hint:
            self.fail(
                _("{hint} (`{label}` raised {error}{where}).").format(
                    hint=hint, label=label, error=type(error).__name__, where=_where(error)
                )
            )
        self.fail(
            _(
                "`{label}` raised {error}: {detail}{where}. "
                "Run the answer cell on its own to see the full error."
            ).format(label=label, error=type(error).__name__, detail=error, where=_where(error))
        )


def is_stub(error: BaseException) -> bool:
    """Whether a NotImplementedError is the answer cell's own ``raise`` (an unanswered
    exercise), not one raised inside torch or another library (a crash: log_softmax on a
    Long tensor, say). The stub's frame is the deepest one, in the notebook's code; a library
    error raised from C under a line that is not a ``raise`` carries a message, a stub none."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return True
    frame = frames[-1]
    path = Path(frame.filename).resolve()
    if path.is_relative_to(_PACKAGE_DIR) or "site-packages" in path.parts:
        return False
    line = (frame.line or "").strip()
    return not line or line.startswith("raise") or not str(error)


def _where(error: BaseException) -> str:
    """' (at line N: `code`)' for the deepest frame outside course_utils, if any."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not Path(frame.filename).resolve().is_relative_to(_PACKAGE_DIR)
    ]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": `{frame.line.strip()}`" if frame.line else ""
    return _(" (at line {line}{code})").format(line=frame.lineno, code=code)


def _impostor(value: Any, depth: int = 0) -> str | None:
    """A returned object that could answer comparisons for itself, described; else None.

    A tensor subclass (its ``__torch_function__`` sees every comparison a checker makes) or
    an object of a class defined in the notebook is not a result a checker can measure.
    """
    import torch

    kind = type(value)
    if isinstance(value, torch.Tensor) and kind not in (torch.Tensor, torch.nn.Parameter):
        if kind.__module__.startswith(("torch", "transformers", "accelerate")):
            return None
        return _("a tensor of its own class `{name}`").format(name=kind.__name__)
    if kind.__module__ == "__main__" and not isinstance(value, (tuple, list, dict)):
        return _("an object of a class defined in the notebook (`{name}`)").format(
            name=kind.__name__
        )
    if depth < 2 and isinstance(value, (tuple, list)):
        for item in value:
            found = _impostor(item, depth + 1)
            if found:
                return found
    if depth < 2 and isinstance(value, dict):
        for item in value.values():
            found = _impostor(item, depth + 1)
            if found:
                return found
    return None


def fmt(value: float) -> str:
    """A number as a student would like to read it: 4 significant digits."""
    return f"{value:.4g}"

