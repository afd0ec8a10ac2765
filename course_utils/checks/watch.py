"""What the checkers of every chapter watch while a student's function runs.

Shared pieces, so that a mistake is diagnosed by what the code *did*, not by a message written
for one exercise:

- :class:`Moves`: where tensors and the model were sent. ``Tensor.to`` and ``Module.to`` are
  watched while the student's code runs, so a batch or a model that never went through
  ``.to(device)`` is seen on a CPU too, where every device is the same and nothing would fail.
  A forward pre-hook (:meth:`Moves.unmoved`) lists the inputs that reached the model unmoved.
- :func:`graph_tensors`: values that still hold an autograd graph (a loss kept as a tensor
  instead of ``loss.item()``: every batch's graph stays alive).
- :func:`pinned`: a student's function whose errors point at the student's own line, not at
  the deepest frame inside torch or transformers.
- :class:`Recorder` and :class:`WatchedLoader`: the passes over a dataloader and what each
  batch's forward pass gave (predictions, loss, mode, gradients on), for evaluation loops.
- :class:`AccelerateWatch`: one process of an Accelerate run (``prepare`` and its results,
  ``backward``, ``accumulate`` blocks, gathers, new ``Accelerator()`` objects, batches moved by
  hand); it patches classes, so it runs in a forked process (or is undone after).

What the trace *means* (the mistake, in words) is :mod:`course_utils.checks.diagnosis`'s job;
``device_problem``, ``kept_graphs_message`` and ``first_divergence`` are importable from here
too, where they used to live.

:class:`TrainingWatch` records a training loop (forward passes and their mode, backward passes,
``zero_grad``, optimizer and scheduler steps with their learning rates), for chapters 2 and 3;
:class:`OptimizerWatch` the same for loops with no model (chapter 1).
"""

from __future__ import annotations

import contextlib
import functools
import sysconfig
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from course_utils.checks.diagnosis import (  # noqa: F401  (kept here: their old home)
    device_problem,
    first_divergence,
    kept_graphs_message,
)

# --- where tensors and the model go ----------------------------------------------------------


def is_device(value: Any) -> bool:
    """True for what ``.to(...)`` reads as a device: a torch.device, a string, a GPU index."""
    if isinstance(value, torch.device):
        return True
    if isinstance(value, str):
        with contextlib.suppress(RuntimeError):
            torch.device(value)
            return True
        return False
    return isinstance(value, int) and not isinstance(value, bool)


def _device_argument(args: tuple, kwargs: dict) -> Any:
    if "device" in kwargs:
        return kwargs["device"]
    if args and is_device(args[0]):
        return args[0]
    if args and isinstance(args[0], torch.Tensor):  # .to(other_tensor): its device
        return args[0].device
    return None


class Moves:
    """Records every ``.to(<device>)`` of a tensor and of ``model`` while the block runs.

    A tensor counts as moved when it went through ``Tensor.to`` with a device, as the object
    called or as the result (on a CPU ``t.to("cpu")`` returns ``t`` itself, so both are kept).
    The tensors are held until the block ends, so an id is never reused meanwhile.
    """

    def __init__(self, model: nn.Module | None = None) -> None:
        self.model = model
        self.model_moves: list[str] = []
        self.forward_unmoved: list[list[str]] = []  # per forward pass of ``model``
        self._moved: dict[int, torch.Tensor] = {}
        self._undo: list[Callable[[], None]] = []

    def _forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.forward_unmoved.append(self.unmoved(args, kwargs))

    def __enter__(self) -> Moves:
        watch = self
        if self.model is not None:
            handle = self.model.register_forward_pre_hook(self._forward, with_kwargs=True)
            self._undo.append(handle.remove)
        tensor_to = torch.Tensor.to
        module_to = nn.Module.to

        @functools.wraps(tensor_to)
        def to(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            result = tensor_to(tensor, *args, **kwargs)
            if _device_argument(args, kwargs) is not None:
                watch._moved[id(tensor)] = tensor
                if isinstance(result, torch.Tensor):
                    watch._moved[id(result)] = result
            return result

        @functools.wraps(module_to)
        def module_move(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
            target = _device_argument(args, kwargs)
            if module is watch.model and target is not None:
                watch.model_moves.append(str(target))
            return module_to(module, *args, **kwargs)

        own = "to" in torch.Tensor.__dict__  # else inherited from the C base class
        torch.Tensor.to = to
        nn.Module.to = module_move
        self._undo += [(lambda: setattr(torch.Tensor, "to", tensor_to)) if own
                       else (lambda: delattr(torch.Tensor, "to")),
                       lambda: setattr(nn.Module, "to", module_to)]
        return self

    def __exit__(self, *exc: Any) -> bool:
        while self._undo:
            self._undo.pop()()
        return False

    def moved(self, tensor: torch.Tensor) -> bool:
        return id(tensor) in self._moved

    def unmoved(self, args: tuple, kwargs: dict) -> list[str]:
        """The names (or positions) of a forward pass's tensor inputs that were never moved."""
        named = [(f"argument {i}", a) for i, a in enumerate(args)] + list(kwargs.items())
        return [name for name, value in named
                if isinstance(value, torch.Tensor) and not self.moved(value)]


# --- values that still hold a graph -----------------------------------------------------------


def graph_tensors(values: Any) -> int:
    """How many tensors in ``values`` (a value, a list, a dict) still carry an autograd graph."""
    if isinstance(values, torch.Tensor):
        return int(values.requires_grad or values.grad_fn is not None)
    if isinstance(values, dict):
        return sum(graph_tensors(v) for v in values.values())
    if isinstance(values, (list, tuple)):
        return sum(graph_tensors(v) for v in values)
    return 0


# --- errors that point at the student's line ---------------------------------------------------

_LIBRARY_DIRS = tuple(
    Path(path).resolve()
    for path in {sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")}
)
_HERE = Path(__file__).resolve().parent.parent  # course_utils


def _is_student_file(filename: str) -> bool:
    if filename.startswith("<"):  # <ipython-input-…>, <string>: a notebook's code
        return not filename.startswith("<frozen")
    path = Path(filename).resolve()
    return not any(path.is_relative_to(d) for d in (*_LIBRARY_DIRS, _HERE))


def trim_to_student(error: BaseException) -> BaseException:
    """Cut ``error``'s traceback after the deepest frame in the student's own code, so that
    "at line N" names the student's line, not one inside torch."""
    tb, last = error.__traceback__, None
    while tb is not None:
        if _is_student_file(tb.tb_frame.f_code.co_filename):
            last = tb
        tb = tb.tb_next
    if last is not None and last.tb_next is not None:
        last.tb_next = None
    return error


def pinned(fn: Any) -> Any:
    """``fn`` whose exceptions point at the student's line; anything not callable unchanged."""
    if not callable(fn):
        return fn

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001  (re-raised as it is, traceback trimmed)
            raise trim_to_student(error) from error.__cause__

    return run


# --- several settings in one check ---------------------------------------------------------------


@contextlib.contextmanager
def scenario(check: Any, where: str):
    """Run one setting of a check; a failure inside says which setting (``where``) once."""
    try:
        yield
    except AssertionError as failure:  # CheckFailed, raised by check.fail
        if not where:
            raise
        message = str(failure)
        prefix = f"✗ {check.task} — "
        if message.startswith(prefix + where):
            raise
        check.fail(where + (message[len(prefix):] if message.startswith(prefix) else message))


# --- a training run: forwards, backwards, zero_grad, steps, schedulers ----------------------------


@dataclass
class Step:
    """One ``optimizer.step()`` as the watcher saw it."""

    backwards: int  # backward passes since the previous step
    cleared: bool  # the gradients were already cleared when the step ran
    lr: float
    optimizer: Any


def is_clear(grad: torch.Tensor | None) -> bool:
    return grad is None or not bool(grad.detach().any())


class TrainingWatch:
    """Records what a training loop does to ``model`` while the ``with`` block runs: forward
    passes (mode, gradients on, unmoved inputs when ``moves`` is given), backward passes and
    whether gradients were clear before each, optimizer steps (lr, clear gradients),
    ``zero_grad`` of optimizer or model, ``model.train()``/``eval()``, schedulers and their
    steps, tqdm bars."""

    def __init__(self, model: nn.Module, moves: Moves | None = None) -> None:
        self.model = model
        self.moves = moves
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.probe = trainable[-1]  # the output layer's bias: every backward pass reaches it
        self.events: list[tuple[str, Any]] = []
        self.forward_modes: list[bool] = []
        self.forward_grads: list[bool] = []
        self.unmoved: list[list[str]] = []
        self.device_mismatches: list[tuple[str, str]] = []
        self.backwards: list[bool] = []  # per backward pass: were the gradients clear before it
        self.backward_losses: list[float] = []  # the value each .backward() was called on
        self.steps: list[Step] = []
        self.zero_calls = 0
        self.mode_calls: list[bool] = []
        self.schedulers: list[Any] = []
        self.scheduler_steps: list[Any] = []
        self.bars: list[Any] = []
        self._since_step = 0
        self._constructing = 0
        self._undo: list[Callable[[], None]] = []

    # events ------------------------------------------------------------------------------

    def _forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.forward_modes.append(module.training)
        self.forward_grads.append(torch.is_grad_enabled())
        self.events.append(("forward", module.training))
        if self.moves is not None:
            self.unmoved.append(self.moves.unmoved(args, kwargs))
        where = self.probe.device
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        for tensor in tensors:
            if tensor.device != where:
                self.device_mismatches.append((str(tensor.device), str(where)))
                break

    def _backward(self, grad: torch.Tensor) -> None:
        clear = is_clear(self.probe.grad)
        self.backwards.append(clear)
        self.events.append(("backward", clear))
        self._since_step += 1

    def _step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        lr = optimizer.param_groups[0]["lr"]
        step = Step(self._since_step, is_clear(self.probe.grad), float(lr), optimizer)
        self.steps.append(step)
        self.events.append(("step", step))
        self._since_step = 0

    def _zero(self) -> None:
        self.zero_calls += 1
        self.events.append(("zero_grad", None))

    # installing and removing the hooks ---------------------------------------------------

    def _patch(self, owner: type, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, make(original))
        self._undo.append(lambda: setattr(owner, name, original))

    def __enter__(self) -> TrainingWatch:
        spy = self
        handles = [
            self.model.register_forward_pre_hook(self._forward, with_kwargs=True),
            self.probe.register_hook(self._backward),
            register_optimizer_step_pre_hook(self._step),
        ]
        self._undo.extend(handle.remove for handle in handles)

        def module_train(original):
            def train(module, mode=True):
                if module is spy.model:
                    spy.mode_calls.append(bool(mode))
                    spy.events.append(("train", bool(mode)))
                return original(module, mode)
            return train

        def module_zero_grad(original):
            def zero_grad(module, *args, **kwargs):
                if module is spy.model:
                    spy._zero()
                return original(module, *args, **kwargs)
            return zero_grad

        def optimizer_zero_grad(original):
            def zero_grad(optimizer, *args, **kwargs):
                spy._zero()
                return original(optimizer, *args, **kwargs)
            return zero_grad

        def scheduler_init(original):
            def __init__(scheduler, *args, **kwargs):
                spy._constructing += 1
                try:
                    original(scheduler, *args, **kwargs)
                finally:
                    spy._constructing -= 1
                spy.schedulers.append(scheduler)
            return __init__

        def scheduler_step(original):
            def step(scheduler, *args, **kwargs):
                if not spy._constructing and not getattr(scheduler, "_is_initial", False):
                    spy.scheduler_steps.append(scheduler)
                    spy.events.append(("scheduler", len(spy.steps)))
                return original(scheduler, *args, **kwargs)
            return step

        def tensor_backward(original):
            def backward(tensor, *args, **kwargs):
                if tensor.numel() == 1:
                    spy.backward_losses.append(float(tensor.detach()))
                return original(tensor, *args, **kwargs)
            return backward

        self._patch(torch.Tensor, "backward", tensor_backward)
        self._patch(nn.Module, "train", module_train)
        self._patch(nn.Module, "zero_grad", module_zero_grad)
        self._patch(torch.optim.Optimizer, "zero_grad", optimizer_zero_grad)
        self._patch(torch.optim.lr_scheduler.LRScheduler, "__init__", scheduler_init)
        self._patch(torch.optim.lr_scheduler.LRScheduler, "step", scheduler_step)
        with contextlib.suppress(ImportError):
            import tqdm.std

            def bar_init(original):  # a functools.partialmethod in tqdm: bind it first
                def __init__(bar, *args, **kwargs):
                    original.__get__(bar, type(bar))(*args, **kwargs)
                    if not bar.disable:  # libraries' internal bars are created disabled
                        spy.bars.append(bar)  # kept alive: its count is read after the run
                return __init__

            self._patch(tqdm.std.tqdm, "__init__", bar_init)
        return self

    def __exit__(self, *exc: Any) -> bool:
        while self._undo:
            self._undo.pop()()
        return False

    # what the events say -----------------------------------------------------------------

    def first(self, kind: str) -> int | None:
        return next((i for i, (k, _) in enumerate(self.events) if k == kind), None)

    def windows(self) -> list[list[bool]]:
        """The backward passes grouped by the step that follows them (the last group may be
        left over after the final step); each entry says whether gradients were clear."""
        groups: list[list[bool]] = [[]]
        for kind, value in self.events:
            if kind == "backward":
                groups[-1].append(value)
            elif kind == "step":
                groups.append([])
        if not groups[-1]:
            groups.pop()
        return groups

    def optimizers(self) -> list[Any]:
        unique: list[Any] = []
        for step in self.steps:
            if all(step.optimizer is not o for o in unique):
                unique.append(step.optimizer)
        return unique

    def forwards_per_step(self) -> list[int]:
        """Forward passes between consecutive optimizer steps (the last group: after the last)."""
        counts = [0]
        for kind, _value in self.events:
            if kind == "forward":
                counts[-1] += 1
            elif kind == "step":
                counts.append(0)
        return counts


class OptimizerWatch:
    """Records, in order, the ``backward()`` calls, ``zero_grad()`` calls and optimizer steps
    (with whether every gradient was clear) of code that builds its own tensors and optimizer,
    and the optimizers that stepped: for loops with no model to hook."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []
        self.optimizers: list[torch.optim.Optimizer] = []
        self._undo: list[Callable[[], None]] = []

    def _step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
        self.events.append(("step", all(is_clear(g) for g in grads)))
        if all(optimizer is not o for o in self.optimizers):
            self.optimizers.append(optimizer)

    def __enter__(self) -> OptimizerWatch:
        watch = self
        backward = torch.Tensor.backward
        zero_grad = torch.optim.Optimizer.zero_grad

        @functools.wraps(backward)
        def tensor_backward(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            watch.events.append(("backward", False))
            return backward(tensor, *args, **kwargs)

        @functools.wraps(zero_grad)
        def optimizer_zero_grad(optimizer: Any, *args: Any, **kwargs: Any) -> Any:
            watch.events.append(("zero_grad", False))
            return zero_grad(optimizer, *args, **kwargs)

        handle = register_optimizer_step_pre_hook(self._step)
        torch.Tensor.backward = tensor_backward
        torch.optim.Optimizer.zero_grad = optimizer_zero_grad
        self._undo += [handle.remove,
                       lambda: setattr(torch.Tensor, "backward", backward),
                       lambda: setattr(torch.optim.Optimizer, "zero_grad", zero_grad)]
        return self

    def __exit__(self, *exc: Any) -> bool:
        while self._undo:
            self._undo.pop()()
        return False

    def empty_steps(self) -> tuple[int, int]:
        """(steps that found every gradient clear because zero_grad ran after the last
        backward, steps that found them clear with no backward since the previous step)."""
        between = before = 0
        since_step: list[str] = []
        for kind, clear in self.events:
            if kind != "step":
                since_step.append(kind)
                continue
            if clear:
                if "backward" in since_step and since_step[-1] == "zero_grad":
                    between += 1
                elif "backward" not in since_step:
                    before += 1
            since_step = []
        return between, before


# --- passes over a dataloader: what each batch's forward pass gave (chapter 3's Recorder) -------


@dataclass
class Forward:
    """One forward pass of the watched model."""

    phase: str  # "train", "eval" or "other" (outside the watched dataloaders)
    pass_index: int  # which pass over a dataloader (-1: none)
    batch_index: int
    training: bool
    grad_enabled: bool
    predictions: torch.Tensor
    loss: float | None


@dataclass
class Pass:
    """One pass over a watched dataloader: the labels it handed out, the forwards it saw."""

    phase: str
    index: int
    labels: list[torch.Tensor] = field(default_factory=list)
    forwards: dict[int, Forward] = field(default_factory=dict)  # batch index -> last forward
    weights: dict[str, torch.Tensor] | None = None  # the model's weights when the pass started

    @property
    def examples(self) -> int:
        return sum(len(labels) for labels in self.labels)

    def predictions(self) -> torch.Tensor:
        """The predictions of the batches that went through the model, in order."""
        kept = [self.forwards[i].predictions for i in sorted(self.forwards)]
        return torch.cat(kept) if kept else torch.zeros(0, dtype=torch.long)

    def forwarded_labels(self) -> torch.Tensor:
        """The labels of the batches that went through the model, in order."""
        kept = [self.labels[i] for i in sorted(self.forwards) if i < len(self.labels)]
        return torch.cat(kept) if kept else torch.zeros(0, dtype=torch.long)

    def complete(self, batches: int) -> bool:
        return len(self.labels) == batches and set(self.forwards) == set(range(batches))


class Recorder:
    """Hooks a model and keeps the passes over watched dataloaders (:class:`WatchedLoader`)
    and the forward passes of one run of student code: the phase (train or eval) of each,
    its mode, whether gradients were on, its predictions and its loss. Call :meth:`remove`
    when the run is over."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.passes: list[Pass] = []
        self.forwards: list[Forward] = []
        self._current: tuple[Pass, int] | None = None
        self._handle = model.register_forward_hook(self._hook, with_kwargs=True)

    def remove(self) -> None:
        self._handle.remove()

    def start_pass(self, phase: str, snapshot: bool = False) -> Pass:
        record = Pass(phase, len(self.passes))
        if snapshot:
            record.weights = {name: p.detach().cpu().clone()
                              for name, p in self.model.named_parameters()}
        self.passes.append(record)
        self._current = None
        return record

    def end_pass(self, record: Pass) -> None:
        """The pass went through every batch: later forwards belong to no batch of it."""
        if self._current is not None and self._current[0] is record:
            self._current = None

    def at_batch(self, record: Pass, index: int, batch: Any) -> None:
        labels = batch.get("labels") if isinstance(batch, Mapping) else None
        record.labels.append(as_tensor(labels).reshape(-1) if labels is not None
                             else torch.zeros(0, dtype=torch.long))
        self._current = (record, index)

    def _hook(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        logits = getattr(output, "logits", None)
        if logits is None and isinstance(output, (tuple, list)) and output:
            logits = output[-1] if len(output) > 1 else output[0]
        if not isinstance(logits, torch.Tensor):
            return
        logits = logits.detach().cpu().float()
        predictions = logits.argmax(dim=-1).reshape(-1)
        record, index = self._current if self._current else (None, -1)
        loss = getattr(output, "loss", None)
        if isinstance(loss, torch.Tensor):
            loss_value: float | None = float(loss.detach())
        else:
            loss_value = None
            if record is not None and index < len(record.labels):
                labels = record.labels[index]
                if len(labels) == len(logits):
                    loss_value = float(nn.functional.cross_entropy(logits, labels.long()))
        forward = Forward(record.phase if record else "other", record.index if record else -1,
                          index, module.training, torch.is_grad_enabled(), predictions,
                          loss_value)
        self.forwards.append(forward)
        if record is not None:
            record.forwards[index] = forward

    def phase_passes(self, phase: str) -> list[Pass]:
        return [p for p in self.passes if p.phase == phase]


class WatchedLoader:
    """A dataloader that tells a :class:`Recorder` when a pass starts and which batch is
    current; everything else is the wrapped dataloader's."""

    def __init__(self, loader: Any, recorder: Recorder, phase: str,
                 snapshot: bool = False) -> None:
        self._loader = loader
        self._recorder = recorder
        self._phase = phase
        self._snapshot = snapshot

    def __len__(self) -> int:
        return len(self._loader)

    def __iter__(self):
        record = self._recorder.start_pass(self._phase, self._snapshot)
        for index, batch in enumerate(self._loader):
            self._recorder.at_batch(record, index, batch)
            yield batch
        self._recorder.end_pass(record)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._loader, name)


def as_tensor(values: Any) -> torch.Tensor:
    """Predictions or labels as a CPU tensor (from a tensor, an array, a list or a number)."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu()
    try:
        return torch.as_tensor(values).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        if isinstance(values, Sequence):
            parts = [as_tensor(v).reshape(-1) for v in values]
            return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)
        raise


# --- one process of an Accelerate run (chapter 4's probe; it runs in forked processes) ---------


_PREPARE_ONE = ("prepare_model", "prepare_optimizer", "prepare_data_loader",
                "prepare_scheduler")
_ACCELERATE: AccelerateWatch | None = None  # this process's watch (set in forked children)


class AccelerateWatch:
    """Everything one process of an Accelerate run records while the student's function runs:
    ``prepare`` (and the kinds of what it got), ``backward``, ``accumulate`` blocks (with
    ``sync_gradients`` and the zero_grad/backward/step order inside each), gathers and the
    sizes handed to them, new ``Accelerator()`` objects, the batches (tagged by split) and
    where they were moved, forward passes (mode, gradients on, moved by hand), gradients and
    the learning rate of each step.

    It patches classes (``Accelerator.__init__``, ``AcceleratedOptimizer``), so it is meant for
    a throw-away forked process, or undone with :func:`stop_accelerate_watch`. Start it with
    :func:`start_accelerate_watch`; :func:`accelerate_watch` is the active one.
    """

    def __init__(self, accelerator: Any) -> None:
        self.accelerator = accelerator
        self.device = accelerator.device  # the very object: `.to(accelerator.device)` is fine
        self.calls: Counter[str] = Counter()
        self.prepared: list[str] = []
        self.tags: dict[int, tuple[str, bool, int]] = {}  # data_ptr -> (split, moved, owner)
        self.targets: list[str] = []  # where they were moved
        self.forwards: list[tuple[str | None, bool, bool, bool]] = []
        self.lrs: list[float] = []
        self.grad_passes = 0
        self.blocks: list[dict[str, Any]] = []  # each accumulate block: sync flag, events
        self.gathered: list[list[int]] = []  # first-dimension sizes handed to each gather
        self.new_accelerators = 0
        self._block: dict[str, Any] | None = None
        self._in_gather_for_metrics = False
        self._in_prepare = False
        self._wrap_accelerator()
        self._watch_classes()

    # batches ---------------------------------------------------------------------------------
    # A batch tensor is known by the address of its data (``data_ptr``), since accelerate's
    # dataloader hands the model copies (``.to(accelerator.device)`` copies on a MULTI_CPU
    # group, whose device is ``cpu:0``). Each tag is dropped when its tensor object dies.
    def _tag(self, tensor: torch.Tensor, split: str, moved: bool) -> None:
        ptr = tensor.data_ptr()
        self.tags[ptr] = (split, moved, id(tensor))
        weakref.finalize(tensor, self._forget, ptr, id(tensor))

    def _forget(self, ptr: int, owner: int) -> None:
        tag = self.tags.get(ptr)
        if tag is not None and tag[2] == owner:
            del self.tags[ptr]

    def register(self, batch: Any, split: str) -> None:
        for value in batch.values():
            if isinstance(value, torch.Tensor) and value.numel():
                self._tag(value, split, moved=False)

    def saw_to(self, tensor: torch.Tensor, result: Any, args: tuple, kwargs: dict) -> None:
        """Called after every ``Tensor.to``: follow batches, note those sent elsewhere."""
        if not tensor.numel() or tensor.data_ptr() not in self.tags:
            return
        split, moved, _owner = self.tags[tensor.data_ptr()]
        target = kwargs.get("device", args[0] if args else None)
        if is_device(target) and target is not self.device:
            moved = True
            self.targets.append(repr(target) if isinstance(target, str)
                                else repr(torch.device(target)))
            self._tag(tensor, split, moved)
        if isinstance(result, torch.Tensor) and result.numel() and result is not tensor:
            self._tag(result, split, moved)

    # the accelerator ---------------------------------------------------------------------------
    def _wrap_accelerator(self) -> None:
        accelerator = self.accelerator
        for name in ("backward", "accumulate", "gather", "gather_for_metrics", "prepare"):
            original = getattr(accelerator, name)
            setattr(accelerator, name, self._counted(name, original))
        # prepare_model / prepare_optimizer / prepare_data_loader / prepare_scheduler prepare
        # one object each, as prepare(...) does (which calls them itself: counted once).
        for name in _PREPARE_ONE:
            original = getattr(accelerator, name, None)
            if original is not None:
                setattr(accelerator, name, self._prepared_one(original))

    def _prepared_one(self, original: Callable) -> Callable:
        @functools.wraps(original)
        def wrapper(obj: Any, *args: Any, **kwargs: Any) -> Any:
            if not self._in_prepare:
                self.prepared.append(kind_of(obj))
            return original(obj, *args, **kwargs)

        return wrapper

    def _event(self, what: str) -> None:
        if self._block is not None:
            self._block["events"].append(what)

    def _watch_classes(self) -> None:
        """New Accelerator objects, and zero_grad/step of prepared optimizers, as events.
        Patched on the classes: only ever in a throw-away child (or undone by _run_here)."""
        from accelerate import Accelerator
        from accelerate.optimizer import AcceleratedOptimizer

        probe = self
        _CLASS_UNDO.clear()
        for owner, name in ((Accelerator, "__init__"), (AcceleratedOptimizer, "zero_grad"),
                            (AcceleratedOptimizer, "step")):
            original = owner.__dict__[name]

            def make(original: Callable, name: str) -> Callable:
                @functools.wraps(original)
                def wrapper(obj: Any, *args: Any, **kwargs: Any) -> Any:
                    if name == "__init__":
                        probe.new_accelerators += 1
                    else:
                        probe._event("zero" if name == "zero_grad" else "step")
                    return original(obj, *args, **kwargs)
                return wrapper

            setattr(owner, name, make(original, name))
            _CLASS_UNDO.append((owner, name, original))

    def _accumulate(self, original: Callable) -> Callable:
        @contextlib.contextmanager
        def accumulate(*args: Any, **kwargs: Any) -> Any:
            with original(*args, **kwargs) as inside:
                self._block = {"sync": bool(self.accelerator.sync_gradients), "events": []}
                self.blocks.append(self._block)
                try:
                    yield inside
                finally:
                    self._block = None

        return accumulate

    def _counted(self, name: str, original: Callable) -> Callable:
        if name == "accumulate":
            original = self._accumulate(original)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name == "backward":
                self._event("backward")
            if name in ("gather", "gather_for_metrics") and not self._in_gather_for_metrics:
                self.gathered.append(first_sizes(args[0] if args else None))
            if name == "prepare":
                self.prepared += [kind_of(obj) for obj in args]
                self.calls[name] += 1
                self._in_prepare = True
                try:
                    return original(*args, **kwargs)
                finally:
                    self._in_prepare = False
            if name == "gather" and self._in_gather_for_metrics:
                return original(*args, **kwargs)
            self.calls[name] += 1
            if name != "gather_for_metrics":
                return original(*args, **kwargs)
            self._in_gather_for_metrics = True
            try:
                return original(*args, **kwargs)
            finally:
                self._in_gather_for_metrics = False

        return wrapper

    # the model and the optimizer -----------------------------------------------------------
    def watch(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
        model.register_forward_pre_hook(self._forward, with_kwargs=True)
        model.classifier.bias.register_hook(self._grad)
        if optimizer is not None:
            optimizer.register_step_pre_hook(self._step)

    def _forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        tensors = [t for t in (*args, *kwargs.values())
                   if isinstance(t, torch.Tensor) and t.numel()]
        tags = [self.tags[t.data_ptr()] for t in tensors if t.data_ptr() in self.tags]
        self.forwards.append((tags[0][0] if tags else None, module.training,
                              torch.is_grad_enabled(), any(tag[1] for tag in tags)))

    def _grad(self, grad: torch.Tensor) -> None:
        self.grad_passes += 1

    def _step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        self.lrs.append(float(optimizer.param_groups[0]["lr"]))

    # what the parent needs -----------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        def forwards(split: str) -> list[tuple[bool, bool, bool]]:
            return [(t, g, m) for s, t, g, m in self.forwards if s == split]

        return {
            "calls": dict(self.calls),
            "prepared": list(self.prepared),
            "train_forwards": forwards("train"),
            "eval_forwards": forwards("validation"),
            "moved_to": list(dict.fromkeys(self.targets)),
            "lrs": list(self.lrs),
            "grad_passes": self.grad_passes,
            "blocks": [dict(block, events=list(block["events"])) for block in self.blocks],
            "gathered": list(self.gathered),
            "new_accelerators": self.new_accelerators,
        }


_CLASS_UNDO: list[tuple[Any, str, Any]] = []  # class attributes patched: (owner, name, old)


def first_sizes(value: Any) -> list[int]:
    """The first-dimension sizes of the tensors in what was handed to a gather."""
    if isinstance(value, torch.Tensor):
        return [int(value.shape[0])] if value.dim() else [1]
    if isinstance(value, (list, tuple)):
        return [n for item in value for n in first_sizes(item)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in first_sizes(item)]
    return []


def kind_of(obj: Any) -> str:
    """What ``prepare`` was given, in words: model, optimizer, scheduler, <split> dataloader."""
    from torch.optim.lr_scheduler import LRScheduler
    from torch.utils.data import DataLoader

    if isinstance(obj, nn.Module):
        return "model"
    if isinstance(obj, torch.optim.Optimizer):
        return "optimizer"
    if isinstance(obj, LRScheduler):
        return "scheduler"
    if isinstance(obj, DataLoader):
        return f"{getattr(obj.collate_fn, 'split', 'other')} dataloader"
    return type(obj).__name__


def route_tensor_moves() -> None:
    """Route ``Tensor.to`` through the active :class:`AccelerateWatch` (in a throw-away child
    process, or undone by the caller)."""
    original = torch.Tensor.to

    @functools.wraps(original)
    def to(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if _ACCELERATE is not None:
            _ACCELERATE.saw_to(self, result, args, kwargs)
        return result

    torch.Tensor.to = to


def start_accelerate_watch(accelerator: Any) -> AccelerateWatch:
    """Watch ``accelerator`` (and the classes) in this process from now on."""
    global _ACCELERATE
    _ACCELERATE = AccelerateWatch(accelerator)
    return _ACCELERATE


def accelerate_watch() -> AccelerateWatch | None:
    """This process's active watch, if any (a collate function tags its batches with it)."""
    return _ACCELERATE


def stop_accelerate_watch() -> None:
    """No active watch, and the patched classes as they were."""
    global _ACCELERATE
    _ACCELERATE = None
    while _CLASS_UNDO:
        owner, name, old = _CLASS_UNDO.pop()
        setattr(owner, name, old)


# --- a metric: what was added, and what each compute() scored ----------------------------------


@dataclass
class Computed:
    """One ``metric.compute()``: what had been added since the previous one, and the result."""

    predictions: torch.Tensor
    references: torch.Tensor
    result: Any


def _joined(parts: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


class MetricWatch:
    """Passes everything to a real metric (``add_batch``, ``add``, ``compute``), recording what
    goes in and what each ``compute()`` scored (:class:`Computed`).

    ``on_added(predictions, references)`` sees every addition as tensors, before the metric
    does (a checker stops there when the predictions cannot be one class per example).
    """

    def __init__(self, metric: Any,
                 on_added: Callable[[torch.Tensor, torch.Tensor], None] | None = None) -> None:
        self._metric = metric
        self._on_added = on_added
        self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.computed: list[Computed] = []
        self.calls = 0

    def add_batch(self, *, predictions: Any = None, references: Any = None, **kwargs: Any):
        self._record(predictions, references)
        return self._metric.add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction: Any = None, reference: Any = None, **kwargs: Any):
        self._record([prediction] if prediction is not None else None,
                     [reference] if reference is not None else None)
        return self._metric.add(prediction=prediction, reference=reference, **kwargs)

    def compute(self, *, predictions: Any = None, references: Any = None, **kwargs: Any):
        if predictions is not None or references is not None:
            self._record(predictions, references)
        added = self._pending
        self._pending = []
        result = self._metric.compute(predictions=predictions, references=references, **kwargs)
        self.computed.append(Computed(_joined([p for p, _r in added]),
                                      _joined([r for _p, r in added]), result))
        return result

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._metric, name)

    def _record(self, predictions: Any, references: Any) -> None:
        self.calls += 1
        if predictions is None or references is None:
            return  # the metric itself will complain
        try:
            preds, refs = as_tensor(predictions), as_tensor(references).reshape(-1)
        except (TypeError, ValueError, RuntimeError):
            return
        if self._on_added is not None:
            self._on_added(preds, refs)
        self._pending.append((preds.reshape(-1).long(), refs.long()))
