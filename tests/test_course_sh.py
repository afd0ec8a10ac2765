"""course.sh: --help, unknown commands, a bad PYTHON, and which torch build it installs.

Everything runs on a copy of course.sh in a temporary folder (no .venv there), or sources its
functions, so the repository's own .venv is never touched and nothing is installed."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON311 = shutil.which("python3.11") or sys.executable


@pytest.fixture
def course(tmp_path):
    """A folder with a copy of course.sh and nothing else."""
    shutil.copy(REPO / "course.sh", tmp_path / "course.sh")
    return tmp_path


def run(folder: Path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(folder), **variables}
    return subprocess.run(["bash", str(folder / "course.sh"), *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)


def test_help_exits_0_and_lists_the_commands(course):
    for flag in ("--help", "-h", "help"):
        done = run(course, flag)
        assert done.returncode == 0, done.stderr
        assert "bash course.sh lab" in done.stdout and "bash course.sh setup" in done.stdout
    assert not (course / ".venv").exists()


def test_no_command_shows_the_usage_and_fails(course):
    done = run(course)
    assert done.returncode == 2 and "bash course.sh lab" in done.stderr


def test_an_unknown_command_is_named(course):
    done = run(course, "labb")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "course.sh: unknown command 'labb'; the commands are: lab, test, check, release, setup "
        "(bash course.sh --help)")


def test_a_python_that_does_not_exist_is_refused(course):
    done = run(course, "setup", PYTHON="no-such-python")
    assert done.returncode == 1
    assert done.stderr.startswith("course.sh: PYTHON=no-such-python: no such program;")
    assert not (course / ".venv").exists()


def test_a_program_that_is_not_python_is_refused_without_its_banner(course):
    done = run(course, "setup", PYTHON="/bin/ls")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "course.sh: PYTHON=/bin/ls is not a Python interpreter; set PYTHON to a Python 3.11 "
        "interpreter or unset it")


def test_another_python_version_is_refused_not_replaced(course, tmp_path):
    fake = tmp_path / "python3.12"
    fake.write_text(
        "#!/bin/sh\n"  # a Python that says it is 3.12.1
        f'exec {PYTHON311} -c "import sys; sys.version_info = (3, 12, 1, \'final\', 0); '
        'exec(sys.argv[1])" "$2"\n', encoding="utf-8")
    fake.chmod(0o755)
    done = run(course, "setup", PYTHON=str(fake))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"course.sh: PYTHON={fake} is Python 3.12.1, and the course needs 3.11; set PYTHON to a "
        "Python 3.11 interpreter or unset it")
    assert not (course / ".venv").exists()


# Which torch build: the functions of course.sh, sourced ------------------------------------


def torch_source(folder: Path, with_gpu: bool, **variables: str) -> subprocess.CompletedProcess:
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    if with_gpu:
        smi.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        smi.chmod(0o755)
    elif smi.exists():
        smi.unlink()
    # PATH without the real one's nvidia-smi, if any: only /usr/bin, /bin and the fake.
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(folder), **variables}
    script = f'source "{folder / "course.sh"}"; torch_source "{PYTHON311}"'
    return subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def cpu_index():
    """A stand-in for download.pytorch.org/whl/cpu on 127.0.0.1."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/whl/cpu"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("nvidia-smi", path="/usr/bin:/bin") is not None,
                    reason="this machine has a real nvidia-smi in /usr/bin")
def test_without_a_gpu_torch_comes_from_the_cpu_index(course, cpu_index):
    done = torch_source(course, with_gpu=False, COURSE_TORCH_CPU_INDEX=cpu_index)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["--extra-index-url", cpu_index]
    assert "torch is the CPU build (about 190 MB)" in done.stderr


def test_with_a_gpu_torch_is_the_cuda_build(course, cpu_index):
    done = torch_source(course, with_gpu=True, COURSE_TORCH_CPU_INDEX=cpu_index)
    assert done.returncode == 0 and done.stdout == ""
    assert "NVIDIA GPU found: torch is PyPI's CUDA build" in done.stderr


@pytest.mark.skipif(shutil.which("nvidia-smi", path="/usr/bin:/bin") is not None,
                    reason="this machine has a real nvidia-smi in /usr/bin")
def test_an_unreachable_cpu_index_or_ci_leaves_pip_as_configured(course, cpu_index):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = torch_source(course, with_gpu=False,
                        COURSE_TORCH_CPU_INDEX=f"http://127.0.0.1:{port}/whl/cpu")
    assert done.returncode == 0 and done.stdout == ""
    assert "does not answer: torch comes from your package index" in done.stderr
    done = torch_source(course, with_gpu=False, CI="true", COURSE_TORCH_CPU_INDEX=cpu_index)
    assert done.returncode == 0 and done.stdout == ""  # CI installs offline, as configured
    assert "CI: torch from the configured package index" in done.stderr
