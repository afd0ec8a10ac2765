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
from pathlib import Path

import datasets
import torch
import transformers
from accelerate import Accelerator
from accelerate.utils import is_torch_xla_available, set_seed
from tqdm.auto import tqdm
from transformers import get_scheduler

from course_utils import pipeline
from course_utils.metrics import mrpc_metric
from course_utils.profiles import get_profile

DEFAULTS_NOTE = """\
defaults: AdamW at 5e-5 for 3 epochs, batch size 8 per process, linear decay of the learning
rate to zero without warmup, seed 42. Under the smoke profile's tiny BERT (randomly
initialised, it does not learn at 5e-5) --lr and --epochs default to the values of
course_utils.pipeline.hyperparameters() instead: 2e-3 for 5 epochs.
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


def evaluate(accelerator: Accelerator, model, loader, metric) -> tuple[dict, int]:
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
    profile = get_profile()
    chapter = pipeline.hyperparameters(profile)
    epochs = args.epochs or chapter.epochs
    lr = args.lr or chapter.lr
    note(accelerator, profile.headline())
    if accelerator.mixed_precision == "fp16" and accelerator.device.type == "cpu":
        note(accelerator, "fp16 needs a GPU: on the CPU Accelerate trains in float32 "
                          "(--mixed-precision bf16 works on a CPU)")

    set_seed(args.seed)
    with accelerator.main_process_first():  # the Hub's datasets write caches: one at a time
        data = pipeline.prepare_mrpc(profile, batch_size=args.batch_size, seed=args.seed,
                                     max_train_samples=args.max_train_samples)
    model = pipeline.new_model(profile.checkpoint, seed=args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model, optimizer, train_loader, eval_loader = accelerator.prepare(
        model, optimizer, data.train_dataloader, data.eval_dataloader)

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

    metric = mrpc_metric(profile, keep_in_memory=True)  # no cache files shared by processes
    metrics, scored = evaluate(accelerator, model, eval_loader, metric)
    per_process = accelerator.gather(torch.tensor([batches_seen], device=accelerator.device))
    train_rows = len(data.tokenized["train"])
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
            data.tokenizer.save_pretrained(args.output_dir)
            details = {**result, "num_processes": accelerator.num_processes,
                       "distributed_type": str(accelerator.distributed_type),
                       "train_batches_per_process": per_process.tolist(),
                       "validation_rows_scored": scored}
            Path(args.output_dir, "results.json").write_text(json.dumps(details, indent=2))
    if accelerator.is_main_process:
        print(json.dumps(result), flush=True)
    accelerator.end_training()
    return result if accelerator.is_main_process else None


if __name__ == "__main__":
    main()
