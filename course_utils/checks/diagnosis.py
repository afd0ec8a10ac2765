"""One diagnosis for every chapter: what went wrong in a student's run, in words.

A checker watches the student's function run (:mod:`course_utils.checks.watch`) and hands this
module two kinds of evidence:

- the **trace**, the order of what the code did (forward, backward, ``zero_grad``, step, ...).
  The rules every training loop obeys are judged here once, for every chapter:
  :func:`check_loop` (backward, step, train mode, order), :func:`zeroing_problem`,
  :func:`device_problem`, :func:`kept_graphs_message`;
- the **trajectory**, numbers per step (losses, learning rates, weights).
  :func:`diagnose` compares it with the reference run and with simulated runs of known bugs
  (:class:`Known`, each exercise's catalogue): it names the known bug the run matches, and
  when none does, it points at the first divergence, which step, which quantity and what it
  should have been. :func:`schedule_problem` is the catalogue of learning-rate schedules.

The chapter modules keep each exercise's contract and its catalogue; the words a student reads
are written here or there for a human, and go through :func:`course_utils.i18n._`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from course_utils.feedback import fmt
from course_utils.i18n import _

ORDER = "zero_grad → forward → loss → backward → step"

# --- comparing trajectories -----------------------------------------------------------------


def first_divergence(got: Sequence[float], want: Sequence[float], rtol: float = 1e-4,
                     atol: float = 1e-6) -> int | None:
    """The first index where ``got`` and ``want`` differ (or the shorter length), else None."""
    for index, (a, b) in enumerate(zip(got, want, strict=False)):
        if abs(a - b) > atol + rtol * abs(b):
            return index
    if len(got) != len(want):
        return min(len(got), len(want))
    return None


def matches(got: Sequence[float], want: Sequence[float], rtol: float = 1e-4,
            atol: float = 1e-6) -> bool:
    """Same length and equal everywhere within the tolerance."""
    return first_divergence(got, want, rtol, atol) is None


@dataclass
class Known:
    """A known bug: the trajectory a run with that bug gives, and what to tell the student."""

    name: str
    values: Sequence[float]
    message: str


def divergence_message(quantity: str, unit: str, index: int, got: Sequence[float],
                       want: Sequence[float], advice: str = "") -> str:
    """'<quantity> leaves the reference at <unit> i: x instead of y (the first i matched)'."""
    advice = advice.rstrip(".") + "." if advice else ""
    if index >= len(got) or index >= len(want):
        return _(
            "your run has {got} {unit}s of {quantity} where the reference has {want}{advice}"
        ).format(got=len(got), want=len(want), unit=unit, quantity=quantity,
                 advice=f". {advice}" if advice else ".")
    matched = (_("the first {n} matched").format(n=index) if index
               else _("it differs from the very first"))
    return _(
        "{quantity} leaves the reference at {unit} {index}: {got} where the reference gives "
        "{want} ({matched}){advice}"
    ).format(quantity=quantity, unit=unit, index=index, got=fmt(got[index]),
             want=fmt(want[index]), matched=matched, advice=f". {advice}" if advice else ".")


def diagnose(got: Sequence[float], reference: Sequence[float], known: Sequence[Known] = (), *,
             quantity: str, unit: str = "step", advice: str = "", rtol: float = 1e-4,
             atol: float = 1e-6) -> str | None:
    """None when ``got`` follows the reference; else the message of the first known bug whose
    simulated run it follows; else where it first left the reference, in words."""
    index = first_divergence(got, reference, rtol, atol)
    if index is None:
        return None
    for bug in known:
        if matches(got, bug.values, rtol, atol):
            return bug.message
    return divergence_message(quantity, unit, index, got, reference, advice)


def closest(got: Sequence[float], runs: dict[str, Sequence[float]], rtol: float = 1e-4,
            atol: float = 1e-6) -> str | None:
    """The name of the run ``got`` follows exactly, else the one it follows longest (ties: the
    first given); None when it departs from every run at the very first value."""
    best, depth = None, 0
    for name, values in runs.items():
        index = first_divergence(got, values, rtol, atol)
        if index is None:
            return name
        if index > depth:
            best, depth = name, index
    return best


# --- words ------------------------------------------------------------------------------------


def plural(n: int, word: str) -> str:
    """``1 batch``, ``2 batches``, ``3 steps``, ``2 backward passes``."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}{'es' if word.endswith(('s', 'sh', 'x', 'batch')) else 's'}"


# --- the losses a training loop returned ------------------------------------------------------


def loss_problem(losses: Sequence[float], reference: Sequence[float],
                 backward_losses: Sequence[float], unit: str, advice: str) -> str | None:
    """The returned losses against the reference run's, or None when they follow it.

    A known bug first: the losses backward() ran on (the trace) follow the reference but the
    returned ones do not, so the function returns other losses than those it trained on (a
    loss recomputed after the step, say). Else the first divergence, with ``advice``."""
    index = first_divergence(losses, reference)
    if index is None:
        return None
    trained = list(backward_losses)
    if (index < len(trained) and index < len(losses)
            and first_divergence(trained[: index + 1], reference[: index + 1]) is None):
        return _(
            "the losses you returned are not the ones backward() ran on: at {unit} {index} you "
            "returned {got}, but backward() ran on {trained}, as in the reference run. Return "
            "loss.item() of the very loss you called backward() on, before the step changes "
            "the model."
        ).format(unit=unit, index=index, got=fmt(losses[index]), trained=fmt(trained[index]))
    return divergence_message(_("the loss"), unit, index, losses, reference, advice)


# --- the trace of a training loop (a watch.TrainingWatch) -----------------------------------


def check_loop(check: Any, spy: Any, train_mode: bool = True) -> None:
    """The mistakes that break any training loop, in the order a student fixes them: no
    backward, no step, eval mode, step before backward, steps without a backward, zero_grad
    between backward and step. ``spy`` is a :class:`~course_utils.checks.watch.TrainingWatch`;
    ``train_mode=False`` leaves the mode to the caller (a run that evaluates too)."""
    if not spy.backwards:
        moved = _(" (the parameters did not move)") if spy.steps else ""
        check.fail(_(
            "loss.backward() is never called: no gradient was computed, so optimizer.step() "
            "had nothing to apply{moved}. Call loss.backward() on every batch's loss."
        ).format(moved=moved))
    check.case()
    if not spy.steps:
        check.fail(_(
            "optimizer.step() is never called: {passes} computed gradients, but nothing "
            "applied them, so the parameters did not move."
        ).format(passes=plural(len(spy.backwards), "backward pass")))
    check.case()
    problem = train_mode_problem(spy) if train_mode else None
    if problem:
        check.fail(problem)
    check.case()
    first_step, first_backward = spy.first("step"), spy.first("backward")
    if first_step is not None and first_backward is not None and first_step < first_backward:
        check.fail(_(
            "optimizer.step() runs before loss.backward(): each step applies the gradients of "
            "the previous batch, and the first step applies none. The order within a step is "
            "{order}."
        ).format(order=ORDER))
    empty = sum(1 for step in spy.steps if step.backwards == 0)
    if empty:
        check.fail(_(
            "{steps} ran with no backward pass since the previous step: call "
            "optimizer.step() once per update, after loss.backward()."
        ).format(steps=plural(empty, "optimizer step")))
    check.case()
    cleared = sum(1 for step in spy.steps if step.cleared)
    if cleared:
        check.fail(_(
            "zero_grad() runs between backward() and step(): {cleared} of {steps} steps found "
            "the gradients already cleared, so they changed nothing. Zero the gradients before "
            "backward() (at the start of the step) or after step()."
        ).format(cleared=cleared, steps=len(spy.steps)))
    check.case()


def train_mode_problem(spy: Any) -> str | None:
    """Forward passes of a training loop that ran in eval mode, and why, in words."""
    eval_passes = spy.forward_modes.count(False)
    if not eval_passes:
        return None
    if False in spy.mode_calls:
        cause = _("your function calls model.eval() (or model.train(False)), which switches "
                  "dropout off: call model.train() before the loop instead")
    else:
        cause = _("the model arrived in eval mode, as it is after from_pretrained or after an "
                  "evaluation, and your function never switches it back: call model.train() "
                  "before the loop")
    return _(
        "the model is in eval mode while training: {eval_passes} of {forwards} forward passes "
        "ran with model.training == False; {cause}."
    ).format(eval_passes=eval_passes, forwards=len(spy.forward_modes), cause=cause)


def zeroing_problem(spy: Any) -> str | None:
    """Backward passes that added to an earlier batch's gradients (a loop that should start
    every backward from clear gradients), in words; None when every one started clear."""
    dirty = spy.backwards.count(False)
    if not dirty:
        return None
    steps = len(spy.steps)
    if spy.zero_calls == 0:
        return _(
            "gradients are never zeroed: optimizer.step() ran {steps} times and zero_grad() 0 "
            "times, so each step also applies the gradients of every earlier batch. Call "
            "optimizer.zero_grad() once per step, before backward() or after step()."
        ).format(steps=steps)
    return _(
        "gradients are not cleared before every backward pass: {dirty} of {backwards} backward "
        "passes added to the gradients of an earlier batch (zero_grad() ran {zeros} for "
        "{steps} steps). Call optimizer.zero_grad() once per step, before backward() or after "
        "step()."
    ).format(dirty=dirty, backwards=len(spy.backwards), zeros=plural(spy.zero_calls, "time"),
             steps=steps)


def check_one_step_per_batch(check: Any, spy: Any, batches: int) -> None:
    """A plain loop: every backward starts from clear gradients, one step per batch."""
    problem = zeroing_problem(spy)
    if problem:
        check.fail(problem)
    check.case()
    forwards = len(spy.forward_modes)
    if len(spy.backwards) == len(spy.steps) == forwards and forwards < batches:
        check.fail(_(
            "the loop stopped early: only {forwards} of the {batches} batches went through "
            "forward, backward and step, then your function returned. Is `return` (or a "
            "`break`) indented inside the for loop? Return after the loop has gone through "
            "every batch."
        ).format(forwards=forwards, batches=batches))
    if len(spy.backwards) != batches or len(spy.steps) != batches:
        check.fail(_(
            "one backward pass and one optimizer step per batch expected: {batches} batches, "
            "{backwards} backward passes, {steps} steps."
        ).format(batches=batches, backwards=len(spy.backwards), steps=len(spy.steps)))
    check.case()


# --- where tensors and the model live (a watch.Moves) -----------------------------------------


def device_problem(moves: Any, unmoved: Sequence[Sequence[str]], forwards: int,
                   device: Any, model_required: bool = True) -> str | None:
    """The device mistake in words, or None: model never moved, batches (or parts) unmoved.

    ``model_required=False`` for exercises that get the model already on its device (an
    evaluation function): only the batches are judged then.
    """
    if model_required and not moves.model_moves:
        return _(
            "the model is never moved to the device: model.to(device) was not called. Here "
            "device is {device} and nothing breaks, but on a GPU the parameters would stay on "
            "the CPU while the batches go to the GPU (or everything runs on the CPU). Call "
            "model.to(device) once, before the loop."
        ).format(device=device)
    passes = [names for names in unmoved if names]
    if passes:
        names = list(dict.fromkeys(name for group in passes for name in group))
        every = all(len(group) == len(passes[0]) for group in passes)
        which = ", ".join(names)
        everything = every and len(passes) == forwards and len(names) >= 3
        part = (_("none of the batch's tensors ({which})") if everything
                else _("{which} (the other inputs were moved)")).format(which=which)
        return _(
            "{count} of {forwards} forward passes got tensors that never went through "
            ".to(device): {part}. Here device is {device} and nothing breaks, but on a GPU "
            "the model would get CPU tensors and fail. Move every tensor of the "
            "batch: batch = {{k: v.to(device) for k, v in batch.items()}}."
        ).format(count=len(passes), forwards=forwards, part=part, device=device)
    return None


def kept_graphs_message(count: int, total: int, what: str) -> str:
    """Losses returned as tensors that still hold their graph, in words."""
    return _(
        "{count} of the {total} {what} you returned are loss tensors that still hold their "
        "autograd graph (requires_grad=True): every batch's graph, with all its activations, "
        "stays in memory until the list is freed, and the numbers are not plain floats. "
        "Record loss.item() instead of loss."
    ).format(count=count, total=total, what=what)


# --- a learning-rate schedule: linear decay to 0, no warmup -----------------------------------


def linear(lr: float, steps: int, length: float | None = None,
           at: Callable[[int], float] | None = None) -> list[float]:
    """The learning rates of ``steps`` optimizer steps under a linear decay from ``lr`` to 0
    over ``length`` scheduler steps (default: ``steps``); ``at(i)`` is how many scheduler
    steps had run before optimizer step ``i`` (default: ``i``)."""
    length = steps if length is None else length
    at = at or (lambda i: i)
    return [lr * max(0.0, 1 - at(i) / length) for i in range(steps)]


def schedule_problem(lrs: Sequence[float], lr: float, total: int, epochs: int, batches: int,
                     *, schedulers: int, stepped: int, allow_constant: bool = False
                     ) -> str | None:
    """What is wrong with the learning rates of ``total`` optimizer steps (``epochs`` ×
    ``batches``) that should decay linearly from ``lr`` to 0 without warmup, or None.

    ``schedulers`` and ``stepped`` come from the trace (schedulers created, ``step()`` calls);
    the known bugs are runs simulated with the same numbers. ``allow_constant``: an exercise
    where a constant learning rate (no scheduler at all) is a right answer too.
    """
    expected = linear(lr, total)
    if not lrs or matches(lrs, expected, rtol=1e-6, atol=1e-12):
        return None  # no step at all: the loop's own rules name that
    constant = bool(lrs) and all(abs(v - lrs[0]) <= 1e-12 * max(abs(lr), 1.0) for v in lrs)
    if allow_constant and constant and not schedulers:
        return None
    shown = _("learning rates used: {values}, ...").format(
        values=", ".join(fmt(v) for v in lrs[:4]))
    if not schedulers:
        return _(
            "no learning-rate scheduler: every one of the {total} steps ran at lr = {lr}. "
            "Create get_scheduler('linear', optimizer=optimizer, num_warmup_steps=0, "
            "num_training_steps=...) and call scheduler.step() after each optimizer.step()."
        ).format(total=total, lr=fmt(lrs[0]))
    restarts = [epoch + 1 for epoch in range(1, epochs)
                if len(lrs) == total and abs(lrs[epoch * batches] - lr) <= 1e-9 * abs(lr)]
    if schedulers > 1 and restarts:
        return _(
            "{schedulers} schedulers were created, and the learning rate went back to lr = {lr} "
            "at the start of epoch {restarts}: the optimizer and its scheduler are created "
            "inside the epoch loop, so the schedule (and AdamW's moment estimates) start again "
            "every epoch. Create both once, before the epoch loop ({shown})."
        ).format(schedulers=schedulers, lr=fmt(lr), restarts=", ".join(map(str, restarts)),
                 shown=shown)
    if stepped == 0:
        return _(
            "the scheduler is never stepped: scheduler.step() ran 0 times, so all {total} "
            "steps used lr = {lr} instead of decaying linearly to 0. Call scheduler.step() "
            "right after optimizer.step()."
        ).format(total=total, lr=fmt(lrs[0]))
    known = [
        Known("once per epoch", linear(lr, total, at=lambda i: i // batches), _(
            "scheduler.step() runs once per epoch ({stepped} times), but the schedule is "
            "counted in optimizer steps ({total}): the learning rate barely moved ({first} → "
            "{last}). Call scheduler.step() inside the batch loop, after optimizer.step()."
        ).format(stepped=stepped, total=total, first=fmt(lrs[0]), last=fmt(lrs[-1]))),
        Known("before the optimizer", linear(lr, total, at=lambda i: i + 1), _(
            "scheduler.step() runs before optimizer.step(): the first update already used the "
            "second learning rate, {first} instead of {lr}. Step the optimizer first, then the "
            "scheduler."
        ).format(first=fmt(lrs[0]), lr=fmt(lr))),
        Known("twice per step", linear(lr, total, at=lambda i: 2 * i), _(
            "scheduler.step() runs twice per optimizer step ({stepped} times for {total} "
            "steps), so the learning rate reaches 0 halfway. Call it once, right after "
            "optimizer.step()."
        ).format(stepped=stepped, total=total)),
        Known("sized for one epoch", linear(lr, total, length=batches), _(
            "the schedule is sized for one epoch ({batches} steps, len(train_dataloader)) but "
            "training takes epochs × len(train_dataloader) = {total} steps, so the learning "
            "rate reached 0 after the first epoch and the later epochs learned nothing. Use "
            "num_training_steps = epochs * len(train_dataloader)."
        ).format(batches=batches, total=total)),
    ]
    # the trace rules out the bugs whose runs would have stepped the scheduler otherwise (two
    # bugs can give the same learning rates: twice per step over 2 epochs is one epoch's size)
    ruled_out = {"once per epoch": stepped != epochs, "before the optimizer": stepped != total,
                 "twice per step": stepped != 2 * total,
                 "sized for one epoch": epochs == 1 or batches == total or stepped != total}
    known = [bug for bug in known if not ruled_out[bug.name]]
    for bug in known:
        if matches(lrs, bug.values, rtol=1e-6, atol=1e-12):
            return bug.message
    if stepped != total:
        return _("scheduler.step() ran {stepped} times for {total} optimizer steps: call it "
                 "once after every optimizer.step().").format(stepped=stepped, total=total)
    if lrs and lrs[0] == 0:
        return _("the first step used lr = 0: no warmup here, num_warmup_steps=0 "
                 "({shown}).").format(shown=shown)
    if total > 1 and lrs[0] > 0 and 0 < lrs[1] < lrs[0]:
        sized = round(1 / (1 - lrs[1] / lrs[0]))
        if sized != total and matches(lrs, linear(lrs[0], total, length=sized), rtol=1e-6,
                                      atol=1e-12):
            return _(
                "the schedule is sized for {sized} steps, but training takes {total}: the "
                "learning rate should reach 0 exactly at the end. Use num_training_steps = "
                "epochs * len(train_dataloader) ({shown})."
            ).format(sized=sized, total=total, shown=shown)
    return divergence_message(
        _("the learning rate"), _("step"), first_divergence(lrs, expected, 1e-6, 1e-12) or 0,
        lrs, expected,
        _("A linear decay from {lr} to 0 over all {total} steps has no warmup: create "
          "get_scheduler('linear', optimizer=optimizer, num_warmup_steps=0, "
          "num_training_steps=epochs * len(train_dataloader)) and call scheduler.step() "
          "after every optimizer.step()").format(lr=fmt(lr), total=total))


# --- an evaluation: its mode, and what reached the metric ------------------------------------


def evaluation_mode_problem(training: Sequence[bool], grad_enabled: Sequence[bool],
                            flips: str = "") -> str | None:
    """Evaluation forward passes that ran in train mode or with gradients on, in words.

    ``training`` and ``grad_enabled``: one flag per forward pass; ``flips``: how many
    predictions dropout changed, when the checker measured it."""
    total = len(training)
    in_train = sum(training)
    if in_train:
        return _(
            "the evaluation ran in train mode: {in_train} of {total} forward passes had "
            "model.training == True, so dropout kept switching off random activations and the "
            "predictions change from run to run{flips}. Call model.eval() before the "
            "evaluation loop."
        ).format(in_train=in_train, total=total, flips=flips)
    with_grad = sum(grad_enabled)
    if with_grad:
        return _(
            "gradients were enabled during evaluation: {with_grad} of {total} forward passes "
            "ran with torch.is_grad_enabled() == True, so PyTorch recorded a graph for every "
            "batch that nothing will ever backpropagate through: memory and time for nothing. "
            "Put the evaluation loop inside `with torch.no_grad():`."
        ).format(with_grad=with_grad, total=len(grad_enabled))
    return None


def argmax_shape_message(predictions: int, references: int) -> str:
    """An argmax over the wrong dimension (or none), from how many predictions came out."""
    if predictions == 1:
        return _(
            "argmax without a dimension: you gave the metric 1 prediction for a batch of "
            "{references} labels. `logits.argmax()` with no `dim` flattens the whole batch and "
            "returns the position of its single largest logit. Use `logits.argmax(dim=-1)`: one "
            "class per example."
        ).format(references=references)
    return _(
        "argmax over the wrong dimension: you gave the metric {predictions} predictions for "
        "{references} labels. The logits have shape (batch size, 2), one row per example and "
        "one column per class, so `argmax(dim=0)` picks, for each class, the example with the "
        "largest logit. Use `logits.argmax(dim=-1)`: the class with the largest logit, for each "
        "example."
    ).format(predictions=predictions, references=references)


def prediction_problem(predictions: Any, references: Any) -> str | None:
    """What makes ``predictions`` (a tensor) something other than one class index per example
    of ``references``: logits, an argmax over the wrong dimension, decimals. None if nothing."""
    if predictions.dim() >= 2:
        return _(
            "the predictions you gave the metric are logits, shape {shape}: the metric wants "
            "one class index per example. Turn logits into predictions with "
            "`logits.argmax(dim=-1)` first."
        ).format(shape=tuple(predictions.shape))
    flat = predictions.reshape(-1)
    if len(flat) != len(references) and len(references) > 1:
        return argmax_shape_message(len(flat), len(references))
    if flat.is_floating_point() and not bool((flat == flat.round()).all()):
        return _("the predictions you gave the metric are not class indices (they have "
                 "decimals, like probabilities or logits): use `logits.argmax(dim=-1)`.")
    return None


def explain_metric_error(error: Exception) -> str | None:
    """An error raised by a metric (or around it), explained; None when it is none of these."""
    text = str(error)
    if "Mismatch in the number of predictions" in text:
        return _("the metric got a different number of predictions and references: check the "
                 "argmax dimension (`logits.argmax(dim=-1)` gives one class per example)")
    if "don't match the expected format" in text:
        return _("the metric wants one class index (0 or 1) per example: pass "
                 "`logits.argmax(dim=-1)`, not the logits or the model's output")
    if "cache file doesn't exist" in text or "add` or `add_batch` at least once" in text:
        return _("metric.compute() found nothing to score: it was called before any "
                 "add_batch, or a second time (compute() empties the metric)")
    if isinstance(error, AttributeError) and "SequenceClassifierOutput" in text:
        return _("the model returns an output object, not a tensor: its scores are "
                 "`outputs.logits`")
    if "same device" in text:
        return _("the batch and the model are on different devices: move every tensor of the "
                 "batch with `.to(device)`")
    return None


def explain_torch_crash(error: Exception) -> str | None:
    """A crash inside torch whose cause is a classic loop mistake, in words; else None."""
    text = str(error)
    if "does not require grad and does not have a grad_fn" in text:
        return _("loss.backward() found no graph behind the loss: it was computed with "
                 "gradients off (inside `with torch.no_grad():` or `torch.inference_mode()`) or "
                 "cut off from the model by `.detach()` or `.item()` before backward. Compute the "
                 "training loss from the model's outputs with gradients on, and call backward "
                 "on that tensor")
    if "not implemented for 'Long'" in text and "softmax" in text:
        return _("the loss got an integer tensor where it expects the model's float logits: "
                 "the arguments are swapped. The loss takes the outputs first and the labels "
                 "second, `loss_fn(outputs, labels)`")
    return None
