"""The chapter-1 checkers: right answers in several styles pass, each known mistake is named."""

from __future__ import annotations

import math

import pytest
import torch
from checker_asserts import fails_with, passes

from course_utils.checks import autograd as check
from course_utils.feedback import CheckFailed

# --- exercise 1: derivative ------------------------------------------------------------------

def derivative_formula(x):
    return 2 * x * torch.sin(x) + x**2 * torch.cos(x)


def derivative_written_out(x):
    u, v = x**2, torch.sin(x)
    du, dv = 2 * x, torch.cos(x)
    return du * v + u * dv


def derivative_by_autograd(x):
    x = x.clone().requires_grad_(True)
    (x**2 * torch.sin(x)).sum().backward()
    return x.grad


@pytest.mark.parametrize("answer", [derivative_formula, derivative_written_out,
                                    derivative_by_autograd])
def test_derivative_accepts_correct_answers(answer, capsys):
    line = passes(check.derivative, answer, capsys)
    assert "max |error| against autograd" in line and "should be below 1e-6" in line
    passes(check.derivative, answer, capsys, at=[-7.5, 0.25, 12.0])


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda x: x**2 * torch.sin(x), "f(x) itself"),
        (lambda x: 2 * x * torch.sin(x), "x²·cos(x) is missing"),
        (lambda x: x**2 * torch.cos(x), "2x·sin(x) is missing"),
        (lambda x: 2 * x * torch.cos(x), "you multiplied the two derivatives"),
        (lambda x: 2 * x * torch.sin(x) - x**2 * torch.cos(x), "sign of the x²·cos(x) term"),
        (lambda x: x * torch.sin(x) + x**2 * torch.cos(x), "lost its factor 2"),
        (lambda x: 2 * x * torch.sin(x) * (x**2 * torch.cos(x)),
         "you multiplied the two terms of the product rule"),
        (lambda x: 2 * x * math.sin(x) + x**2 * math.cos(x), "use torch.sin"),
        (lambda x: derivative_formula(x).sum(), "returned shape ()"),
        (lambda x: "derivative", "should be a tensor"),
        (lambda x: derivative_formula(x) + 0.5, "autograd says"),
    ],
)
def test_derivative_names_each_mistake(answer, phrase):
    fails_with(check.derivative, answer, phrase)


def test_unanswered_stub_says_not_answered():
    def df_dx(x):
        # YOUR CODE HERE
        raise NotImplementedError()

    fails_with(check.derivative, df_dx, "not answered yet", "NotImplementedError")


def test_crash_in_student_code_points_at_the_line():
    def df_dx(x):
        return x @ torch.ones(3, 3)

    message = fails_with(check.derivative, df_dx, "raised RuntimeError", "at line")
    assert "x @ torch.ones(3, 3)" in message


def test_not_a_function():
    fails_with(check.derivative, 42, "should be a function")


def test_failure_hides_the_traceback_in_ipython():
    with pytest.raises(CheckFailed) as failure:
        check.derivative(lambda x: x)
    assert failure.value._render_traceback_() == str(failure.value).splitlines()


# --- exercise 2: numerical gradient ----------------------------------------------------------

def central_with_copies(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x).reshape(-1)
        step[i] = eps
        step = step.reshape(x.shape)
        grad.reshape(-1)[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def central_in_place(f, x, eps=1e-6):
    grad = torch.empty_like(x)
    flat, out = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        kept = flat[i].item()
        flat[i] = kept + eps
        up = f(x).item()
        flat[i] = kept - eps
        down = f(x).item()
        flat[i] = kept
        out[i] = (up - down) / (2 * eps)
    return grad


def central_with_index(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    for index in torch.cartesian_prod(*[torch.arange(n) for n in x.shape]).reshape(-1, x.dim()):
        index = tuple(index.tolist())
        plus, minus = x.clone(), x.clone()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (f(plus) - f(minus)) / (2 * eps)
    return grad


@pytest.mark.parametrize("answer", [central_with_copies, central_in_place, central_with_index])
@pytest.mark.parametrize("shape", [(4,), (2, 3)])
def test_numerical_gradient_accepts_correct_answers(answer, shape, capsys):
    line = passes(check.numerical_gradient, answer, capsys, shape=shape)
    assert "relative error" in line and "should be below 1e-5" in line


def one_sided(f, x, eps=1e-6):
    grad, base = torch.zeros_like(x), f(x)
    for i in range(x.numel()):
        plus = x.clone()
        plus.view(-1)[i] += eps
        grad.view(-1)[i] = (f(plus) - base) / eps
    return grad


def forgot_the_two(f, x, eps=1e-6):
    return central_with_copies(f, x, eps) * 2


def all_at_once(f, x, eps=1e-6):
    return torch.full_like(x, ((f(x + eps) - f(x - eps)) / (2 * eps)).item())


def never_restores(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        x.view(-1)[i] += eps
        up = f(x)
        x.view(-1)[i] -= 2 * eps
        grad.view(-1)[i] = (up - f(x)) / (2 * eps)
    return grad


def first_axis_only(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    for i in range(len(x)):
        plus, minus = x.clone(), x.clone()
        plus.view(-1)[i] += eps
        minus.view(-1)[i] -= eps
        grad.view(-1)[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def sign_flipped(f, x, eps=1e-6):
    return -central_with_copies(f, x, eps)


def float32_copies(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        plus, minus = x.float().clone(), x.float().clone()
        plus.view(-1)[i] += eps
        minus.view(-1)[i] -= eps
        grad.view(-1)[i] = (f(plus) - f(minus)).double() / (2 * eps)
    return grad


def in_float32(f, x, eps=1e-6):
    return central_with_copies(f, x, eps).float()


@pytest.mark.parametrize(
    ("answer", "phrase", "shape"),
    [
        (one_sided, "one-sided difference", (4,)),
        (forgot_the_two, "twice too large", (4,)),
        (sign_flipped, "every entry has the wrong sign", (4,)),
        (float32_copies, "f was evaluated on float32 copies of x, which is float64", (4,)),
        (all_at_once, "nudged every element of x at once", (4,)),
        (never_restores, "your function changed x", (4,)),
        (first_axis_only, "only 2 of 6 entries were computed", (2, 3)),
        (in_float32, "not torch.float64", (4,)),
        (lambda f, x, eps=1e-6: torch.zeros(3, dtype=torch.float64), "you returned shape (3,)",
         (4,)),
    ],
)
def test_numerical_gradient_names_each_mistake(answer, phrase, shape):
    fails_with(check.numerical_gradient, answer, phrase, shape=shape)


def test_numerical_gradient_prints_the_measured_error():
    message = fails_with(check.numerical_gradient, one_sided, "relative error")
    assert "should be below 1e-5" in message


# --- exercise 3: sgd_step --------------------------------------------------------------------

def step_minus_equals(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
    for p in params:
        p.grad = None


@torch.no_grad()
def step_decorated_sub(params, lr):
    for p in params:
        p.sub_(lr * p.grad)
        p.grad.zero_()


def step_add_alpha(params, lr):
    for p in params:
        with torch.no_grad():
            p.add_(p.grad, alpha=-lr)
        p.grad.zero_()


@pytest.mark.parametrize("answer", [step_minus_equals, step_decorated_sub, step_add_alpha])
@pytest.mark.parametrize("lr", [0.1, 0.5])
def test_sgd_step_accepts_correct_answers(answer, lr, capsys):
    passes(check.sgd_step, answer, capsys, lr=lr)


def step_tracking_on(params, lr):
    for p in params:
        p -= lr * p.grad
        p.grad = None


def step_never_zeroes(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad


def step_rebinds(params, lr):
    with torch.no_grad():
        for p in params:
            p = p - lr * p.grad  # noqa: PLW2901 - the mistake under test


def step_zeroes_first(params, lr):
    for p in params:
        p.grad.zero_()
    step_never_zeroes(params, lr)


def step_uphill(params, lr):
    with torch.no_grad():
        for p in params:
            p += lr * p.grad
            p.grad = None


def step_without_lr(params, lr):
    with torch.no_grad():
        for p in params:
            p -= p.grad
            p.grad = None


def step_detaches(params, lr):
    for p in params:
        p.requires_grad_(False)
        p -= lr * p.grad


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (step_tracking_on, "the step ran with gradient tracking on"),
        (step_never_zeroes, "gradients were not zeroed, so they add up over steps"),
        (step_rebinds, "the parameters did not change"),
        (step_zeroes_first, "zeroed before the update used them"),
        (step_uphill, "the step went uphill"),
        (step_without_lr, "the learning rate was not applied"),
        (step_detaches, "no longer a leaf tensor that requires grad"),
    ],
)
def test_sgd_step_names_each_mistake(answer, phrase):
    fails_with(check.sgd_step, answer, phrase)


# --- exercises 4 and 5: fitting a line -------------------------------------------------------

def fit_by_hand(x, y, lr, steps):
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
    return w.item(), b.item()


def fit_by_hand_zero_first(x, y, lr, steps):
    params = torch.zeros(2, requires_grad=True)
    step = 0
    while step < steps:
        if params.grad is not None:
            params.grad.zero_()
        prediction = params[0] * x + params[1]
        torch.nn.functional.mse_loss(prediction, y).backward()
        with torch.no_grad():
            params.sub_(lr * params.grad)
        step += 1
    return params[0].item(), params[1].item()


@pytest.mark.parametrize("answer", [fit_by_hand, fit_by_hand_zero_first])
def test_fit_line_accepts_correct_answers(answer, capsys):
    line = passes(check.fit_line, answer, capsys)
    assert "reference" in line
    passes(check.fit_line, answer, capsys, slope=-0.5, intercept=2.0, lr=0.2, steps=7)


def fit_never_zeroes(x, y, lr, steps):
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        ((w * x + b - y) ** 2).mean().backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
    return w.item(), b.item()


def fit_with_sum(x, y, lr, steps):
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        ((w * x + b - y) ** 2).sum().backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = b.grad = None
    return w.item(), b.item()


def fit_w_only(x, y, lr, steps):
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        ((w * x + b - y) ** 2).mean().backward()
        with torch.no_grad():
            w -= lr * w.grad
        w.grad = b.grad = None
    return w.item(), b.item()


def fit_tracking_on(x, y, lr, steps):
    w = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        ((w * x - y) ** 2).mean().backward()
        w -= lr * w.grad
    return w.item(), 0.0


def fit_returns_tensors(x, y, lr, steps):
    w = torch.zeros((), requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    for _ in range(steps):
        ((w * x + b - y) ** 2).mean().backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = b.grad = None
    return w, b


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (fit_returns_tensors, "you returned w and b as a tensor, not a float"),
        (fit_never_zeroes, "gradients were not zeroed, so they add up over steps"),
        (fit_with_sum, "sum of squared errors"),
        (fit_w_only, "only w was updated"),
        (fit_tracking_on, "gradient tracking on"),
        (lambda x, y, lr, steps: 3.0, "return the pair (w, b)"),
        (lambda x, y, lr, steps: (0.0, 0.0), "never moved from 0"),
    ],
)
def test_fit_line_names_each_mistake(answer, phrase):
    message = fails_with(check.fit_line, answer, phrase)
    if "pair" not in phrase and "tracking" not in phrase and "float" not in phrase:
        assert "expected" in message  # the measured numbers are shown next to the reference


def fit_with_optimizer(x, y, lr, steps, *, order="zero-first", set_to_none=True):
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    for _ in range(steps):
        if order == "zero-first":
            optimizer.zero_grad(set_to_none=set_to_none)
        loss = ((w * x + b - y) ** 2).mean()
        if order == "step-first":
            optimizer.step()
            optimizer.zero_grad()
            loss.backward()
            continue
        loss.backward()
        if order == "zero-between":
            optimizer.zero_grad()
        optimizer.step()
        if order == "zero-last":
            optimizer.zero_grad(set_to_none=set_to_none)
    return w.item(), b.item()


@pytest.mark.parametrize("order", ["zero-first", "zero-last"])
@pytest.mark.parametrize("set_to_none", [True, False])
def test_fit_line_optim_accepts_correct_answers(order, set_to_none, capsys):
    def answer(x, y, lr, steps):
        return fit_with_optimizer(x, y, lr, steps, order=order, set_to_none=set_to_none)

    passes(check.fit_line_optim, answer, capsys)
    passes(check.fit_line_optim, answer, capsys, slope=1.5, intercept=0.5, lr=0.1, steps=9)


@pytest.mark.parametrize(
    ("order", "phrase"),
    [
        ("never-zero", "Call optimizer.zero_grad() once per step"),
        ("zero-between", "zero_grad() runs between backward() and step()"),
        ("step-first", "the step ran before backward()"),
    ],
)
def test_fit_line_optim_names_each_mistake(order, phrase):
    def answer(x, y, lr, steps):
        return fit_with_optimizer(x, y, lr, steps, order=order)

    fails_with(check.fit_line_optim, answer, phrase)
