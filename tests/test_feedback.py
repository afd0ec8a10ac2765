"""The feedback core: the one-line verdicts a student sees and nbgrader records."""

from __future__ import annotations

import pytest

from course_utils.feedback import Check, CheckFailed, fmt


def test_success_line_counts_cases_and_shows_details(capsys):
    with Check("task") as check:
        check.case()
        check.case("error 1e-9; should be below 1e-6")
        check.require(True, "never shown")
    assert capsys.readouterr().out == (
        "✓ task — 3/3 checks passed (error 1e-9; should be below 1e-6)\n"
    )


def test_failure_names_the_task_and_prints_no_success_line(capsys):
    with pytest.raises(CheckFailed) as failure, Check("task") as check:
        check.case()
        check.require(False, "the model is in eval mode while training")
    assert str(failure.value) == "✗ task — the model is in eval mode while training"
    assert capsys.readouterr().out == ""
    assert isinstance(failure.value, AssertionError)  # nbgrader counts it as a failed test


def test_failure_renders_without_a_traceback_in_ipython():
    error = CheckFailed("✗ task — two\nlines")
    assert error._render_traceback_() == ["✗ task — two", "lines"]


def test_call_reports_a_stub_as_not_answered():
    def answer():
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not answered yet: `answer` still raises"):
        with Check("task") as check:
            check.call(answer)


def test_a_not_implemented_error_from_inside_torch_is_a_crash_not_a_stub():
    import torch

    def answer():  # the loss's arguments swapped: labels where the logits go
        return torch.nn.functional.cross_entropy(torch.tensor([1, 0]), torch.randn(2, 2))

    with pytest.raises(CheckFailed) as failure, Check("task") as check:
        check.call(answer)
    message = str(failure.value)
    assert "not answered yet" not in message
    assert "the arguments are swapped" in message and "loss_fn(outputs, labels)" in message


def test_a_loss_without_a_graph_is_named():
    import torch

    def answer():
        weight = torch.ones(2, requires_grad=True)
        with torch.no_grad():
            loss = (weight * 2).sum()
        loss.backward()

    with pytest.raises(CheckFailed, match="found no graph behind the loss"), \
            Check("task") as check:
        check.call(answer)


def test_call_reports_a_crash_with_the_students_line():
    def answer(values):
        return values[10]

    with pytest.raises(CheckFailed) as failure, Check("task") as check:
        check.call(answer, [1, 2])
    message = str(failure.value)
    assert "`answer` raised IndexError: list index out of range" in message
    assert "return values[10]" in message


def test_call_lets_explain_name_a_known_error():
    def answer():
        raise RuntimeError("a leaf Variable that requires grad is being used in-place")

    def explain(error):
        return "the step ran with gradient tracking on" if "leaf" in str(error) else None

    with pytest.raises(CheckFailed, match="✗ task — the step ran with gradient tracking on"):
        with Check("task") as check:
            check.call(answer, explain=explain)


def test_call_rejects_something_that_is_not_a_function():
    with pytest.raises(CheckFailed, match="should be a function, but it is a int"):
        with Check("task") as check:
            check.call(3, name="df_dx")


def test_call_returns_the_students_result():
    with Check("task") as check:
        assert check.call(lambda a, b=0: a + b, 2, b=3) == 5


def test_fmt_keeps_four_significant_digits():
    assert fmt(0.123456) == "0.1235"
    assert fmt(123456.0) == "1.235e+05"


def test_checks_load_undoes_a_monkeypatched_checker(capsys):
    """A student who replaces a checker (or the feedback core) cannot fool the graded cell."""
    from course_utils import checks

    module = checks.load("autograd")
    module.derivative = lambda answer, **kwargs: print("✓ derivative — patched")
    module.Check.fail = lambda self, message: None
    fresh = checks.load("autograd")
    with pytest.raises(AssertionError, match="f\\(x\\) itself"):
        fresh.derivative(lambda x: x**2 * fresh.torch.sin(x))
    assert "patched" not in capsys.readouterr().out


def test_checks_load_rejects_a_bad_name():
    from course_utils import checks

    with pytest.raises(ValueError, match="not a checker module name"):
        checks.load("../feedback")
