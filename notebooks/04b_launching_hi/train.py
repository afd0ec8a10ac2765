"""Fine-tune a sentence-pair classifier on GLUE MRPC with 🤗 Accelerate.

One script for every machine: a CPU, one GPU, several GPUs, a TPU.

    python train.py                                           # one process
    accelerate launch --multi_gpu --num_processes 2 train.py  # two processes: GPUs, or CPUs
    accelerate launch --config_file my_config.yaml train.py   # what `accelerate config` saved

What it loads follows the course profile: COURSE_PROFILE, COURSE_CHECKPOINT, COURSE_DATA_DIR
(--checkpoint and --data-dir set the last two). The main process shows a progress bar and
notes on stderr, and prints the result as one JSON line on stdout:
{"accuracy": ..., "f1": ..., "train_seconds": ..., "train_samples_per_second": ...}
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import datasets
import evaluate
import torch
import transformers
from accelerate import Accelerator
from accelerate.utils import is_torch_xla_available, set_seed
from datasets import load_dataset
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    get_scheduler,
)

DEFAULTS_NOTE = """\
defaults: AdamW at 5e-5 for 3 epochs, batch size 8 per process, linear decay of the learning
rate to zero without warmup, seed 42. Under the smoke profile's tiny BERT (randomly
initialised, it does not learn at 5e-5) --lr and --epochs default to the values of
course_utils.pipeline.hyperparameters() instead: 2e-3 for 5 epochs.

COURSE_PROFILE=full (without --data-dir) uses only public libraries: load_dataset("glue",
"mrpc"), evaluate.load("glue", "mrpc") and the checkpoint from the Hub. Every other case
(smoke, auto, a local copy of MRPC) loads through the course's helpers, course_utils.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Fine-tune a sequence classifier on GLUE MRPC; run it with python or "
                    "accelerate launch.",
        epilog=DEFAULTS_NOTE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a Hub id or a local model folder "
                        "(sets COURSE_CHECKPOINT; default: the profile's)")
    parser.add_argument("--data-dir", help="a folder with GLUE MRPC's train.tsv, dev.tsv and "
                        "test.tsv (sets COURSE_DATA_DIR; default: the profile's data)")
    parser.add_argument("--epochs", type=int, help="passes over the training set (default 3; "
                        "5 for the tiny BERT)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="sentence pairs per batch and process (default 8)")
    parser.add_argument("--lr", type=float, help="AdamW's learning rate (default 5e-5; "
                        "2e-3 for the tiny BERT)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--gradient-accumulation-steps", type=int, default=1,
                        help="batches per optimizer step (default 1)")
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"],
                        help="default: what accelerate launch or its config says, else no")
    parser.add_argument("--max-train-samples", type=int,
                        help="train on the first N training pairs only (quick runs)")
    parser.add_argument("--output-dir", help="save the fine-tuned model, its tokenizer and "
                        "results.json there (from the main process)")
    return parser


def cpu_only() -> bool:
    """No GPU, TPU or Apple GPU. Then the Accelerator is asked for the CPU explicitly, so that
    processes started together form one group (gloo) instead of training alone."""
    gpu = torch.cuda.is_available() or torch.backends.mps.is_available()
    return not (gpu or is_torch_xla_available())


def note(accelerator: Accelerator, text: str) -> None:
    """One line on stderr, from the main process only (stdout is kept for the result)."""
    if accelerator.is_main_process:
        print(f"[train.py] {text}", file=sys.stderr, flush=True)


class Sources(NamedTuple):
    """Where the data, the model and the metric come from, and the chapter's defaults."""

    raw: datasets.DatasetDict  # GLUE MRPC's splits: sentence1, sentence2, label, idx
    checkpoint: str
    make_metric: Callable[[], evaluate.EvaluationModule]  # called after training (see score)
    lr: float
    epochs: int
    headline: str


def load_sources() -> Sources:
    """GLUE MRPC, a checkpoint and the MRPC metric for the active profile."""
    if os.environ.get("COURSE_PROFILE") == "full" and not os.environ.get("COURSE_DATA_DIR"):
        # Public libraries only: what you would write without this course.
        checkpoint = os.environ.get("COURSE_CHECKPOINT") or "bert-base-uncased"
        return Sources(raw=load_dataset("glue", "mrpc"), checkpoint=checkpoint,
                       make_metric=lambda: evaluate.load("glue", "mrpc", keep_in_memory=True),
                       lr=5e-5, epochs=3,
                       headline=f"Profile: full — {checkpoint}, GLUE MRPC from the Hub")
    # smoke, auto, or local copies (--data-dir, COURSE_CHECKPOINT): the course's loaders, which
    # also build the tiny BERT and read the paraphrase fixture offline.
    from course_utils.data import load_mrpc
    from course_utils.metrics import mrpc_metric
    from course_utils.pipeline import hyperparameters
    from course_utils.profiles import get_profile

    profile = get_profile()
    chapter = hyperparameters(profile)
    return Sources(raw=load_mrpc(profile), checkpoint=profile.checkpoint,
                   make_metric=lambda: mrpc_metric(profile, keep_in_memory=True),
                   lr=chapter.lr, epochs=chapter.epochs, headline=profile.headline())


def dataloaders(raw: datasets.DatasetDict, tokenizer, batch_size: int, seed: int,
                max_train_samples: int | None) -> tuple[DataLoader, DataLoader]:
    """Tokenized sentence pairs, padded per batch: shuffled training, ordered validation."""
    if max_train_samples is not None:
        raw["train"] = raw["train"].select(range(min(max_train_samples, len(raw["train"]))))
    tokenized = raw.map(lambda batch: tokenizer(batch["sentence1"], batch["sentence2"],
                                                truncation=True), batched=True)
    tokenized = tokenized.remove_columns(["sentence1", "sentence2", "idx"])
    tokenized = tokenized.rename_column("label", "labels").with_format("torch")
    collator = DataCollatorWithPadding(tokenizer=tokenizer)
    train = DataLoader(tokenized["train"], shuffle=True, batch_size=batch_size,
                       collate_fn=collator, generator=torch.Generator().manual_seed(seed))
    validation = DataLoader(tokenized["validation"], batch_size=batch_size, collate_fn=collator)
    return train, validation


def adamw(params, lr: float, device: torch.device) -> torch.optim.AdamW:
    """torch's AdamW with its fused kernel (one kernel per weight tensor; chapter 5 measures
    it) where this torch has one for the device (CPU or CUDA), the default one elsewhere."""
    params = list(params)
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.AdamW(params, lr=lr, fused=True)
        except RuntimeError:  # a torch without the fused kernel for this device
            pass
    return torch.optim.AdamW(params, lr=lr)


def score(accelerator: Accelerator, model, loader, metric) -> tuple[dict, int]:
    """Accuracy and F1 over every validation pair, once, whatever the number of processes."""
    model.eval()
    scored = 0
    for batch in loader:
        with torch.no_grad():
            outputs = model(**batch)
        both = accelerator.gather_for_metrics((outputs.logits.argmax(dim=-1), batch["labels"]))
        metric.add_batch(predictions=both[0], references=both[1])
        scored += len(both[1])
    return metric.compute(), scored


def main(argv: list[str] | None = None) -> dict | None:
    """Train, evaluate, report. Returns the result on the main process, None elsewhere."""
    args = build_parser().parse_args(argv)
    if args.checkpoint:
        os.environ["COURSE_CHECKPOINT"] = args.checkpoint
    if args.data_dir:
        os.environ["COURSE_DATA_DIR"] = args.data_dir

    accelerator = Accelerator(
        cpu=cpu_only(), mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
    )
    if not accelerator.is_local_main_process:  # one set of progress bars is enough
        datasets.utils.logging.disable_progress_bar()
        transformers.utils.logging.disable_progress_bar()
    set_seed(args.seed)
    with accelerator.main_process_first():  # the Hub's datasets write caches: one at a time
        sources = load_sources()
        tokenizer = AutoTokenizer.from_pretrained(sources.checkpoint)
        train_loader, eval_loader = dataloaders(sources.raw, tokenizer, args.batch_size,
                                                args.seed, args.max_train_samples)
    epochs = args.epochs or sources.epochs
    lr = args.lr or sources.lr
    note(accelerator, sources.headline)
    if accelerator.mixed_precision == "fp16" and accelerator.device.type == "cpu":
        note(accelerator, "fp16 needs a GPU: on the CPU Accelerate trains in float32 "
                          "(--mixed-precision bf16 works on a CPU)")

    transformers.utils.logging.set_verbosity_error()  # the "newly initialized head" notice
    torch.manual_seed(args.seed)
    model = AutoModelForSequenceClassification.from_pretrained(sources.checkpoint, num_labels=2)
    optimizer = adamw(model.parameters(), lr, accelerator.device)
    model, optimizer, train_loader, eval_loader = accelerator.prepare(
        model, optimizer, train_loader, eval_loader)

    # Not prepared: stepped below with the optimizer, so counted in this process's steps.
    updates_per_epoch = math.ceil(len(train_loader) / accelerator.gradient_accumulation_steps)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=epochs * updates_per_epoch)
    note(accelerator,
         f"{accelerator.num_processes} process(es), {accelerator.distributed_type}, device "
         f"{accelerator.device}, mixed precision {accelerator.mixed_precision}: "
         f"{len(train_loader)} batches of {args.batch_size} per process and epoch, "
         f"{updates_per_epoch} optimizer steps per epoch, lr {lr:g}, {epochs} epoch(s)")

    progress = tqdm(total=epochs * updates_per_epoch, desc="training",
                    disable=not accelerator.is_local_main_process)
    batches_seen = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for batch in train_loader:
            with accelerator.accumulate(model):
                outputs = model(**batch)
                accelerator.backward(outputs.loss)
                optimizer.step()
                if accelerator.sync_gradients:  # the end of a window: a real step
                    scheduler.step()
                    progress.update(1)
                    progress.set_postfix(epoch=epoch + 1, loss=f"{outputs.loss.item():.3f}")
                optimizer.zero_grad()
            batches_seen += 1
    train_seconds = time.perf_counter() - start
    progress.close()

    # The metric is made only now: made before the training, it left a launched CPU process
    # hanging at exit (seen with 2 gloo processes and OMP_NUM_THREADS=1). keep_in_memory: no
    # cache files shared by the processes.
    metrics, scored = score(accelerator, model, eval_loader, sources.make_metric())
    per_process = accelerator.gather(torch.tensor([batches_seen], device=accelerator.device))
    train_rows = len(train_loader.dataset)
    result = {
        "accuracy": metrics["accuracy"],
        "f1": metrics["f1"],
        "train_seconds": round(train_seconds, 3),
        "train_samples_per_second": round(epochs * train_rows / train_seconds, 3),
    }
    if args.output_dir:
        accelerator.wait_for_everyone()  # every process has finished its last step
        unwrapped = accelerator.unwrap_model(model)
        unwrapped.save_pretrained(args.output_dir, is_main_process=accelerator.is_main_process,
                                  save_function=accelerator.save)
        if accelerator.is_main_process:
            tokenizer.save_pretrained(args.output_dir)
            details = {**result, "num_processes": accelerator.num_processes,
                       "distributed_type": str(accelerator.distributed_type),
                       "train_batches_per_process": per_process.tolist(),
                       "validation_rows_scored": scored}
            Path(args.output_dir, "results.json").write_text(json.dumps(details, indent=2))
    if accelerator.is_main_process:
        print(json.dumps(result), flush=True)
    # One last barrier: torch's gloo thread finishes the gathers above (it needs the GIL to
    # free their tensors) before end_training() tears the group down; without it a process
    # was seen to hang at exit.
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return result if accelerator.is_main_process else None


if __name__ == "__main__":
    main()
