"""Checkers for chapter 2, The training loop.

Every exercise takes the objects it works on as arguments (model, dataloader, optimizer, ...),
so a checker hands in objects it watches instead of guessing from the result. While the
student's function runs, :class:`_Spy` records

- every forward pass and whether ``model.training`` was on (a forward pre-hook),
- every backward pass and whether the gradients were already clear before it (a hook on the
  model's last parameter, which fires before the new gradient is added to ``.grad``),
- every optimizer step, the learning rate it used and whether the gradients had been cleared
  before it ran (a global optimizer step pre-hook),
- calls to ``zero_grad`` (optimizer or model), ``model.train()``/``model.eval()``, scheduler
  construction and ``scheduler.step()``, and tqdm progress bars.

The order of those events names the mistake (never zeroing, zeroing between ``backward()`` and
``step()``, eval mode, ...). Then the result is compared with a reference run from the same
seed, which is exact here: the same operations in the same order give the same numbers.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import math
import operator
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.feedback import Check, fmt
from course_utils.i18n import _

# re-read with the checker (checks.load), like the feedback core: nothing a notebook patched
# in the watcher or the diagnosis earlier can change a verdict
diagnosis = importlib.reload(importlib.import_module("course_utils.checks.diagnosis"))
watch = importlib.reload(importlib.import_module("course_utils.checks.watch"))
_plural = diagnosis.plural

MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")
BATCH_KEYS = frozenset({*MODEL_INPUTS, "labels"})
TEXT_COLUMNS = ("sentence1", "sentence2", "idx")
ACCUMULATION_TOLERANCE = 1e-9  # float64 parameters: equal up to rounding

_ORDER = diagnosis.ORDER


# --- Toy data and models -------------------------------------------------------------------


def toy_dataloader(num_batches: int = 6, batch_size: int = 8, seed: int = 0,
                   dtype: torch.dtype = torch.float32) -> DataLoader:
    """Batches ``(x, y)`` of a two-class problem in 5 features, in a fixed order (no shuffle)."""
    generator = torch.Generator().manual_seed(seed)
    n = num_batches * batch_size
    x = torch.randn(n, 5, generator=generator, dtype=dtype)
    direction = torch.randn(5, generator=generator, dtype=dtype)
    noise = 0.5 * torch.randn(n, generator=generator, dtype=dtype)
    y = ((x @ direction + noise) > 0).long()
    # its own generator: iterating it leaves the global random state (dropout's) alone
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False,
                      generator=torch.Generator().manual_seed(seed))


def toy_model(seed: int = 0, dropout: float = 0.2, dtype: torch.dtype = torch.float32) -> nn.Module:
    """A small classifier: Linear(5, 16) → ReLU → Dropout → Linear(16, 2); no dropout if 0."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = [nn.Linear(5, 16), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(16, 2))
        return nn.Sequential(*layers).to(dtype)


def _one_thread(checker: Callable) -> Callable:
    """Run a checker with one CPU thread: its models are tiny, and on a busy 2-core machine
    threads that wait for each other make a 0.3 s check take 10 s."""

    @functools.wraps(checker)
    def run(*args: Any, **kwargs: Any) -> Any:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return checker(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return run


def _make_optimizer(kind: str, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    if kind == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr)
    raise ValueError(f"unknown optimizer {kind!r}: use 'sgd' or 'adam'")


# --- Watching a training loop --------------------------------------------------------------


_Spy = watch.TrainingWatch  # the shared training watcher (course_utils/checks/watch.py)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No progress bars from datasets (map) or transformers (weight loading) meanwhile."""
    import datasets
    from transformers.utils import logging

    datasets_on = datasets.is_progress_bar_enabled()
    transformers_on = logging.is_progress_bar_enabled()
    verbosity = logging.get_verbosity()
    datasets.disable_progress_bars()
    logging.disable_progress_bar()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if transformers_on:
            logging.enable_progress_bar()
        if datasets_on:
            datasets.enable_progress_bars()


def _losses(check: Check, result: Any, count: int, what: str) -> list[float]:
    """The student's list of per-batch (or per-step) losses, as floats."""
    if result is None:
        check.fail(_(
            "your function returned None: return the list of the {count} {what} losses "
            "(loss.item() of each)."
        ).format(count=count, what=what))
    kept = watch.graph_tensors(result)
    if kept:
        total = len(result) if isinstance(result, (list, tuple)) else 1
        check.fail(diagnosis.kept_graphs_message(kept, total, f"{what} losses"))
    if isinstance(result, torch.Tensor):
        result = result.detach().reshape(-1).tolist()
    try:
        values = [float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for v in result]
    except (TypeError, ValueError, RuntimeError):
        check.fail(_(
            "return a list of {count} numbers (loss.item() of each {what}), not {value3} "
            "{result!r:.60}."
        ).format(count=count, what=what, value3=type(result).__name__, result=result))
    if len(values) != count:
        check.fail(_(
            "you returned {value1}; there were {value2}: append loss.item() once per {what}."
        ).format(value1=_plural(len(values), 'loss'), value2=_plural(count, what), what=what))
    return values


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _max_difference(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    return max((x.double() - y.double()).abs().max().item() for x, y in zip(a, b, strict=True))


def _close_lists(a: Sequence[float], b: Sequence[float], rtol: float = 1e-4,
                 atol: float = 1e-6) -> bool:
    if len(a) != len(b):
        return False
    return all(abs(x - y) <= atol + rtol * abs(y) for x, y in zip(a, b, strict=True))


# --- Exercise 1: one epoch on a toy model ---------------------------------------------------


def reference_epoch(model: nn.Module, dataloader: Any, optimizer: torch.optim.Optimizer,
                    loss_fn: Callable) -> list[float]:
    """The five steps, once per batch; returns the loss of every batch."""
    model.train()
    losses = []
    for inputs, targets in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@_one_thread
def train_one_epoch(train_one_epoch: Callable, num_batches: int = 6, batch_size: int = 8,
                    lr: float = 0.1, optimizer: str = "sgd", seed: int = 0) -> None:
    """Check ``train_one_epoch(model, dataloader, optimizer, loss_fn) -> list of batch losses``.

    The toy model has dropout and arrives in eval mode; the run is compared with
    :func:`reference_epoch` from the same seed.
    """
    loader = toy_dataloader(num_batches, batch_size, seed)
    with Check("train_one_epoch") as check:
        model = toy_model(seed)
        model.eval()  # as after an evaluation: the loop must switch training mode on itself
        opt = _make_optimizer(optimizer, model, lr)
        with _Spy(model) as spy, torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            result = check.call(watch.pinned(train_one_epoch), model, loader, opt,
                                nn.CrossEntropyLoss())
        diagnosis.check_loop(check, spy)
        diagnosis.check_one_step_per_batch(check, spy, num_batches)
        losses = _losses(check, result, num_batches, "batch")

        reference = toy_model(seed)
        ref_opt = _make_optimizer(optimizer, reference, lr)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            ref_losses = reference_epoch(reference, loader, ref_opt, nn.CrossEntropyLoss())
        index = diagnosis.first_divergence(losses, ref_losses)
        if index is not None:
            check.fail(_name_loss_divergence(spy, index, losses, ref_losses, num_batches))
        check.case()
        difference = _max_difference(_params(model), _params(reference))
        if difference > 1e-5:
            check.fail(
                _(
                    "after the epoch your parameters differ from the reference loop's by up to "
                    "{difference:.2g}: one forward pass per batch, then backward and step."
                ).format(difference=difference)
            )
        check.case(_(
            "final loss {value1:.3f}; reference {value2:.3f}"
        ).format(value1=losses[-1], value2=ref_losses[-1]))


def _name_loss_divergence(spy: _Spy, index: int, losses: list[float], ref_losses: list[float],
                          batches: int) -> str:
    """Why the returned losses part from the reference's: the shared diagnosis, and how many
    forward passes ran when the returned losses were computed again."""
    message = diagnosis.loss_problem(
        losses, ref_losses, spy.backward_losses, _("batch"),
        _("That batch is where your training departs from forward → loss → backward → step "
          "with zeroed gradients. Return loss.item() of each batch, computed with "
          "loss_fn(model(inputs), targets) before the step")) or ""
    forwards = len(spy.forward_modes)
    if forwards > batches and "backward() ran on" in message:
        message += _(" Your function ran {forwards} forward passes for {batches} batches: the "
                     "extra ones computed the losses you returned.").format(
                         forwards=forwards, batches=batches)
    return message


# --- Exercises 2 and 3: the MRPC data pipeline ----------------------------------------------


def checker_tokenizer() -> Any:
    """The tiny BERT's tokenizer (built locally, whatever the profile): fast and offline."""
    from transformers import AutoTokenizer

    from course_utils import tiny_bert

    with _quiet():
        return AutoTokenizer.from_pretrained(tiny_bert.tiny_checkpoint())


def _long_sentence() -> str:
    from course_utils import tiny_bert

    words = [w for w in tiny_bert.fixture_words() if w.isalpha()][:200]
    return " ".join(words) + "."


def small_mrpc(rows: int = 32, seed: int = 0, long_pair: bool = True) -> Any:
    """A few rows of each split of the paraphrase fixture, MRPC's columns; optionally one more
    training pair longer than the tiny BERT's 128 tokens, to see truncation at work."""
    from datasets import Dataset, DatasetDict

    from course_utils.data import SPLIT_FILES, mrpc_features, read_mrpc_file
    from course_utils.profiles import FIXTURE_DIR

    sizes = {"train": rows, "validation": max(rows // 2, 2), "test": max(rows // 4, 2)}
    picker = random.Random(seed)
    splits = {}
    for split, name in SPLIT_FILES.items():
        columns = read_mrpc_file(FIXTURE_DIR / name)
        chosen = sorted(picker.sample(range(len(columns["idx"])), sizes[split]))
        picked = {key: [values[i] for i in chosen] for key, values in columns.items()}
        if split == "train" and long_pair:
            picked["sentence1"].append(_long_sentence())
            picked["sentence2"].append(picked["sentence2"][0])
            picked["label"].append(0)
            picked["idx"].append(len(columns["idx"]))
        splits[split] = Dataset.from_dict(picked, features=mrpc_features())
    return DatasetDict(splits)


def _column(dataset: Any, name: str) -> list:
    """One column of a datasets.Dataset as Python values (lists of ints for token ids)."""
    values = dataset.with_format(None)[name]
    return [v.tolist() if isinstance(v, torch.Tensor) else v for v in values]


def _explain_dataset(error: Exception) -> str | None:
    text = str(error)
    if isinstance(error, KeyError) or "not in the dataset" in text or "Column" in text:
        return (_(
            "a column name is wrong ({value1}): MRPC's columns are sentence1, sentence2, label "
            "and idx"
        ).format(value1=text.strip()[:80]))
    return None


@_one_thread
def prepare_datasets(prepare_datasets: Callable, rows: int = 32, seed: int = 0) -> None:
    """Check ``prepare_datasets(raw_datasets, tokenizer)``: pairs tokenized with truncation and
    no padding, only the model's columns plus ``labels``, in torch format."""
    raw = small_mrpc(rows, seed)
    tokenizer = checker_tokenizer()
    limit = tokenizer.model_max_length
    with Check("prepare_datasets") as check:
        with _quiet():
            result = check.call(watch.pinned(prepare_datasets), raw, tokenizer,
                                explain=_explain_dataset)
        if result is None:
            check.fail(
                _(
                    "your function returned None. If you wrote `tokenized = "
                    "tokenized.set_format('torch')`: set_format changes the datasets in place "
                    "and returns None. Call it on a line of its own (or use with_format, which "
                    "returns a new DatasetDict), then return the DatasetDict."
                )
            )
        if not isinstance(result, Mapping) or not {"train", "validation"} <= set(result):
            check.fail(
                _(
                    "return the whole DatasetDict (with its train, validation and test "
                    "splits), as map, remove_columns and rename_column return it; got {value1}."
                ).format(value1=type(result).__name__)
            )
        check.case()
        for split in ("train", "validation"):
            _check_split(check, split, result[split], raw[split], tokenizer, limit)
        check.case(_(
            "{value1} + {value2} rows; columns {value3}; torch format; pairs truncated at "
            "{limit} tokens"
        ).format(value1=len(raw['train']), value2=len(raw['validation']),
                 value3=sorted(BATCH_KEYS), limit=limit))


def _check_split(check: Check, split: str, dataset: Any, raw: Any, tokenizer: Any,
                 limit: int) -> None:
    if not hasattr(dataset, "column_names") or not hasattr(dataset, "with_format"):
        check.fail(_(
            "the {split} split is a {value2}, not a datasets.Dataset: keep working on the "
            "DatasetDict (map, remove_columns, rename_column)."
        ).format(split=split, value2=type(dataset).__name__))
    columns = set(dataset.column_names)
    if len(dataset) != len(raw):
        check.fail(_(
            "the {split} split has {value2} rows, the raw one {value3}: tokenize every row "
            "(map with batched=True keeps them all)."
        ).format(split=split, value2=len(dataset), value3=len(raw)))
    left = [c for c in TEXT_COLUMNS if c in columns]
    if left:
        check.fail(
            _(
                "the {split} split still has the column(s) {value2}: the model's forward takes "
                "only input_ids, token_type_ids, attention_mask and labels, so remove {value3} "
                "with remove_columns."
            ).format(split=split, value2=', '.join(left), value3=', '.join(TEXT_COLUMNS))
        )
    if "label" in columns and "labels" not in columns:
        check.fail(
            _(
                "the {split} split has a column 'label', but the model expects its argument "
                "`labels`: rename it with rename_column('label', 'labels')."
            ).format(split=split)
        )
    if columns != BATCH_KEYS:
        check.fail(_(
            "the {split} split has the columns {value2}; expected exactly {value3}."
        ).format(split=split, value2=sorted(columns), value3=sorted(BATCH_KEYS)))
    check.case()
    form = getattr(dataset, "format", {}) or {}
    if form.get("type") != "torch":
        check.fail(
            _(
                "rows of the {split} split come out as Python lists (format type {value2!r}): "
                "call set_format('torch') so they are torch tensors."
            ).format(split=split, value2=form.get('type'))
        )
    check.case()
    first, second = list(raw["sentence1"]), list(raw["sentence2"])
    expected = tokenizer(first, second, truncation=True)["input_ids"]
    got = _column(dataset, "input_ids")
    if got == expected:
        if [int(v) for v in _column(dataset, "labels")] != list(raw["label"]):
            check.fail(_(
                "the labels of the {split} split do not match the raw labels."
            ).format(split=split))
        check.case()
        return
    lengths = {len(ids) for ids in got}
    longest = max(len(ids) for ids in expected)
    pad = tokenizer.pad_token_id
    if len(lengths) == 1 and lengths.pop() > min(len(ids) for ids in expected):
        padded = sum(1 for ids in got for t in ids if t == pad)
        check.fail(
            _(
                "every row of the {split} split has the same length, {value2} tokens ({padded} "
                "of them padding): you padded while tokenizing. Leave padding to "
                "DataCollatorWithPadding, which pads each batch only to its own longest row."
            ).format(split=split, value2=len(got[0]), padded=padded)
        )
    if got == tokenizer(first, truncation=True)["input_ids"]:
        check.fail(_(
            "only sentence1 was tokenized: pass both sentences, tokenizer(batch['sentence1'], "
            "batch['sentence2'], truncation=True)."
        ))
    joined = [f"{a} {b}" for a, b in zip(first, second, strict=True)]
    if got == tokenizer(joined, truncation=True)["input_ids"]:
        check.fail(
            _(
                "the two sentences were joined into one string, so there is a single [SEP] and "
                "token_type_ids are all 0: pass them as two arguments, tokenizer(sentence1, "
                "sentence2, ...), and the tokenizer builds [CLS] A [SEP] B [SEP]."
            )
        )
    if any(len(ids) > limit for ids in got):
        check.fail(
            _(
                "a pair of {value1} tokens was not truncated, but the model takes at most "
                "{limit}: tokenize with truncation=True."
            ).format(value1=max(len(ids) for ids in got), limit=limit)
        )
    index = next(i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b)
    check.fail(
        _(
            "row {index} of the {split} split has input_ids {value3}... ({value4} tokens); "
            "tokenizer(sentence1, sentence2, truncation=True) gives {value5}... ({value6} "
            "tokens; longest row {longest})."
        ).format(index=index, split=split, value3=got[index][:8], value4=len(got[index]),
                 value5=expected[index][:8], value6=len(expected[index]), longest=longest)
    )


def _explain_collate(error: Exception) -> str | None:
    text = str(error)
    if "stack expects each tensor to be equal size" in text or "equal size" in text:
        return ("the default collate function cannot stack rows of different lengths into one "
                "tensor: pass collate_fn=DataCollatorWithPadding(tokenizer=tokenizer) so each "
                "batch is padded to its own longest row")
    if "must have the same length" in text or "Unable to create tensor" in text:
        return ("rows of different lengths could not be batched: use "
                "collate_fn=DataCollatorWithPadding(tokenizer=tokenizer)")
    return None


@_one_thread
def make_dataloaders(make_dataloaders: Callable, batch_size: int = 8, rows: int = 36,
                     seed: int = 0) -> None:
    """Check ``make_dataloaders(tokenized_datasets, tokenizer, batch_size) -> (train, eval)``:
    dynamic padding, shuffled training batches, validation in order, every row once."""
    from course_utils import pipeline

    tokenizer = checker_tokenizer()
    with _quiet():
        tokenized = pipeline.tokenize_mrpc(small_mrpc(rows, seed, long_pair=False), tokenizer)
    with Check("make_dataloaders") as check:
        result = check.call(watch.pinned(make_dataloaders), tokenized, tokenizer, batch_size)
        try:
            train_loader, eval_loader = result
        except (TypeError, ValueError):
            check.fail(_(
                "return the pair (train_dataloader, eval_dataloader); got {value1}."
            ).format(value1=type(result).__name__))
        check.case()
        order, counts = {}, {}
        for name, loader, split in (("training", train_loader, "train"),
                                    ("validation", eval_loader, "validation")):
            batches = _all_batches(check, name, loader)
            rows_seen = _check_batches(check, name, batches, tokenizer)
            expected = _column(tokenized[split], "input_ids")
            _check_split_of(check, name, split, rows_seen,
                            {other: _column(tokenized[other], "input_ids")
                             for other in tokenized if other != split})
            _check_coverage(check, name, rows_seen, expected)
            order[name] = rows_seen == expected
            counts[name] = len(batches)
            if name == "training":
                sizes = [len(b["labels"]) for b in batches]
                if sizes[0] != batch_size or any(s != batch_size for s in sizes[:-1]):
                    check.fail(_(
                        "the training batches have {sizes} rows; expected batches of "
                        "batch_size = {batch_size} (the last one may be smaller)."
                    ).format(sizes=sizes, batch_size=batch_size))
                check.case()
        if order["training"]:
            check.fail(
                _(
                    "the training dataloader is not shuffled: its batches follow the dataset's "
                    "order. Pass shuffle=True, so every epoch sees the examples in a new order."
                )
            )
        if not order["validation"]:
            check.fail(
                _(
                    "the validation dataloader is shuffled: evaluation needs no shuffling, and "
                    "a fixed order makes predictions line up with the dataset. Leave shuffle "
                    "off."
                )
            )
        check.case(_(
            "{value1} training batches of {batch_size}, shuffled; validation in order; each "
            "batch padded to its own longest row"
        ).format(value1=counts['training'], batch_size=batch_size))


def _all_batches(check: Check, name: str, loader: Any) -> list:
    """Every batch of one pass over ``loader``; a collate error is explained, not dumped."""
    try:
        return list(loader)
    except Exception as error:  # raised inside torch or transformers, not in the answer
        hint = _explain_collate(error)
        if hint:
            check.fail(_(
                "{hint} (iterating your {name} dataloader raised {value3})."
            ).format(hint=hint, name=name, value3=type(error).__name__))
        check.fail(_(
            "iterating your {name} dataloader raised {value2}: {value3}"
        ).format(name=name, value2=type(error).__name__, value3=str(error)[:200]))


def _check_batches(check: Check, name: str, batches: list, tokenizer: Any) -> list[list[int]]:
    """Check the keys, types and padding of every batch; return the rows without padding."""
    if not batches:
        check.fail(_(
            "the {name} dataloader yields no batch at all."
        ).format(name=name))
    rows: list[list[int]] = []
    limit = tokenizer.model_max_length
    fixed = 0
    for batch in batches:
        if not isinstance(batch, Mapping):
            check.fail(_(
                "a {name} batch is a {value2}; it should be a dict of tensors such as "
                "DataCollatorWithPadding makes."
            ).format(name=name, value2=type(batch).__name__))
        keys = set(batch)
        if keys != BATCH_KEYS:
            check.fail(_(
                "a {name} batch has the keys {value2}; expected exactly {value3}."
            ).format(name=name, value2=sorted(keys), value3=sorted(BATCH_KEYS)))
        if not all(isinstance(batch[k], torch.Tensor) for k in BATCH_KEYS):
            kinds = {k: type(batch[k]).__name__ for k in sorted(BATCH_KEYS)}
            check.fail(_(
                "the values of a {name} batch should be torch tensors, got {kinds}."
            ).format(name=name, kinds=kinds))
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if ids.dim() != 2 or mask.shape != ids.shape or batch["labels"].shape != ids.shape[:1]:
            check.fail(_(
                "a {name} batch has input_ids of shape {value2}, attention_mask {value3} and "
                "labels {value4}: expected (batch, length) and (batch,)."
            ).format(name=name, value2=tuple(ids.shape), value3=tuple(mask.shape),
                     value4=tuple(batch['labels'].shape)))
        width, longest = ids.shape[1], int(mask.sum(dim=1).max())
        if width > longest and not _padded_to_multiple(width, longest):
            if width == limit:
                fixed += 1
            else:
                check.fail(_(
                    "a {name} batch is {width} tokens wide, but its longest row has {longest}: "
                    "pad each batch to its own longest row."
                ).format(name=name, width=width, longest=longest))
        rows += [r[m.bool()].tolist() for r, m in zip(ids, mask, strict=True)]
    if fixed:
        check.fail(
            _(
                "{fixed} of {value2} {name} batches are padded to the fixed length {limit} "
                "instead of their longest row: that is padding='max_length'. Use "
                "DataCollatorWithPadding(tokenizer=tokenizer) with its default padding, so "
                "each batch is only as wide as it needs to be."
            ).format(fixed=fixed, value2=len(batches), name=name, limit=limit)
        )
    check.case()
    return rows


def _padded_to_multiple(width: int, longest: int) -> bool:
    """pad_to_multiple_of=m (a speed-up on GPUs) is fine: the smallest multiple of m ≥ longest."""
    return any(width % m == 0 and width - longest < m for m in (2, 4, 8, 16, 32, 64))


def _check_split_of(check: Check, name: str, split: str, rows: list[list[int]],
                    others: dict[str, list[list[int]]]) -> None:
    """Fail when a dataloader yields exactly the rows of another split."""
    seen = Counter(map(tuple, rows))
    for other, other_rows in others.items():
        if seen == Counter(map(tuple, other_rows)):
            check.fail(_("the {name} dataloader yields the rows of the {other} split, not of "
                         "the {split} split: build the training dataloader over "
                         "tokenized_datasets[\"train\"], the evaluation one over "
                         "tokenized_datasets[\"validation\"], and return them in the order "
                         "(train_dataloader, eval_dataloader).").format(
                             name=name, other=other, split=split))


def _check_coverage(check: Check, name: str, rows: list[list[int]],
                    expected: list[list[int]]) -> None:
    got, want = Counter(map(tuple, rows)), Counter(map(tuple, expected))
    if got != want:
        check.fail(_(
            "the {name} dataloader yields {value2} rows, the dataset has {value3}: each row "
            "should come exactly once per pass (no drop_last, no sampling with replacement)."
        ).format(name=name, value2=len(rows), value3=len(expected)))
    check.case()


# --- Exercise 4: the full fine-tuning loop -------------------------------------------------


def checker_model(seed: int = 0) -> nn.Module:
    """The tiny BERT with a fresh 2-label head, in eval mode as from_pretrained returns it."""
    from course_utils import pipeline, tiny_bert

    with torch.random.fork_rng(devices=[]), _quiet():
        model = pipeline.new_model(tiny_bert.tiny_checkpoint(), seed=seed)
    return model.eval()


def _mrpc_loader(tokenized: Any, tokenizer: Any, batch_size: int) -> DataLoader:
    from transformers import DataCollatorWithPadding

    return DataLoader(tokenized, batch_size=batch_size, shuffle=False,
                      collate_fn=DataCollatorWithPadding(tokenizer=tokenizer),
                      generator=torch.Generator().manual_seed(0))


def reference_fine_tune(model: nn.Module, train_dataloader: Any, epochs: int, lr: float,
                        device: torch.device) -> tuple[list[float], list[float]]:
    """AdamW, linear decay to 0 over epochs × batches steps; the losses and lrs of each step."""
    from transformers import get_scheduler

    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = epochs * len(train_dataloader)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=steps)
    losses, lrs = [], []
    model.train()
    for _epoch in range(epochs):
        for batch in train_dataloader:
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = model(**batch).loss
            loss.backward()
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    return losses, lrs


@_one_thread
def fine_tune(fine_tune: Callable, epochs: int = 2, lr: float = 2e-3, batch_size: int = 8,
              num_batches: int = 5, seed: int = 0, device: str = "cpu") -> None:
    """Check ``fine_tune(model, train_dataloader, epochs, lr, device) -> per-step losses`` on the
    tiny BERT: AdamW at ``lr``, a linear schedule over every step, stepped after every
    optimizer step, a progress bar, and losses equal to a reference run's."""
    tokenizer = checker_tokenizer()
    with _quiet():
        raw = small_mrpc(num_batches * batch_size, seed, long_pair=False)
        from course_utils import pipeline

        tokenized = pipeline.tokenize_mrpc(raw, tokenizer)["train"]
    target = torch.device(device)
    total = epochs * num_batches
    with Check("fine_tune") as check:
        model = checker_model(seed)
        with watch.Moves(model) as moves, _Spy(model, moves) as spy, \
                torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            result = check.call(watch.pinned(fine_tune), model,
                                _mrpc_loader(tokenized, tokenizer, batch_size), epochs, lr, target)
        _check_device(check, spy, model, target)
        diagnosis.check_loop(check, spy)
        diagnosis.check_one_step_per_batch(check, spy, total)
        _check_optimizer(check, spy, model, lr)
        _check_schedule(check, spy, lr, total, epochs, num_batches)
        _check_progress(check, spy, total)
        losses = _losses(check, result, total, "step")

        reference = checker_model(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ref_losses, _weights_after = reference_fine_tune(
                reference, _mrpc_loader(tokenized, tokenizer, batch_size), epochs, lr, target)
        problem = diagnosis.loss_problem(
            losses, ref_losses, spy.backward_losses, _("step"),
            _("Use the model's own loss (model(**batch).loss), torch.optim.AdamW("
              "model.parameters(), lr=lr) with its defaults, and no extra changes to the "
              "gradients"))
        if problem:
            check.fail(problem)
        check.case(_(
            "{total} steps; final loss {value2:.3f}; reference {value3:.3f}"
        ).format(total=total, value2=losses[-1], value3=ref_losses[-1]))


def _check_device(check: Check, spy: _Spy, model: nn.Module, device: torch.device) -> None:
    where = next(model.parameters()).device
    if where.type != device.type:
        check.fail(_(
            "the model stayed on {where}, not on the device you were given ({device}): call "
            "model.to(device) before training."
        ).format(where=where, device=device))
    problem = diagnosis.device_problem(spy.moves, spy.unmoved, len(spy.forward_modes), device)
    if problem:
        check.fail(problem)
    if spy.device_mismatches:
        got, want = spy.device_mismatches[0]
        check.fail(_(
            "a batch reached the model on {got} while the model is on {want}: move each batch "
            "with {{k: v.to(device) for k, v in batch.items()}}."
        ).format(got=got, want=want))
    check.case()


def _check_optimizer(check: Check, spy: _Spy, model: nn.Module, lr: float) -> None:
    optimizers = spy.optimizers()
    if len(optimizers) > 1:
        check.fail(
            _(
                "{value1} different optimizers took steps: a new optimizer starts with empty "
                "moment estimates (and a new scheduler starts its schedule again). Create the "
                "optimizer and the scheduler once, before the epoch loop."
            ).format(value1=len(optimizers))
        )
    optimizer = optimizers[0]
    if not isinstance(optimizer, torch.optim.AdamW):
        check.fail(_(
            "the optimizer is {value1}; this loop uses torch.optim.AdamW(model.parameters(), "
            "lr=lr)."
        ).format(value1=type(optimizer).__name__))
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    params = list(model.parameters())
    missing = sum(1 for p in params if id(p) not in held)
    if missing:
        check.fail(_(
            "the optimizer holds {value1} of the model's {value2} parameter tensors: pass "
            "model.parameters() so the whole model is trained."
        ).format(value1=len(params) - missing, value2=len(params)))
    check.case()
    created = float(optimizer.param_groups[0].get("initial_lr", spy.steps[0].lr))
    if abs(created - lr) > 1e-9 * lr:
        check.fail(_(
            "the optimizer was created with lr = {value1}, not with the lr argument "
            "({value2}): pass lr=lr."
        ).format(value1=fmt(created), value2=fmt(lr)))
    check.case()


def _check_schedule(check: Check, spy: _Spy, lr: float, total: int, epochs: int,
                    batches: int) -> None:
    problem = diagnosis.schedule_problem(
        [step.lr for step in spy.steps], lr, total, epochs, batches,
        schedulers=len(spy.schedulers), stepped=len(spy.scheduler_steps))
    if problem:
        check.fail(problem)
    check.case()


def _check_progress(check: Check, spy: _Spy, total: int) -> None:
    bars = spy.bars
    if not bars:
        check.fail(
            _(
                "no progress bar: create one with tqdm (from tqdm.auto import tqdm) over the "
                "{total} training steps and call progress_bar.update(1) after each step."
            ).format(total=total)
        )
    counted = sum(int(getattr(bar, "n", 0)) for bar in bars)
    if counted != total:
        check.fail(_(
            "the progress bar counted {counted} of the {total} steps: update it once per "
            "optimizer step."
        ).format(counted=counted, total=total))
    check.case()


# --- Exercise 5: gradient accumulation -----------------------------------------------------


def expected_windows(num_batches: int, accumulation_steps: int) -> list[int]:
    """How many micro-batches each optimizer step should collect; the last window may be short."""
    full, rest = divmod(num_batches, accumulation_steps)
    return [accumulation_steps] * full + ([rest] if rest else [])


def window_reference(model: nn.Module, dataloader: Any, lr: float, accumulation_steps: int,
                     last_scale: str = "k") -> nn.Module:
    """Plain SGD, one step per window on the concatenated window (no accumulation involved).

    A short last window of r batches is scaled by r/k (``last_scale="k"``: the loss divided by
    k as in every window) or by 1 (``"r"``: the mean over the batches it has).
    """
    model = copy.deepcopy(model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    batches = list(dataloader)
    for start in range(0, len(batches), accumulation_steps):
        window = batches[start : start + accumulation_steps]
        inputs = torch.cat([x for x, _ in window])
        targets = torch.cat([y for _, y in window])
        scale = len(window) / accumulation_steps if last_scale == "k" else 1.0
        optimizer.zero_grad()
        (loss_fn(model(inputs), targets) * scale).backward()
        optimizer.step()
    return model


def _largest_difference(model: nn.Module, reference: nn.Module) -> tuple[float, str, float, float]:
    """max |difference| between two models' parameters, and where: (diff, name, ours, theirs)."""
    best = (-1.0, "", 0.0, 0.0)
    for (name, a), b in zip(model.named_parameters(), reference.parameters(), strict=True):
        delta = (a.detach() - b.detach()).abs()
        value = float(delta.max())
        if value > best[0]:
            index = tuple(int(i) for i in torch.unravel_index(delta.argmax(), delta.shape))
            where = f"{name}[{', '.join(map(str, index))}]"
            best = (value, where, float(a.detach()[index]), float(b.detach()[index]))
    return best


@_one_thread
def train_accumulate(train_accumulate: Callable, accumulation_steps: int = 4,
                     num_batches: int = 10, batch_size: int = 4, lr: float = 0.5,
                     seed: int = 0) -> None:
    """Check ``train_accumulate(model, dataloader, optimizer, loss_fn, accumulation_steps)``.

    First one window of exactly ``accumulation_steps`` micro-batches: on a dropout-free float64
    model with SGD, the parameters after the accumulated update must equal those after one
    update on the concatenated batch (to ``ACCUMULATION_TOLERANCE``). Then ``num_batches``
    micro-batches, so several windows and possibly a short last one.
    """
    k = accumulation_steps
    with Check("train_accumulate") as check:
        proof = _run_accumulation(check, train_accumulate, k, k, batch_size, lr, seed)
        _run_accumulation(check, train_accumulate, k, num_batches, batch_size, lr, seed + 1)
        check.case(proof)


def _run_accumulation(check: Check, fn: Callable, k: int, num_batches: int, batch_size: int,
                      lr: float, seed: int) -> str:
    loader = toy_dataloader(num_batches, batch_size, seed, dtype=torch.float64)
    model = toy_model(seed, dropout=0.0, dtype=torch.float64)
    start = copy.deepcopy(model)
    model.eval()  # as after an evaluation: the function must switch training mode on itself
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with _Spy(model) as spy:
        check.call(watch.pinned(fn), model, loader, optimizer, nn.CrossEntropyLoss(), k)
    diagnosis.check_loop(check, spy)
    _check_windows(check, spy, num_batches, k)

    windows = expected_windows(num_batches, k)
    differences = [_largest_difference(model, window_reference(start, loader, lr, k, "k"))]
    best = differences[0]
    if windows[-1] != k and best[0] > ACCUMULATION_TOLERANCE:
        own = _largest_difference(model, window_reference(start, loader, lr, k, "r"))
        if own[0] <= ACCUMULATION_TOLERANCE:
            check.fail(_(
                "the short last window ({r} of {k} batches) divided its losses by {r}, its own "
                "size, instead of by accumulation_steps = {k}: every batch's loss is divided "
                "by accumulation_steps, so the last, short window takes a proportionally "
                "smaller step. Divide by accumulation_steps in every window."
            ).format(r=windows[-1], k=k))
    if best[0] <= ACCUMULATION_TOLERANCE:
        check.case()
        return (f"{k} accumulated micro-batches of {batch_size} = one update on the "
                f"concatenated {k * batch_size} examples: max |difference| {best[0]:.1e}, "
                f"tolerance {ACCUMULATION_TOLERANCE:.0e}")
    diff, where, ours, theirs = differences[0]
    target = ("one update on the concatenated batch" if len(windows) == 1
              else "one update per window on the concatenated window")
    numbers = (f"parameter {where} is {ours:.10f} after your accumulated update and "
               f"{theirs:.10f} after {target} (max |difference| {diff:.2e}; tolerance "
               f"{ACCUMULATION_TOLERANCE:.0e})")
    unscaled = window_reference(start, loader, lr * k, k, "k")
    if _largest_difference(model, unscaled)[0] <= ACCUMULATION_TOLERANCE:
        check.fail(
            _(
                "the loss is not divided by accumulation_steps: the gradients of {k} "
                "micro-batches add up, so each update is {k} times too large. "
                "{value2}{value3}. Divide each micro-batch's loss by accumulation_steps before "
                "backward()."
            ).format(k=k, value2=numbers[0].upper(), value3=numbers[1:])
        )
    check.fail(_(
        "the accumulated update does not equal {target}: {numbers}."
    ).format(target=target, numbers=numbers))


def _check_windows(check: Check, spy: _Spy, num_batches: int, k: int) -> None:
    expected = expected_windows(num_batches, k)
    groups = spy.windows()
    stepped = [len(g) for g in groups[: len(spy.steps)]]
    left_over = sum(len(g) for g in groups[len(spy.steps) :])
    first_batch = [1] + [k] * ((num_batches - 1) // k)  # stepping when idx % k == 0
    if k > 1 and stepped == first_batch:
        check.fail(
            _(
                "the optimizer steps on the first batch of each accumulation window: steps "
                "followed {stepped} backward passes, expected {expected}. `idx % "
                "accumulation_steps == 0` is already true at idx 0; step when (idx + 1) % "
                "accumulation_steps == 0."
            ).format(stepped=stepped, expected=expected)
        )
    if k > 1 and stepped and all(n == 1 for n in stepped) and len(stepped) == num_batches:
        check.fail(_(
            "the optimizer steps after every batch ({value1} steps for {num_batches} batches): "
            "nothing is accumulated. Step once every {k} batches."
        ).format(value1=len(stepped), num_batches=num_batches, k=k))
    within = sum(1 for g in groups for clear in g[1:] if clear)
    if within:
        check.fail(
            _(
                "the gradients are cleared inside accumulation windows ({within} backward "
                "passes found them zeroed), so each step only uses the last micro-batch. Zero "
                "them only after the step (or at the start of a window)."
            ).format(within=within)
        )
    stale = sum(1 for g in groups[1:] if g and not g[0])
    if stale:
        check.fail(
            _(
                "the gradients are never cleared after a step: {stale} accumulation window(s) "
                "started on top of the previous window's gradients. Call optimizer.zero_grad() "
                "after optimizer.step()."
            ).format(stale=stale)
        )
    if stepped == expected[:-1] and left_over == expected[-1] and expected[-1] != k:
        check.fail(
            _(
                "the last {value1} of the epoch (a short window) never reached the optimizer: "
                "{num_batches} batches with accumulation_steps = {k} need {value4} steps. Also "
                "step after the last batch."
            ).format(value1=_plural(left_over, 'batch'), num_batches=num_batches, k=k,
                     value4=len(expected))
        )
    if stepped != expected or left_over:
        check.fail(_(
            "the steps followed {stepped} backward passes (with {left_over} left over); "
            "expected windows of {expected} for {num_batches} batches and accumulation_steps = "
            "{k}."
        ).format(stepped=stepped, left_over=left_over, expected=expected, num_batches=num_batches,
                 k=k))
    check.case()


# --- Exercise 6: the number of optimizer steps ---------------------------------------------


def reference_update_steps(num_batches: int, epochs: int, accumulation_steps: int) -> int:
    """Each epoch ends with its own (possibly short) window: epochs × ⌈batches / k⌉."""
    return epochs * math.ceil(num_batches / accumulation_steps)


_UPDATE_CASES = ((459, 3, 4), (60, 3, 4), (10, 2, 3), (7, 1, 1), (8, 2, 8), (5, 1, 8))


def num_update_steps(num_update_steps: Callable,
                     cases: Sequence[tuple[int, int, int]] = _UPDATE_CASES) -> None:
    """Check ``num_update_steps(num_batches, epochs, accumulation_steps) -> int``."""
    with Check("num_update_steps") as check:
        first = None
        for batches, epochs, k in cases:
            got = check.call(num_update_steps, batches, epochs, k)
            want = reference_update_steps(batches, epochs, k)
            case = f"{batches} batches, {epochs} epochs, accumulation_steps = {k}"
            number = _as_int(got)
            if number is None:
                check.fail(
                    _(
                        "for {case} you returned {got!r} ({value3}): a number of steps is an "
                        "int. Use math.ceil(...) or integer arithmetic, not plain /."
                    ).format(case=case, got=got, value3=type(got).__name__)
                )
            got = number
            if got != want:
                check.fail(_name_update_mistake(got, want, batches, epochs, k, case))
            check.case()
            first = first or (f"e.g. {_plural(batches, 'batch')} × {_plural(epochs, 'epoch')}, "
                              f"accumulation {k}: {want}")
        check.case(_(
            "{first} optimizer steps"
        ).format(first=first))


def _as_int(value: Any) -> int | None:
    """``value`` as an int if it is an integer type (int, NumPy or torch integer), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_floating_point():
            return None
        return int(value)
    try:
        return operator.index(value)
    except TypeError:
        return None


def _name_update_mistake(got: int, want: int, batches: int, epochs: int, k: int,
                         case: str) -> str:
    shown = f"for {case} you returned {got}; the optimizer steps {want} times"
    if got == batches * epochs:
        end = 1 - want / got
        return (
            _(
                "the schedule is sized without dividing by the accumulation steps: {shown}, so "
                "a schedule over {got} steps would stop at {end:.0%} of its peak learning rate "
                "instead of reaching 0. Divide the batches of an epoch by accumulation_steps."
            ).format(shown=shown, got=got, end=end)
        )
    if got == epochs * (batches // k):
        return (_(
            "floor division drops the step of the last, short window: {shown}. Count a partial "
            "window as one step: math.ceil(num_batches / accumulation_steps)."
        ).format(shown=shown))
    if got == batches * epochs // k and got != math.ceil(batches * epochs / k):
        return (_(
            "floor division drops the step of each short last window: {shown}. An epoch of "
            "num_batches batches ends with a (possibly short) window that still gets its "
            "optimizer step, so count ⌈num_batches / accumulation_steps⌉ per epoch "
            "(math.ceil), times epochs."
        ).format(shown=shown))
    if got in (math.ceil(batches * epochs / k), batches * epochs // k):
        return (_(
            "windows do not run across epochs: each epoch ends with its own (possibly short) "
            "window and step, so count ⌈num_batches / accumulation_steps⌉ per epoch, times "
            "epochs ({shown})."
        ).format(shown=shown))
    if got == math.ceil(batches / k):
        return _(
            "that is one epoch: multiply by the number of epochs ({shown})."
        ).format(shown=shown)
    if got == batches * epochs * k:
        return (_(
            "multiplied by accumulation_steps instead of dividing: accumulation means fewer "
            "optimizer steps ({shown})."
        ).format(shown=shown))
    return _(
        "{shown}: epochs × ⌈num_batches / accumulation_steps⌉."
    ).format(shown=shown)
