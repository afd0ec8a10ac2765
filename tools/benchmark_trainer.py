"""The course's hand-written training loop against the 🤗 Trainer: same model, data, settings.

    python tools/benchmark_trainer.py --checkpoint DIR --data-dir DIR \\
        --max-train-samples 400 --epochs 1 --batch-size 8 --repeats 3

Each repeat trains every loop once, in the same order (hand loop, Trainer, hand loop, Trainer,
...), from the same pretrained checkpoint with a fresh head, on the same tokenized MRPC subset,
with the same hyperparameters: AdamW at ``--lr`` with torch's default weight decay (0.01),
a linear decay to zero without warmup, ``--epochs``, ``--batch-size``, and the seed
``--seed + repeat`` (so the repeats also show how much the metrics move from seed to seed).
The Trainer gets those values through ``TrainingArguments`` and otherwise keeps its defaults,
except three that would make it do other work than the hand loop: no gradient clipping
(``max_grad_norm=0``), no checkpoints (``save_strategy="no"``) and no logging.
A short untimed warm-up run of each loop comes first.

Hand loops (``--hand-loops``, comma-separated):

- ``course``: ``course_utils.pipeline.train``, the course's reference loop;
- ``source``: the chapter-2 loop exactly as the source material writes it
  (``torch.optim.AdamW(model.parameters(), lr=...)``, whatever implementation torch picks);
- ``source-fused``: the same loop with one change, ``torch.optim.AdamW(..., fused=True)``.

For each loop it prints every run, then the mean and spread (sample standard deviation) of the
samples per second, of the padded tokens per second (dynamic padding makes a batch's cost
depend on which sentences land in it, and the Trainer shuffles with its own sampler), of the
samples per CPU-second of the process (steadier than wall-clock time when other jobs share the
cores; with ``--threads 1`` it counts the work done), of the training loss and of the
validation accuracy and F1 (both evaluated by the same function), and each hand loop's
throughput as a ratio of the Trainer's. The last line of stdout is all of it as one JSON
object. Progress bars are off unless ``--progress``.

The checkpoint and the data follow the course's profiles: ``--checkpoint`` and ``--data-dir``
set ``COURSE_CHECKPOINT`` and ``COURSE_DATA_DIR``; without them the active profile decides
(``COURSE_PROFILE=smoke``: the tiny BERT and the shipped fixture, for tests).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

TRAINER = "trainer"
WEIGHT_DECAY = 0.01  # torch.optim.AdamW's default, which the hand loops inherit
EVAL_BATCH_SIZE = 32


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(
        description="Time the course's hand-written loop against the Trainer, runs alternating.",
    )
    parser.add_argument("--checkpoint", help="model directory or Hub id (sets COURSE_CHECKPOINT)")
    parser.add_argument("--data-dir", help="GLUE MRPC TSV folder (sets COURSE_DATA_DIR)")
    parser.add_argument("--max-train-samples", type=int, default=400,
                        help="first N training pairs (default 400; 0 = all)")
    parser.add_argument("--max-eval-samples", type=int, default=0,
                        help="first N validation pairs (default 0 = all)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default: the course's value for the checkpoint)")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of repeat 0; repeat r uses seed + r")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each loop")
    parser.add_argument("--hand-loops", default="course",
                        help=f"comma-separated, from {', '.join(HAND_LOOPS)} (default: course)")
    parser.add_argument("--warmup-batches", type=int, default=2,
                        help="batches of the untimed warm-up run of each loop (0: none)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--progress", action="store_true", help="show the progress bars")
    args = parser.parse_args(argv)
    args.hand_loops = [name.strip() for name in args.hand_loops.split(",") if name.strip()]
    unknown = [name for name in args.hand_loops if name not in HAND_LOOPS]
    if unknown or not args.hand_loops:
        parser.error(f"--hand-loops: unknown {unknown}; choose from {', '.join(HAND_LOOPS)}")
    for name in ("epochs", "batch_size", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


# --- data ----------------------------------------------------------------------------------


class CountingCollator:
    """Wraps the padding collator and counts the padded tokens it hands out (both loops use it)."""

    def __init__(self, collator: Callable[[list], dict]) -> None:
        self.collator = collator
        self.tokens = 0

    def __call__(self, features: list) -> dict:
        batch = self.collator(features)
        self.tokens += batch["input_ids"].numel()
        return batch


@dataclass
class Data:
    """The tokenized subsets, the collator and the evaluation batches shared by every run."""

    profile: Any
    tokenizer: Any
    train: Any
    validation: Any
    collator: CountingCollator
    eval_dataloader: Any


def prepare_data(args: argparse.Namespace) -> Data:
    """MRPC of the active profile, cut to the requested sizes, tokenized the course's way."""
    from torch.utils.data import DataLoader
    from transformers import AutoTokenizer, DataCollatorWithPadding

    from course_utils import pipeline
    from course_utils.data import load_mrpc
    from course_utils.profiles import get_profile

    profile = get_profile()
    raw = load_mrpc(profile)
    del raw["test"]  # unlabeled, unused here
    for split, limit in (("train", args.max_train_samples), ("validation", args.max_eval_samples)):
        if limit:
            raw[split] = raw[split].select(range(min(limit, len(raw[split]))))
    tokenizer = AutoTokenizer.from_pretrained(profile.checkpoint)
    tokenized = pipeline.tokenize_mrpc(raw, tokenizer)
    collator = CountingCollator(DataCollatorWithPadding(tokenizer=tokenizer))
    eval_dataloader = DataLoader(tokenized["validation"], batch_size=EVAL_BATCH_SIZE,
                                 collate_fn=collator)
    return Data(profile, tokenizer, tokenized["train"], tokenized["validation"], collator,
                eval_dataloader)


def train_dataloader(data: Data, dataset: Any, batch_size: int, seed: int) -> Any:
    """Shuffled, dynamically padded batches, as ``course_utils.pipeline.mrpc_dataloaders``."""
    import torch
    from torch.utils.data import DataLoader

    return DataLoader(dataset, shuffle=True, batch_size=batch_size, collate_fn=data.collator,
                      generator=torch.Generator().manual_seed(seed))


# --- the loops -----------------------------------------------------------------------------
# Each takes (model, dataset, data, args, seed, device) and returns the mean training loss.


def _source_loop(model, dataset, data, args, seed, device, fused: bool = False) -> float:
    """Chapter 2's loop as the source writes it; the loss is summed on the device, read once."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    train_dl = train_dataloader(data, dataset, args.batch_size, seed)
    optimizer = (torch.optim.AdamW(model.parameters(), lr=args.lr, fused=True) if fused
                 else torch.optim.AdamW(model.parameters(), lr=args.lr))
    num_training_steps = args.epochs * len(train_dl)
    lr_scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                                 num_training_steps=num_training_steps)
    model.to(device)
    progress_bar = tqdm(range(num_training_steps), disable=not args.progress)
    total_loss = torch.zeros((), device=device)
    model.train()
    for _ in range(args.epochs):
        for batch in train_dl:
            batch = {k: v.to(device) for k, v in batch.items()}
            outputs = model(**batch)
            loss = outputs.loss
            loss.backward()
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            progress_bar.update(1)
            total_loss += loss.detach()
    progress_bar.close()
    return total_loss.item() / num_training_steps


def _source_fused_loop(model, dataset, data, args, seed, device) -> float:
    return _source_loop(model, dataset, data, args, seed, device, fused=True)


def _course_loop(model, dataset, data, args, seed, device) -> float:
    from course_utils import pipeline

    losses = pipeline.train(model, train_dataloader(data, dataset, args.batch_size, seed),
                            epochs=args.epochs, lr=args.lr, device=device, progress=args.progress)
    return sum(losses) / len(losses)


HAND_LOOPS: dict[str, Callable[..., float]] = {
    "course": _course_loop,
    "source": _source_loop,
    "source-fused": _source_fused_loop,
}


def trainer_arguments(args: argparse.Namespace, seed: int, output_dir: str, device: Any) -> Any:
    """The hand loop's settings as ``TrainingArguments`` (current names: ``eval_strategy``)."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=EVAL_BATCH_SIZE,
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        lr_scheduler_type="linear",
        warmup_steps=0,
        weight_decay=WEIGHT_DECAY,
        max_grad_norm=0.0,
        seed=seed,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=not args.progress,
        use_cpu=device.type == "cpu",
    )


def _trainer_loop(model, dataset, data, args, seed, device) -> float:
    from transformers import PrinterCallback, Trainer

    output_dir = tempfile.mkdtemp(prefix="benchmark-trainer-")
    try:
        trainer = Trainer(model=model, args=trainer_arguments(args, seed, output_dir, device),
                          train_dataset=dataset, data_collator=data.collator)
        trainer.remove_callback(PrinterCallback)  # it prints the final log dict on stdout
        return trainer.train().training_loss
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)


LOOPS: dict[str, Callable[..., float]] = {**HAND_LOOPS, TRAINER: _trainer_loop}


# --- running and reporting -----------------------------------------------------------------


@dataclass
class Run:
    """One timed training run and its validation metrics."""

    loop: str
    repeat: int
    seed: int
    seconds: float
    cpu_seconds: float
    samples: int
    padded_tokens: int
    train_loss: float
    accuracy: float
    f1: float

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds

    @property
    def tokens_per_second(self) -> float:
        return self.padded_tokens / self.seconds

    @property
    def samples_per_cpu_second(self) -> float:
        return self.samples / self.cpu_seconds

    def as_dict(self) -> dict[str, Any]:
        row = dict(self.__dict__)
        for key in ("samples_per_second", "tokens_per_second", "samples_per_cpu_second"):
            row[key] = getattr(self, key)
        return row

    def line(self) -> str:
        return (f"  {self.loop:<13} repeat {self.repeat}  seed {self.seed}  "
                f"{self.seconds:7.2f} s  {self.samples_per_second:8.2f} samples/s  "
                f"{self.tokens_per_second:9.1f} tokens/s  {self.cpu_seconds:7.2f} CPU-s  "
                f"loss {self.train_loss:.4f}  "
                f"accuracy {self.accuracy:.4f}  F1 {self.f1:.4f}")


def run_once(name: str, data: Data, dataset: Any, args: argparse.Namespace, seed: int,
             device: Any, evaluate: bool = True) -> Run:
    """Fresh model from the checkpoint, one timed training run, then validation metrics."""
    from course_utils import pipeline
    from course_utils.metrics import mrpc_metric

    model = pipeline.new_model(data.profile.checkpoint, seed=seed)
    model.to(device)
    gc.collect()
    data.collator.tokens = 0
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    train_loss = LOOPS[name](model, dataset, data, args, seed, device)
    _synchronize(device)
    seconds = time.perf_counter() - start_wall
    cpu_seconds = time.process_time() - start_cpu
    tokens = data.collator.tokens
    scores = {"accuracy": math.nan, "f1": math.nan}
    if evaluate:
        scores = pipeline.mrpc_scores(model, data.eval_dataloader, mrpc_metric(data.profile),
                                      device)
    del model
    gc.collect()
    return Run(name, -1, seed, seconds, cpu_seconds, len(dataset) * args.epochs, tokens,
               float(train_loss), float(scores["accuracy"]), float(scores["f1"]))


def _synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value), min and max."""
    values = list(values)
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def summarize(runs: list[Run], hand_loops: list[str]) -> dict[str, Any]:
    """Per loop: spreads of throughput and metrics; per hand loop: ratios to the Trainer."""
    keys = ("samples_per_second", "tokens_per_second", "samples_per_cpu_second", "seconds",
            "cpu_seconds", "train_loss", "accuracy", "f1")
    summary: dict[str, Any] = {}
    for name in [*hand_loops, TRAINER]:
        mine = [run for run in runs if run.loop == name]
        summary[name] = {key: spread([getattr(run, key) for run in mine]) for key in keys}
    ratios = {}
    trainer_runs = {run.repeat: run for run in runs if run.loop == TRAINER}
    for name in hand_loops:
        paired = [run.samples_per_second / trainer_runs[run.repeat].samples_per_second
                  for run in runs if run.loop == name]
        paired_tokens = [run.tokens_per_second / trainer_runs[run.repeat].tokens_per_second
                         for run in runs if run.loop == name]
        ratios[name] = {
            "samples_per_second": summary[name]["samples_per_second"]["mean"]
            / summary[TRAINER]["samples_per_second"]["mean"],
            "tokens_per_second": summary[name]["tokens_per_second"]["mean"]
            / summary[TRAINER]["tokens_per_second"]["mean"],
            "samples_per_cpu_second": summary[name]["samples_per_cpu_second"]["mean"]
            / summary[TRAINER]["samples_per_cpu_second"]["mean"],
            "per_repeat": spread(paired),
            "per_repeat_tokens": spread(paired_tokens),
        }
    return {"loops": summary, "ratios": ratios}


def _pm(stats: dict[str, float], digits: int) -> str:
    return f"{stats['mean']:.{digits}f} ± {stats['sd']:.{digits}f}"


def report(summary: dict[str, Any], hand_loops: list[str], repeats: int) -> list[str]:
    """The human-readable summary: a table, then one verdict line per hand loop."""
    lines = [
        f"summary over {repeats} repeat(s) (mean ± sample standard deviation):",
        f"  {'loop':<13} {'samples/s':>16} {'tokens/s':>18} {'samples/CPU-s':>16} "
        f"{'train loss':>18} {'accuracy':>18} {'F1':>18}",
    ]
    for name in [*hand_loops, TRAINER]:
        row = summary["loops"][name]
        lines.append(
            f"  {name:<13} {_pm(row['samples_per_second'], 2):>16} "
            f"{_pm(row['tokens_per_second'], 1):>18} "
            f"{_pm(row['samples_per_cpu_second'], 2):>16} {_pm(row['train_loss'], 4):>18} "
            f"{_pm(row['accuracy'], 4):>18} {_pm(row['f1'], 4):>18}"
        )
    trainer = summary["loops"][TRAINER]
    for name in hand_loops:
        ratio = summary["ratios"][name]
        mine = summary["loops"][name]
        verdict = "meets" if ratio["samples_per_second"] >= 0.95 else "misses"
        lines.append(
            f"ratio {name}/trainer: {ratio['samples_per_second']:.3f} in samples/s "
            f"(per repeat {_pm(ratio['per_repeat'], 3)}), "
            f"{ratio['tokens_per_second']:.3f} in padded tokens/s, "
            f"{ratio['samples_per_cpu_second']:.3f} in samples per CPU-second: {verdict} the "
            "target >= 0.95"
        )
        noise = max(mine["accuracy"]["sd"], trainer["accuracy"]["sd"])
        lines.append(
            f"metrics {name} - trainer: accuracy "
            f"{mine['accuracy']['mean'] - trainer['accuracy']['mean']:+.4f}, F1 "
            f"{mine['f1']['mean'] - trainer['f1']['mean']:+.4f}, train loss "
            f"{mine['train_loss']['mean'] - trainer['train_loss']['mean']:+.4f} "
            f"(seed-to-seed spread of accuracy: {noise:.4f})"
        )
    return lines


def conditions(args: argparse.Namespace, data: Data, device: Any) -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch
    import transformers

    return {
        "checkpoint": data.profile.checkpoint,
        "data": data.profile.summary(),
        "train_samples": len(data.train),
        "eval_samples": len(data.validation),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "weight_decay": WEIGHT_DECAY,
        "seed": args.seed,
        "repeats": args.repeats,
        "device": str(device),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the runs, the summary and one JSON line."""
    args = parse_args(argv)
    if args.checkpoint:
        os.environ["COURSE_CHECKPOINT"] = args.checkpoint
    if args.data_dir:
        os.environ["COURSE_DATA_DIR"] = args.data_dir

    import torch
    from transformers.utils import logging

    from course_utils import pipeline

    logging.set_verbosity_error()
    if not args.progress:
        logging.disable_progress_bar()  # "Loading weights" bars
    if args.threads:
        torch.set_num_threads(args.threads)
    data = prepare_data(args)
    if args.lr is None:
        args.lr = pipeline.hyperparameters(data.profile).lr
    device = pipeline.default_device()
    setting = conditions(args, data, device)
    print(f"benchmark: {setting['checkpoint']} on {setting['data']}")
    print(f"  {setting['train_samples']} training pairs x {args.epochs} epoch(s), batch "
          f"{args.batch_size}, AdamW lr {args.lr:g} (weight decay {WEIGHT_DECAY}), linear "
          f"decay, {setting['eval_samples']} validation pairs; device {device}, "
          f"{setting['torch_threads']} torch threads, {setting['cpu_count']} CPUs, load "
          f"average {setting['load_average']}; torch {setting['torch']}, transformers "
          f"{setting['transformers']}")
    order = [*args.hand_loops, TRAINER]
    if args.warmup_batches:
        warmup = data.train.select(range(min(len(data.train),
                                             args.warmup_batches * args.batch_size)))
        for name in order:
            run_once(name, data, warmup, args, args.seed, device, evaluate=False)
    print(f"runs, alternating ({' / '.join(order)}):", flush=True)
    runs: list[Run] = []
    for repeat in range(args.repeats):
        for name in order:
            run = run_once(name, data, data.train, args, args.seed + repeat, device)
            run.repeat = repeat
            runs.append(run)
            print(run.line(), flush=True)
    setting["load_average_after"] = (list(os.getloadavg()) if hasattr(os, "getloadavg")
                                     else None)
    summary = summarize(runs, args.hand_loops)
    print("\n".join(report(summary, args.hand_loops, args.repeats)))
    result = {"conditions": setting, "runs": [run.as_dict() for run in runs], **summary}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
