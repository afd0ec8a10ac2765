"""Checker for chapter 4b: a training function started with ``notebook_launcher``.

The student writes ``training_function(make_model, make_dataloaders, num_epochs)``, the
function ``notebook_launcher`` runs once in each of its processes. The check launches it for
real, ``notebook_launcher(..., num_processes=2)`` on CPU processes, and each launched process
records what the function did: which ``Accelerator`` objects it built (and whether they joined
one group), what it prepared and gathered, what it printed, how many training batches it went
through, its final weights and what it returned. Before the launch the function itself is read:
an ``Accelerator``, a model, an optimizer or a dataloader it uses from outside (a global or a
closure variable) was built before the launch, the classic mistake, and is named without
launching anything.

The stand-in model and data are chapter 4's (``accelerate_loop.PairClassifier``): called like
BERT, trained in milliseconds.
"""

from __future__ import annotations

import contextlib
import dis
import functools
import io
import logging
import math
import os
import pickle
import re
import shutil
import signal
import socket
import sys
import tempfile
import traceback
import types
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from course_utils.feedback import Check, fmt, is_stub
from course_utils.i18n import _
from course_utils.launching import FORKS_WITHOUT_GPU_SINCE

WORLD_SIZE = 2
TIMEOUT = 60  # seconds a launched process may run; a hung collective is killed after this
_TASK = "training_function"
_KINDS = {"accelerator": "an `Accelerator`", "model": "a model", "optimizer": "an optimizer",
          "dataloader": "a dataloader"}


# --- What the launched function is handed: recipes, not objects -----------------------------


def _make_model(seed: int = 0) -> nn.Module:
    """The stand-in classifier (called like BERT), the same weights for the same seed."""
    from course_utils.checks.accelerate_loop import PairClassifier

    model = PairClassifier(seed=seed)
    if _RECORD is not None:
        _RECORD.watch(model)
    return model


def _make_dataloaders(num_train_rows: int = 24, num_eval_rows: int = 13, batch_size: int = 4,
                      seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """``(train_dataloader, eval_dataloader)`` of stand-in sentence pairs, not prepared."""
    from course_utils.checks import accelerate_loop

    train = accelerate_loop.toy_dataloader(num_train_rows, batch_size, "train", seed=seed)
    evaluation = accelerate_loop.toy_dataloader(num_eval_rows, batch_size, "validation",
                                                seed=seed)
    return train, evaluation


def recipes(seed: int = 0, num_train_rows: int = 24, num_eval_rows: int = 13,
            batch_size: int = 4) -> tuple[Callable[[], nn.Module], Callable[[], tuple]]:
    """``(make_model, make_dataloaders)`` as the notebook hands them to ``notebook_launcher``."""
    return (functools.partial(_make_model, seed),
            functools.partial(_make_dataloaders, num_train_rows, num_eval_rows, batch_size,
                              seed))


# --- Reading the function: what it takes from outside ---------------------------------------


def _kind(value: Any) -> str | None:
    from accelerate import Accelerator

    if isinstance(value, Accelerator):
        return "accelerator"
    if isinstance(value, nn.Module):
        return "model"
    if isinstance(value, torch.optim.Optimizer) or (
            type(value).__name__ == "AcceleratedOptimizer"):
        return "optimizer"
    if isinstance(value, DataLoader):
        return "dataloader"
    return None


def _global_names(code: types.CodeType) -> list[str]:
    names = [ins.argval for ins in dis.get_instructions(code)
             if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _global_names(const)
    return names


def captured_objects(fn: Callable, depth: int = 3) -> list[tuple[str, str]]:
    """``(name, kind)`` of the Accelerators, models, optimizers and dataloaders that ``fn``
    (or a helper function of the notebook it calls) uses from outside: globals and closures."""
    found: list[tuple[str, str]] = []
    seen: set[int] = set()

    def visit(function: Any, level: int) -> None:
        code = getattr(function, "__code__", None)
        if code is None or id(code) in seen or level > depth:
            return
        seen.add(id(code))
        outside = {name: function.__globals__[name] for name in _global_names(code)
                   if name in function.__globals__}
        for name, cell in zip(code.co_freevars, function.__closure__ or (), strict=False):
            with contextlib.suppress(ValueError):  # an empty cell
                outside[name] = cell.cell_contents
        for name, value in outside.items():
            kind = _kind(value)
            if kind and (name, kind) not in found:
                found.append((name, kind))
            elif isinstance(value, types.FunctionType) and value.__module__ == function.__module__:
                visit(value, level + 1)

    visit(fn, 0)
    return found


# --- Inside each launched process -----------------------------------------------------------

_RECORD: _Record | None = None  # the record of this launched process


class _Record:
    """What one launched process saw its function do."""

    def __init__(self) -> None:
        self.accelerators: list[dict[str, Any]] = []
        self.calls: dict[str, int] = {}
        self.prepared: list[str] = []
        self.models: list[nn.Module] = []
        self.train_forwards = 0

    def watch(self, model: nn.Module) -> None:
        self.models.append(model)
        model.register_forward_pre_hook(self._forward)

    def _forward(self, module: nn.Module, args: tuple) -> None:
        if module.training and torch.is_grad_enabled():
            self.train_forwards += 1

    def count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1


def _prepared_kind(obj: Any) -> str:
    if isinstance(obj, DataLoader):
        return f"{getattr(obj.collate_fn, 'split', 'other')} dataloader"
    return _kind(obj) or type(obj).__name__


def _instrument_accelerate(record: _Record) -> None:
    """Count what the function asks of its Accelerator (patched in this process only)."""
    from accelerate import Accelerator

    original_init = Accelerator.__init__

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        record.accelerators.append({"cpu": kwargs.get("cpu", False),
                                    "num_processes": self.num_processes,
                                    "distributed_type": str(self.distributed_type)})

    Accelerator.__init__ = init
    for name in ("prepare", "backward", "gather", "gather_for_metrics"):
        original = getattr(Accelerator, name)

        def make(original: Callable, name: str) -> Callable:
            @functools.wraps(original)
            def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                if name == "prepare":
                    record.prepared += [_prepared_kind(obj) for obj in args]
                    record.count(name)
                    record.count("inside prepare")
                    try:
                        return original(self, *args, **kwargs)
                    finally:
                        record.calls["inside prepare"] -= 1
                if name == "gather" and record.calls.get("inside gather_for_metrics"):
                    return original(self, *args, **kwargs)
                record.count(name)
                if name != "gather_for_metrics":
                    return original(self, *args, **kwargs)
                record.count("inside gather_for_metrics")
                try:
                    return original(self, *args, **kwargs)
                finally:
                    record.calls["inside gather_for_metrics"] -= 1
            return wrapper

        setattr(Accelerator, name, make(original, name))
    # one object at a time (prepare(...) calls these itself: counted once, by prepare)
    for name in ("prepare_model", "prepare_optimizer", "prepare_data_loader",
                 "prepare_scheduler"):
        original = getattr(Accelerator, name, None)
        if original is None:
            continue

        def make_one(original: Callable) -> Callable:
            @functools.wraps(original)
            def wrapper(self: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
                if not record.calls.get("inside prepare"):
                    record.prepared.append(_prepared_kind(obj))
                return original(self, obj, *args, **kwargs)
            return wrapper

        setattr(Accelerator, name, make_one(original))


def _student_line(error: BaseException) -> str:
    """' (at line N: `code`)' for the deepest frame of the notebook's code, if any."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not os.path.abspath(frame.filename).startswith(package)
              and "site-packages" not in frame.filename]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": `{frame.line.strip()}`" if frame.line else ""
    return f" (at line {frame.lineno}{code})"


def _launched(folder: str, timeout: int, function: Callable, *args: Any) -> None:
    """The entry point of each launched process: run ``function(*args)`` and write down what
    it did in ``folder/rank<N>.pkl``. A process stuck longer than ``timeout`` is killed."""
    global _RECORD
    rank = int(os.environ.get("RANK", "0"))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # ends the process even inside C++ code
    signal.alarm(timeout)
    torch.set_num_threads(1)
    record = _RECORD = _Record()
    _instrument_accelerate(record)
    printed = io.StringIO()
    sys.stdout = printed
    result: dict[str, Any] = {"rank": rank}
    try:
        value = function(*args)
        result["returned"] = value if isinstance(value, (int, float, type(None))) else (
            float(value) if isinstance(value, torch.Tensor) and value.numel() == 1
            else repr(type(value).__name__))
    except NotImplementedError as error:
        result["error"] = ("NotImplementedError" if is_stub(error) else
                           f"{type(error).__name__}: {error}{_student_line(error)}")
    except BaseException as error:  # noqa: BLE001  (reported to the student, never re-raised)
        result["error"] = f"{type(error).__name__}: {error}{_student_line(error)}"
    result.update(
        accelerators=record.accelerators, calls=record.calls, prepared=record.prepared,
        train_forwards=record.train_forwards, printed=printed.getvalue()[-2000:],
        weights=[torch.cat([p.detach().reshape(-1).double() for p in m.parameters()])
                 for m in record.models[:1]])
    with open(os.path.join(folder, f"rank{rank}.pkl"), "wb") as out:
        pickle.dump(result, out)
    if "error" in result:
        os._exit(1)  # the launcher stops the other processes instead of leaving them waiting
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # A last barrier lets gloo's thread free the gathers' tensors (it needs the GIL) before
        # the group goes away: without it a process can hang at exit.
        with contextlib.suppress(Exception):
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()
    signal.alarm(0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _quiet() -> Any:
    """Nothing the launcher or its processes write reaches the cell (stderr costs points)."""
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    streams = sys.stdout, sys.stderr
    for stream in streams:
        with contextlib.suppress(Exception):
            stream.flush()
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = io.StringIO()
    logging.disable(logging.CRITICAL)  # torch.distributed.elastic logs to the real stderr
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


@contextlib.contextmanager
def _clean_accelerate_state() -> Any:
    """No Accelerator of this process in the way of the launch (put back afterwards)."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    states = (PartialState, AcceleratorState, GradientState)
    saved = [dict(state._shared_state) for state in states]
    for state in states:
        state._shared_state.clear()
    try:
        yield
    finally:
        for state, old in zip(states, saved, strict=True):
            state._shared_state.clear()
            state._shared_state.update(old)


def launch(function: Callable, args: tuple, num_processes: int = WORLD_SIZE,
           timeout: int = TIMEOUT) -> tuple[list[dict[str, Any] | None], str | None]:
    """Run ``function(*args)`` with ``notebook_launcher`` on ``num_processes`` CPU processes.

    Returns each rank's record (``None`` for a process that never wrote one: killed, or stuck
    until ``timeout``) and the launcher's own error, if any.
    """
    from accelerate import notebook_launcher

    from course_utils.checks.accelerate_loop import _warm_up

    _warm_up()  # imported once here, not in each launched process
    folder = tempfile.mkdtemp(prefix="course-launch-")
    error = None
    try:
        with _clean_accelerate_state(), _quiet():
            try:
                notebook_launcher(_launched, args=(folder, timeout, function, *args),
                                  num_processes=num_processes, use_port=str(_free_port()))
            except Exception as failure:  # noqa: BLE001  (judged from the records)
                error = f"{type(failure).__name__}: {str(failure).splitlines()[0][:300]}"
        records: list[dict[str, Any] | None] = []
        for rank in range(num_processes):
            path = os.path.join(folder, f"rank{rank}.pkl")
            if os.path.exists(path):
                with open(path, "rb") as file:
                    records.append(pickle.load(file))  # noqa: S301  (written by _launched)
            else:
                records.append(None)
        return records, error
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- The check --------------------------------------------------------------------------------


def _accuracy(weights: torch.Tensor, seed: int, num_eval_rows: int, batch_size: int) -> float:
    """What the final model scores on the whole validation set, in this one process."""
    from course_utils.checks.accelerate_loop import PairClassifier

    model = PairClassifier(seed=seed)
    torch.nn.utils.vector_to_parameters(weights.to(torch.float64), model.parameters())
    model.eval()
    _, evaluation = _make_dataloaders(1, num_eval_rows, batch_size, seed)
    correct = total = 0
    with torch.no_grad():
        for batch in evaluation:
            correct += int((model(**batch).logits.argmax(-1) == batch["labels"]).sum())
            total += len(batch["labels"])
    return correct / total


def _fail_captured(check: Check, captured: list[tuple[str, str]]) -> None:
    names = {kind: name for name, kind in reversed(captured)}
    if "accelerator" in names:
        check.fail(_(
            "`{fn}` uses `{name}`, an Accelerator created outside it, before the launch. "
            "Each launched process must create its own Accelerator, inside the function, to "
            "find its place in the group; notebook_launcher refuses to start while one "
            "exists in the notebook (ValueError: the `Accelerator` should only be initialized "
            "inside your training function). Create it as the first line of `{fn}` and delete "
            "the one outside (restart the kernel, then run the cells again)."
        ).format(fn=_TASK, name=names["accelerator"]))
    listed = ", ".join(f"`{name}` ({_KINDS[kind]})" for name, kind in captured)
    check.fail(_(
        "`{fn}` uses {listed}, built outside it, before the launch. Every launched process "
        "must build its own, inside the function, from the recipes it is given "
        "(`make_model()`, `make_dataloaders()`): an object built in the notebook was created "
        "before the processes existed, and on a GPU or a TPU it holds device state that a "
        "forked process cannot use. Build the model, the optimizer and the dataloaders inside "
        "`{fn}`."
    ).format(fn=_TASK, listed=listed))


def _fail_launch(check: Check, records: list, error: str | None, timeout: int,
                 function: Callable | None = None) -> None:
    for record in records:
        if record is not None and record.get("error") == "NotImplementedError":
            check.fail(_(
                "not answered yet: `{fn}` still raises NotImplementedError. Replace "
                "`raise NotImplementedError()` in the answer cell with your code, run it, "
                "then run this check again."
            ).format(fn=_TASK))
    used = set(_global_names(function.__code__)) if hasattr(function, "__code__") else set()
    for rank, record in enumerate(records):
        error_text = (record or {}).get("error", "")
        missing = re.match(r"NameError: name '(\w+)' is not defined", error_text)
        if missing and missing.group(1) in used:
            check.fail(_(
                "in launched process {rank}, `{fn}` uses `{name}`, which it never creates: "
                "a name from outside the function, which did not exist here. If `{name}` is an "
                "Accelerator, a model, an optimizer or a dataloader made in another cell, that is "
                "the classic mistake: everything must be built inside the launched function, "
                "the Accelerator first (an Accelerator created before the launch makes "
                "notebook_launcher refuse to start). Create `{name}` inside `{fn}`."
            ).format(rank=rank, fn=_TASK, name=missing.group(1)))
    for rank, record in enumerate(records):
        if record is not None and "error" in record:
            check.fail(_(
                "in launched process {rank}, `{fn}` raised {error}. Run the launch cell "
                "below the check to see the whole error."
            ).format(rank=rank, fn=_TASK, error=record["error"]))
    missing = [rank for rank, record in enumerate(records) if record is None]
    if missing:
        check.fail(_(
            "launched process {rank} never finished: it was stopped after {timeout} s, or "
            "killed ({error}). A collective (gather, gather_for_metrics, wait_for_everyone, "
            "the gradient exchange in backward) that only some processes reach waits "
            "forever: look for one inside `if accelerator.is_main_process:`."
        ).format(rank=missing[0], timeout=timeout, error=error or "no error from the launcher"))


def training_function(training_function: Callable, num_epochs: int = 2,
                      num_train_rows: int = 24, num_eval_rows: int = 13, batch_size: int = 4,
                      seed: int = 0, timeout: int = TIMEOUT) -> None:
    """Launch ``training_function(make_model, make_dataloaders, num_epochs)`` with
    ``notebook_launcher`` on 2 CPU processes, and name what went wrong."""
    with Check(_TASK) as check:
        if not callable(training_function):
            check.fail(_(
                "`{fn}` should be a function, but it is a {kind}. Define it with `def` in the "
                "answer cell and run that cell again."
            ).format(fn=_TASK, kind=type(training_function).__name__))
        captured = captured_objects(training_function)
        if captured:
            _fail_captured(check, captured)
        check.case()
        _fail_where_notebook_launcher_cannot_fork(check)

        make_model, make_dataloaders = recipes(seed, num_train_rows, num_eval_rows, batch_size)
        records, error = launch(training_function, (make_model, make_dataloaders, num_epochs),
                                timeout=timeout)
        _fail_launch(check, records, error, timeout, training_function)
        check.case()
        _judge(check, records, num_epochs=num_epochs, num_train_rows=num_train_rows,
               num_eval_rows=num_eval_rows, batch_size=batch_size, seed=seed)


def _fail_where_notebook_launcher_cannot_fork(check: Check) -> None:
    """Say so, before launching, where notebook_launcher would not start the processes."""
    from course_utils.launching import this_machine

    machine = this_machine()
    if machine.colab:
        check.fail(_(
            "this check runs `{fn}` in {n} processes started by notebook_launcher, and on Colab "
            "notebook_launcher does not start processes without two GPUs: it would call the "
            "function once, here. So your answer cannot be judged in this notebook (the grader "
            "runs it in {n} processes). To check it yourself, open this chapter on Binder or "
            "with `bash course.sh lab` on your own machine."
        ).format(fn=_TASK, n=WORLD_SIZE))
    if not machine.gpus and not machine.forks_without_gpu:
        check.fail(_(
            "this check runs `{fn}` in {n} processes started by notebook_launcher, which "
            "Accelerate {version} cannot do on a machine without a GPU (fixed in Accelerate "
            "{fixed}). Your answer has not been judged: run `%pip install -U accelerate`, "
            "restart the kernel, and run the cells again."
        ).format(fn=_TASK, n=WORLD_SIZE, version=machine.accelerate,
                 fixed=FORKS_WITHOUT_GPU_SINCE))


def _judge(check: Check, records: list[dict[str, Any]], *, num_epochs: int, num_train_rows: int,
           num_eval_rows: int, batch_size: int, seed: int) -> None:
    """The verdict from what each launched process recorded."""
    world = len(records)
    first = records[0]
    if not first["accelerators"]:
        check.fail(_(
            "`{fn}` creates no Accelerator. Each launched process must create its own, "
            "inside the function: `accelerator = Accelerator(cpu=True)` on this CPU machine."
        ).format(fn=_TASK))
    made = first["accelerators"][0]
    if made["num_processes"] != world:
        check.fail(_(
            "the {world} launched processes did not form a group: each one's Accelerator says "
            "num_processes={n} ({kind}), so each process trained and evaluated alone, on all "
            "of the data. On a machine without a GPU, the processes notebook_launcher starts "
            "join one group only when the Accelerator asks for the CPU: create it with "
            "`Accelerator(cpu=True)`."
        ).format(world=world, n=made["num_processes"], kind=made["distributed_type"]))
    check.case()

    if not first["weights"]:
        check.fail(_(
            "`{fn}` never called `make_model()`: build the model inside the function from "
            "the recipe it receives."
        ).format(fn=_TASK))
    train_batches = math.ceil(num_train_rows / batch_size)
    per_process = math.ceil(train_batches / world)
    forwards = first["train_forwards"]
    if forwards == num_epochs * train_batches and world > 1:
        check.fail(_(
            "each process went through all {n} training batches in every epoch ({forwards} "
            "training forward passes in {epochs} epochs): the training dataloader was not "
            "prepared, so the processes did not share the work. Pass it to "
            "`accelerator.prepare` with the model and the optimizer."
        ).format(n=train_batches, forwards=forwards, epochs=num_epochs))
    if forwards != num_epochs * per_process:
        check.fail(_(
            "process 0 made {forwards} training forward passes; {epochs} epochs over its "
            "share ({share} of the {n} batches) make {expected}. Train for `num_epochs` "
            "epochs over the prepared training dataloader, one forward pass per batch."
        ).format(forwards=forwards, epochs=num_epochs, share=per_process, n=train_batches,
                 expected=num_epochs * per_process))
    from course_utils.checks.accelerate_loop import PairClassifier

    start = torch.cat([p.detach().reshape(-1).double()
                       for p in PairClassifier(seed=seed).parameters()])
    weights = [record["weights"][0] for record in records]
    if torch.equal(weights[0], start):
        check.fail(_(
            "the model's weights never changed: call `accelerator.backward(loss)`, then "
            "`optimizer.step()` and `optimizer.zero_grad()`, for every batch."
        ))
    if any(not torch.allclose(w, weights[0], rtol=0, atol=1e-9) for w in weights[1:]):
        check.fail(_(
            "the processes ended with different weights: each trained its own copy of the "
            "model. Pass the model to `accelerator.prepare` (it is wrapped in "
            "DistributedDataParallel, which averages the gradients of all processes) and "
            "call `accelerator.backward(loss)`."
        ))
    check.case()

    returned = [record["returned"] for record in records]
    for rank, value in enumerate(returned):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            check.fail(_(
                "process {rank} returned {value}: return the validation accuracy, a number, "
                "on every process."
            ).format(rank=rank, value="None" if value is None else value))
    expected = _accuracy(weights[0], seed, num_eval_rows, batch_size)
    calls = first["calls"]
    eval_prepared = "validation dataloader" in first["prepared"]
    if eval_prepared and world > 1 and not calls.get("gather_for_metrics"):
        if calls.get("gather"):
            check.fail(_(
                "`accelerator.gather` keeps the pairs that were repeated to complete the last "
                "batches ({rows} validation pairs, {padded} scored), so they count twice. Use "
                "`accelerator.gather_for_metrics(...)`, which drops them."
            ).format(rows=num_eval_rows,
                     padded=world * math.ceil(math.ceil(num_eval_rows / batch_size) / world)
                     * batch_size))
        check.fail(_(
            "the predictions were never gathered: each process scored only its own share of "
            "the validation set (returned accuracies {values}, against {expected} over all "
            "{rows} pairs). Gather predictions and labels with "
            "`accelerator.gather_for_metrics((predictions, labels))` before counting."
        ).format(values=", ".join(fmt(v) for v in returned), expected=fmt(expected),
                 rows=num_eval_rows))
    for rank, value in enumerate(returned):
        if abs(float(value) - expected) > 1e-6:
            check.fail(_(
                "process {rank} returned {value}, but the trained model scores an accuracy of "
                "{expected} on the {rows} validation pairs: eval mode, no gradients, the "
                "argmax of the logits, every pair counted once."
            ).format(rank=rank, value=fmt(value), expected=fmt(expected), rows=num_eval_rows))
    check.case()

    noisy = [rank for rank, record in enumerate(records) if rank and record["printed"].strip()]
    if noisy:
        line = records[noisy[0]]["printed"].strip().splitlines()[0][:120]
        check.fail(_(
            "process {rank} printed too (`{line}`): every process runs the whole function, "
            "so a plain print appears once per process. Print from the main process only: "
            "`accelerator.print(...)`, or `print(...)` under `if accelerator.is_main_process:`."
        ).format(rank=noisy[0], line=line))
    if not first["printed"].strip():
        check.fail(_(
            "nothing was printed: print the accuracy once, from the main process "
            "(`accelerator.print(...)`)."
        ))
    check.case(_("{world} processes in one group, accuracy {accuracy} over {rows} pairs, "
                 "printed once").format(world=world, accuracy=fmt(expected), rows=num_eval_rows))
