"""Checkers for chapter 2b, Schedules and accumulation: a warmup schedule, and an epoch with
gradient clipping.

Both watch what the student's code does to objects the checker hands in:

- :func:`warmup_schedule` steps the scheduler the student built and reads the learning rate the
  optimizer would use at every step; the shape of that trace names the mistake (no warmup, a
  ratio passed where steps are counted, a warmup rounded down, a decay sized for another total).
- :func:`clipped_epoch` records, without replacing anything the student calls, every forward
  pass (a forward hook), every gradient as ``backward()`` leaves it (post-accumulate hooks on
  the parameters) and every gradient the optimizer applies (a step pre-hook on the optimizer it
  hands in). While the function runs, ``torch.nn.utils.clip_grad_norm_`` is wrapped so that
  a call is seen where it happens (before ``backward()``, after ``step()``); a call through a
  name imported earlier is not seen, but its effect on the applied gradients still is.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.feedback import Check, fmt
from course_utils.i18n import _

watch = importlib.reload(importlib.import_module("course_utils.checks.watch"))

LR_RTOL = 1e-6
NORM_RTOL = 1e-4
_EPS = 1e-6  # what clip_grad_norm_ adds to the norm before dividing


def _one_thread(checker: Callable) -> Callable:
    """Run a checker on one CPU thread: its models are tiny (see checks.training)."""

    @functools.wraps(checker)
    def run(*args: Any, **kwargs: Any) -> Any:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return checker(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return run


# --- Exercise: a linear schedule with warmup ---------------------------------------------------


def warmup_steps(num_training_steps: int, warmup_ratio: float) -> int:
    """The warmup length in optimizer steps, rounded up as the Trainer rounds it."""
    return math.ceil(num_training_steps * warmup_ratio)


def _linear_with_warmup(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def _expected_lrs(peak: float, total: int, warmup: int) -> list[float]:
    return [peak * _linear_with_warmup(step, total, warmup) for step in range(total)]


def _trace(optimizer: torch.optim.Optimizer, scheduler: Any, steps: int) -> list[float]:
    """The learning rate of each of ``steps`` optimizer steps under ``scheduler``."""
    lrs = []
    with warnings.catch_warnings():  # a scheduler on another optimizer warns: named below
        warnings.simplefilter("ignore")
        for _step in range(steps):
            lrs.append(float(optimizer.param_groups[0]["lr"]))
            optimizer.step()
            scheduler.step()
    return lrs


def _peak_index(lrs: list[float]) -> int:
    top = max(lrs)
    return next(i for i, lr in enumerate(lrs) if lr >= top * (1 - 1e-9))


@_one_thread
def warmup_schedule(make_warmup_scheduler: Callable, *, num_training_steps: int = 40,
                    warmup_ratio: float = 0.1, lr: float = 0.01) -> None:
    """Check ``make_warmup_scheduler(optimizer, num_training_steps, warmup_ratio)``.

    The returned scheduler must raise the learning rate linearly from 0 to the optimizer's rate
    over ``ceil(warmup_ratio * num_training_steps)`` steps, then lower it linearly to 0 at step
    ``num_training_steps``.
    """
    with Check("make_warmup_scheduler") as check:
        weight = nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([weight], lr=lr)
        warmup = warmup_steps(num_training_steps, warmup_ratio)
        want = _expected_lrs(lr, num_training_steps, warmup)
        where = _("(num_training_steps={total}, warmup_ratio={ratio}) ").format(
            total=num_training_steps, ratio=warmup_ratio)
        scheduler = check.call(watch.pinned(make_warmup_scheduler), optimizer,
                               num_training_steps, warmup_ratio, name="make_warmup_scheduler")
        if not callable(getattr(scheduler, "step", None)):
            check.fail(where + _(
                "returned {kind}, not a scheduler: return the object get_scheduler(...) gives "
                "you, so that the loop can call its step().").format(
                    kind=type(scheduler).__name__))
        check.case()
        got = _trace(optimizer, scheduler, num_training_steps)
        if max(got) == min(got) == lr:
            check.fail(where + _(
                "the learning rate of the optimizer you were given never changes (always "
                "{lr}): build the scheduler on that optimizer, not on a new one.").format(
                    lr=fmt(lr)))
        peak = _peak_index(got)
        if warmup > 1 and peak == 0:
            check.fail(where + _(
                "there is no warmup: the first step already uses the full learning rate "
                "{lr}. num_warmup_steps is a number of optimizer steps: here "
                "ceil({ratio} × {total}) = {warmup}.").format(
                    lr=fmt(got[0]), ratio=warmup_ratio, total=num_training_steps, warmup=warmup))
        if warmup > 1 and peak <= 1:
            check.fail(where + _(
                "the warmup lasts {peak} step instead of {warmup}: warmup in the wrong unit. "
                "num_warmup_steps counts optimizer steps, so pass ceil(warmup_ratio × "
                "num_training_steps) = ceil({ratio} × {total}) = {warmup}, not the ratio "
                "itself.").format(peak=peak, warmup=warmup, ratio=warmup_ratio,
                                  total=num_training_steps))
        if peak == warmup - 1 and peak == math.floor(num_training_steps * warmup_ratio):
            check.fail(where + _(
                "the warmup lasts {peak} steps instead of {warmup}: {ratio} × {total} = "
                "{exact:g} was rounded down. Round up with math.ceil, as the Trainer "
                "does.").format(peak=peak, warmup=warmup, ratio=warmup_ratio,
                                total=num_training_steps,
                                exact=num_training_steps * warmup_ratio))
        if peak != warmup:
            check.fail(where + _(
                "the learning rate reaches its peak at step {peak}, but the warmup should "
                "last ceil({ratio} × {total}) = {warmup} optimizer steps.").format(
                    peak=peak, ratio=warmup_ratio, total=num_training_steps, warmup=warmup))
        if abs(max(got) - lr) > LR_RTOL * lr:
            check.fail(where + _(
                "the learning rate peaks at {top}, not at the optimizer's lr {lr}: a linear "
                "schedule scales the optimizer's own rate by a factor that rises to 1.").format(
                    top=fmt(max(got)), lr=fmt(lr)))
        check.case()
        check.case()
        end = float(optimizer.param_groups[0]["lr"])
        if end > LR_RTOL * lr:
            check.fail(where + _(
                "after the last of the {total} steps the learning rate is {end}, not 0: size "
                "the decay with num_training_steps={total}, all the optimizer steps of the "
                "run.").format(total=num_training_steps, end=fmt(end)))
        index = watch.first_divergence(got, want, rtol=LR_RTOL, atol=LR_RTOL * lr)
        if index is not None:
            check.fail(where + _(
                "at step {step} the learning rate is {got}, but a linear rise over {warmup} "
                "steps then a linear fall to 0 at step {total} gives {want}.").format(
                    step=index, got=fmt(got[index]), warmup=warmup, total=num_training_steps,
                    want=fmt(want[index])))
        check.case(_("{warmup} warmup steps, peak {lr} at step {warmup}, 0 after step "
                     "{total}").format(warmup=warmup, lr=fmt(lr), total=num_training_steps))


# --- Exercise: one epoch with gradient clipping ------------------------------------------------


def clip_dataloader(num_batches: int = 6, batch_size: int = 8, seed: int = 0) -> DataLoader:
    """Batches ``(x, y)`` of a two-class problem in 5 features, in a fixed order."""
    generator = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(num_batches * batch_size, 5, generator=generator)
    y = (x @ torch.randn(5, generator=generator) > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def clip_model(seed: int = 0) -> nn.Module:
    """Linear(5, 16) → ReLU → Linear(16, 2), without dropout: two runs agree to the digit."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))


def _setup(seed: int, lr: float, num_batches: int) -> tuple[nn.Module, Any, Any]:
    model = clip_model(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1 - step / num_batches))
    return model, optimizer, scheduler


def _reference(seed: int, lr: float, max_norm: float, num_batches: int,
               batch_size: int) -> tuple[nn.Module, list[float]]:
    model, optimizer, scheduler = _setup(seed, lr, num_batches)
    norms = []
    model.train()
    for inputs, targets in clip_dataloader(num_batches, batch_size, seed):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), targets).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
        optimizer.step()
        scheduler.step()
    return model, norms


class _Recorder:
    """Events of one run: forward, backward, clip, step; gradients as left and as applied."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any):
        self.events: list[str] = []
        self.modes: list[bool] = []
        self.after_backward: dict[int, torch.Tensor] = {}
        self.raw: list[list[torch.Tensor]] = []  # per step: the grads backward() left
        self.applied: list[list[torch.Tensor]] = []  # per step: the grads step() applied
        self.schedule_at_step: list[int] = []
        self.clip_args: list[float] = []
        self.params = list(model.parameters())
        self.scheduler = scheduler
        self.handles = [model.register_forward_pre_hook(self._forward),
                        optimizer.register_step_pre_hook(self._step)]
        self.handles += [p.register_post_accumulate_grad_hook(self._backward)
                         for p in self.params]

    def _forward(self, module: nn.Module, args: tuple) -> None:
        self.events.append("forward")
        self.modes.append(module.training)

    def _backward(self, param: torch.Tensor) -> None:
        if not self.events or self.events[-1] != "backward":
            self.events.append("backward")
        self.after_backward[id(param)] = param.grad.detach().clone()

    def _step(self, optimizer: Any, args: tuple, kwargs: dict) -> None:
        self.events.append("step")
        zero = torch.zeros(())
        self.raw.append([self.after_backward.get(id(p), zero) for p in self.params])
        self.applied.append([p.grad.detach().clone() if p.grad is not None else zero
                             for p in self.params])
        self.schedule_at_step.append(int(getattr(self.scheduler, "last_epoch", -1)))

    @contextlib.contextmanager
    def clip_calls(self) -> Iterator[None]:
        """Wrap ``torch.nn.utils.clip_grad_norm_`` (both names) while the student's code runs."""
        from torch.nn.utils import clip_grad

        original = clip_grad.clip_grad_norm_
        recorder = self

        @functools.wraps(original)
        def clip_grad_norm_(parameters: Any, max_norm: float, *args: Any, **kwargs: Any) -> Any:
            recorder.events.append("clip")
            recorder.clip_args.append(float(max_norm))
            return original(parameters, max_norm, *args, **kwargs)

        owners = [(torch.nn.utils, torch.nn.utils.clip_grad_norm_), (clip_grad, original)]
        try:
            for owner, _value in owners:
                owner.clip_grad_norm_ = clip_grad_norm_
            yield
        finally:
            for owner, value in owners:
                owner.clip_grad_norm_ = value

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()

    def clip_positions(self) -> set[str]:
        """Where clip_grad_norm_ was called: 'before backward', 'after step', 'between'."""
        where = set()
        for index, event in enumerate(self.events):
            if event != "clip":
                continue
            before = [e for e in self.events[:index] if e != "clip"]
            after = [e for e in self.events[index + 1:] if e != "clip"]
            if before and before[-1] == "step" or (not after and before):
                where.add("after step")
            elif after and after[0] in ("backward", "forward"):
                where.add("before backward")
            else:
                where.add("between")
        return where


def _norm(tensors: list[torch.Tensor]) -> float:
    return float(torch.sqrt(sum((t.double() ** 2).sum() for t in tensors)))


def _cosine(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    dot = sum((x.double() * y.double()).sum() for x, y in zip(a, b, strict=True))
    return float(dot / max(_norm(a) * _norm(b), 1e-30))


def _where_clip() -> str:
    return _("Call torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) after "
             "loss.backward() and before optimizer.step().")


def _diagnose_clipping(check: Check, rec: _Recorder, max_norm: float, where: str) -> None:
    """Name the first step whose applied gradients are not the clipped ones."""
    for index, (raw, applied) in enumerate(zip(rec.raw, rec.applied, strict=True)):
        raw_norm, applied_norm = _norm(raw), _norm(applied)
        want = raw_norm * min(1.0, max_norm / (raw_norm + _EPS))
        if abs(applied_norm - want) <= NORM_RTOL * max(want, 1e-12) + 1e-9:
            if _cosine(raw, applied) > 1 - 1e-9 or want == 0:
                continue
        if _cosine(raw, applied) < 1 - 1e-9:
            check.fail(where + _(
                "the applied gradients point in another direction than the ones backward() "
                "computed: each entry was clipped on its own (clip_grad_value_?). "
                "clip_grad_norm_ scales all gradients together by max_norm / total norm, "
                "which keeps their direction."))
        if applied_norm < raw_norm * (1 - NORM_RTOL):
            _wrong_max_norm(check, rec, index, applied_norm, raw_norm, max_norm, want, where)
        positions = rec.clip_positions()
        if applied_norm > max_norm * (1 + NORM_RTOL):
            if "after step" in positions and "between" not in positions:
                check.fail(where + _(
                    "clip_grad_norm_ runs after optimizer.step(): the step already applied "
                    "gradients of norm {norm} (max_norm is {max_norm}), and clipping them "
                    "afterwards changes nothing. {fix}").format(
                        norm=fmt(applied_norm), max_norm=fmt(max_norm), fix=_where_clip()))
            if "before backward" in positions and "between" not in positions:
                check.fail(where + _(
                    "clip_grad_norm_ runs before loss.backward(): it clips the gradients that "
                    "are there before this batch's backward pass, so step {step} applied "
                    "gradients of norm {norm} (max_norm is {max_norm}). {fix}").format(
                        step=index, norm=fmt(applied_norm), max_norm=fmt(max_norm),
                        fix=_where_clip()))
            check.fail(where + _(
                "the gradients are never clipped: step {step} applied gradients of norm {norm} "
                "although max_norm is {max_norm}. {fix} (Clipping before backward() or after "
                "step() has the same effect as none.)").format(
                    step=index, norm=fmt(applied_norm), max_norm=fmt(max_norm),
                    fix=_where_clip()))
        _wrong_max_norm(check, rec, index, applied_norm, raw_norm, max_norm, want, where)


def _wrong_max_norm(check: Check, rec: _Recorder, index: int, applied_norm: float,
                    raw_norm: float, max_norm: float, want: float, where: str) -> None:
    clipped_to = rec.clip_args[-1] if rec.clip_args else None
    check.fail(where + _(
        "step {step} applied gradients of norm {norm}, but clipping a norm of {raw} to "
        "max_norm={max_norm} gives {want}{seen}: pass max_norm, the function's "
        "argument.").format(
            step=index, norm=fmt(applied_norm), raw=fmt(raw_norm), max_norm=fmt(max_norm),
            want=fmt(want),
            seen=_(" (clip_grad_norm_ was called with max_norm={value})").format(
                value=fmt(clipped_to)) if clipped_to is not None else ""))


@_one_thread
def clipped_epoch(train_epoch_clipped: Callable, *, max_norm: float = 0.5, lr: float = 0.1,
                  num_batches: int = 6, batch_size: int = 8, seed: int = 0) -> None:
    """Check ``train_epoch_clipped(model, dataloader, optimizer, scheduler, loss_fn, max_norm)``.

    One epoch in training mode; per batch: clear the gradients, forward, loss, backward, clip
    the total gradient norm to ``max_norm``, step the optimizer, step the scheduler. Returns
    the list of the norms ``clip_grad_norm_`` returned (before clipping), as floats.
    """
    with Check("train_epoch_clipped") as check:
        where = _("(max_norm={max_norm}, {batches} batches) ").format(
            max_norm=fmt(max_norm), batches=num_batches)
        model, optimizer, scheduler = _setup(seed, lr, num_batches)
        model.eval()  # as after an evaluation: the function must switch training on itself
        data = clip_dataloader(num_batches, batch_size, seed)
        recorder = _Recorder(model, optimizer, scheduler)
        try:
            with recorder.clip_calls():
                norms = check.call(watch.pinned(train_epoch_clipped), model, data, optimizer,
                                   scheduler, nn.functional.cross_entropy, max_norm,
                                   name="train_epoch_clipped")
        finally:
            recorder.close()
        steps = len(recorder.raw)
        if steps == 0:
            check.fail(where + _("optimizer.step() never ran: nothing was trained."))
        if not all(recorder.modes):
            check.fail(where + _(
                "the model ran in eval mode: call model.train() before the loop (the check "
                "hands you a model left in eval mode, as after an evaluation)."))
        check.case()
        if steps != num_batches:
            check.fail(where + _(
                "optimizer.step() ran {steps} times for {batches} batches: step once per "
                "batch.").format(steps=steps, batches=num_batches))
        _diagnose_clipping(check, recorder, max_norm, where)
        check.case()
        stepped = recorder.schedule_at_step + [int(getattr(scheduler, "last_epoch", -1))]
        if stepped[-1] == 0:
            check.fail(where + _(
                "scheduler.step() never ran: the learning rate stayed at its start. Call it "
                "once after every optimizer.step()."))
        if stepped != list(range(steps + 1)):
            check.fail(where + _(
                "scheduler.step() should run once after every optimizer.step(); before the "
                "steps, the scheduler had stepped {counts} times.").format(
                    counts=stepped[:-1]))
        check.case()
        reference, want_norms = _reference(seed, lr, max_norm, num_batches, batch_size)
        gap = max(float((a - b).detach().abs().max())
                  for a, b in zip(model.parameters(), reference.parameters(), strict=True))
        if gap > 1e-5:
            check.fail(where + _(
                "after the epoch the weights differ from the reference run by up to {gap}: "
                "clear the gradients before every backward pass (zero_grad), one forward and "
                "one backward per batch.").format(gap=fmt(gap)))
        check.case()
        if not isinstance(norms, (list, tuple)) or len(norms) != num_batches:
            check.fail(where + _(
                "return a list with one norm per batch ({batches}), the value "
                "clip_grad_norm_ returns; got {kind}.").format(
                    batches=num_batches, kind=type(norms).__name__))
        try:
            got_norms = [float(n) for n in norms]
        except (TypeError, ValueError):
            check.fail(where + _("the returned list should hold numbers (the values "
                                 "clip_grad_norm_ returns), as floats."))
        clipped = [min(n, max_norm) for n in want_norms]
        if watch.first_divergence(got_norms, want_norms, rtol=NORM_RTOL) is not None:
            hint = (_(" You returned the norms after clipping; clip_grad_norm_ returns the "
                      "norm before.")
                    if watch.first_divergence(got_norms, clipped, rtol=NORM_RTOL) is None
                    else "")
            check.fail(where + _(
                "the returned norms {got} are not the gradient norms before clipping "
                "{want}.{hint}").format(got=[fmt(n) for n in got_norms[:3]],
                                        want=[fmt(n) for n in want_norms[:3]], hint=hint))
        check.case(_("{clipped} of {steps} steps clipped to {max_norm}; largest norm "
                     "{largest}").format(
                         clipped=sum(n > max_norm for n in want_norms), steps=steps,
                         max_norm=fmt(max_norm), largest=fmt(max(want_norms))))
