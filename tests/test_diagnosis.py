"""The shared diagnosis (course_utils/checks/diagnosis.py): known bugs named, else the first
divergence; the rules of a training loop's trace; learning-rate schedules."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import get_scheduler

from course_utils.checks import diagnosis, watch
from course_utils.feedback import Check, CheckFailed

# the schedules here are stepped without training: torch warns that no optimizer step came first
pytestmark = pytest.mark.filterwarnings(
    "ignore:Detected call of `lr_scheduler.step\\(\\)` before")

# --- comparing runs ------------------------------------------------------------------------------


def test_first_divergence_and_matches():
    assert diagnosis.first_divergence([1.0, 2.0], [1.0, 2.0]) is None
    assert diagnosis.first_divergence([1.0, 2.5, 3.0], [1.0, 2.0, 3.0]) == 1
    assert diagnosis.first_divergence([1.0], [1.0, 2.0]) == 1
    assert diagnosis.matches([1.0, 2.0 + 1e-9], [1.0, 2.0])
    assert not diagnosis.matches([1.0], [1.0, 2.0])
    assert watch.first_divergence is diagnosis.first_divergence  # its old name still works


def test_diagnose_names_the_known_bug_the_run_follows():
    reference = [1.0, 0.9, 0.8]
    known = [diagnosis.Known("doubled", [2.0, 1.8, 1.6], "everything is doubled"),
             diagnosis.Known("late", [1.0, 1.0, 0.9], "one step late")]
    assert diagnosis.diagnose(reference, reference, known, quantity="the loss") is None
    assert diagnosis.diagnose([1.0, 1.0, 0.9], reference, known,
                              quantity="the loss") == "one step late"


def test_diagnose_points_at_the_first_divergence_when_no_bug_matches():
    message = diagnosis.diagnose([1.0, 0.9, 0.5], [1.0, 0.9, 0.8], quantity="the loss",
                                 unit="batch", advice="Return loss.item()")
    assert "the loss leaves the reference at batch 2" in message
    assert "0.5 where the reference gives 0.8" in message
    assert "the first 2 matched" in message and message.endswith("Return loss.item().")
    first = diagnosis.diagnose([3.0], [1.0], quantity="the loss")
    assert "at step 0" in first and "differs from the very first" in first
    short = diagnosis.diagnose([1.0], [1.0, 0.9], quantity="the loss")
    assert "your run has 1 steps of the loss where the reference has 2" in short


def test_loss_problem_tells_returned_from_trained_losses():
    reference = [0.7, 0.6, 0.5]
    assert diagnosis.loss_problem(reference, reference, reference, "step", "") is None
    recomputed = diagnosis.loss_problem([0.65, 0.55, 0.45], reference, reference, "batch", "")
    assert "not the ones backward() ran on: at batch 0 you returned 0.65" in recomputed
    other = diagnosis.loss_problem([0.7, 0.9, 0.5], reference, [0.7, 0.9, 0.5], "step",
                                   "Check the loss")
    assert "the loss leaves the reference at step 1: 0.9 where the reference gives 0.6" in other
    assert other.endswith("Check the loss.")


def test_closest_prefers_an_exact_match_then_the_longest_agreement():
    runs = {"reference": [1.0, 2.0, 3.0], "bug": [1.0, 2.0, 4.0], "other": [0.0]}
    assert diagnosis.closest([1.0, 2.0, 4.0], runs) == "bug"
    assert diagnosis.closest([1.0, 2.0, 5.0], runs) == "reference"  # agrees for 2 values
    assert diagnosis.closest([9.0], runs) is None


def test_plural():
    assert [diagnosis.plural(n, w) for n, w in ((1, "batch"), (2, "batch"), (2, "epoch"),
                                                 (3, "backward pass"), (2, "process"))] == [
        "1 batch", "2 batches", "2 epochs", "3 backward passes", "2 processes"]


def test_messages_go_through_the_translation_function(monkeypatch):
    monkeypatch.setattr(diagnosis, "_", lambda text: "» " + text)
    message = diagnosis.diagnose([2.0], [1.0], quantity="x")
    assert message.startswith("» x leaves the reference at step 0")


# --- the trace of a training loop ----------------------------------------------------------------


def _loop(order: str, steps: int = 3) -> watch.TrainingWatch:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch.TrainingWatch(model) as spy:
        if order != "eval":
            model.train()
        else:
            model.eval()
        for _ in range(steps):
            if order == "step first":
                optimizer.zero_grad()
                optimizer.step()
                model(torch.ones(2, 3)).sum().backward()
                continue
            loss = model(torch.ones(2, 3)).sum()
            if order not in ("never zeroed", "zero between"):
                optimizer.zero_grad()
            loss.backward()
            if order == "zero between":
                optimizer.zero_grad()
            optimizer.step()
    return spy


@pytest.mark.parametrize(
    ("order", "phrase"),
    [
        ("eval", "the model is in eval mode while training: 3 of 3 forward passes"),
        ("step first", "optimizer.step() runs before loss.backward()"),
        ("zero between", "zero_grad() runs between backward() and step(): 3 of 3 steps"),
    ],
)
def test_check_loop_names_the_order_mistakes(order, phrase):
    with pytest.raises(CheckFailed) as failure, Check("loop") as check:
        diagnosis.check_loop(check, _loop(order))
    assert phrase in str(failure.value)


def test_a_right_loop_passes_every_rule():
    spy = _loop("right")
    with Check("loop") as check:
        diagnosis.check_loop(check, spy)
        diagnosis.check_one_step_per_batch(check, spy, 3)
    assert check.passed == 7
    assert diagnosis.zeroing_problem(spy) is None


def test_check_loop_can_leave_the_mode_to_the_caller():
    """A run that also evaluates has eval-mode forwards that are right: the caller judges."""
    with Check("loop") as check:
        diagnosis.check_loop(check, _loop("eval"), train_mode=False)
    assert diagnosis.train_mode_problem(_loop("eval")) is not None


def test_zeroing_problem_and_step_count():
    message = diagnosis.zeroing_problem(_loop("never zeroed"))
    assert "gradients are never zeroed: optimizer.step() ran 3 times" in message
    with pytest.raises(CheckFailed) as failure, Check("loop") as check:
        diagnosis.check_one_step_per_batch(check, _loop("right", steps=2), 3)
    assert "the loop stopped early: only 2 of the 3 batches" in str(failure.value)


def test_device_problem_can_leave_the_model_alone():
    moves = watch.Moves(None)
    assert diagnosis.device_problem(moves, [[]], 1, "cpu", model_required=False) is None
    assert "model.to(device)" in diagnosis.device_problem(moves, [[]], 1, "cpu")
    assert "input_ids (the other inputs were moved)" in diagnosis.device_problem(
        moves, [["input_ids"], []], 2, "cpu", model_required=False)


def test_kept_graphs_message():
    assert "2 of the 5 batch losses you returned" in diagnosis.kept_graphs_message(
        2, 5, "batch losses")


# --- learning-rate schedules: real schedulers, simulated bugs -------------------------------------


def _lrs(*, epochs=3, batches=4, lr=0.1, size=None, warmup=0, per="step", first=False,
         twice=False, scheduler=True):
    """The learning rates a real optimizer used, with the schedule set up one way or another."""
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    total = epochs * batches
    sched = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=warmup,
                          num_training_steps=size or total) if scheduler else None
    lrs, stepped = [], 0
    for _ in range(epochs):
        for _ in range(batches):
            if sched and first and per == "step":
                sched.step()
                stepped += 1
            lrs.append(optimizer.param_groups[0]["lr"])
            if sched and per == "step" and not first:
                for _ in range(2 if twice else 1):
                    sched.step()
                    stepped += 1
        if sched and per == "epoch":
            sched.step()
            stepped += 1
    return lrs, {"schedulers": int(scheduler), "stepped": stepped}


def _problem(lrs_and_trace, epochs=3, batches=4, lr=0.1, **kwargs):
    lrs, trace = lrs_and_trace
    return diagnosis.schedule_problem(lrs, lr, epochs * batches, epochs, batches, **trace,
                                      **kwargs)


@pytest.mark.parametrize(
    ("setup", "phrase"),
    [
        ({"scheduler": False}, "no learning-rate scheduler: every one of the 12 steps"),
        ({"per": "never"}, "the scheduler is never stepped"),
        ({"per": "epoch"}, "scheduler.step() runs once per epoch (3 times)"),
        ({"first": True}, "scheduler.step() runs before optimizer.step()"),
        ({"twice": True}, "scheduler.step() runs twice per optimizer step (24 times"),
        ({"size": 4}, "the schedule is sized for one epoch (4 steps"),
        ({"size": 8}, "the schedule is sized for 8 steps, but training takes 12"),
        ({"warmup": 2}, "the first step used lr = 0"),
        ({"warmup": 2, "size": 14}, "the first step used lr = 0"),
    ],
)
def test_schedule_problem_names_each_known_bug(setup, phrase):
    assert phrase in _problem(_lrs(**setup))


def test_a_schedule_created_every_epoch_is_named_as_a_restart():
    lrs = [0.1 * (1 - step / 12) for _ in range(3) for step in range(4)]
    problem = diagnosis.schedule_problem(lrs, 0.1, 12, 3, 4, schedulers=3, stepped=12)
    assert "3 schedulers were created" in problem and "start of epoch 2, 3" in problem
    assert "before the epoch loop" in problem


def test_schedule_problem_accepts_the_right_schedule_and_optionally_a_constant_one():
    assert _problem(_lrs()) is None
    assert _problem(_lrs(scheduler=False), allow_constant=True) is None
    assert _problem(_lrs(per="never"), allow_constant=True) is not None  # a scheduler, unused


def test_an_unknown_schedule_gets_its_first_divergence():
    lrs, trace = _lrs()
    lrs[5] *= 0.5  # nothing in the catalogue does this
    message = _problem((lrs, trace))
    assert "the learning rate leaves the reference at step 5" in message
    assert "the first 5 matched" in message and "num_warmup_steps=0" in message


def test_one_epoch_schedules_are_not_called_sized_for_one_epoch():
    lrs, trace = _lrs(epochs=1, size=2)
    message = _problem((lrs, trace), epochs=1)
    assert "sized for one epoch" not in message and "sized for 2 steps" in message
