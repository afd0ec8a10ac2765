"""The environment check: pins, report lines, verdict, and a profile error that is reported,
not raised."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import env, profiles, tiny_bert
from course_utils.env import PackageStatus, check_environment, check_package, read_pins

REPO = Path(__file__).resolve().parents[1]
TORCH = importlib.metadata.version("torch")
NUMPY = importlib.metadata.version("numpy")


@pytest.fixture(autouse=True)
def smoke(monkeypatch):
    for name in ("COURSE_CHECKPOINT", "COURSE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setattr(tiny_bert, "tiny_checkpoint", lambda: "/cache/tiny-bert-v1-fake")
    monkeypatch.setattr(profiles, "hub_reachable", lambda timeout: pytest.fail("probed the Hub"))


def pin_file(tmp_path: Path, **pins: str) -> Path:
    lines = ["# a comment", "", "transformers==" + importlib.metadata.version("transformers")]
    lines += [f"{name}=={version}" for name, version in pins.items()]
    path = tmp_path / "requirements.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_pins_normalizes_names_and_skips_the_rest(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# header\nJinja2==3.1.6\nPyYAML == 6.0.3  # why\nnest_asyncio2==1.7.4\n"
                    "-e .\ntorch>=2\n", encoding="utf-8")
    assert read_pins(path) == {"jinja2": "3.1.6", "pyyaml": "6.0.3", "nest-asyncio2": "1.7.4"}


def test_find_requirements_walks_up_and_wants_a_transformers_pin(tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (tmp_path / "a" / "requirements.txt").write_text("flask==3.0\n", encoding="utf-8")
    pins = pin_file(tmp_path)
    assert env.find_requirements([nested]) == pins
    assert env.find_requirements() == REPO / "requirements.txt"  # the course's own


def test_package_lines():
    assert check_package("torch", {"torch": TORCH}).line() == f"[OK] torch {TORCH}"
    wrong = check_package("torch", {"torch": "0.0.1"})
    assert not wrong.ok and wrong.line() == f"[FAIL] torch {TORCH} (need 0.0.1)"
    missing = check_package("no-such-package-xyz")
    assert not missing.ok and missing.line() == "[FAIL] no-such-package-xyz not installed"


def test_local_version_labels_match_their_pin():
    assert env._same_release("2.13.0+cpu", "2.13.0")
    assert not env._same_release("2.13.1", "2.13.0")
    assert PackageStatus("torch", "2.1.0", "2.13.0", False).line() == (
        "[FAIL] torch 2.1.0 (need 2.13.0)")


def test_without_pins_minimum_versions_apply(monkeypatch):
    assert check_package("numpy", {}).ok
    monkeypatch.setitem(env.MINIMUM_VERSIONS, "numpy", "999.0")
    status = check_package("numpy", {})
    assert not status.ok and status.line() == f"[FAIL] numpy {NUMPY} (need >= 999.0)"


def test_instructor_tools_never_fail_the_check():
    missing = check_package("no-such-package-xyz", optional=True)
    assert missing.line() == "[--] no-such-package-xyz not installed (for instructors and tests)"
    off_pin = check_package("torch", {"torch": "0.0.1"}, optional=True)
    assert off_pin.line().startswith("[WARN] torch")


def test_report_and_verdict(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(env, "pinned_requirements", lambda: pin_file(tmp_path, torch=TORCH))
    assert check_environment(["torch", "numpy"]) is True
    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == [f"[OK] torch {TORCH}", f"[OK] numpy {NUMPY}"]
    assert out[3].startswith("[OK] device: ")
    assert out[4] == "[OK] Profile: smoke — COURSE_PROFILE=smoke is set"
    monkeypatch.setattr(env, "pinned_requirements", lambda: pin_file(tmp_path, torch="0.0.1"))
    assert check_environment(["torch", "numpy"]) is False


def test_a_missing_student_package_fails_but_a_missing_tool_does_not(monkeypatch, capsys):
    monkeypatch.setattr(env, "STUDENT_PACKAGES", ("numpy",))
    monkeypatch.setattr(env, "INSTRUCTOR_PACKAGES", ("no-such-tool-xyz",))
    monkeypatch.setattr(env, "pinned_requirements", lambda: None)
    assert check_environment() is True
    assert "[--] no-such-tool-xyz not installed" in capsys.readouterr().out
    assert check_environment(["numpy", "no-such-package-xyz"]) is False


def test_a_broken_profile_is_reported_not_raised(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "warp")
    assert check_environment(["numpy"]) is False
    assert "[FAIL] profile: COURSE_PROFILE=warp is not a profile" in capsys.readouterr().out


def test_module_exit_code_and_no_traceback(tmp_path):
    env_vars = {"COURSE_PROFILE": "warp", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "course_utils.env"], env=env_vars, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "[OK] torch" in done.stdout and "[FAIL] profile: COURSE_PROFILE=warp" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


# Where the check runs: the course's own environment (exact pins) or Colab (minimums) ----------

COLAB = {  # what a Colab GPU runtime ships (and evaluate, which install_missing adds)
    "torch": "2.8.0+cu126", "transformers": "4.57.1", "datasets": "4.0.0", "evaluate": "0.4.6",
    "accelerate": "1.10.1", "tqdm": "4.67.1", "matplotlib": "3.10.0", "ipywidgets": "7.7.1",
    "numpy": "2.0.2", "jupyterlab": None, "nbgrader": None, "nbval": None, "pytest": "8.4.2",
}


@pytest.fixture
def colab(monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(env, "installed_version", COLAB.get)
    return COLAB


def test_in_the_repository_venv_the_exact_pins_apply(monkeypatch, tmp_path):
    pins = pin_file(tmp_path)
    (tmp_path / ".venv").mkdir()
    monkeypatch.setattr(env, "find_requirements", lambda starts=None: pins)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    for name in ("BINDER_LAUNCH_HOST", "BINDER_REPO_URL", "COLAB_RELEASE_TAG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / ".venv"))
    assert env.pinned_requirements() == pins
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "another-env"))
    assert env.pinned_requirements() is None  # someone's own environment: minimums
    monkeypatch.setenv("BINDER_LAUNCH_HOST", "https://mybinder.org/")
    assert env.pinned_requirements() == pins  # Binder installs requirements.txt's pins


def test_colab_never_uses_the_exact_pins(colab):
    assert env.pinned_requirements() is None


def test_colab_gets_no_fail_for_its_own_packages(colab, capsys):
    assert check_environment() is True
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("packages compared with the supported minimum versions "
                           "(this is not the course's own .venv)")
    assert not [line for line in out if line.startswith("[FAIL]")], out
    assert out[1] == ("[WARN] torch 2.8.0+cu126 (older than 2.13, the oldest tested; kept, "
                      "since the platform's own build matches its GPU or TPU)")
    assert "[OK] transformers 4.57.1" in out and "[OK] ipywidgets 7.7.1" in out
    assert "[OK] accelerate 1.10.1" in out


def test_colab_still_fails_a_package_older_than_the_minimum(colab, monkeypatch, capsys):
    monkeypatch.setitem(colab, "transformers", "4.30.0")
    assert check_environment() is False
    assert "[FAIL] transformers 4.30.0 (need >= 4.57.1)" in capsys.readouterr().out


def test_install_missing_keeps_what_colab_ships(colab, monkeypatch):
    monkeypatch.setitem(colab, "evaluate", None)  # the one student package Colab lacks
    commands = []
    wanted = env.install_missing(run=lambda command, check: commands.append(command))
    pins = read_pins(env.PACKAGED_PINS)
    assert wanted == [f"evaluate=={pins['evaluate']}"]  # ipywidgets 7 and torch 2.8 stay


def test_the_minimums_are_no_newer_than_the_pins():
    pins = read_pins(env.PACKAGED_PINS)
    for name, minimum in env.MINIMUM_VERSIONS.items():
        assert env._at_least(pins[name], minimum), (name, minimum, pins[name])


def test_full_on_a_cpu_is_a_warning_that_names_the_cost(monkeypatch, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for name, text in {"config.json": "{}", "model.safetensors": "w", "vocab.txt": "a"}.items():
        (model / name).write_text(text, encoding="utf-8")
    data_dir = tmp_path / "mrpc"
    data_dir.mkdir()
    header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        (data_dir / name).write_text(header, encoding="utf-8")
    for name, value in {"COURSE_PROFILE": "full", "HF_HUB_OFFLINE": "1",
                        "COURSE_CHECKPOINT": str(model), "COURSE_DATA_DIR": str(data_dir)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(profiles, "accelerator", lambda: None)
    ok, lines = env.profile_lines()
    assert ok and lines[-1].startswith("[WARN] full on a CPU: bert-base-uncased")
    assert "%env COURSE_PROFILE=smoke" in lines[-1]
    monkeypatch.setattr(profiles, "accelerator", lambda: "CUDA GPU")
    assert not any(line.startswith("[WARN]") for line in env.profile_lines()[1])
