"""Run a grading job inside the sandbox: one forked process per exercise, verdicts on stdout.

``python -I -m course_grading.runner`` reads a job (:mod:`course_grading.program`) as JSON
on stdin and writes one JSON line per exercise on stdout. This process never runs a line of
the student's code. It imports the trusted code (torch, the libraries, ``course_utils`` and
its checkers), records what the checkers rely on, then for each exercise forks a child that:

1. arms an audit hook that refuses, from then on, what no answer needs and a forgery does:
   adding audit hooks, tracing and profiling hooks, ``gc`` and ``ctypes`` introspection,
   frames of other threads, signals to other processes, files under ``/proc/<pid>/fd``,
   and setting attributes on trusted classes or functions from the student's code;
2. runs the statements the exercise needs, then the instructor's test cell, with each
   checker verdict recorded through ``course_utils.verdict_log``;
3. compares every trusted module, class and function with the record taken before any
   student code ran: a rebinding, a new ``__code__``, a changed import path or an active
   torch function mode is *tampering*, and the exercise scores 0;
4. refuses an answer that calls the course's own reference code (the checkers' module
   functions, ``course_utils.pipeline``) instead of computing its result.

A child that runs past the time limit is killed (a bare ``except:`` cannot stop that); one
that dies (``exit()``, ``os._exit``, a crash, memory) costs only its own exercise.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
import traceback
import types
import warnings
from pathlib import Path

TRUSTED_IMPORTS = (
    "torch",
    "course_utils",
    "course_utils.feedback",
    "course_utils.i18n",
    "course_utils.verdict_log",
    "course_utils.checks",
)
STUDENT_FILE = "<cell "  # compiled student code gets the file name "<cell N>"
_GUARDED_PREFIX = ("course_utils.checks.", "course_utils.pipeline")
_BLOCKED_EVENTS = {
    "sys.addaudithook": "adds an audit hook",
    "sys.settrace": "installs a tracing hook (sys.settrace)",
    "sys.setprofile": "installs a profiling hook (sys.setprofile)",
    "sys._current_frames": "reads other threads' frames",
    "gc.get_objects": "searches the interpreter's objects (gc.get_objects)",
    "gc.get_referrers": "searches the interpreter's objects (gc.get_referrers)",
    "gc.get_referents": "searches the interpreter's objects (gc.get_referents)",
}


def _import_trusted(modules: list[str]) -> None:
    """Import what the checkers use, and let libraries finish their lazy class patching.

    torch wraps each optimizer class's ``step`` the first time one is built; that happens
    here, before the record of trusted code is taken, rather than in the middle of a check.
    """
    import importlib

    for name in TRUSTED_IMPORTS:
        importlib.import_module(name)
    for name in modules:  # what the notebook imports: installed code only (-I, no cwd)
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  (`from x import name` lists names, not modules)
            parent, _, attribute = name.rpartition(".")
            try:  # a lazy package (transformers) loads the name's module on first access
                getattr(importlib.import_module(parent), attribute)
            except Exception:  # noqa: BLE001
                pass
    import torch

    todo = [torch.optim.Optimizer]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        try:
            cls([torch.zeros(1, requires_grad=True)])
        except Exception:  # noqa: BLE001  (an abstract class or one with required arguments)
            pass


def _is_trusted_module(module: types.ModuleType) -> bool:
    return not module.__name__.startswith("__main__")


def _watched(value: object) -> bool:
    """What a forgery would rebind: functions, classes and modules (not data or flags)."""
    return callable(value) or isinstance(value, types.ModuleType)


class Snapshot:
    """What the checkers rely on, by identity: trusted modules, their classes, functions' code."""

    def __init__(self, only: str = "") -> None:
        self.modules: dict[str, dict[str, int]] = {}
        self.objects: dict[str, tuple[int, str | None]] = {}  # module name -> (id, file)
        self.classes: dict[int, tuple[str, dict[str, int]]] = {}
        self.code: dict[int, tuple[str, int]] = {}
        for name, module in list(sys.modules.items()):
            if module is None or not name.startswith(only) or not _is_trusted_module(module):
                continue
            try:
                namespace = dict(vars(module))
            except TypeError:
                continue
            self.modules[name] = {k: id(v) for k, v in namespace.items() if _watched(v)}
            self.objects[name] = (id(module), _origin(module))
            for key, value in namespace.items():
                self._note(f"{name}.{key}", value)
        self.path = _import_state()

    def _note(self, label: str, value: object) -> None:
        if isinstance(value, type) and id(value) not in self.classes:
            try:
                attrs = {k: id(v) for k, v in vars(value).items() if _watched(v)}
            except TypeError:
                return
            self.classes[id(value)] = (label, attrs)
            for key, attr in list(vars(value).items()):
                if isinstance(attr, types.FunctionType):
                    self.code[id(attr)] = (f"{label}.{key}", id(attr.__code__))
        elif isinstance(value, types.FunctionType):
            self.code[id(value)] = (label, id(value.__code__))

    def changes(self, skip: tuple[str, ...] = ()) -> list[str]:
        """What differs now from the snapshot, as short descriptions (empty: untouched)."""
        found: list[str] = []
        for name, attrs in self.modules.items():
            if name.startswith(skip):
                continue
            module = sys.modules.get(name)
            if module is None:
                if name.startswith("course_utils"):
                    found.append(f"the module `{name}` was removed from sys.modules")
                continue
            if id(module) != self.objects[name][0]:
                # Imported again: fine from the same installed file (libraries do this), not
                # from anywhere else (a fake package).
                if _origin(module) != self.objects[name][1]:
                    found.append(f"the module `{name}` was replaced by one from {_origin(module)}")
                continue
            namespace = vars(module)
            for key, ident in attrs.items():
                value = namespace.get(key)
                if id(value) != ident and not _registered_module(value):
                    found.append(f"`{name}.{key}` was replaced")
        by_id = {id(v): v for v in _CLASSES}
        for ident, (label, attrs) in self.classes.items():
            cls = by_id.get(ident)
            if cls is None or label.startswith(skip):
                continue
            current = vars(cls)
            for key, attr_id in attrs.items():
                if id(current.get(key)) != attr_id:
                    found.append(f"`{label}.{key}` was replaced")
        for ident, (label, code_id) in self.code.items():
            function = _FUNCTIONS.get(ident)
            if (
                function is not None
                and not label.startswith(skip)
                and id(function.__code__) != code_id
            ):
                found.append(f"the code of `{label}` was replaced")
        if not _same_imports(self.path, _import_state()):
            found.append(
                "the import system was changed (sys.path ahead of the libraries, sys.meta_path, "
                "sys.path_hooks or a course_utils package path)"
            )
        import torch

        if torch._C._len_torch_function_stack() or torch._C._len_torch_dispatch_stack():
            found.append("a torch function or dispatch mode is active (it rewrites torch calls)")
        if sys.gettrace() is not None or sys.getprofile() not in (None, _PROFILE[0]):
            found.append("a tracing or profiling hook is installed")
        return found


def _origin(module: types.ModuleType) -> str | None:
    spec = getattr(module, "__spec__", None)
    return getattr(spec, "origin", None) or getattr(module, "__file__", None)


def _registered_module(value: object) -> bool:
    """A module that is the one the import system holds under its name.

    Lazy packages (transformers) swap a placeholder for the real submodule on first use;
    the import system's own module is what imports get, so that swap is not tampering. A
    module made by the student is not registered (and replacing a registered one shows up
    as a changed ``sys.modules`` entry).
    """
    return isinstance(value, types.ModuleType) and sys.modules.get(value.__name__) is value


def _import_state() -> tuple:
    """What decides where imports come from. Libraries may *append* to sys.path (evaluate
    adds its module cache); anything put ahead of them, or a new finder, could shadow them."""
    packages = tuple(
        (
            name,
            tuple(getattr(module, "__path__", ()) or ()),
            getattr(getattr(module, "__spec__", None), "origin", None),
        )
        for name, module in sorted(sys.modules.items())
        if name.startswith("course_utils") and module is not None
    )
    return tuple(sys.path), tuple(map(id, sys.meta_path)), tuple(map(id, sys.path_hooks)), packages


def _same_imports(before: tuple, now: tuple) -> bool:
    path_before, meta_before, hooks_before, packages_before = before
    path_now, meta_now, hooks_now, packages_now = now
    packages_now = tuple(p for p in packages_now if p[0] in {q[0] for q in packages_before})
    return (
        path_now[: len(path_before)] == path_before
        and meta_now == meta_before
        and hooks_now == hooks_before
        and packages_now == packages_before
    )


_FUNCTIONS: dict[int, types.FunctionType] = {}
_CLASSES: list[type] = []
_PROFILE: list = [None]


def _index_objects() -> None:
    """Keep references to the trusted functions and classes, so their ids stay meaningful."""
    for module in list(sys.modules.values()):
        if module is None or not _is_trusted_module(module):
            continue
        try:
            namespace = dict(vars(module))
        except TypeError:
            continue
        for value in namespace.values():
            if isinstance(value, types.FunctionType):
                _FUNCTIONS[id(value)] = value
            elif isinstance(value, type):
                _CLASSES.append(value)
                try:
                    for attr in vars(value).values():
                        if isinstance(attr, types.FunctionType):
                            _FUNCTIONS[id(attr)] = attr
                except TypeError:
                    pass


def _trusted_file(filename: str) -> bool:
    return not filename.startswith(STUDENT_FILE)


def _install_audit_hook(armed: list[bool], violations: list[str], trusted_ids: set[int]) -> None:
    """An audit hook that, once ``armed[0]`` is set, refuses what forgeries need."""
    own_pid = os.getpid()

    def student_frame() -> bool:
        frame = sys._getframe(2)
        return frame is not None and not _trusted_file(frame.f_code.co_filename)

    def caller_is_student(package: str) -> bool:
        """Whether the first frame outside ``package`` (ctypes' own wrappers) is the student's.

        Libraries load their native code through ctypes on first use; only a call made
        straight from the student's code is refused.
        """
        frame = sys._getframe(2)
        while frame is not None and f"/{package}/" in frame.f_code.co_filename:
            frame = frame.f_back
        return frame is not None and not _trusted_file(frame.f_code.co_filename)

    def hook(event: str, args: tuple) -> None:
        if not armed[0]:
            return
        reason = _BLOCKED_EVENTS.get(event)
        if reason is None and event.startswith("ctypes.") and caller_is_student("ctypes"):
            reason = "calls C code through ctypes"
        if (
            reason is None
            and event in ("os.kill", "os.killpg")
            and args
            and args[0] in (own_pid, os.getppid(), 1, 0, -1)
        ):
            reason = "sends a signal to the grading processes"
        if reason is None and event == "open" and args and isinstance(args[0], (str, bytes)):
            path = os.fsdecode(args[0])
            if path.startswith("/proc/") and ("/fd/" in path or path.endswith("/mem")):
                reason = f"opens {path}"
        if (
            reason is None
            and event in ("object.__setattr__", "object.__delattr__")
            and args
            and id(args[0]) in trusted_ids
            and student_frame()
        ):
            reason = f"changes `{getattr(args[0], '__qualname__', args[0])}.{args[1]}`"
        if reason is not None:
            violations.append(f"the code {reason}")
            raise RuntimeError(f"not allowed while grading: the code {reason}")

    sys.addaudithook(hook)


def _reference_guard(violations: list[str]):
    """A profile function: the course's reference code called straight from student code.

    Reference code is a public module-level function of a checker module or of
    ``course_utils.pipeline`` (checkers are reloaded by each test, so this goes by module
    name, not by identity). Private helpers a checker hands to the answer (the function to
    differentiate, say) and methods of the objects it passes in are fine. The guard is on
    while the test cell runs; the notebook's own cells may use the course's helpers.
    """

    def profile(frame, event, arg):
        if (
            event == "call"
            and frame.f_globals.get("__name__", "").startswith(_GUARDED_PREFIX)
            and "." not in frame.f_code.co_qualname
            and not frame.f_code.co_name.startswith("_")
        ):
            caller = frame.f_back
            if caller is not None and not _trusted_file(caller.f_code.co_filename):
                name = frame.f_code.co_qualname
                module = frame.f_globals.get("__name__", "")
                violations.append(
                    f"the answer calls the course's own reference code `{module}.{name}` "
                    "instead of computing the result itself"
                )
                raise RuntimeError(f"not allowed while grading: calling `{module}.{name}`")

    return profile


def _describe_exception(error: BaseException) -> str:
    """A checker's own message, or what went wrong in the test, in one paragraph."""
    from course_utils import feedback

    if isinstance(error, feedback.CheckFailed):
        return str(error)
    if isinstance(error, NameError):
        return (
            f"{error}: the test needs a definition the notebook does not have when this "
            "exercise is graded. Was the answer cell renamed, deleted or left with a syntax error?"
        )
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(STUDENT_FILE)
    ]
    where = f" (in {frames[-1].filename[1:-1]}, line {frames[-1].lineno})" if frames else ""
    return f"the test stopped with {type(error).__name__}: {error}{where}"


def _run_exercise(
    exercise: dict,
    snapshot: Snapshot,
    armed: list[bool],
    violations: list[str],
    out: int,
    memory_bytes: int,
) -> None:
    """In the child: run one exercise and write its verdict to ``out``. Never returns."""
    import resource

    devnull = os.open(os.devnull, os.O_RDWR)
    log = os.open(
        f"/tmp/exercise-{exercise['cell']}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600
    )
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)

    from course_utils import checks, verdict_log

    records: list[tuple[bool, str]] = []
    verdict_log.RECORDS = records
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    load_errors: list[str] = []
    load_tampering: list[str] = []
    reloaded: list[Snapshot] = []
    error_text = None
    started = time.monotonic()
    profile = _reference_guard(violations)
    _PROFILE[0] = profile
    armed[0] = True
    try:
        for statement in exercise["statements"]:
            try:
                code = compile(statement["source"], f"<cell {statement['cell']}>", "exec")
                exec(code, main.__dict__)
            except Exception as error:  # a definition that fails: the test will say what is missing
                load_errors.append(f"cell {statement['cell']}: {type(error).__name__}: {error}")
        load_tampering = snapshot.changes()
        original_load = checks.load

        def trusted_load(chapter: str):
            module = original_load(chapter)
            reloaded.append(
                Snapshot(only="course_utils")
            )  # the fresh checker, before the answer ran
            return module

        armed[0] = False
        checks.load = trusted_load
        sys.setprofile(profile)  # from here on, student code runs only when the checker calls it
        armed[0] = True
        if not load_tampering:
            exec(compile(exercise["test"], f"<test {exercise['grade_id']}>", "exec"), main.__dict__)
    except BaseException as error:  # noqa: BLE001  (SystemExit and KeyboardInterrupt too)
        error_text = _describe_exception(error)
    armed[0] = False
    sys.setprofile(None)
    skip = ("course_utils.checks", "course_utils.feedback")
    tampering = load_tampering or snapshot.changes(skip=skip)
    if verdict_log.RECORDS is not records:
        tampering.append("the grader's record of verdicts (course_utils.verdict_log) was replaced")
    if reloaded:
        tampering += [c for c in reloaded[-1].changes() if "course_utils" in c]
    verdict = {
        "grade_id": exercise["grade_id"],
        "records": [[ok, text] for ok, text in records],
        "error": error_text,
        "violations": list(dict.fromkeys(violations)),
        "tampering": list(dict.fromkeys(tampering))[:5],
        "load_errors": load_errors[:5],
        "expected_records": exercise["checker_calls"],
        "seconds": round(time.monotonic() - started, 2),
    }
    os.write(out, (json.dumps(verdict) + "\n").encode())
    os._exit(0)


def _wait_for_verdict(pid: int, read_end: int, timeout: float) -> tuple[dict | None, str | None]:
    """The child's verdict, or why there is none (time limit, early exit, crash)."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    chunks: list[bytes] = []
    while True:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([read_end], [], [], wait)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return (
                None,
                f"the check ran longer than the grader's limit of {timeout:g} s and was stopped "
                "(an endless loop?)",
            )
        data = os.read(read_end, 1 << 16)
        if not data:
            break
        chunks.append(data)
        if sum(map(len, chunks)) > 1 << 20:
            os.kill(pid, signal.SIGKILL)
            break
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", "replace").strip().splitlines()
    if len(text) == 1 and os.waitstatus_to_exitcode(status) == 0:
        try:
            return json.loads(text[0]), None
        except ValueError:
            pass
    code = os.waitstatus_to_exitcode(status)
    if len(text) > 1:
        return (
            None,
            "the grading process received more than one verdict: the code wrote to the "
            "grader's channel",
        )
    if code < 0:
        name = signal.Signals(-code).name
        why = " (out of memory?)" if -code == signal.SIGKILL else ""
        return (
            None,
            f"the process running this exercise was killed by {name}{why} before the "
            "check finished",
        )
    return None, (
        f"the process running this exercise ended (exit status {code}) before the check "
        "finished: does the answer call exit(), sys.exit() or os._exit()?"
    )


def main() -> int:
    job = json.load(sys.stdin)
    timeout = float(job.get("timeout", 300))
    memory = int(job.get("memory_bytes", 0))
    from course_utils import i18n

    i18n.set_language(job.get("language", i18n.DEFAULT))  # before any checker builds a message
    _import_trusted(job.get("modules", []))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _index_objects()
        snapshot = Snapshot()
    import course_utils

    trusted_ids = set(_FUNCTIONS) | {id(c) for c in _CLASSES}
    trusted_ids |= {id(m) for m in sys.modules.values() if m is not None}
    armed = [False]
    violations: list[str] = []
    _install_audit_hook(armed, violations, trusted_ids)
    print(
        json.dumps({"ready": True, "course_utils": str(Path(course_utils.__file__).parent)}),
        flush=True,
    )
    for exercise in job["exercises"]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                _run_exercise(exercise, snapshot, armed, violations, write_end, memory)
            finally:
                os._exit(70)
        os.close(write_end)
        verdict, problem = _wait_for_verdict(pid, read_end, timeout)
        os.close(read_end)
        if verdict is None:
            verdict = {"grade_id": exercise["grade_id"], "crash": problem}
        verdict["log"] = _tail(f"/tmp/exercise-{exercise['cell']}.log")
        print(json.dumps(verdict), flush=True)
    return 0


def _tail(path: str, limit: int = 4000) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


if __name__ == "__main__":
    sys.exit(main())
