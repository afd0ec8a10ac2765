"""Chapter 4b really runs distributed: ``train.py``'s ``main`` under ``notebook_launcher`` with
two CPU processes forms one gloo group, shares the training batches out, and scores every
validation pair exactly once (the smoke validation split has 101 pairs, an odd number)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from train_script_helpers import free_port, load_script, reset_accelerate

TRAIN_SAMPLES, BATCH_SIZE = 160, 8

pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason="checks a CPU process group; this machine has a GPU")


@pytest.fixture
def smoke_env(monkeypatch: pytest.MonkeyPatch):
    for name, value in {"COURSE_PROFILE": "smoke", "HF_HUB_OFFLINE": "1",
                        "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # accelerate: 1 thread per process
    for name in ("COURSE_CHECKPOINT", "COURSE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    reset_accelerate()  # notebook_launcher refuses to start next to an existing Accelerator
    yield
    reset_accelerate()


@pytest.mark.filterwarnings("ignore:OMP_NUM_THREADS")
def test_notebook_launcher_runs_train_py_on_two_cpu_processes(tmp_path: Path, smoke_env) -> None:
    import datasets  # noqa: F401  (imported once here rather than in each forked process)
    import evaluate  # noqa: F401
    from accelerate import notebook_launcher

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # the same for torch._dynamo
    out = tmp_path / "run"
    argv = ["--epochs", "1", "--max-train-samples", str(TRAIN_SAMPLES), "--batch-size",
            str(BATCH_SIZE), "--output-dir", str(out)]
    notebook_launcher(load_script("chapter4_train_for_launch").main, args=(argv,), num_processes=2,
                      use_port=str(free_port()))
    report = json.loads((out / "results.json").read_text())

    # one group of two CPU processes...
    assert report["num_processes"] == 2
    assert report["distributed_type"] == "DistributedType.MULTI_CPU"
    # ...in which each process sees half of the batches one process would see
    one_process = math.ceil(TRAIN_SAMPLES / BATCH_SIZE)
    assert report["train_batches_per_process"] == [one_process // 2] * 2

    # The evaluation on two processes scored each of the 101 pairs once, and gives exactly the
    # scores of the same model evaluated in this one process.
    from transformers import AutoModelForSequenceClassification

    from course_utils import pipeline

    setup = pipeline.prepare_mrpc(batch_size=BATCH_SIZE)
    rows = len(setup.tokenized["validation"])
    assert rows % 2 == 1 and report["validation_rows_scored"] == rows
    model = AutoModelForSequenceClassification.from_pretrained(out)
    one = pipeline.mrpc_scores(model, setup.eval_dataloader, device=torch.device("cpu"))
    assert (report["accuracy"], report["f1"]) == (one["accuracy"], one["f1"])
