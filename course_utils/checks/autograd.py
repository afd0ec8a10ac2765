"""Checkers for chapter 1, Autograd.

Each function takes the student's answer (a function), runs it on cases, and compares the
result with a reference computed by autograd. When the answer is wrong, the result is also
compared with the known wrong answers (one-sided differences, a missing product-rule term,
gradients never zeroed, ...) so the message can name the mistake instead of "wrong answer".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from course_utils.feedback import Check, fmt

Tensor = torch.Tensor

_TRACKING_HINT = (
    "the step ran with gradient tracking on: PyTorch refuses to update a leaf tensor that "
    "requires grad in place, because the update itself would be recorded in the graph. "
    "Put the update inside `with torch.no_grad():`"
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
            "it does not work on a tensor of several values: use torch.sin / torch.cos (which "
            "work element-wise on tensors) rather than math.sin / math.cos"
        )
    return None


def _to_tensor(check: Check, value: Any, what: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach()
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        check.fail(f"{what} should be a tensor (or a number), but it is {type(value).__name__}.")


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
        answer = _to_tensor(check, answer, "What df_dx returns")
        if answer.shape != points.shape:
            check.fail(
                f"for an input of shape {tuple(points.shape)} df_dx returned shape "
                f"{tuple(answer.shape)}: compute element-wise with tensor operations so the "
                "output has one derivative per input value."
            )
        check.case()
        reference = autograd_derivative(f, points)
        if not _close(answer, reference):
            sin, cos, x = torch.sin(points), torch.cos(points), points
            known = [
                (x**2 * sin, "you returned f(x) itself, not its derivative f'(x)."),
                (2 * x * sin, "only half of the product rule: 2x·sin(x) is there but "
                              "x²·cos(x) is missing. (u·v)' = u'·v + u·v'."),
                (x**2 * cos, "only half of the product rule: x²·cos(x) is there but "
                             "2x·sin(x) is missing. (u·v)' = u'·v + u·v'."),
                (2 * x * cos, "you multiplied the two derivatives (2x · cos(x)); the product "
                              "rule is (u·v)' = u'·v + u·v'."),
                (2 * x * sin - x**2 * cos, "the sign of the x²·cos(x) term is flipped: the "
                                           "derivative of sin(x) is +cos(x)."),
                (x * sin + x**2 * cos, "the power rule lost its factor 2: the derivative of x² "
                                       "is 2x, not x."),
            ]
            for wrong, message in known:
                if _close(answer, wrong):
                    check.fail(message)
            worst = int((answer - reference).abs().argmax())
            check.fail(
                f"at x = {fmt(points[worst].item())} your derivative is "
                f"{fmt(answer[worst].item())}, autograd says {fmt(reference[worst].item())}."
            )
        error = (answer - reference).abs().max().item()
        check.case(f"max |error| against autograd {error:.1e}; should be below 1e-6")


# --- Exercise 2: a finite-difference gradient check ------------------------------------------


def _cubic(x: Tensor) -> Tensor:
    """A scalar function with strong curvature, so one-sided differences show their error."""
    flat = x.reshape(-1)
    return (x**3).sum() + 2.0 * flat[0] * flat[-1]


def numerical_gradient(numerical_grad: Callable[..., Tensor], shape: Sequence[int] = (4,),
                       seed: int = 0) -> None:
    """Check a central finite-difference gradient against autograd, CS231n style."""
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(tuple(shape), generator=generator, dtype=torch.float64) * 4 - 2)
    x_before = x.clone()
    eps = 1e-3
    with Check("numerical_gradient") as check:
        answer = check.call(numerical_grad, _cubic, x, eps=eps)
        if not torch.equal(x, x_before):
            check.fail(
                "your function changed x: after the call it differs from the input by up to "
                f"{fmt((x - x_before).abs().max().item())}. Put each nudged value back (or "
                "nudge a copy) so the caller's tensor is untouched."
            )
        check.case()
        answer = _to_tensor(check, answer, "What numerical_grad returns")
        if answer.shape != x.shape:
            check.fail(
                f"for x of shape {tuple(x.shape)} you returned shape {tuple(answer.shape)}: the "
                "gradient has one entry per element of x."
            )
        check.case()
        if answer.dtype != torch.float64:
            check.fail(
                f"the result is {answer.dtype}, not torch.float64: finite differences divide "
                "tiny differences by eps, so they need double precision. Keep x's dtype."
            )
        check.case()
        reference = autograd_derivative(_cubic, x)
        relative = ((answer - reference).abs().max()
                    / (answer.abs() + reference.abs()).max().clamp_min(1e-12)).item()
        if relative > 1e-5:
            check.fail(_name_fd_mistake(answer, reference, x, eps, relative))
        check.case(f"relative error {relative:.1e} against autograd; should be below 1e-5")


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
    measured = f"(relative error {relative:.1e}; should be below 1e-5)"
    if _matches(answer, _one_sided(x, eps)):
        return (f"you used a one-sided difference (f(x+eps) − f(x)) / eps, whose error shrinks "
                f"like eps; use the central one (f(x+eps) − f(x−eps)) / (2·eps) {measured}.")
    if _matches(answer, 2 * reference):
        return f"every entry is twice too large: divide by 2·eps, not by eps {measured}."
    if _matches(answer, reference / 2):
        return f"every entry is half of what it should be: divide by 2·eps, not 4·eps {measured}."
    total = reference.sum()
    if _matches(answer, torch.full_like(answer, total.item())):
        return ("every entry is the same number, the sum of all partial derivatives: you "
                "nudged every element of x at once. Nudge one element at a time.")
    flat_ok = torch.isclose(answer.reshape(-1), reference.reshape(-1), rtol=1e-5, atol=1e-7)
    if flat_ok.any() and (answer.reshape(-1)[~flat_ok] == 0).all():
        return (f"only {int(flat_ok.sum())} of {flat_ok.numel()} entries were computed, the "
                "rest are 0: visit every element (loop over x.numel() on a flattened view).")
    worst = int((answer - reference).abs().argmax())
    return (f"entry {worst} (flattened) is {fmt(answer.reshape(-1)[worst].item())}, autograd "
            f"says {fmt(reference.reshape(-1)[worst].item())} {measured}.")


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
                "a parameter is no longer a leaf tensor that requires grad: update the "
                "tensor you were given in place (`p -= lr * p.grad` under torch.no_grad()), "
                "don't replace it or switch off requires_grad."
            )
        check.case()
        unchanged = all(torch.equal(a, v) for a, v in zip(after, before, strict=True))
        grads_gone = all(p.grad is None or not p.grad.any() for p in params)
        rebind = (
            "`p = p - lr * p.grad` only rebinds the loop variable: update the tensor itself in "
            "place (`p -= lr * p.grad` or `p.sub_(lr * p.grad)`) inside `with torch.no_grad():`"
        )
        if unchanged and grads_gone:
            check.fail(
                "the parameters did not move and their gradients were cleared: either the "
                f"gradients were zeroed before the update used them (update first, then zero), "
                f"or {rebind}."
            )
        if unchanged:
            check.fail(f"the parameters did not change: {rebind}.")
        uphill = [v + lr * g for v, g in zip(before, grads, strict=True)]
        if all(_close(a, u) for a, u in zip(after, uphill, strict=True)):
            check.fail("the step went uphill: subtract lr * grad, don't add it.")
        no_lr = [v - g for v, g in zip(before, grads, strict=True)]
        if lr != 1 and all(_close(a, n) for a, n in zip(after, no_lr, strict=True)):
            check.fail(f"the learning rate was not applied: the step was the whole gradient, "
                       f"not lr × gradient (lr = {lr}).")
        if not all(_close(a, e) for a, e in zip(after, expected, strict=True)):
            error = max((a - e).abs().max().item() for a, e in zip(after, expected, strict=True))
            check.fail(f"the parameters after the step differ from p − lr·grad by up to "
                       f"{fmt(error)}.")
        check.case()
        if not grads_gone:
            check.fail(
                "gradients were not zeroed, so they add up over steps: after the update, set "
                "`p.grad = None` (or call `p.grad.zero_()`) for every parameter."
            )
        check.case("parameters moved by −lr·grad; gradients cleared")


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
    for _ in range(steps):
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
        check.fail(f"return the pair (w, b), e.g. `return w.item(), b.item()`; got "
                   f"{type(result).__name__} {result!r:.60}.")


def _check_line_fit(task: str, fit: Callable[..., Any], slope: float, intercept: float,
                    lr: float, steps: int, optimizer_hints: bool) -> None:
    x, y = line_data(slope, intercept)
    with Check(task) as check:
        got = _unpack_line(check, check.call(fit, x.clone(), y.clone(), lr, steps,
                                             explain=_explain_tracking))
        check.case()
        want = reference_fit(x, y, lr, steps)

        def same(pair: tuple[float, float]) -> bool:
            return all(abs(g - p) <= 1e-4 * (1 + abs(p)) for g, p in zip(got, pair, strict=True))

        if not same(want):
            check.fail(_name_fit_mistake(got, want, x, y, lr, steps, same, optimizer_hints))
        check.case(f"w = {got[0]:.4f}, b = {got[1]:.4f}; reference {want[0]:.4f}, {want[1]:.4f}")


def _name_fit_mistake(got, want, x, y, lr, steps, same, optimizer_hints) -> str:
    shown = f"you got w = {fmt(got[0])}, b = {fmt(got[1])}; expected {fmt(want[0])}, {fmt(want[1])}"
    if got == (0.0, 0.0):
        if optimizer_hints:
            return ("w and b never moved from 0: if zero_grad() runs between backward() and "
                    "step(), the optimizer steps with zero gradients. Zero before backward() "
                    f"or after step() ({shown}).")
        return ("w and b never moved from 0: the gradients were cleared before the update, or "
                f"the update did not change the tensors in place ({shown}).")
    if same(reference_fit(x, y, lr, steps, zero_grads=False)):
        call = "optimizer.zero_grad()" if optimizer_hints else "`p.grad = None`"
        return ("gradients were not zeroed, so they add up over steps and each update also "
                f"re-applies every earlier gradient. Call {call} once per step ({shown}).")
    if same(reference_fit(x, y, lr, steps, late_grads=True)):
        return ("the step ran before backward(): each update used the previous step's gradients "
                f"(and the first did nothing). Order: forward, loss, backward, step ({shown}).")
    if same(reference_fit(x, y, lr, steps, loss="sum")):
        return ("the loss is the sum of squared errors, not their mean, so every step is "
                f"{len(x)} times too large. Use .mean() ({shown}).")
    if same(reference_fit(x, y, lr, steps, train_b=False)):
        return f"only w was updated: b must be trained too ({shown})."
    if not all(map(lambda v: abs(v) < 1e6, got)) or any(v != v for v in got):
        return f"the fit diverged: check the sign of the update and the loss ({shown})."
    return (f"{shown}. Start from w = b = 0, use the mean squared error, and take exactly "
            "`steps` plain gradient-descent steps of size lr.")


def fit_line(fit: Callable[..., Any], slope: float = 3.0, intercept: float = -1.0,
             lr: float = 0.05, steps: int = 20) -> None:
    """Check ``fit(x, y, lr, steps) -> (w, b)``: plain gradient descent written by hand."""
    _check_line_fit("fit_line", fit, slope, intercept, lr, steps, optimizer_hints=False)


def fit_line_optim(fit: Callable[..., Any], slope: float = 3.0, intercept: float = -1.0,
                   lr: float = 0.05, steps: int = 20) -> None:
    """Check the same fit written with ``torch.optim.SGD``: it must match the hand loop."""
    _check_line_fit("fit_line_optim", fit, slope, intercept, lr, steps, optimizer_hints=True)
