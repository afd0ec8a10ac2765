"""The grading package's parts on their own: which statements a test needs, how a verdict is
judged, the sandbox's command and refusal, and the runner on a few answers in a real sandbox.

The whole pipeline, through nbgrader and the README's commands, is in
``test_instructor_workflow.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import REPO

from course_grading import sandbox
from course_grading.program import build_job, checker_calls, imported_modules, used_names
from course_grading.verdicts import Settings, run_job, verdict_from

TEST = 'from course_utils import checks\ncheck = checks.load("autograd")\ncheck.derivative(df_dx)\n'


def _notebook(*cells: str, test: str = TEST) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in cells]
    test_cell = nbformat.v4.new_code_cell(test)
    test_cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "grade_id": "test_ex1",
        "points": 1,
    }
    nb.cells.append(test_cell)
    return nb


def _sources(nb: dict) -> list[str]:
    (exercise,) = build_job(nb).exercises
    return [s.source for s in exercise.statements]


def test_a_test_gets_its_function_and_what_it_uses_but_no_demo() -> None:
    nb = _notebook(
        "import torch\nmodel = torch.nn.Linear(2, 2)\nlosses = train(model)  # a slow demo",
        "SCALE = 2.0\n\ndef helper(x):\n    return SCALE * x",
        "def df_dx(x):\n    return helper(x)",
        "print(df_dx(torch.tensor(1.0)))\nexit()",
    )
    sources = _sources(nb)
    assert "import torch" in sources
    assert any(s.startswith("def df_dx") for s in sources)
    assert any(s.startswith("def helper") for s in sources) and "SCALE = 2.0" in sources
    assert not any("train(model)" in s or "exit()" in s or "Linear" in s for s in sources), sources


def test_function_parameters_do_not_pull_in_globals_of_the_same_name() -> None:
    nb = _notebook(
        "model = load_a_big_model()",
        "def df_dx(model):\n    inner = model * 2\n    return inner",
    )
    assert not any("load_a_big_model" in s for s in _sources(nb))
    assert used_names(__import__("ast").parse("def f(a):\n    return a + b").body[0]) == {"b"}


def test_a_syntax_error_is_noted_and_magics_never_run() -> None:
    nb = _notebook("def df_dx(x) return x", "%env SECRET=1\n!rm -rf /\nY = 3")
    job = build_job(nb)
    assert any("cell 0 has a syntax error" in note for note in job.notes), job.notes
    assert not any("rm -rf" in s.source or "env" in s.source for s in job.exercises[0].statements)


def test_checker_calls_and_imported_modules_are_read_from_the_test() -> None:
    assert checker_calls(TEST + "check.derivative(df_dx, at=[1.0])\n") == 2
    assert "course_utils.checks.autograd" in imported_modules(TEST)


def _raw(**overrides) -> dict:
    raw = {
        "grade_id": "test_ex1",
        "records": [[True, "✓ derivative — 2/2 checks passed"]],
        "error": None,
        "violations": [],
        "tampering": [],
        "load_errors": [],
        "expected_records": 1,
    }
    return raw | overrides


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"crash": "the process running this exercise ended"}, "ended"),
        ({"violations": ["the code searches the interpreter's objects"]}, "not graded"),
        ({"tampering": ["`torch.allclose` was replaced"]}, "torch.allclose"),
        ({"error": "✗ derivative — wrong"}, "wrong"),
        ({"records": [[True, "✓ forged"], [False, "✗ derivative — wrong sign"]]}, "wrong sign"),
        ({"records": [], "expected_records": 1}, "did not all report"),
        ({"records": [[True, "✓ a"]], "expected_records": 2}, "did not all report"),
    ],
)
def test_a_verdict_passes_only_when_everything_holds(overrides: dict, phrase: str) -> None:
    verdict = verdict_from(_raw(**overrides), [])
    assert not verdict.passed and phrase in verdict.message, verdict.message


def test_a_clean_report_passes() -> None:
    verdict = verdict_from(_raw(), [])
    assert verdict.passed and verdict.message.startswith("✓")


def test_without_bubblewrap_grading_stops_with_one_sentence(monkeypatch) -> None:
    monkeypatch.delenv(sandbox.UNSANDBOXED_VARIABLE, raising=False)
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable) as error:
        sandbox.check_available()
    message = str(error.value)
    assert "apt-get install bubblewrap" in message and "\n" not in message
    assert sandbox.UNSANDBOXED_VARIABLE in message
    monkeypatch.setenv(sandbox.UNSANDBOXED_VARIABLE, "1")
    sandbox.check_available()  # the explicit opt-out


def test_the_sandbox_binds_only_what_grading_needs(tmp_path: Path) -> None:
    args = sandbox.bwrap_command([tmp_path])
    bound = {
        args[i + 2] for i, a in enumerate(args) if a in ("--ro-bind", "--ro-bind-try", "--bind")
    }
    assert "/" not in bound and str(Path.home()) not in bound
    assert str(REPO / "course_utils") in bound
    assert not any(Path(b) == REPO or Path(b).is_relative_to(REPO / "solutions") for b in bound)
    assert str(tmp_path) in {args[i + 1] for i, a in enumerate(args) if a == "--tmpfs"}
    assert "--unshare-all" in args and "--die-with-parent" in args


@pytest.mark.skipif(
    sandbox.shutil.which("bwrap") is None, reason="bubblewrap is not installed (CI installs it)"
)
def test_the_runner_judges_answers_in_a_real_sandbox(tmp_path: Path) -> None:
    right = "def df_dx(x):\n    return 2 * x * torch.sin(x) + x**2 * torch.cos(x)"
    cases = {
        "right": right,
        "reference": "from course_utils.checks import autograd as ref\n"
        "def df_dx(x):\n    ref.line_data()\n"
        "    return 2 * x * torch.sin(x) + x**2 * torch.cos(x)",
        "reads_repo": f"def df_dx(x):\n    open({str(REPO / 'README.md')!r}).read()\n    return x",
        "swaps_log": "def df_dx(x):\n    from course_utils import verdict_log\n"
        "    verdict_log.record(True, 'forged')\n    verdict_log.RECORDS = []\n"
        "    return 2 * x * torch.sin(x) + x**2 * torch.cos(x) + 1",
    }
    settings = Settings(timeout=60, hidden=[REPO, tmp_path])
    results = {}
    for name, answer in cases.items():
        nb = _notebook("import torch", answer)
        (verdict,) = run_job(build_job(nb), settings).values()
        results[name] = verdict
    assert results["right"].passed, results["right"].message
    for name in ("reference", "reads_repo", "swaps_log"):
        assert not results[name].passed, f"{name}: {results[name].message}"
    assert "No such file" in results["reads_repo"].message, results["reads_repo"].message
    assert "reference code `course_utils.checks.autograd.line_data`" in results["reference"].message


def test_autograde_stops_before_touching_anything_without_the_sandbox(tmp_path: Path) -> None:
    from nbgrader_course import course_env

    shutil.copy2(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    env = course_env() | {"PATH": str(Path(sys.executable).parent)}  # no bwrap on PATH
    env.pop(sandbox.UNSANDBOXED_VARIABLE, None)
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", "01_autograd"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("Grading stopped: bubblewrap"), lines
    assert not (tmp_path / "autograded").exists() and not (tmp_path / "gradebook.db").exists()
