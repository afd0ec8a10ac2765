"""Checkers for chapter 1, Autograd.

Each function takes the student's answer (a function), runs it on cases, and compares the
result with a reference computed by autograd. When the answer is wrong, the result is also
compared with the known wrong answers (one-sided differences, a missing product-rule term,
gradients never zeroed, ...) so the message can name the mistake instead of "wrong answer".
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Callable, Sequence
from typing import Any

import torch

from course_utils.feedback import Check, fmt
from course_utils.i18n import _

# re-read with the checker (checks.load), like the feedback core
watch = importlib.reload(importlib.import_module("course_utils.checks.watch"))

Tensor = torch.Tensor

_TRACKING_HINT = (
    _(
        "the step ran with gradient tracking on: PyTorch refuses to update a leaf tensor that "
        "requires grad in place, because the update itself would be recorded in the graph. Put "
        "the update inside `with torch.no_grad():`"
    )
)


def _explain_tracking(error: Exception) -> str | None:
    if isinstance(error, RuntimeError) and "leaf Variable that requires grad" in str(error):
        return _TRACKING_HINT
    return None


def _explain_math_module(error: Exception) -> str | None:
    text = str(error)
    scalar_only = "converted to Python scalars" in text or "must be real" in text
    if isinstance(error, (TypeError, ValueError)) and scalar_only:
        return (
            _(
                "it does not work on a tensor of several values: use torch.sin / torch.cos (which "
                "work element-wise on tensors) rather than math.sin / math.cos"
            )
        )
    return None


def _to_tensor(check: Check, value: Any, what: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach()
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        check.fail(_(
            "{what} should be a tensor (or a number), but it is {kind}."
        ).format(what=what, kind=type(value).__name__))


def _close(a: Tensor, b: Tensor, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol)


def _matches(a: Tensor, b: Tensor, tol: float = 1e-4) -> bool:
    """Equal up to ``tol`` relative to the largest entry (for telling mistakes apart)."""
    scale = b.abs().max().clamp_min(1e-12)
    return a.shape == b.shape and bool((a.double() - b.double()).abs().max() <= tol * scale)


# --- Exercise 1: a derivative by hand --------------------------------------------------------


def f(x: Tensor) -> Tensor:
    """The function of exercise 1: f(x) = x² · sin(x)."""
    return x**2 * torch.sin(x)


def autograd_derivative(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """df/dx at every point of ``x``, computed by autograd (the reference)."""
    x = x.detach().clone().requires_grad_(True)
    fn(x).sum().backward()
    return x.grad.detach()


def derivative(df_dx: Callable[[Tensor], Tensor], at: Sequence[float] | None = None) -> None:
    """Check a hand-written derivative of f(x) = x² · sin(x) against autograd."""
    points = torch.tensor(at if at is not None else [-3.0, -1.5, -0.5, 0.0, 0.7, 2.0, 3.1],
                          dtype=torch.float64)
    with Check("derivative") as check:
        answer = check.call(df_dx, points.clone(), explain=_explain_math_module)
        answer = _to_tensor(check, answer, _("What df_dx returns"))
        if answer.shape != points.shape:
            check.fail(
                _(
                    "for an input of shape {points_shape} df_dx returned shape {answer_shape}: "
                    "compute element-wise with tensor operations so the output has one derivative "
                    "per input value."
                ).format(points_shape=tuple(points.shape), answer_shape=tuple(answer.shape))
            )
        check.case()
        reference = autograd_derivative(f, points)
        if not _close(answer, reference):
            sin, cos, x = torch.sin(points), torch.cos(points), points
            known = [
                (x**2 * sin, _("you returned f(x) itself, not its derivative f'(x).")),
                (2 * x * sin, _(
                    "only half of the product rule: 2x·sin(x) is there but x²·cos(x) is missing. "
                    "(u·v)' = u'·v + u·v'."
                )),
                (x**2 * cos, _(
                    "only half of the product rule: x²·cos(x) is there but 2x·sin(x) is missing. "
                    "(u·v)' = u'·v + u·v'."
                )),
                (2 * x * cos, _(
                    "you multiplied the two derivatives (2x · cos(x)); the product rule is (u·v)' "
                    "= u'·v + u·v'."
                )),
                (2 * x * sin - x**2 * cos, _(
                    "the sign of the x²·cos(x) term is flipped: the derivative of sin(x) is "
                    "+cos(x)."
                )),
                (x * sin + x**2 * cos, _(
                    "the power rule lost its factor 2: the derivative of x² is 2x, not x."
                )),
                ((2 * x * sin) * (x**2 * cos), _(
                    "you multiplied the two terms of the product rule, 2x·sin(x) · x²·cos(x); "
                    "(u·v)' = u'·v + u·v' adds them."
                )),
            ]
            for wrong, message in known:
                if _close(answer, wrong):
                    check.fail(message)
            terms = _term_mistake(df_dx)
            if terms:
                check.fail(terms)
            worst = int((answer - reference).abs().argmax())
            check.fail(
                _(
                    "at x = {points} your derivative is {answer}, autograd says {reference}."
                ).format(
                    points=fmt(points[worst].item()),
                    answer=fmt(answer[worst].item()),
                    reference=fmt(reference[worst].item()),
                )
            )
        error = (answer - reference).abs().max().item()
        check.case(_(
            "max |error| against autograd {error:.1e}; should be below 1e-6"
        ).format(error=error))


_TERMS = (("x²·sin(x)", lambda x: x**2 * torch.sin(x)),
          ("x²·cos(x)", lambda x: x**2 * torch.cos(x)),
          ("x·sin(x)", lambda x: x * torch.sin(x)), ("x·cos(x)", lambda x: x * torch.cos(x)),
          ("sin(x)", torch.sin), ("cos(x)", torch.cos))
_RIGHT = {"x·sin(x)": 2.0, "x²·cos(x)": 1.0}


def _term_mistake(df_dx: Callable[[Tensor], Tensor]) -> str | None:
    """Write the student's derivative as a sum of x^k·sin/cos terms (fitted on 41 points) and
    say which terms differ from 2x·sin(x) + x²·cos(x); None when it is not such a sum."""
    x = torch.linspace(-4.0, 4.0, 41, dtype=torch.float64)
    try:
        values = torch.as_tensor(df_dx(x.clone()), dtype=torch.float64).reshape(-1)
    except Exception:  # noqa: BLE001  (the main check already ran it on other points)
        return None
    if values.shape != x.shape or not torch.isfinite(values).all():
        return None
    basis = torch.stack([term(x) for _, term in _TERMS], dim=1)
    solution = torch.linalg.lstsq(basis, values.unsqueeze(1)).solution.squeeze(1)
    if (basis @ solution - values).abs().max() > 1e-8 * (1 + values.abs().max()):
        return None
    coefficients = {name: round(float(c) * 2) / 2
                    for (name, _), c in zip(_TERMS, solution, strict=True)
                    if abs(float(c)) > 1e-6}
    if any(abs(coefficients[n] - float(c)) > 1e-6
           for (n, _), c in zip(_TERMS, solution, strict=True) if n in coefficients):
        return None

    def show(terms: dict[str, float]) -> str:
        parts = []
        for name, c in terms.items():
            factor = "" if c == 1 else "−" if c == -1 else f"{fmt(c)}·"
            parts.append(f"{factor}{name}".replace("·x", "x", 1) if factor.endswith("·")
                         and name.startswith("x") else f"{factor}{name}")
        return " + ".join(parts).replace("+ −", "− ") or "0"

    yours = show(coefficients)
    wrong = [n for n in set(coefficients) | set(_RIGHT) if coefficients.get(n) != _RIGHT.get(n)]
    if not wrong:
        return None
    swapped = {"x·cos(x)": 2.0, "x²·sin(x)": 1.0}
    if coefficients == swapped:
        why = (_(
            "sin and cos are swapped in both terms: in u'·v + u·v' with u = x² and v = sin(x), "
            "the derivative u' = 2x multiplies v = sin(x) itself, and u = x² multiplies v' = "
            "cos(x)"
        ))
    else:
        missing = [show({n: _RIGHT[n]}) for n in _RIGHT if coefficients.get(n) != _RIGHT[n]]
        extra = [show({n: c}) for n, c in coefficients.items() if _RIGHT.get(n) != c]
        why = (_(
            "{missing} {verb} missing and {extra} should not be there"
        ).format(
            missing=", ".join(missing) or _("nothing"),
            verb=_("is") if len(missing) == 1 else _("are"),
            extra=", ".join(extra) or _("nothing"),
        ))
    return (_(
        "your derivative is {yours}, the product rule gives 2x·sin(x) + x²·cos(x): {why}. (u·v)' "
        "= u'·v + u·v' with u = x², v = sin(x)."
    ).format(yours=yours, why=why))


# --- Exercise 2: a finite-difference gradient check ------------------------------------------


def _cubic(x: Tensor) -> Tensor:
    """A scalar function with strong curvature, so one-sided differences show their error."""
    flat = x.reshape(-1)
    return (x**3).sum() + 2.0 * flat[0] * flat[-1]


def numerical_gradient(numerical_grad: Callable[..., Tensor],
                       shape: Sequence[int] | None = None, seed: int = 0) -> None:
    """Check a central finite-difference gradient against autograd, CS231n style.

    With ``shape`` left out, two cases: x of shape (4,) with eps = 1e-3 (compared with
    autograd), then x of shape (2, 3) with a large eps = 0.05, compared with the central
    difference at that very eps (which differs from autograd by eps² on this cubic): an answer
    that ignores eps, or nudges whole rows, is seen there.
    """
    cases = [(tuple(shape), 1e-3)] if shape is not None else [((4,), 1e-3), ((2, 3), LARGE_EPS)]
    with Check("numerical_gradient") as check:
        for case_shape, eps in cases:
            detail = _numerical_case(check, watch.pinned(numerical_grad), case_shape, seed, eps)
        check.case(detail)


LARGE_EPS = 0.05


def _numerical_case(check: Check, numerical_grad: Callable[..., Tensor], shape: tuple,
                    seed: int, eps: float) -> str:
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=generator, dtype=torch.float64) * 4 - 2)
    x_before = x.clone()
    answer = check.call(numerical_grad, _cubic, x, eps=eps)
    if not torch.equal(x, x_before):
        check.fail(
            _(
                "your function changed x: after the call it differs from the input by up to {x}. "
                "Put each nudged value back (or nudge a copy) so the caller's tensor is untouched."
            ).format(x=fmt((x - x_before).abs().max().item()))
        )
    check.case()
    answer = _to_tensor(check, answer, _("What numerical_grad returns"))
    if answer.shape != x.shape:
        check.fail(
            _(
                "for x of shape {x_shape} you returned shape {answer_shape}: the gradient has one "
                "entry per element of x."
            ).format(x_shape=tuple(x.shape), answer_shape=tuple(answer.shape))
        )
    check.case()
    if answer.dtype != torch.float64:
        check.fail(
            _(
                "the result is {dtype}, not torch.float64: finite differences divide tiny "
                "differences by eps, so they need double precision. Keep x's dtype."
            ).format(dtype=answer.dtype)
        )
    check.case()
    reference = autograd_derivative(_cubic, x)
    if eps == LARGE_EPS:  # compare with the central difference at this eps, not autograd
        central = _central(x, eps)
        relative = _relative(answer, central)
        if relative > 1e-8:
            check.fail(_name_large_eps_mistake(answer, central, reference, x, eps))
        return (_(
            "relative error {answer:.1e} against autograd at eps 1e-3; with eps = {eps} exactly "
            "the central difference"
        ).format(answer=_relative(answer, reference), eps=eps))
    relative = _relative(answer, reference)
    if relative > 1e-5:
        lower = sorted({str(d).removeprefix("torch.") for d in _dtypes_seen(numerical_grad, x, eps)
                        if d != x.dtype})
        if lower:
            check.fail(_(
                "f was evaluated on {dtypes} copies of x, which is {dtype}: finite differences "
                "divide a tiny difference by eps, and in single precision that difference is "
                "mostly rounding (relative error {relative:.1e}; should be below 1e-5). Nudge "
                "copies made with x.clone(), which keep x's dtype (no .float())."
            ).format(dtypes=", ".join(lower), dtype=str(x.dtype).removeprefix("torch."),
                     relative=relative))
        check.fail(_name_fd_mistake(answer, reference, x, eps, relative))
    return _(
        "relative error {relative:.1e} against autograd; should be below 1e-5"
    ).format(relative=relative)


def _dtypes_seen(numerical_grad: Callable[..., Tensor], x: Tensor, eps: float) -> set:
    """The dtypes of the tensors ``numerical_grad`` hands to f (run again on a spy of f)."""
    seen: set = set()

    def spy(values: Tensor) -> Tensor:
        seen.add(values.dtype)
        return _cubic(values)

    try:
        numerical_grad(spy, x.clone(), eps=eps)
    except Exception:  # noqa: BLE001  (only a hint: the main check already ran it)
        return set()
    return seen


def _relative(a: Tensor, b: Tensor) -> float:
    return ((a - b).abs().max() / (a.abs() + b.abs()).max().clamp_min(1e-12)).item()


def _central(x: Tensor, eps: float, rows: bool = False) -> Tensor:
    """The central difference of :func:`_cubic`, element by element (or whole rows x[i])."""
    grad = torch.zeros_like(x)
    for index in (range(x.shape[0]) if rows else range(x.numel())):
        step = torch.zeros_like(x)
        if rows:
            step[index] = eps
        else:
            step.view(-1)[index] = eps
        value = (_cubic(x + step) - _cubic(x - step)) / (2 * eps)
        if rows:
            grad[index] = value
        else:
            grad.view(-1)[index] = value
    return grad


def _name_large_eps_mistake(answer: Tensor, central: Tensor, reference: Tensor, x: Tensor,
                            eps: float) -> str:
    measured = (_(
        "(relative difference {answer:.1e} from the central difference at eps = {eps})"
    ).format(answer=_relative(answer, central), eps=eps))
    if x.dim() > 1 and _matches(answer, _central(x, eps, rows=True), 1e-8):
        return (_(
            "you nudged a whole row x[i] at once: for x of shape {x_shape}, x[i] is a row, so "
            "every entry of the row got the sum of that row's partial derivatives. Nudge one "
            "element at a time: loop over x.numel() on a flattened view (x.view(-1)[i]) or over "
            "torch.ndindex(x.shape) {measured}."
        ).format(x_shape=tuple(x.shape), measured=measured))
    if _relative(answer, reference) < 1e-5:
        return (_(
            "your function ignores its eps argument: called with eps = {eps}, it returned the "
            "difference for a much smaller step (it matches autograd to {answer:.0e}, but (f(x + "
            "eps) − f(x − eps)) / (2·eps) with eps = {eps} differs from autograd by eps² = "
            "{eps_squared:g} on this cubic). Nudge by the eps you are given {measured}."
        ).format(
            eps=eps, answer=_relative(answer, reference), eps_squared=eps**2, measured=measured
        ))
    return _name_fd_mistake(answer, central, x, eps, _relative(answer, central))


def _one_sided(x: Tensor, eps: float) -> Tensor:
    grad = torch.zeros_like(x)
    flat, out = x.clone().reshape(-1), grad.reshape(-1)
    base = _cubic(flat.reshape(x.shape))
    for i in range(flat.numel()):
        nudged = flat.clone()
        nudged[i] += eps
        out[i] = (_cubic(nudged.reshape(x.shape)) - base) / eps
    return grad


def _name_fd_mistake(answer: Tensor, reference: Tensor, x: Tensor, eps: float,
                     relative: float) -> str:
    measured = _(
        "(relative error {relative:.1e}; should be below 1e-5)"
    ).format(relative=relative)
    if _matches(answer, _one_sided(x, eps)):
        return (_(
            "you used a one-sided difference (f(x+eps) − f(x)) / eps, whose error shrinks like "
            "eps; use the central one (f(x+eps) − f(x−eps)) / (2·eps) {measured}."
        ).format(measured=measured))
    if _matches(answer, -reference):
        return _(
            "every entry has the wrong sign: the central difference is (f(x+eps) − f(x−eps)) / "
            "(2·eps), the value at x+eps first {measured}."
        ).format(measured=measured)
    if _matches(answer, 2 * reference):
        return _(
            "every entry is twice too large: divide by 2·eps, not by eps {measured}."
        ).format(measured=measured)
    if _matches(answer, reference / 2):
        return _(
            "every entry is half of what it should be: divide by 2·eps, not 4·eps {measured}."
        ).format(measured=measured)
    total = reference.sum()
    if _matches(answer, torch.full_like(answer, total.item())):
        return (_(
            "every entry is the same number, the sum of all partial derivatives: you nudged every "
            "element of x at once. Nudge one element at a time."
        ))
    flat_ok = torch.isclose(answer.reshape(-1), reference.reshape(-1), rtol=1e-5, atol=1e-7)
    if flat_ok.any() and (answer.reshape(-1)[~flat_ok] == 0).all():
        return (_(
            "only {computed} of {total} entries were computed, the rest are 0: visit every "
            "element (loop over x.numel() on a flattened view)."
        ).format(computed=int(flat_ok.sum()), total=flat_ok.numel()))
    worst = int((answer - reference).abs().argmax())
    return (_(
        "entry {worst} (flattened) is {yours}, autograd says {autograd} {measured}."
    ).format(
        worst=worst,
        yours=fmt(answer.reshape(-1)[worst].item()),
        autograd=fmt(reference.reshape(-1)[worst].item()),
        measured=measured,
    ))


# --- Exercise 3: one SGD step by hand --------------------------------------------------------


def _params_with_grads(seed: int) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(3, generator=generator, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, generator=generator, dtype=torch.float64, requires_grad=True)
    inputs = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    ((inputs @ w + b - 1.0) ** 2).mean().backward()
    values = [w.detach().clone(), b.detach().clone()]
    grads = [w.grad.clone(), b.grad.clone()]
    return [w, b], values, grads


def sgd_step(step: Callable[[list[Tensor], float], Any], lr: float = 0.1, seed: int = 0) -> None:
    """Check ``step(params, lr)``: an in-place update under no_grad, then gradients zeroed."""
    params, before, grads = _params_with_grads(seed)
    with Check("sgd_step") as check:
        check.call(step, params, lr, explain=_explain_tracking)
        after = [p.detach() for p in params]
        expected = [v - lr * g for v, g in zip(before, grads, strict=True)]
        if any(p.grad_fn is not None or not p.requires_grad for p in params):
            check.fail(
                _(
                    "a parameter is no longer a leaf tensor that requires grad: update the tensor "
                    "you were given in place (`p -= lr * p.grad` under torch.no_grad()), don't "
                    "replace it or switch off requires_grad."
                )
            )
        check.case()
        unchanged = all(torch.equal(a, v) for a, v in zip(after, before, strict=True))
        grads_gone = all(p.grad is None or not p.grad.any() for p in params)
        rebind = (
            _(
                "`p = p - lr * p.grad` only rebinds the loop variable: update the tensor itself "
                "in place (`p -= lr * p.grad` or `p.sub_(lr * p.grad)`) inside `with "
                "torch.no_grad():`"
            )
        )
        if unchanged and grads_gone:
            check.fail(
                _(
                    "the parameters did not move and their gradients were cleared: either the "
                    "gradients were zeroed before the update used them (update first, then zero), "
                    "or {rebind}."
                ).format(rebind=rebind)
            )
        if unchanged:
            check.fail(_("the parameters did not change: {rebind}.").format(rebind=rebind))
        uphill = [v + lr * g for v, g in zip(before, grads, strict=True)]
        if all(_close(a, u) for a, u in zip(after, uphill, strict=True)):
            check.fail(_("the step went uphill: subtract lr * grad, don't add it."))
        no_lr = [v - g for v, g in zip(before, grads, strict=True)]
        if lr != 1 and all(_close(a, n) for a, n in zip(after, no_lr, strict=True)):
            check.fail(_(
                "the learning rate was not applied: the step was the whole gradient, not lr × "
                "gradient (lr = {lr})."
            ).format(lr=lr))
        if not all(_close(a, e) for a, e in zip(after, expected, strict=True)):
            error = max((a - e).abs().max().item() for a, e in zip(after, expected, strict=True))
            check.fail(_(
                "the parameters after the step differ from p − lr·grad by up to {error}."
            ).format(error=fmt(error)))
        check.case()
        if not grads_gone:
            check.fail(
                _(
                    "gradients were not zeroed, so they add up over steps: after the update, set "
                    "`p.grad = None` (or call `p.grad.zero_()`) for every parameter."
                )
            )
        check.case(_("parameters moved by −lr·grad; gradients cleared"))


# --- Exercises 4 and 5: fitting a line with a hand loop, then with torch.optim ---------------


def line_data(slope: float = 3.0, intercept: float = -1.0, n: int = 40,
              seed: int = 0) -> tuple[Tensor, Tensor]:
    """Points scattered around y = slope·x + intercept, for x in [-2, 2]."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.linspace(-2, 2, n)
    y = slope * x + intercept + 0.3 * torch.randn(n, generator=generator)
    return x, y


def reference_fit(x: Tensor, y: Tensor, lr: float, steps: int, *, zero_grads: bool = True,
                  loss: str = "mean", late_grads: bool = False,
                  train_b: bool = True) -> tuple[float, float]:
    """Gradient descent on MSE from w = b = 0; the keyword arguments reproduce known mistakes."""
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _step in range(steps):
        errors = (w * x + b - y) ** 2
        value = errors.mean() if loss == "mean" else errors.sum()
        if late_grads:  # step() before backward(): each step uses the previous gradients
            _manual_step([w, b] if train_b else [w], lr)
            if zero_grads:
                for p in (w, b):
                    p.grad = None
            value.backward()
            continue
        value.backward()
        _manual_step([w, b] if train_b else [w], lr)
        if zero_grads:
            for p in (w, b):
                p.grad = None
    return w.item(), b.item()


def _manual_step(params: list[Tensor], lr: float) -> None:
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad


def _unpack_line(check: Check, result: Any) -> tuple[float, float]:
    try:
        w, b = result
        return float(torch.as_tensor(w).detach().reshape(-1)[0]), float(
            torch.as_tensor(b).detach().reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        check.fail(_(
            "return the pair (w, b), e.g. `return w.item(), b.item()`; got {kind} {result!r:.60}."
        ).format(kind=type(result).__name__, result=result))


def _check_line_fit(task: str, fit: Callable[..., Any], slope: float, intercept: float,
                    lr: float, steps: int, optimizer_hints: bool) -> None:
    x, y = line_data(slope, intercept)
    with Check(task) as check:
        with watch.OptimizerWatch() as seen:
            result = check.call(watch.pinned(fit), x.clone(), y.clone(), lr, steps,
                                explain=_explain_tracking)
            got = _unpack_line(check, result)
        check.case()
        want = reference_fit(x, y, lr, steps)

        def same(pair: tuple[float, float]) -> bool:
            return all(abs(g - p) <= 1e-4 * (1 + abs(p)) for g, p in zip(got, pair, strict=True))

        if not same(want):
            if optimizer_hints:
                named = _optimizer_mistake(seen, got, want)
                if named:
                    check.fail(named)
            check.fail(_name_fit_mistake(got, want, x, y, lr, steps, same, optimizer_hints)
                       or _fit_divergence(fit, got, want, x, y, lr, steps))
        tensors = [name for name, value in zip("wb", result, strict=True)
                   if isinstance(value, torch.Tensor)]
        if tensors:
            check.fail(_(
                "the numbers are right, but you returned {names} as a tensor, not a float: "
                "return plain numbers, `return w.item(), b.item()` (or float(w), float(b)), as "
                "the exercise asks; a tensor that requires grad keeps its graph alive."
            ).format(names=" and ".join(tensors)))
        check.case(_("w = {w:.4f}, b = {b:.4f}; reference {want_w:.4f}, {want_b:.4f}").format(
            w=got[0], b=got[1], want_w=want[0], want_b=want[1]))


def _name_fit_mistake(got, want, x, y, lr, steps, same, optimizer_hints) -> str:
    shown = _(
        "you got w = {w}, b = {b}; expected {want_w}, {want_b}"
    ).format(w=fmt(got[0]), b=fmt(got[1]), want_w=fmt(want[0]), want_b=fmt(want[1]))
    if got == (0.0, 0.0):
        if optimizer_hints:
            return (_(
                "w and b never moved from 0: if zero_grad() runs between backward() and step(), "
                "the optimizer steps with zero gradients. Zero before backward() or after step() "
                "({shown})."
            ).format(shown=shown))
        return (_(
            "w and b never moved from 0: the gradients were cleared before the update, or the "
            "update did not change the tensors in place ({shown})."
        ).format(shown=shown))
    if same(reference_fit(x, y, lr, steps, zero_grads=False)):
        call = "optimizer.zero_grad()" if optimizer_hints else _("`p.grad = None`")
        return (_(
            "gradients were not zeroed, so they add up over steps and each update also re-applies "
            "every earlier gradient. Call {call} once per step ({shown})."
        ).format(call=call, shown=shown))
    if same(reference_fit(x, y, lr, steps, late_grads=True)):
        return (_(
            "the step ran before backward(): each update used the previous step's gradients (and "
            "the first did nothing). Order: forward, loss, backward, step ({shown})."
        ).format(shown=shown))
    if same(reference_fit(x, y, lr, steps, loss="sum")):
        return (_(
            "the loss is the sum of squared errors, not their mean, so every step is {x} times "
            "too large. Use .mean() ({shown})."
        ).format(x=len(x), shown=shown))
    if same(reference_fit(x, y, lr, steps, train_b=False)):
        return _("only w was updated: b must be trained too ({shown}).").format(shown=shown)
    for other in (steps - 1, steps + 1):
        if other >= 0 and same(reference_fit(x, y, lr, other)):
            loop = _("range(1, steps)") if other < steps else _("range(steps + 1)")
            return (_(
                "you took {other} gradient steps, not {steps}: the result equals the reference "
                "after {other} steps (a loop over {loop}?). Loop `for _ in range(steps):` "
                "({shown})."
            ).format(other=other, steps=steps, loop=loop, shown=shown))
    if not all(map(lambda v: abs(v) < 1e6, got)) or any(v != v for v in got):
        return _(
            "the fit diverged: check the sign of the update and the loss ({shown})."
        ).format(shown=shown)
    return None


def _optimizer_mistake(seen: Any, got: tuple[float, float],
                       want: tuple[float, float]) -> str | None:
    """What the optimizer watch saw: steps with cleared gradients, options beyond plain SGD."""
    shown = _(
        "you got w = {w}, b = {b}; expected {want_w}, {want_b}"
    ).format(w=fmt(got[0]), b=fmt(got[1]), want_w=fmt(want[0]), want_b=fmt(want[1]))
    between, before = seen.empty_steps()
    kinds = [kind for kind, _ in seen.events]
    steps = kinds.count("step")
    if "step" in kinds and "backward" in kinds and kinds.index("step") < kinds.index("backward"):
        before = steps
    if before and before == steps:
        empty = sum(1 for kind, clear in seen.events if kind == "step" and clear)
        return (_(
            "the step ran before backward(): in each iteration optimizer.step() comes before "
            "loss.backward(), so a step can only apply the previous iteration's gradients, or "
            "none once zero_grad() has cleared them ({empty} of {steps} steps found no gradient "
            "at all). Order: zero_grad, forward, loss, backward, step ({shown})."
        ).format(empty=empty, steps=steps, shown=shown))
    if between:
        return (_(
            "w and b never moved: zero_grad() runs between backward() and step(), so {between} of "
            "{steps} steps found the gradients already cleared. Zero before backward() or after "
            "step() ({shown})."
        ).format(between=between, steps=steps, shown=shown))
    for optimizer in seen.optimizers:
        if not isinstance(optimizer, torch.optim.SGD):
            return (_(
                "the optimizer is {kind}: fit_line_optim must take the same plain steps as "
                "fit_line, torch.optim.SGD([w, b], lr=lr) ({shown})."
            ).format(kind=type(optimizer).__name__, shown=shown))
        group = optimizer.param_groups[0]
        extras = {k: group.get(k) for k in ("momentum", "dampening", "weight_decay")
                  if group.get(k)}
        if group.get("nesterov"):
            extras["nesterov"] = True
        if extras:
            options = ", ".join(f"{k}={v}" for k, v in extras.items())
            return (_(
                "the optimizer is SGD with {options}: from the second step on, each update is no "
                "longer −lr·gradient (momentum adds a share of the previous updates). Plain "
                "gradient descent is torch.optim.SGD([w, b], lr=lr) with no other options "
                "({shown})."
            ).format(options=options, shown=shown))
    return None


def _fit_divergence(fit: Callable[..., Any], got: tuple[float, float],
                    want: tuple[float, float], x: Tensor, y: Tensor, lr: float,
                    steps: int) -> str:
    """The first step at which the student's fit leaves the reference, and what went wrong."""
    shown = _(
        "you got w = {w}, b = {b}; expected {want_w}, {want_b}"
    ).format(w=fmt(got[0]), b=fmt(got[1]), want_w=fmt(want[0]), want_b=fmt(want[1]))
    generic = (_(
        "{shown}. Start from w = b = 0, use the mean squared error, and take exactly `steps` "
        "plain gradient-descent steps of size lr."
    ).format(shown=shown))

    def run(n: int) -> tuple[float, float] | None:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                w, b = fit(x.clone(), y.clone(), lr, n)
            return (float(torch.as_tensor(w).detach().reshape(-1)[0]),
                    float(torch.as_tensor(b).detach().reshape(-1)[0]))
        except Exception:  # noqa: BLE001  (a diagnosis only: the main run already worked)
            return None

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-5 * (1 + abs(b))

    grad_w = float((2 * (0 - y) * x).mean())  # dL/dw and dL/db at w = b = 0
    grad_b = float((2 * (0 - y)).mean())
    first = run(1)
    if first is None:
        return generic
    w1, b1 = -lr * grad_w, -lr * grad_b
    if not (close(first[0], w1) and close(first[1], b1)):
        if close(first[0], w1) and close(first[1], -lr * grad_w):
            return (_(
                "b is updated with w's gradient: after one step b = {first} = −lr·∂L/∂w, but it "
                "should be −lr·∂L/∂b = {b1}. Use b.grad for b ({shown})."
            ).format(first=fmt(first[1]), b1=fmt(b1), shown=shown))
        if close(first[1], b1) and close(first[0], -lr * grad_b):
            return (_(
                "w is updated with b's gradient: after one step w = {first} = −lr·∂L/∂b, but it "
                "should be −lr·∂L/∂w = {w1}. Use w.grad for w ({shown})."
            ).format(first=fmt(first[0]), w1=fmt(w1), shown=shown))
        wrong = [_("{name} = {value} (should be {right} = −lr·∂L/∂{name})").format(
                     name=name, value=fmt(v), right=fmt(r))
                 for name, v, r in (("w", first[0], w1), ("b", first[1], b1)) if not close(v, r)]
        return (_(
            "the very first step is already off: after fit(x, y, lr, 1) {wrong}, starting from w "
            "= b = 0 ({shown})."
        ).format(wrong=_(" and ").join(wrong), shown=shown))
    for n in range(2, min(steps, 40) + 1):
        result = run(n)
        expected = reference_fit(x, y, lr, n)
        if result is None:
            break
        if not (close(result[0], expected[0]) and close(result[1], expected[1])):
            return (_(
                "the first {matching} steps match the reference, step {n} is the first that "
                "differs: after {n} steps you get w = {w}, b = {b}; plain gradient descent "
                "gives {want_w}, {want_b}. Something carries over from one step to the next "
                "(gradients not cleared, momentum, a changed lr) ({shown})."
            ).format(
                matching=n - 1,
                n=n,
                w=fmt(result[0]),
                b=fmt(result[1]),
                want_w=fmt(expected[0]),
                want_b=fmt(expected[1]),
                shown=shown,
            ))
    return generic


def fit_line(fit: Callable[..., Any], slope: float = 3.0, intercept: float = -1.0,
             lr: float = 0.05, steps: int = 20) -> None:
    """Check ``fit(x, y, lr, steps) -> (w, b)``: plain gradient descent written by hand."""
    _check_line_fit("fit_line", fit, slope, intercept, lr, steps, optimizer_hints=False)


def fit_line_optim(fit: Callable[..., Any], slope: float = 3.0, intercept: float = -1.0,
                   lr: float = 0.05, steps: int = 20) -> None:
    """Check the same fit written with ``torch.optim.SGD``: it must match the hand loop."""
    _check_line_fit("fit_line_optim", fit, slope, intercept, lr, steps, optimizer_hints=True)
