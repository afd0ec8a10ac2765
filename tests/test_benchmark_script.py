"""tools/benchmark_trainer.py runs end to end in smoke, alternates its runs and reports in its
documented format. Its timings are never asserted: this machine's speed is not under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "benchmark_trainer.py"
LOOPS = ["course", "source-fused"]
REPEATS = 2


@pytest.fixture(scope="module")
def benchmark() -> tuple[list[str], dict]:
    env = dict(os.environ, COURSE_PROFILE="smoke", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    for name in ("COURSE_CHECKPOINT", "COURSE_DATA_DIR"):
        env.pop(name, None)
    command = [sys.executable, str(SCRIPT), "--max-train-samples", "16", "--max-eval-samples",
               "16", "--epochs", "1", "--batch-size", "8", "--repeats", str(REPEATS),
               "--warmup-batches", "1", "--hand-loops", ",".join(LOOPS)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    return lines, json.loads(lines[-1])


def test_runs_alternate_loop_and_trainer(benchmark) -> None:
    lines, result = benchmark
    order = [run["loop"] for run in result["runs"]]
    assert order == [*LOOPS, "trainer"] * REPEATS
    assert [run["repeat"] for run in result["runs"]] == [r for r in range(REPEATS)
                                                         for _ in range(len(LOOPS) + 1)]
    assert [run["seed"] for run in result["runs"]] == [42 + r for r in range(REPEATS)
                                                       for _ in range(len(LOOPS) + 1)]
    run_lines = [line for line in lines
                 if len(line.split()) > 4 and line.split()[1::2][:2] == ["repeat", "seed"]]
    assert len(run_lines) == len(order)
    for line, loop in zip(run_lines, order, strict=True):
        assert line.split()[0] == loop, line


def test_every_run_reports_throughput_and_metrics(benchmark) -> None:
    _, result = benchmark
    for run in result["runs"]:
        assert run["samples"] == 16
        assert run["seconds"] > 0 and run["samples_per_second"] > 0
        assert run["padded_tokens"] > 0 and run["tokens_per_second"] > 0
        assert 0 <= run["accuracy"] <= 1 and 0 <= run["f1"] <= 1
        assert run["train_loss"] > 0


def test_summary_has_mean_spread_and_ratios(benchmark) -> None:
    lines, result = benchmark
    for loop in [*LOOPS, "trainer"]:
        stats = result["loops"][loop]["samples_per_second"]
        assert set(stats) == {"mean", "sd", "min", "max"}
        assert stats["min"] <= stats["mean"] <= stats["max"]
        assert {"accuracy", "f1", "train_loss", "tokens_per_second"} <= set(result["loops"][loop])
    trainer = result["loops"]["trainer"]["samples_per_second"]["mean"]
    for loop in LOOPS:
        mine = result["loops"][loop]["samples_per_second"]["mean"]
        assert result["ratios"][loop]["samples_per_second"] == pytest.approx(mine / trainer)
        verdicts = [line for line in lines if line.startswith(f"ratio {loop}/trainer:")]
        assert len(verdicts) == 1 and "target >= 0.95" in verdicts[0]
        assert any(line.startswith(f"metrics {loop} - trainer:") for line in lines)
    conditions = result["conditions"]
    assert conditions["train_samples"] == 16 and conditions["repeats"] == REPEATS
    assert {"device", "torch", "transformers", "torch_threads", "load_average"} <= set(conditions)


def test_bad_arguments_are_refused() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--hand-loops", "mine"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--hand-loops" in done.stderr
