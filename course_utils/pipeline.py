"""The MRPC fine-tuning pipeline as plain functions: chapter 2 builds it step by step, later
chapters start from it, and the checkers use it as their reference.

The code path is the same in every profile; only the values differ (see :func:`hyperparameters`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from course_utils.profiles import Profile, check_model_dir, get_profile, is_tiny_checkpoint

TEXT_COLUMNS = ("sentence1", "sentence2", "idx")


@dataclass(frozen=True)
class Hyperparameters:
    """The chapter's training settings for one checkpoint."""

    lr: float
    epochs: int = 3
    batch_size: int = 8
    seed: int = 42

    def __str__(self) -> str:
        return (f"lr={self.lr:g}, epochs={self.epochs}, batch_size={self.batch_size}, "
                f"seed={self.seed}")


def hyperparameters(profile: Profile | None = None) -> Hyperparameters:
    """The chapter's values (AdamW at 5e-5, 3 epochs, batch 8) for a pretrained checkpoint.

    The smoke profile's tiny BERT starts from random weights: it sits at the majority-class
    baseline for a few epochs before it learns, so it gets a larger learning rate and 5 epochs
    (about 4 s on a CPU; every seed tried reached 0.91-0.93 validation accuracy).
    """
    profile = profile or get_profile()
    if is_tiny_checkpoint(profile.checkpoint):
        return Hyperparameters(lr=2e-3, epochs=5)
    return Hyperparameters(lr=5e-5, epochs=3)


def tokenize_mrpc(raw_datasets: Any, tokenizer: Any) -> Any:
    """Tokenize sentence pairs (no padding yet), keep only model inputs, labels as ``labels``."""

    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        return tokenizer(batch["sentence1"], batch["sentence2"], truncation=True)

    tokenized = raw_datasets.map(tokenize, batched=True)
    tokenized = tokenized.remove_columns(list(TEXT_COLUMNS)).rename_column("label", "labels")
    tokenized.set_format("torch")
    return tokenized


def mrpc_dataloaders(tokenized: Any, tokenizer: Any, batch_size: int = 8, seed: int = 42,
                     eval_batch_size: int | None = None) -> tuple[DataLoader, DataLoader]:
    """Shuffled training batches and ordered validation batches, padded per batch."""
    from transformers import DataCollatorWithPadding

    collator = DataCollatorWithPadding(tokenizer=tokenizer)
    train_dataloader = DataLoader(
        tokenized["train"], shuffle=True, batch_size=batch_size, collate_fn=collator,
        generator=torch.Generator().manual_seed(seed),
    )
    eval_dataloader = DataLoader(
        tokenized["validation"], batch_size=eval_batch_size or batch_size, collate_fn=collator
    )
    return train_dataloader, eval_dataloader


@dataclass
class MRPCSetup:
    """Everything a chapter needs before its loop: profile, tokenizer, data and batches."""

    profile: Profile
    hparams: Hyperparameters
    tokenizer: Any
    tokenized: Any
    train_dataloader: DataLoader
    eval_dataloader: DataLoader


def prepare_mrpc(profile: Profile | None = None, batch_size: int | None = None,
                 seed: int | None = None, max_train_samples: int | None = None) -> MRPCSetup:
    """Load MRPC and the tokenizer of the active profile, tokenize, and batch: chapter 2's
    data pipeline in one call, for the chapters that come after it."""
    from transformers import AutoTokenizer

    from course_utils.data import load_mrpc

    profile = profile or get_profile()
    hparams = hyperparameters(profile)
    raw = load_mrpc(profile)
    if Path(profile.checkpoint).is_dir():
        check_model_dir(profile.checkpoint)  # one sentence, not a traceback, if it changed
    if max_train_samples is not None:
        raw["train"] = raw["train"].select(range(min(max_train_samples, len(raw["train"]))))
    tokenizer = AutoTokenizer.from_pretrained(profile.checkpoint)
    tokenized = tokenize_mrpc(raw, tokenizer)
    train_dl, eval_dl = mrpc_dataloaders(tokenized, tokenizer, batch_size or hparams.batch_size,
                                         seed if seed is not None else hparams.seed)
    return MRPCSetup(profile, hparams, tokenizer, tokenized, train_dl, eval_dl)


def new_model(checkpoint: str, seed: int = 42) -> torch.nn.Module:
    """A sequence classifier with a fresh 2-label head; the same head weights for a seed."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging

    torch.manual_seed(seed)
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # the "newly initialized head" notice is taught once, in ch. 2
    try:
        return AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=2)
    finally:
        logging.set_verbosity(verbosity)


def default_device() -> torch.device:
    """CUDA if there is a GPU, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def adamw(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.AdamW:
    """torch's AdamW with its fused kernel, as the Trainer's default ``optim="adamw_torch_fused"``.

    Left to choose, torch runs AdamW's for-loop implementation on a CPU: a dozen passes over
    memory per tensor, about 155 ms per step for all-MiniLM-L6-v2 against 18 ms fused, which made
    the source's loop 0.85-0.89x the Trainer's speed (chapter 5). The update is the same up to
    rounding. Falls back to the default where this torch has no fused kernel for the device.
    """
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, fused=True)
    except RuntimeError:  # e.g. torch < 2.4 on a CPU
        return torch.optim.AdamW(params, lr=lr)


def train(model: torch.nn.Module, train_dataloader: DataLoader, *, epochs: int, lr: float,
          device: torch.device | None = None, progress: bool = True) -> list[float]:
    """The reference fine-tuning loop: AdamW (fused), linear decay to zero, one step per batch.

    Returns the training loss of every step.
    """
    from transformers import get_scheduler

    from course_utils.progress import progress_bar

    device = device or default_device()
    model.to(device)
    optimizer = adamw(model.parameters(), lr)
    num_training_steps = epochs * len(train_dataloader)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=num_training_steps)
    losses: list[float] = []
    bar = progress_bar(total=num_training_steps, disable=not progress, desc="training")
    model.train()
    try:
        for _ in range(epochs):
            for batch in train_dataloader:
                batch = {k: v.to(device) for k, v in batch.items()}
                loss = model(**batch).loss
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
    finally:  # the bar ends where training ended, also when it raised
        bar.close()
    return losses


def predictions(model: torch.nn.Module, dataloader: Iterable[dict],
                device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All predictions and labels of a dataloader, in order, in eval mode without gradients."""
    device = device or next(model.parameters()).device
    model.eval()
    preds, labels = [], []
    with torch.no_grad():
        for batch in dataloader:
            batch = {k: v.to(device) for k, v in batch.items()}
            preds.append(model(**batch).logits.argmax(dim=-1).cpu())
            labels.append(batch["labels"].cpu())
    return torch.cat(preds), torch.cat(labels)


def mrpc_scores(model: torch.nn.Module, dataloader: Iterable[dict], metric: Any = None,
             device: torch.device | None = None) -> dict[str, float]:
    """GLUE MRPC's accuracy and F1 over the whole dataloader."""
    from course_utils.metrics import mrpc_metric

    metric = metric or mrpc_metric()
    preds, labels = predictions(model, dataloader, device)
    metric.add_batch(predictions=preds, references=labels)
    return metric.compute()


# --- The course's own versions of exercises, for demo cells while a student's is unwritten.
# Notebooks call these instead of showing an answer; graded answers may not call them (the
# grader refuses an answer that calls the course's reference code).


def train_keeping_best(model: torch.nn.Module, train_dataloader: DataLoader,
                       eval_dataloader: Iterable[dict], *, epochs: int, lr: float,
                       device: torch.device | str, save_dir: str | Path) -> list[dict]:
    """Chapter 3's train-and-keep-best, recording the validation loss too.

    Trains with fused AdamW and a linear schedule; after every epoch scores
    ``eval_dataloader`` (mean loss per pair, accuracy, F1) and saves the model to
    ``save_dir`` when its accuracy beats every earlier epoch's. Returns one row per epoch.
    """
    from transformers import get_scheduler

    from course_utils.metrics import mrpc_metric
    from course_utils.progress import progress_bar

    model.to(device)
    optimizer = adamw(model.parameters(), lr)
    total_steps = epochs * len(train_dataloader)
    schedule = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                             num_training_steps=total_steps)
    scorer = mrpc_metric()
    rows: list[dict] = []
    bar = progress_bar(total=total_steps, desc="training")
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            train_losses = []
            for batch in train_dataloader:
                loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                train_losses.append(loss.item())
                bar.update(1)
            model.eval()
            loss_sum, pairs = 0.0, 0
            with torch.no_grad():
                for batch in eval_dataloader:
                    batch = {k: v.to(device) for k, v in batch.items()}
                    out = model(**batch)
                    loss_sum += out.loss.item() * len(batch["labels"])
                    pairs += len(batch["labels"])
                    scorer.add_batch(predictions=out.logits.argmax(dim=-1),
                                     references=batch["labels"])
            row = {"epoch": epoch, "train_loss": sum(train_losses) / len(train_losses),
                   "eval_loss": loss_sum / pairs, **scorer.compute()}
            if all(row["accuracy"] > earlier["accuracy"] for earlier in rows):
                model.save_pretrained(save_dir)
            rows.append(row)
    finally:
        bar.close()
    return rows


def gather_predictions(accelerator: Any, model: torch.nn.Module,
                       eval_dataloader: Iterable[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    """Chapter 4's exercise 1, the course's version: the prediction and label of every
    validation pair, each once, in order, on every process (``gather_for_metrics``)."""
    model.eval()
    predictions, labels = [], []
    for batch in eval_dataloader:
        with torch.no_grad():
            logits = model(**batch).logits
        gathered = accelerator.gather_for_metrics((logits.argmax(dim=-1), batch["labels"]))
        predictions.append(gathered[0])
        labels.append(gathered[1])
    return torch.cat(predictions), torch.cat(labels)


def launched_training_function(make_model: Any, make_dataloaders: Any, num_epochs: int) -> float:
    """Chapter 4b's exercise, the course's version: the function ``notebook_launcher`` runs in
    each process. Everything is built inside; returns the validation accuracy on every process
    and prints it once."""
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    for _ in range(num_epochs):
        model.train()
        for batch in train_dataloader:
            accelerator.backward(model(**batch).loss)
            optimizer.step()
            optimizer.zero_grad()
    predictions, labels = gather_predictions(accelerator, model, eval_dataloader)
    accuracy = (predictions == labels).double().mean().item()
    accelerator.print(f"validation accuracy on {len(labels)} pairs: {accuracy:.3f}")
    return accuracy


def freeze(model: torch.nn.Module, strategy: str) -> list[torch.nn.Parameter]:
    """Chapter 5's strategies: 'full', 'lower' (embeddings and lower half frozen), 'head'."""
    if strategy not in ("full", "lower", "head"):
        raise ValueError(f"unknown strategy {strategy!r}: use 'full', 'lower' or 'head'")
    base = model.base_model
    model.requires_grad_(True)
    frozen = {"full": [], "head": [base]}.get(strategy)
    if frozen is None:
        layers = base.encoder.layer
        frozen = [base.embeddings, *layers[: len(layers) // 2]]
    for module in frozen:
        module.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


def training_arguments(output_dir: str, hparams: Any) -> Any:
    """Chapter 5's ``TrainingArguments``: the hand loop's settings, no clipping or saving."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir, learning_rate=hparams.lr, num_train_epochs=hparams.epochs,
        per_device_train_batch_size=hparams.batch_size, seed=hparams.seed, weight_decay=0.01,
        max_grad_norm=0.0, eval_strategy="epoch", logging_strategy="epoch", save_strategy="no",
    )


def tokenize_sst2(raw_datasets: Any, tokenizer: Any) -> Any:
    """Chapter 6: tokenize SST-2's single sentences, keep the model's columns and ``labels``."""
    tokenized = raw_datasets.map(lambda b: tokenizer(b["sentence"], truncation=True),
                                 batched=True)
    tokenized = tokenized.remove_columns(["sentence", "idx"]).rename_column("label", "labels")
    return tokenized.with_format("torch")


def run_sst2(raw_datasets: Any, tokenizer: Any, checkpoint: str, metric: Any,
             hparams: Hyperparameters, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """Chapter 6's whole run, the course's way: the trained model and its validation scores."""
    tokenized = tokenize_sst2(raw_datasets, tokenizer)
    train_dl, eval_dl = mrpc_dataloaders(tokenized, tokenizer, hparams.batch_size, hparams.seed)
    model = new_model(checkpoint, seed=hparams.seed)
    train(model, train_dl, epochs=hparams.epochs, lr=hparams.lr, device=device)
    found, labels = predictions(model, eval_dl, device)
    return model, metric.compute(predictions=found, references=labels)
