"""``solutions/04b_launching/train.py``, the chapter's reference script, and its minimal
version ``train_minimal.py``: the notebook writes both byte for byte, the full script's command
line is documented, a plain run prints one JSON line, it honours the profile variables, its
`full` path uses only public libraries and the fused AdamW, and ``accelerate launch`` runs both
scripts on two CPU processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from train_script_helpers import MINIMAL, SCRIPT, free_port, load_script, reset_accelerate

REPO = Path(__file__).resolve().parents[1]
CHAPTER = REPO / "solutions" / "04b_launching"
NOTEBOOK = CHAPTER / "04b_launching.ipynb"
RESULT_KEYS = {"accuracy", "f1", "train_seconds", "train_samples_per_second"}
SMOKE = {"COURSE_PROFILE": "smoke", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
         "TOKENIZERS_PARALLELISM": "false"}


def written_scripts() -> dict[str, bytes]:
    """What the notebook's ``%%writefile {...}`` cells write, by target: body and a newline."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c.source for c in nb.cells
             if c.cell_type == "code" and c.source.startswith("%%writefile")]
    written = {}
    for cell in cells:
        header, body = cell.split("\n", 1)
        written[header.removeprefix("%%writefile ")] = (body + "\n").encode("utf-8")
    return written


def test_the_notebook_writes_both_scripts_minimal_first() -> None:
    written = written_scripts()
    assert list(written) == ["{minimal_path}", "{script_path}"], list(written)
    assert written["{minimal_path}"] == MINIMAL.read_bytes(), (
        f"the %%writefile cell of {NOTEBOOK.name} and {MINIMAL.name} differ: change both")
    assert written["{script_path}"] == SCRIPT.read_bytes(), (
        f"the %%writefile cell of {NOTEBOOK.name} and {SCRIPT.name} differ: change both")


def test_the_minimal_script_is_a_few_dozen_lines() -> None:
    assert len(MINIMAL.read_text().splitlines()) <= 70


def test_full_path_uses_public_libraries_and_no_function_named_evaluate() -> None:
    """`course_utils` appears only in the smoke/offline branch of ``load_sources``, and no
    function hides the 🤗 Evaluate library's name."""
    import ast

    for path in (SCRIPT, MINIMAL):
        tree = ast.parse(path.read_text())
        names = {node.name for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        assert "evaluate" not in names, path.name
        top_imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        modules = {getattr(node, "module", None) or node.names[0].name for node in top_imports}
        assert not any(m.startswith("course_utils") for m in modules), (path.name, modules)
    text = SCRIPT.read_text()
    assert 'load_dataset("glue", "mrpc")' in text and 'evaluate.load("glue", "mrpc"' in text


def test_the_full_profile_runs_on_public_calls_only(tmp_path: Path, capsys, monkeypatch,
                                                    in_process) -> None:
    """``COURSE_PROFILE=full``: the script calls ``load_dataset("glue", "mrpc")`` and
    ``evaluate.load("glue", "mrpc")`` (stood in for here: no Hub) and imports nothing of
    ``course_utils``."""
    from course_utils import tiny_bert
    from course_utils.data import load_mrpc
    from course_utils.profiles import LOCAL_METRIC_DIR, get_profile

    smoke_data = load_mrpc(get_profile())
    script = load_script("chapter4b_train_full")
    real_load = script.evaluate.load
    calls = []

    def fake_load_dataset(*args, **kwargs):
        calls.append(("load_dataset", args))
        return smoke_data

    def fake_metric(*args, **kwargs):
        calls.append(("evaluate.load", args))
        return real_load(str(LOCAL_METRIC_DIR), keep_in_memory=True)

    monkeypatch.setattr(script, "load_dataset", fake_load_dataset)
    monkeypatch.setattr(script.evaluate, "load", fake_metric)
    monkeypatch.setenv("COURSE_PROFILE", "full")
    monkeypatch.setenv("COURSE_CHECKPOINT", tiny_bert.tiny_checkpoint())
    sources = script.load_sources()
    sources.make_metric()
    assert calls == [("load_dataset", ("glue", "mrpc")), ("evaluate.load", ("glue", "mrpc"))]
    assert (sources.lr, sources.epochs) == (5e-5, 3)
    assert "GLUE MRPC from the Hub" in sources.headline


@pytest.mark.parametrize("device, fused", [("cpu", True), ("meta", False)])
def test_adamw_is_fused_where_torch_has_the_kernel(device: str, fused: bool) -> None:
    optimizer = load_script().adamw([torch.nn.Parameter(torch.zeros(3))], 1e-3,
                                    torch.device(device))
    assert optimizer.defaults["fused"] is (True if fused else None)


def test_help_documents_the_command_line_and_the_defaults() -> None:
    text = load_script().build_parser().format_help()
    for flag in ("--checkpoint", "--data-dir", "--epochs", "--batch-size", "--lr", "--seed",
                 "--gradient-accumulation-steps", "--mixed-precision", "--max-train-samples"):
        assert flag in text
    for fact in ("5e-5", "3 epochs", "batch size 8", "without warmup", "seed 42",
                 "hyperparameters()", "2e-3 for 5 epochs"):
        assert fact in " ".join(text.split()), fact


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch):
    """A plain ``python train.py`` run, but in this process: smoke, offline, clean Accelerate."""
    for name, value in SMOKE.items():
        monkeypatch.setenv(name, value)
    for name in ("COURSE_CHECKPOINT", "COURSE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    reset_accelerate()
    yield
    reset_accelerate()


def test_a_plain_run_honours_the_profile_variables(tmp_path: Path, capsys, monkeypatch,
                                                   in_process) -> None:
    from course_utils import tiny_bert
    from course_utils.profiles import FIXTURE_DIR

    model_dir = tmp_path / "my-model"  # not named tiny-bert-*: the chapter's defaults apply
    shutil.copytree(tiny_bert.tiny_checkpoint(), model_dir)
    monkeypatch.setenv("COURSE_CHECKPOINT", str(model_dir))
    monkeypatch.setenv("COURSE_DATA_DIR", str(FIXTURE_DIR))

    result = load_script().main(["--epochs", "1", "--max-train-samples", "32"])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert json.loads(lines[0]) == result and set(result) == RESULT_KEYS
    assert 0 <= result["accuracy"] <= 1 and result["train_samples_per_second"] > 0
    assert f"checkpoint {model_dir}" in err and f"MRPC TSV files in {FIXTURE_DIR}" in err
    assert "1 process(es), DistributedType.NO" in err and "lr 5e-05, 1 epoch(s)" in err


def test_flags_set_the_checkpoint_and_the_data(tmp_path: Path, capsys, in_process) -> None:
    from course_utils import tiny_bert
    from course_utils.profiles import FIXTURE_DIR

    checkpoint = tiny_bert.tiny_checkpoint()
    load_script().main(["--checkpoint", checkpoint, "--data-dir", str(FIXTURE_DIR),
                        "--epochs", "1", "--max-train-samples", "16", "--batch-size", "16",
                        "--gradient-accumulation-steps", "2"])
    out, err = capsys.readouterr()
    assert set(json.loads(out)) == RESULT_KEYS
    assert f"MRPC TSV files in {FIXTURE_DIR}" in err
    assert "lr 0.002" in err and "1 batches of 16 per process and epoch, 1 optimizer steps" in err


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason="checks two CPU processes; this machine has a GPU")
def test_accelerate_launch_runs_two_cpu_processes(tmp_path: Path) -> None:
    """One launch, the expensive part (three Python processes start): two CPU processes.

    ``accelerate launch --cpu --num_processes 2`` would start a single process (Accelerate
    1.15's CPU launcher needs MPI for more): torchrun's launcher (``--multi_gpu``) starts two,
    and the script, finding no GPU, builds ``Accelerator(cpu=True)``.
    """
    out = tmp_path / "out"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "--main_process_port", str(free_port()), str(SCRIPT),
               "--epochs", "1", "--max-train-samples", "160", "--output-dir", str(out)]
    env = {k: v for k, v in os.environ.items()
           if k not in ("COURSE_CHECKPOINT", "COURSE_DATA_DIR")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                          env={**env, **SMOKE}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]

    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"only the main process prints, one line:\n{done.stdout}"
    result = json.loads(lines[0])
    assert set(result) == RESULT_KEYS and 0 <= result["accuracy"] <= 1
    assert "[train.py] 2 process(es), DistributedType.MULTI_CPU" in done.stderr
    report = json.loads((out / "results.json").read_text())
    assert report["train_batches_per_process"] == [10, 10]
    assert report["validation_rows_scored"] == 101
    assert {k: report[k] for k in RESULT_KEYS} == result


def test_accelerate_launch_cpu_flag_finishes_and_prints_metrics(tmp_path: Path) -> None:
    """The command the chapter names, ``accelerate launch --cpu --num_processes 2 train.py``,
    finishes in smoke and prints the one JSON line. (Without MPI, Accelerate 1.15 runs it as a
    single process: the notebook explains this, and the test above covers two processes.)"""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes",
               "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               str(SCRIPT), "--epochs", "1", "--max-train-samples", "32"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("COURSE_CHECKPOINT", "COURSE_DATA_DIR")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                          env={**env, **SMOKE}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert set(result) == RESULT_KEYS and 0 <= result["accuracy"] <= 1 and 0 <= result["f1"] <= 1


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason="checks two CPU processes; this machine has a GPU")
def test_the_minimal_script_runs_on_two_cpu_processes(tmp_path: Path) -> None:
    """``accelerate launch --multi_gpu --num_processes 2 train_minimal.py``: one group of two
    CPU processes, and each epoch's scores printed once."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "--main_process_port", str(free_port()), str(MINIMAL)]
    env = {k: v for k, v in os.environ.items()
           if k not in ("COURSE_CHECKPOINT", "COURSE_DATA_DIR")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                          env={**env, **SMOKE}, cwd=tmp_path)
    assert done.returncode == 0 or "terminate called without an active exception" in done.stderr, (
        done.stderr[-4000:])
    epochs = [line for line in done.stdout.splitlines() if line.startswith("epoch")]
    assert [line.split(":")[0] for line in epochs] == [f"epoch {n}" for n in range(1, 6)], (
        done.stdout)
