"""Checkers for chapter 4, Accelerate.

Each exercise receives an ``Accelerator`` and the objects it works on, so a checker builds them
itself and watches what the student's function does with them. The function runs the way it
will run for real: in **two CPU processes forming a gloo process group** (forked from the
notebook, so nothing needs pickling), on a stand-in classifier that is called like BERT
(``model(**batch).loss``, ``.logits``, ``batch["labels"]``) but trains in milliseconds. In every
process the checker records

- the calls to ``accelerator.backward``, ``prepare`` (and what was prepared), ``accumulate``,
  ``gather`` and ``gather_for_metrics``;
- every forward pass (a forward pre-hook): whether its batch came from the training or the
  validation dataloader, ``model.training``, ``torch.is_grad_enabled()``, and whether the batch
  had been moved by hand, i.e. passed through ``Tensor.to`` with a device other than the
  ``accelerator.device`` object (on a CPU-only machine every device *is* the CPU, so the
  device a batch ends up on says nothing);
- every real optimizer step and its learning rate (an optimizer step pre-hook);
- how many rows the metric handed in was asked to score.

The process group is built by the checker (``torch.distributed.init_process_group`` on a
``FileStore`` in a temporary folder, so no network port is needed), then the function's
``Accelerator(cpu=True)`` joins it as ``DistributedType.MULTI_CPU``. After the student's
function, a reference runs on fresh copies of the same objects, and the two are compared.
Without ``fork`` (Windows) the checks run in one process, and say so.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import math
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from course_utils.feedback import FAIL_MARK, Check, CheckFailed, fmt
from course_utils.i18n import _

# re-read with the checker (checks.load), like the feedback core: nothing a notebook patched
# in the watcher or the diagnosis earlier can change a verdict
diagnosis = importlib.reload(importlib.import_module("course_utils.checks.diagnosis"))
watch = importlib.reload(importlib.import_module("course_utils.checks.watch"))
_plural = diagnosis.plural

VOCAB_SIZE = 40
PAD, CLS, SEP = 0, 2, 3
WORLD_SIZE = 2
TIMEOUT = 60.0  # seconds for one multi-process run; a hung collective is killed after this
_WEIGHT_TOLERANCE = 1e-9  # float64 stand-in: the same operations give the same numbers
_BACKWARD = "accelerator.backward(loss)"


# --- The stand-in model and its data --------------------------------------------------------


class PairClassifier(nn.Module):
    """A stand-in for ``BertForSequenceClassification``: called the same way, tiny inside.

    ``model(input_ids=..., attention_mask=..., token_type_ids=..., labels=...)`` returns an
    output with ``.loss`` (cross-entropy, when labels are given) and ``.logits`` (rows × 2).
    The weights are float64 and depend only on ``seed``.
    """

    def __init__(self, seed: int = 0, dropout: float = 0.0, hidden: int = 8) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embeddings = nn.Embedding(VOCAB_SIZE, hidden, padding_idx=PAD)
            self.token_types = nn.Embedding(2, hidden)
            self.dropout = nn.Dropout(dropout)
            self.classifier = nn.Linear(hidden, 2)
        self.double()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> Any:
        from transformers.modeling_outputs import SequenceClassifierOutput

        if attention_mask is None:
            attention_mask = (input_ids != PAD).long()
        hidden = self.embeddings(input_ids)
        if token_type_ids is not None:
            hidden = hidden + self.token_types(token_type_ids)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = torch.tanh((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0))
        logits = self.classifier(self.dropout(pooled))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def toy_rows(num_rows: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Sentence-pair-like rows of token ids (4 to 12 tokens), with a learnable 0/1 label."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _row in range(num_rows):
        first, second = (int(n) for n in torch.randint(1, 6, (2,), generator=generator))
        words = torch.randint(5, VOCAB_SIZE, (first + second,), generator=generator)
        ids = torch.cat([torch.tensor([CLS]), words[:first], torch.tensor([SEP]),
                         words[first:], torch.tensor([SEP])])
        types = torch.cat([torch.zeros(first + 2, dtype=torch.long),
                           torch.ones(second + 1, dtype=torch.long)])
        label = int((words % 2 == 0).sum() * 2 >= len(words))
        rows.append({"input_ids": ids, "token_type_ids": types, "labels": torch.tensor(label)})
    return rows


class _Collator:
    """Pads a list of rows into a ``BatchEncoding`` (like ``DataCollatorWithPadding``) and
    tells the active probe, if any, which split the new tensors belong to."""

    def __init__(self, split: str) -> None:
        self.split = split

    def __call__(self, rows: list[dict[str, torch.Tensor]]) -> Any:
        from transformers import BatchEncoding

        width = max(len(row["input_ids"]) for row in rows)
        ids = torch.full((len(rows), width), PAD, dtype=torch.long)
        types = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n], types[i, :n], mask[i, :n] = row["input_ids"], row["token_type_ids"], 1
        labels = torch.stack([row["labels"] for row in rows])
        batch = BatchEncoding({"input_ids": ids, "token_type_ids": types,
                               "attention_mask": mask, "labels": labels})
        probe = watch.accelerate_watch()
        if probe is not None:
            probe.register(batch, self.split)
        return batch


def toy_dataloader(num_rows: int, batch_size: int, split: str = "train", seed: int = 0,
                   shuffle: bool | None = None) -> DataLoader:
    """Batches of :func:`toy_rows`, padded per batch; shuffled (with its own seeded generator)
    for ``split="train"``, in order otherwise."""
    shuffle = split == "train" if shuffle is None else shuffle
    rows = toy_rows(num_rows, seed=seed + (0 if split == "train" else 1000))
    return DataLoader(rows, batch_size=batch_size, shuffle=shuffle, collate_fn=_Collator(split),
                      generator=torch.Generator().manual_seed(seed))


class CountingMetric:
    """GLUE MRPC's metric interface (``add_batch``, ``add``, ``compute``) that also counts.

    ``compute()`` returns ``{"accuracy", "f1"}`` over everything added since the last
    ``compute()``, like an ``evaluate`` metric, and remembers how many rows it scored.
    """

    def __init__(self) -> None:
        self.predictions: list[int] = []
        self.references: list[int] = []
        self.scored: list[int] = []  # rows scored by each compute()

    @staticmethod
    def _ints(values: Any) -> list[int]:
        if isinstance(values, torch.Tensor):
            return [int(v) for v in values.detach().cpu().reshape(-1).tolist()]
        if hasattr(values, "tolist"):  # numpy
            values = values.tolist()
        if isinstance(values, (int, float)):
            return [int(values)]
        return [int(v) for v in values]

    def add_batch(self, *, predictions: Any = None, references: Any = None) -> None:
        self.predictions += self._ints(predictions)
        self.references += self._ints(references)

    def add(self, *, prediction: Any = None, reference: Any = None) -> None:
        self.add_batch(predictions=[prediction], references=[reference])

    def compute(self, *, predictions: Any = None, references: Any = None) -> dict[str, float]:
        if predictions is not None or references is not None:
            self.add_batch(predictions=predictions, references=references)
        preds, refs = self.predictions, self.references
        if len(preds) != len(refs):
            raise ValueError(f"Mismatch in the number of predictions ({len(preds)}) and "
                             f"references ({len(refs)})")
        if not preds:
            raise ValueError("compute() was called before any add_batch(): no predictions")
        self.scored.append(len(preds))
        self.predictions, self.references = [], []
        return mrpc_scores(preds, refs)


def mrpc_scores(predictions: Sequence[int], references: Sequence[int]) -> dict[str, float]:
    """Accuracy and F1 (of class 1), as GLUE MRPC reports them."""
    pairs = list(zip(predictions, references, strict=True))
    tp = sum(1 for p, r in pairs if p == 1 and r == 1)
    fp = sum(1 for p, r in pairs if p == 1 and r == 0)
    fn = sum(1 for p, r in pairs if p == 0 and r == 1)
    accuracy = sum(1 for p, r in pairs if p == r) / len(pairs)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"accuracy": accuracy, "f1": f1}


# --- Watching what happens inside one process ------------------------------------------------

# The watcher of one process (watch.AccelerateWatch, in course_utils/checks/watch.py): the
# accelerator's calls, the batches and where they went, forwards, gradients and steps.
_Probe = watch.AccelerateWatch


# --- Running a job on several processes --------------------------------------------------------


def can_fork() -> bool:
    """True where ``multiprocessing`` can fork (Linux, macOS; not Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


@functools.cache
def _warm_up() -> None:
    """Import in the parent what the children would otherwise each import (seconds each)."""
    import datasets  # noqa: F401  (accelerate's prepare_data_loader imports it when distributed)
    from torch.nn.parallel import DistributedDataParallel  # noqa: F401
    from transformers import get_scheduler  # noqa: F401
    from transformers.modeling_outputs import SequenceClassifierOutput  # noqa: F401

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # imports torch._dynamo


def _reset_accelerate() -> None:
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def _child(job: Callable[[int, int], dict], rank: int, world_size: int, store: str,
           conn: Any, timeout: float) -> None:
    """One process of a run: join the group, run the job, send back what it returns."""
    captured = io.StringIO()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # C++ logs (gloo) and stray prints stay out of the notebook
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = captured
    result: dict[str, Any]
    try:
        for key in [k for k in os.environ if k.startswith("ACCELERATE_")] + [
                "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "FORK_LAUNCHED"]:
            os.environ.pop(key, None)
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)
        _reset_accelerate()
        watch.stop_accelerate_watch()
        watch.route_tensor_moves()
        if world_size > 1:
            os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                              LOCAL_WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1",
                              MASTER_PORT="29500")
            torch.distributed.init_process_group(
                "gloo", store=torch.distributed.FileStore(store, world_size), rank=rank,
                world_size=world_size, timeout=timedelta(seconds=timeout + 30))
        result = job(rank, world_size)
    except CheckFailed as failure:
        result = {"failed": str(failure)}
    except BaseException:  # noqa: BLE001  (the checker itself broke: report, never hang)
        result = {"crash": traceback.format_exc(limit=8)}
    result["output"] = captured.getvalue()[-2000:]
    try:
        conn.send(result)
    except Exception:  # noqa: BLE001  (something unpicklable: send what can be sent)
        conn.send({"crash": "the checker could not send its result:\n"
                            + traceback.format_exc(limit=3), "output": ""})
    # Stay in the group until the parent has heard from everyone: a process that left would
    # turn a peer stuck in a collective into a "connection closed" error instead of a hang.
    with contextlib.suppress(EOFError, OSError):
        conn.recv()
    conn.close()


def run_processes(job: Callable[[int, int], dict], world_size: int = WORLD_SIZE,
                  timeout: float | None = None) -> list[dict[str, Any]]:
    """Run ``job(rank, world_size)`` in ``world_size`` forked processes that form a gloo group.

    Returns one dict per rank: what ``job`` returned, or ``{"failed": message}`` when it
    raised :class:`CheckFailed`, ``{"crash": traceback}`` for any other error,
    ``{"died": exit code}`` when the process ended without a word, ``{"timeout": seconds}``
    when it was still running after ``timeout`` seconds (default :data:`TIMEOUT`). As soon as
    one process fails the others are stopped (they would wait for it in their next collective).
    """
    timeout = TIMEOUT if timeout is None else timeout
    _warm_up()
    context = multiprocessing.get_context("fork")
    folder = tempfile.mkdtemp(prefix="course-accelerate-")
    store = os.path.join(folder, "store")
    processes, readers, connections = [], {}, []
    try:
        for rank in range(world_size):
            reader, writer = context.Pipe()
            process = context.Process(target=_child, daemon=True,
                                      args=(job, rank, world_size, store, writer, timeout))
            with warnings_silenced():
                process.start()
            writer.close()
            processes.append(process)
            readers[reader] = rank
            connections.append(reader)
        results: list[dict[str, Any] | None] = [None] * world_size
        deadline = time.monotonic() + timeout
        while readers:
            ready = multiprocessing.connection.wait(list(readers),
                                                    max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            for reader in ready:
                rank = readers.pop(reader)
                try:
                    results[rank] = reader.recv()
                except EOFError:
                    processes[rank].join(5)
                    results[rank] = {"died": processes[rank].exitcode, "output": ""}
            if any(r and ("failed" in r or "crash" in r or "died" in r) for r in results):
                break
        return [r if r is not None else {"timeout": timeout, "output": ""} for r in results]
    finally:
        waiting = set(readers.values())  # ranks that never answered: stuck, or not yet done
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.send("done")  # lets the children that answered leave
            connection.close()
        for rank, process in enumerate(processes):
            if rank not in waiting:
                process.join(5)
            if process.is_alive():
                process.kill()
            process.join(5)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def warnings_silenced() -> Any:
    """No "fork() in a multi-threaded process" DeprecationWarning in the notebook."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _run_here(job: Callable[[int, int], dict]) -> list[dict[str, Any]]:
    """The fallback without fork: one process, this one, with accelerate's state put back."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    saved = [dict(s._shared_state) for s in (PartialState, AcceleratorState, GradientState)]
    original_to = torch.Tensor.to
    try:
        _reset_accelerate()
        watch.route_tensor_moves()
        try:
            result = job(0, 1)
        except CheckFailed as failure:
            result = {"failed": str(failure)}
        result["output"] = ""
        return [result]
    finally:
        watch.stop_accelerate_watch()
        torch.Tensor.to = original_to
        for state, old in zip((PartialState, AcceleratorState, GradientState), saved,
                              strict=True):
            state._shared_state.clear()
            state._shared_state.update(old)


def _run(check: Check, job: Callable[[int, int], dict], world_size: int) -> list[dict]:
    """Run ``job`` on ``world_size`` processes; turn a failure in any of them into the verdict."""
    if can_fork():
        results = run_processes(job, world_size)
    else:
        results = _run_here(job)
        check.details.append("run in 1 process: this system cannot fork")
    prefix = f"{FAIL_MARK} {check.task} — "
    for result in results:
        if "failed" in result:
            message = result["failed"]
            check.fail(message[len(prefix):] if message.startswith(prefix) else message)
    for rank, result in enumerate(results):
        if "crash" in result:
            check.fail(_(
                "the checker itself failed in process {rank}; please report it:\n{value2}"
            ).format(rank=rank, value2=result['crash']))
        if "died" in result:
            check.fail(_(
                "process {rank} of {world_size} ended without finishing (exit code {value3}): "
                "does your function call exit(), or crash Python?"
            ).format(rank=rank, world_size=world_size, value3=result['died']))
        if "timeout" in result:
            check.fail(
                _(
                    "your function had not finished after {value1:g} s on {world_size} "
                    "processes. A collective (gather, gather_for_metrics, reduce, "
                    "wait_for_everyone, or the gradient all-reduce in backward) that only some "
                    "of the processes reach waits forever: look for one inside `if "
                    "accelerator.is_main_process:`, or in a loop whose length differs between "
                    "processes."
                ).format(value1=result['timeout'], world_size=world_size)
            )
    output = results[0].get("output", "").strip()
    if output:
        lines = output.splitlines()[-10:]
        print("output of your function on process 0 (last lines):\n  " + "\n  ".join(lines))
    return results


def _new_accelerator(gradient_accumulation_steps: int = 1) -> Any:
    from accelerate import Accelerator

    return Accelerator(cpu=True, gradient_accumulation_steps=gradient_accumulation_steps)


def _start_probe(accelerator: Any) -> _Probe:
    return watch.start_accelerate_watch(accelerator)


def _weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).double() for p in model.parameters()])


def _shard_batches(num_batches: int, world_size: int) -> int:
    """Batches each process gets from a prepared dataloader (even_batches: all the same)."""
    return math.ceil(num_batches / world_size)


def _explain(error: Exception) -> str | None:
    text = str(error)
    if isinstance(error, AttributeError) and "'dict' object has no attribute" in text:
        return "a batch is a dict-like BatchEncoding: index it (batch['labels']) or unpack it"
    if "Expected all tensors to be on the same device" in text:
        return ("tensors ended up on different devices: do not move batches by hand, the "
                "prepared dataloader puts them on accelerator.device")
    if isinstance(error, ValueError) and "compute() was called before" in text:
        return "metric.compute() ran before any metric.add_batch(...)"
    counts = re.search(r"number of predictions \((\d+)\) and references \((\d+)\)", text)
    if counts:
        return _mismatch_message(int(counts.group(1)), int(counts.group(2)))
    return None


def _mismatch_message(predictions: int, references: int) -> str:
    """Predictions and labels of different lengths: one of them was gathered, the other not."""
    if predictions > references:
        return _("the metric got {p} predictions but {r} labels: the predictions were gathered "
                 "from every process and the labels are this process's own. Gather both "
                 "together, `accelerator.gather_for_metrics((predictions, batch[\"labels\"]))`"
                 ).format(p=predictions, r=references)
    return _("the metric got {p} predictions but {r} labels: the labels were gathered from "
             "every process and the predictions are this process's own. Gather both together, "
             "`accelerator.gather_for_metrics((predictions, batch[\"labels\"]))`"
             ).format(p=predictions, r=references)


# --- Exercise 1: gather_predictions ------------------------------------------------------------


def _all_predictions(model: nn.Module, loader: DataLoader) -> tuple[list[int], list[int]]:
    """The truth: every row of ``loader`` in order, eval mode, no gradients, one process."""
    was_training = model.training
    model.eval()
    preds, labels = [], []
    with torch.no_grad():
        for batch in loader:
            preds += model(**batch).logits.argmax(dim=-1).tolist()
            labels += batch["labels"].tolist()
    model.train(was_training)
    return preds, labels


def _as_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor)
                                                          for v in value):
        try:
            value = torch.cat([v.reshape(-1) if v.ndim == 0 else v for v in value])
        except RuntimeError:
            return None
    try:
        return torch.as_tensor(value).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        return None


def gather_predictions(gather_predictions: Callable, num_rows: int = 21, batch_size: int = 4,
                       world_size: int = WORLD_SIZE, seed: int = 0) -> None:
    """Check a distributed evaluation: every validation row once, in order, on every process.

    The model and the dataloader are prepared by the checker; the model is handed over in
    train mode, with dropout, so forgetting ``model.eval()`` changes the predictions.
    """

    def job(rank: int, processes: int) -> dict[str, Any]:
        accelerator = _new_accelerator()
        probe = _start_probe(accelerator)
        model = PairClassifier(seed=seed, dropout=0.5)
        loader = toy_dataloader(num_rows, batch_size, split="validation", seed=seed)
        expected_preds, expected_labels = _all_predictions(model, loader)
        model, prepared = accelerator.prepare(model, loader)
        local_rows = sum(len(batch["labels"]) for batch in prepared)
        model.train()
        probe.watch(accelerator.unwrap_model(model))
        probe.calls.clear()
        answer = Check("gather_predictions").call(
            watch.pinned(gather_predictions), accelerator, model, prepared, explain=_explain)
        shape = None
        if isinstance(answer, (tuple, list)) and len(answer) == 2:
            preds, labels = _as_tensor(answer[0]), _as_tensor(answer[1])
            shape = [None if t is None else list(t.shape) for t in (preds, labels)]
            answer = [None if t is None else t.tolist() for t in (preds, labels)]
        else:
            answer = type(answer).__name__
        return {"answer": answer, "shapes": shape, "expected": [expected_preds, expected_labels],
                "local_rows": local_rows, **probe.summary()}

    with Check("gather_predictions") as check:
        results = _run(check, job, world_size)
        _judge_gathered(check, results[0], num_rows, len(results))
        if len(results) > 1:
            other = results[1]["answer"]
            if isinstance(other, list) and other[1] is not None and len(other[1]) != num_rows:
                check.fail(
                    _(
                        "process 0 returned all {num_rows} rows but process 1 returned "
                        "{value2}: gather on every process (gather_for_metrics is a "
                        "collective: all processes call it, all get everything)."
                    ).format(num_rows=num_rows, value2=len(other[1]))
                )
            check.case()
        local = results[0]["local_rows"]
        padded = local * len(results)
        check.case(
            f"{num_rows} rows on {_plural(len(results), 'process')}, each returned once, in "
            f"order" + (f"; {padded - num_rows} padding rows dropped" if padded > num_rows
                        else "")
        )


def _judge_gathered(check: Check, result: dict, num_rows: int, processes: int) -> None:
    answer = result["answer"]
    if answer == "NoneType":
        check.fail(_(
            "your function returned None: return the pair (predictions, labels)."
        ))
    if not isinstance(answer, list):
        check.fail(_(
            "return a pair (predictions, labels), not a {answer}."
        ).format(answer=answer))
    if answer[0] is None or answer[1] is None:
        check.fail(_(
            "return two tensors (or lists of numbers): (predictions, labels)."
        ))
    check.case()
    pred_shape, label_shape = result["shapes"]
    if len(pred_shape) == 2 and pred_shape[-1] == 2:
        check.fail(
            _(
                "your predictions have shape {value1}: those are logits. Turn them into "
                "classes with logits.argmax(dim=-1) before gathering."
            ).format(value1=tuple(pred_shape))
        )
    if len(pred_shape) != 1 or len(label_shape) != 1:
        check.fail(_(
            "predictions and labels should be 1-D; yours have shapes {value1} and {value2}."
        ).format(value1=tuple(pred_shape), value2=tuple(label_shape)))
    check.case()
    calls, local = result["calls"], result["local_rows"]
    forwards = result["eval_forwards"]
    if any(moved for _, _, moved in forwards):
        check.fail(_moved_message(result["moved_to"]))
    check.case()
    _judge_evaluation_mode(check, forwards)
    check.case()
    preds, labels = answer
    padded = local * processes
    if len(preds) != len(labels):
        pair = _argmax_over_examples(result.get("gathered", []))
        if pair:
            check.fail(
                _(
                    "argmax over the wrong dimension: a batch of {value1} rows gave {value2} "
                    "predictions, one per class. The logits have shape (batch size, 2), so "
                    "`argmax(dim=0)` picks, for each class, the example with the largest "
                    "logit; `logits.argmax(dim=-1)` gives the class of each example."
                ).format(value1=pair[1], value2=pair[0])
            )
        check.fail(
            _(
                "you returned {value1} predictions but {value2} labels: gather both the same "
                "way, for instance in one call, `accelerator.gather_for_metrics((predictions, "
                "batch['labels']))`."
            ).format(value1=len(preds), value2=len(labels))
        )
    if len(labels) != num_rows:
        if processes > 1 and len(labels) == padded and (
                calls.get("gather") and not calls.get("gather_for_metrics")
                or padded != num_rows):
            check.fail(
                _(
                    "you returned {value1} rows for a validation set of {num_rows}: gather "
                    "instead of gather_for_metrics. With {processes} processes the last batch "
                    "is padded with {value4} rows repeated from the start, so that every "
                    "process has a full batch; gather keeps those duplicates, "
                    "gather_for_metrics drops them. Use accelerator.gather_for_metrics."
                ).format(value1=len(labels), num_rows=num_rows, processes=processes,
                         value4=padded - num_rows)
            )
        if processes > 1 and len(labels) == local:
            check.fail(
                _(
                    "you returned {value1} rows, this process's share of the {num_rows}: each "
                    "process only sees its own batches. Collect everyone's with "
                    "accelerator.gather_for_metrics(...) on every batch."
                ).format(value1=len(labels), num_rows=num_rows)
            )
        check.fail(_(
            "you returned {value1} rows; the validation set has {num_rows} (and each of the "
            "{processes} processes saw {local})."
        ).format(value1=len(labels), num_rows=num_rows, processes=processes, local=local))
    check.case()
    expected_preds, expected_labels = result["expected"]
    if labels != expected_labels:
        check.fail(
            _(
                "the labels are not in the order of the dataset (first ones {value1}, expected "
                "{value2}): keep the batches in the order they come, gathered batch by batch."
            ).format(value1=labels[:6], value2=expected_labels[:6])
        )
    check.case()
    wrong = sum(p != q for p, q in zip(preds, expected_preds, strict=True))
    if wrong:
        check.fail(_(
            "{wrong} of {num_rows} predictions differ from the model's (the checker took "
            "argmax(dim=-1) of the logits in eval mode)."
        ).format(wrong=wrong, num_rows=num_rows))
    check.case()


def _judge_evaluation_mode(check: Check, forwards: list) -> None:
    """The evaluation's forward passes (training, grad enabled, moved) by the shared rules."""
    problem = diagnosis.evaluation_mode_problem([f[0] for f in forwards],
                                                [f[1] for f in forwards])
    if problem:
        check.fail(problem)


def _argmax_over_examples(gathered: list[list[int]]) -> tuple[int, int] | None:
    """(predictions, rows) of a gather where a batch's predictions were one per class."""
    for sizes in gathered:
        if len(sizes) >= 2 and min(sizes) == 2 < max(sizes):
            return 2, max(sizes)
    single = [sizes[0] for sizes in gathered if len(sizes) == 1]
    for a, b in zip(single[::2], single[1::2], strict=False):
        if a == 2 < b:
            return a, b
    return None


def _moved_message(targets: list[str]) -> str:
    where = ", ".join(targets[:2]) or "a device"
    return (
        _(
            "batches are still moved by hand to a device (`.to({where})`): the prepared "
            "dataloader already delivers every batch on accelerator.device, and with several "
            "GPUs a hand-written device sends them all to the same one. Remove the line that "
            "moves the batch (if you create tensors yourself, use accelerator.device)."
        ).format(where=where)
    )


# --- Exercise 2: accumulation ------------------------------------------------------------------


def _reference_accumulation(accelerator: Any, model: nn.Module, optimizer: Any,
                            loader: DataLoader, num_epochs: int, *, divide: bool = False,
                            zero_grad: bool = True) -> None:
    """The reference; ``divide`` and ``zero_grad=False`` reproduce two known mistakes."""
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    model.train()
    steps = accelerator.gradient_accumulation_steps
    for _epoch in range(num_epochs):
        for batch in loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss / steps if divide else loss)
                optimizer.step()
                if zero_grad:
                    optimizer.zero_grad()


def _fresh(seed: int, num_rows: int, batch_size: int, lr: float, optimizer: str = "sgd"
           ) -> tuple[nn.Module, torch.optim.Optimizer, DataLoader]:
    model = PairClassifier(seed=seed)
    model.eval()  # like from_pretrained: the function must switch to train mode itself
    make = torch.optim.SGD if optimizer == "sgd" else torch.optim.AdamW
    return (model, make(model.parameters(), lr=lr),
            toy_dataloader(num_rows, batch_size, split="train", seed=seed))


def train_accumulating(train_accumulating: Callable, gradient_accumulation_steps: int = 2,
                       world_size: int = WORLD_SIZE, num_rows: int = 48, batch_size: int = 4,
                       num_epochs: int = 2, lr: float = 0.5, seed: int = 0) -> None:
    """Check training with ``accelerator.accumulate``: as many optimizer steps as windows, the
    loss divided once, the same weights as the reference (plain SGD, where scale matters).

    Called with the defaults, the check also runs 40 rows (5 batches per process), so that
    each epoch ends with a short window: a `% k` window check of the student's own skips it.
    """
    settings = [(num_rows, "")]
    if (gradient_accumulation_steps, world_size, num_rows, batch_size, num_epochs, lr, seed) == (
            2, WORLD_SIZE, 48, 4, 2, 0.5, 0):
        settings.append((40, "with 40 rows (each epoch ends with a short window): "))
    with Check("train_accumulating") as check:
        for rows, where in settings:
            with watch.scenario(check, where):
                _accumulating_run(check, train_accumulating, gradient_accumulation_steps,
                                  world_size, rows, batch_size, num_epochs, lr, seed,
                                  detail=not where)


def _accumulating_run(check: Check, train_accumulating: Callable, k: int, world_size: int,
                      num_rows: int, batch_size: int, num_epochs: int, lr: float, seed: int,
                      detail: bool) -> None:
    def job(rank: int, processes: int) -> dict[str, Any]:
        accelerator = _new_accelerator(k)
        torch.manual_seed(seed)
        model, optimizer, loader = _fresh(seed, num_rows, batch_size, lr)
        _reference_accumulation(accelerator, model, optimizer, loader, num_epochs)
        reference = _weights(model)
        probe = _start_probe(accelerator)
        model, optimizer, loader = _fresh(seed, num_rows, batch_size, lr)
        probe.watch(model, optimizer)
        torch.manual_seed(seed)
        Check("train_accumulating").call(watch.pinned(train_accumulating), accelerator, model,
                                         optimizer,
                                         loader, num_epochs, explain=_explain)
        weights = _weights(model)
        diff = float((weights - reference).abs().max())
        summary = probe.summary()
        variants = {}
        if diff > _WEIGHT_TOLERANCE:
            for name, options in (("divided twice", {"divide": True}),
                                  ("never zeroed", {"zero_grad": False})):
                other = _fresh(seed, num_rows, batch_size, lr)
                torch.manual_seed(seed)
                _reference_accumulation(accelerator, *other, num_epochs, **options)
                variants[name] = float((weights - _weights(other[0])).abs().max())
        return {"diff": diff, "variants": variants, **summary}

    num_batches = math.ceil(num_rows / batch_size)
    results = _run(check, job, world_size)
    processes = len(results)
    per_process = _shard_batches(num_batches, processes)
    expected_steps = num_epochs * math.ceil(per_process / k)
    result = results[0]
    _judge_backward(check, result, per_process * num_epochs, k, num_batches * num_epochs,
                    epochs=num_epochs)
    _judge_prepared(check, result, needs=("model", "optimizer", "train dataloader"))
    _judge_steps(check, result, per_process, num_epochs, k, processes)
    _judge_blocks(check, result, k)
    if result["diff"] > _WEIGHT_TOLERANCE:
        variants = result["variants"]
        if variants.get("divided twice", 1.0) <= _WEIGHT_TOLERANCE:
            check.fail(
                _(
                    "the loss is divided by gradient_accumulation_steps twice: "
                    "accelerator.backward already divides it by {k} inside accumulate. Pass "
                    "the plain loss: accelerator.backward(loss)."
                ).format(k=k)
            )
        if variants.get("never zeroed", 1.0) <= _WEIGHT_TOLERANCE:
            check.fail(
                _(
                    "gradients are never zeroed, so every update also applies all the earlier "
                    "windows' gradients. Call optimizer.zero_grad() after optimizer.step(), "
                    "inside the accumulate block (the prepared optimizer only really zeroes at "
                    "the end of a window)."
                )
            )
        check.fail(
            _(
                "after training, your weights differ from the reference by up to {value1} "
                "(same data, same SGD, same number of steps). Inside `with "
                "accelerator.accumulate(model):` do forward, {BACKWARD}, optimizer.step(), "
                "optimizer.zero_grad() for every batch."
            ).format(value1=fmt(result['diff']), BACKWARD=_BACKWARD)
        )
    check.case(None if not detail else (
        f"{_plural(num_epochs, 'epoch')} × {_plural(per_process, 'batch')} per process → "
        f"{_plural(expected_steps, 'optimizer step')} with "
        f"gradient_accumulation_steps={k} on {_plural(processes, 'process')}; weights "
        "match the reference"
    ))


def _judge_backward(check: Check, result: dict, batches: int, k: int,
                    unsharded: int | None = None, epochs: int = 1) -> None:
    calls = result["calls"]
    if result.get("new_accelerators"):
        check.fail(
            _(
                "your function builds its own Accelerator() instead of using the `accelerator` "
                "it is given: the new one knows nothing of the settings it was created with "
                "(gradient_accumulation_steps={k}, mixed precision, the process group), so its "
                "prepare, backward and accumulate follow other rules. Use the accelerator "
                "argument; create an Accelerator only once, outside the function."
            ).format(k=k)
        )
    if unsharded and unsharded != batches and calls.get("backward") == unsharded:
        if "train dataloader" in result["prepared"]:
            check.fail(
                _(
                    "the return values of accelerator.prepare(...) were dropped: this process "
                    "went through all {unsharded} batches of the original dataloader instead "
                    "of its own {batches}. prepare returns new objects (a sharded dataloader, "
                    "a wrapped model and optimizer) and leaves its arguments as they were: "
                    "write `model, optimizer, train_dataloader = accelerator.prepare(model, "
                    "optimizer, train_dataloader)` and use those."
                ).format(unsharded=unsharded, batches=batches)
            )
        check.fail(
            _(
                "the training dataloader never went through accelerator.prepare: every process "
                "went through all {unsharded} batches instead of its own share ({batches}), so "
                "each example is trained on once per process and accumulate cannot see where "
                "the data ends. Pass the dataloader to prepare with the model and optimizer "
                "and loop over what prepare returns."
            ).format(unsharded=unsharded, batches=batches)
        )
    if not calls.get("backward"):
        if result["grad_passes"]:
            scaled = (f" and the loss is not divided by gradient_accumulation_steps={k}, so "
                      "each update is that many times too large") if k > 1 else ""
            check.fail(
                _(
                    "loss.backward() is left in place of {BACKWARD}: backward passes ran, but "
                    "never through the accelerator. It is the accelerator's backward that "
                    "scales the loss for mixed precision{scaled}. Replace loss.backward() by "
                    "{BACKWARD}."
                ).format(BACKWARD=_BACKWARD, scaled=scaled)
            )
        check.fail(_(
            "no backward pass ran: call {BACKWARD} on every batch."
        ).format(BACKWARD=_BACKWARD))
    check.case()
    per_epoch = batches // epochs
    ran = calls["backward"]
    if ran < batches and epochs > 1 and ran and ran % per_epoch == 0:
        check.fail(_(
            "{backward} ran {ran} times on this process: {done} epoch(s) of its {per_epoch} "
            "batches, but num_epochs = {epochs}. Loop `for epoch in range(num_epochs):` over "
            "the whole training dataloader."
        ).format(backward=_BACKWARD, ran=ran, done=ran // per_epoch, per_epoch=per_epoch,
                 epochs=epochs))
    if calls["backward"] != batches:
        check.fail(_(
            "{BACKWARD} ran {value2} times on this process for {value3}: once per batch."
        ).format(BACKWARD=_BACKWARD, value2=calls['backward'],
                 value3=_plural(batches, 'training batch')))
    check.case()
    if any(moved for _, _, moved in result["train_forwards"]):
        check.fail(_moved_message(result["moved_to"]))
    check.case()
    if any(not training for training, _, _ in result["train_forwards"]):
        check.fail(_(
            "the model trained in eval mode (the checker hands it over in eval mode, as "
            "from_pretrained does): call model.train() before the training loop."
        ))
    check.case()


def _judge_blocks(check: Check, result: dict, k: int) -> None:
    """What happened inside each ``with accelerator.accumulate(model):`` block."""
    blocks = result.get("blocks", [])
    if k > 1:
        wiped = [b for b in blocks if b["sync"] and "zero" in b["events"] and "backward"
                 in b["events"] and b["events"].index("zero") < b["events"].index("backward")]
        if wiped:
            check.fail(_(
                "optimizer.zero_grad() runs first inside accelerator.accumulate: on the last "
                "batch of each window (accelerator.sync_gradients is True there) the prepared "
                "optimizer really zeroes, wiping the gradients of the window's earlier "
                "batches, so {updates} updates used only their last batch instead of "
                "{k}. Inside accumulate the order is forward, accelerator.backward(loss), "
                "optimizer.step(), optimizer.zero_grad(): zero after the step (unlike "
                "chapter 2's loop, zeroing first is wrong here)."
            ).format(updates=len(wiped), k=k))
    skipped = [b for b in blocks if b["sync"] and "backward" in b["events"]
               and "step" not in b["events"]]
    if skipped:
        check.fail(
            _(
                "optimizer.step() was skipped on {value1} that closes a window "
                "(accelerator.sync_gradients was True there), for instance the short last "
                "window of an epoch: an `if (step + 1) % k == 0` of your own inside accumulate "
                "does not know where the data ends. Call optimizer.step() on every batch "
                "inside accelerator.accumulate (or guard it with `if "
                "accelerator.sync_gradients:`): the prepared optimizer skips the steps inside "
                "a window by itself."
            ).format(value1=_plural(len(skipped), 'batch'))
        )
    check.case()


def _judge_prepared(check: Check, result: dict, needs: Sequence[str]) -> None:
    missing = [kind for kind in needs if kind not in result["prepared"]]
    if missing:
        what = " and the ".join(missing)
        check.fail(
            _(
                "the {what} never went through accelerator.prepare(...): pass every one of "
                "them and use what prepare returns (prepare(model, optimizer, dataloader) "
                "returns them in the same order)."
            ).format(what=what)
        )
    check.case()


def _judge_steps(check: Check, result: dict, per_process: int, num_epochs: int, k: int,
                 processes: int) -> None:
    steps = len(result["lrs"])
    expected = num_epochs * math.ceil(per_process / k)
    if steps == expected:
        check.case()
        return
    counted = (f"this process saw {_plural(per_process, 'batch')} per epoch, so with "
               f"gradient_accumulation_steps={k} it should step {_plural(expected, 'time')} "
               f"in {_plural(num_epochs, 'epoch')}")
    if k > 1 and not result["calls"].get("accumulate"):
        check.fail(
            _(
                "accelerator.accumulate is never used: the optimizer stepped {steps} times, "
                "{counted}. Put each batch's forward, backward, step and zero_grad inside "
                "`with accelerator.accumulate(model):` and the prepared optimizer skips the "
                "steps inside a window by itself."
            ).format(steps=steps, counted=counted)
        )
    if steps < expected:
        check.fail(
            _(
                "the optimizer stepped {steps} times; {counted}. Inside accelerator.accumulate "
                "call optimizer.step() on every batch: it only really steps at the end of each "
                "window (and at the end of the dataloader). An `if step % k == 0` of your own "
                "on top of that skips real steps."
            ).format(steps=steps, counted=counted)
        )
    check.fail(_(
        "the optimizer stepped {steps} times; {counted}."
    ).format(steps=steps, counted=counted))


# --- Exercise 3: the whole loop, converted ---------------------------------------------------


def reference_training_function(accelerator: Any, model: nn.Module, optimizer: Any,
                                train_dataloader: DataLoader, eval_dataloader: DataLoader,
                                metric: Any, num_epochs: int) -> dict[str, float]:
    """The checker's reference for exercise 3.

    Its scheduler stays out of ``prepare`` and steps with the optimizer, so it is sized in this
    process's optimizer steps. (The checks use sizes where the other recipe, a prepared
    scheduler sized in single-process units, gives exactly the same learning rates.)
    """
    from transformers import get_scheduler

    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    updates = math.ceil(len(train_dataloader) / accelerator.gradient_accumulation_steps)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=num_epochs * updates)
    for _epoch in range(num_epochs):
        model.train()
        for batch in train_dataloader:
            with accelerator.accumulate(model):
                accelerator.backward(model(**batch).loss)
                optimizer.step()
                if accelerator.sync_gradients:
                    scheduler.step()
                optimizer.zero_grad()
    model.eval()
    for batch in eval_dataloader:
        with torch.no_grad():
            predicted = model(**batch).logits.argmax(dim=-1)
        predicted, labels = accelerator.gather_for_metrics((predicted, batch["labels"]))
        metric.add_batch(predictions=predicted, references=labels)
    return metric.compute()


def training_function(training_function: Callable, gradient_accumulation_steps: int = 3,
                      world_size: int = WORLD_SIZE, num_train_rows: int = 48,
                      num_eval_rows: int = 21, batch_size: int = 4, num_epochs: int = 2,
                      lr: float = 0.05, seed: int = 0) -> None:
    """Check the hand loop converted to Accelerate, on 2 processes with gradient accumulation:
    accelerator.backward, no batch moved by hand, the learning-rate schedule sized in the right
    units, gather_for_metrics, and the weights and metrics of the reference."""
    k = gradient_accumulation_steps

    def job(rank: int, processes: int) -> dict[str, Any]:
        accelerator = _new_accelerator(k)

        def objects() -> tuple:
            model, optimizer, train = _fresh(seed, num_train_rows, batch_size, lr, "adamw")
            evaluation = toy_dataloader(num_eval_rows, batch_size, split="validation",
                                        seed=seed)
            return model, optimizer, train, evaluation, CountingMetric()

        reference = objects()
        torch.manual_seed(seed)
        expected_metrics = reference_training_function(accelerator, *reference, num_epochs)
        eval_local = sum(len(b["labels"]) for b in accelerator.prepare(reference[3]))
        probe = _start_probe(accelerator)
        model, optimizer, train, evaluation, metric = objects()
        probe.watch(model, optimizer)
        torch.manual_seed(seed)
        returned = Check("training_function").call(
            watch.pinned(training_function), accelerator, model, optimizer, train, evaluation,
            metric,
            num_epochs, explain=_explain)
        if isinstance(returned, dict):
            returned = {str(key): value for key, value in returned.items()
                        if isinstance(value, (int, float))}
        else:
            returned = type(returned).__name__
        diff = float((_weights(model) - _weights(reference[0])).abs().max())
        return {"returned": returned, "expected_metrics": expected_metrics, "diff": diff,
                "scored": metric.scored, "eval_local": eval_local, **probe.summary()}

    num_batches = math.ceil(num_train_rows / batch_size)
    with Check("training_function") as check:
        results = _run(check, job, world_size)
        processes = len(results)
        per_process = _shard_batches(num_batches, processes)
        result = results[0]
        _judge_backward(check, result, per_process * num_epochs, k,
                        num_batches * num_epochs, epochs=num_epochs)
        _judge_prepared(check, result,
                        needs=("model", "optimizer", "train dataloader",
                               "validation dataloader"))
        _judge_steps(check, result, per_process, num_epochs, k, processes)
        _judge_blocks(check, result, k)
        updates = num_epochs * math.ceil(per_process / k)
        problem = _schedule_problem(result["lrs"], lr, updates, processes, k,
                                    "scheduler" in result["prepared"], num_batches, num_epochs)
        if problem:
            check.fail(problem)
        check.case()
        _judge_evaluation(check, result, num_eval_rows, processes)
        if result["diff"] > 1e-7:
            check.fail(
                _(
                    "after training, your weights differ from the reference by up to {value1} "
                    "although the steps and learning rates match: is optimizer.zero_grad() "
                    "called after every optimizer.step(), inside the accumulate block?"
                ).format(value1=fmt(result['diff']))
            )
        check.case()
        returned, expected = result["returned"], result["expected_metrics"]
        if not isinstance(returned, dict):
            what = "None" if returned == "NoneType" else f"a {returned}"
            check.fail(_(
                "your function returned {what} on process 0: return metric.compute(), the dict "
                "with accuracy and F1."
            ).format(what=what))
        for name in ("accuracy", "f1"):
            if name not in returned or abs(returned[name] - expected[name]) > 1e-12:
                got = fmt(returned[name]) if name in returned else "nothing"
                check.fail(_(
                    "you returned {name} {got}; the metric, fed every validation row once, "
                    "gives {value3}. Return metric.compute()."
                ).format(name=name, got=got, value3=fmt(expected[name])))
        check.case(
            _(
                "{value1} × {value2} × {value3}, {updates} optimizer steps each, lr {value5} → "
                "{value6}; {num_eval_rows} validation rows scored once; accuracy {value8} as "
                "the reference"
            ).format(value1=_plural(processes, 'process'), value2=_plural(per_process, 'batch'),
                     value3=_plural(num_epochs, 'epoch'), updates=updates, value5=fmt(lr),
                     value6=fmt(result['lrs'][-1]), num_eval_rows=num_eval_rows,
                     value8=fmt(returned['accuracy']))
        )


def _judge_evaluation(check: Check, result: dict, num_rows: int, processes: int) -> None:
    forwards = result["eval_forwards"]
    if not forwards:
        check.fail(_(
            "no batch of eval_dataloader reached the model: after training, evaluate on the "
            "prepared eval_dataloader."
        ))
    if any(moved for _, _, moved in forwards):
        check.fail(_moved_message(result["moved_to"]))
    _judge_evaluation_mode(check, forwards)
    check.case()
    scored, calls = result["scored"], result["calls"]
    if not scored:
        check.fail(_(
            "metric.compute() was never called: after the evaluation loop, return "
            "metric.compute()."
        ))
    rows, local = scored[-1], result["eval_local"]
    padded = local * processes
    if rows == num_rows:
        check.case()
        return
    if processes > 1 and rows == padded and (calls.get("gather") or padded != num_rows):
        check.fail(
            _(
                "the metric scored {rows} rows for {num_rows} validation rows: gather instead "
                "of gather_for_metrics. With {processes} processes the last batch is padded "
                "with {value4} rows repeated from the start, and gather keeps them, so they "
                "are counted twice. Use accelerator.gather_for_metrics, which drops them."
            ).format(rows=rows, num_rows=num_rows, processes=processes, value4=padded - num_rows)
        )
    if processes > 1 and rows == local:
        check.fail(
            _(
                "the metric scored {rows} rows, this process's share of the {num_rows}: gather "
                "the predictions and labels of all processes with "
                "accelerator.gather_for_metrics before metric.add_batch."
            ).format(rows=rows, num_rows=num_rows)
        )
    check.fail(_(
        "the metric scored {rows} rows; the validation set has {num_rows}."
    ).format(rows=rows, num_rows=num_rows))


def _schedule_problem(lrs: Sequence[float], lr: float, updates: int, processes: int, k: int,
                      prepared: bool, num_batches: int, num_epochs: int) -> str | None:
    """What is wrong with the learning rates of the real optimizer steps, or None.

    The chapter's schedule: linear decay to zero without warmup, over the ``updates`` optimizer
    steps this process makes, so step ``i`` uses ``lr * (1 - i / updates)``.
    """
    expected = [lr * (1 - i / updates) for i in range(len(lrs))]
    if all(abs(a - b) <= 1e-9 * lr for a, b in zip(lrs, expected, strict=True)):
        return None
    shown = ", ".join(fmt(v) for v in lrs[:4]) + (", ..." if len(lrs) > 4 else "")
    wanted = ", ".join(fmt(v) for v in expected[:4]) + (", ..." if len(lrs) > 4 else "")
    seen = f"the optimizer steps used learning rates {shown}; the schedule should give {wanted}"
    if all(abs(v - lr) <= 1e-12 * lr for v in lrs):
        return (_(
            "the learning rate never changed ({value1} at all {value2} optimizer steps): "
            "create the linear scheduler with get_scheduler('linear', ...) and call "
            "lr_scheduler.step() after optimizer.step()."
        ).format(value1=fmt(lr), value2=len(lrs)))
    if lrs[0] < lr * (1 - 1e-9):
        if lrs[0] == 0:
            return (_(
                "{seen}: it starts at 0, as with warmup. The chapter's schedule has no warmup "
                "(num_warmup_steps=0)."
            ).format(seen=seen))
        if k > 1 and not prepared:
            return (
                _(
                    "{seen}: the scheduler steps on every batch, but the optimizer only at the "
                    "end of each window of {k}. Step the scheduler only when the optimizer "
                    "really steps (`if accelerator.sync_gradients:`), or pass it to "
                    "accelerator.prepare, whose scheduler skips those batches."
                ).format(seen=seen, k=k)
            )
        return (_(
            "{seen}: the learning rate had already decreased at the first step; call "
            "lr_scheduler.step() after optimizer.step(), not before."
        ).format(seen=seen))
    if len(lrs) < 2:
        return seen
    length = 1.0 / max(1e-12, 1.0 - lrs[1] / lr)  # optimizer steps to reach zero
    ratio = length / updates
    counted = (f"this process makes {updates} optimizer steps ({num_epochs} epochs × "
               f"{math.ceil(num_batches / processes)} batches"
               + (f" ÷ {k} accumulation steps" if k > 1 else "") + ")")
    if prepared:
        fix = (
            "A scheduler passed to accelerator.prepare is stepped once per process at every "
            "optimizer step, so size it in single-process units: num_epochs * "
            f"len(train_dataloader) // accelerator.gradient_accumulation_steps ({num_epochs} × "
            f"{num_batches} // {k} = {num_epochs * num_batches // k}) with the dataloader's "
            "length taken before prepare."
        )
    else:
        fix = (
            "A scheduler you step yourself, once per optimizer step, is sized in this "
            "process's optimizer steps: num_epochs * math.ceil(len(train_dataloader) / "
            "accelerator.gradient_accumulation_steps), with the length of the prepared "
            f"dataloader ({num_epochs} × ⌈{math.ceil(num_batches / processes)} / {k}⌉ = "
            f"{updates})."
        )

    def near(value: float) -> bool:
        return abs(ratio - value) <= 0.02 * value

    decays = f"the learning rate decays to zero over {fmt(length)} optimizer steps, but {counted}"
    end = f"At the last step it is still {fmt(lrs[-1])} instead of {fmt(expected[-1])}."
    if processes > 1 and k > 1 and near(processes * k):
        return (_(
            "{decays}: the scheduler accounts neither for the {processes} processes nor for "
            "gradient accumulation. {end} {fix}"
        ).format(decays=decays, processes=processes, end=end, fix=fix))
    if processes > 1 and near(processes):
        return (_(
            "{decays}: the scheduler does not account for the {processes} processes, each of "
            "which sees 1/{processes} of the batches. {end} {fix}"
        ).format(decays=decays, processes=processes, end=end, fix=fix))
    if k > 1 and near(k):
        return (_(
            "{decays}: the scheduler does not account for gradient accumulation (one optimizer "
            "step per {k} batches). {end} {fix}"
        ).format(decays=decays, k=k, end=end, fix=fix))
    if ratio < 1:
        twice = (" it was sized in per-process steps and also prepared, so it is stepped "
                 f"{processes} times per optimizer step" if prepared and processes > 1
                 and near(1 / processes) else "")
        return (_(
            "{decays}: it reaches zero too early{value2}{twice}{value4} {fix}"
        ).format(decays=decays, value2=':' if twice else '.', twice=twice,
                 value4='.' if twice else '', fix=fix))
    return _(
        "{decays}. {end} {fix}"
    ).format(decays=decays, end=end, fix=fix)
