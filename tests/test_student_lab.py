"""The students' lab (`bash course.sh lab`, Binder) hides nbgrader's instructor UI: a real
Jupyter server started with the students' configuration serves no Formgrader, and its lab page
lists the instructor plugins as disabled; Binder's start script and course.sh use that same
configuration."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STUDENT_CONFIG = REPO / "binder" / "jupyter_config"
INSTRUCTOR_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:menu", "@jupyter/nbgrader:course-list",
                      "@jupyter/nbgrader:assignment-list")
TOKEN = "course-test-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


def start_lab(home: Path, config_path: str):
    """Start `jupyter lab`'s server; yield its address."""
    port = free_port()
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_PATH": config_path,
           "JUPYTER_CONFIG_DIR": str(home / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(home / "rt")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
               f"--ServerApp.root_dir={home}", "--allow-root"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if get(f"{base}/api/status?token={TOKEN}")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not start within 90 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The students' lab: the server with their configuration, as course.sh lab starts it."""
    yield from start_lab(tmp_path_factory.mktemp("home"), str(STUDENT_CONFIG))


@pytest.fixture(scope="module")
def instructor_server(tmp_path_factory):
    """The same environment without the students' configuration: nbgrader's own defaults."""
    yield from start_lab(tmp_path_factory.mktemp("home"), "")


def test_formgrader_is_not_served_to_students(server, instructor_server):
    assert get(f"{instructor_server}/formgrader?token={TOKEN}")[0] == 200
    assert get(f"{server}/formgrader?token={TOKEN}")[0] == 404


def test_the_lab_page_disables_the_instructor_plugins(server):
    status, page = get(f"{server}/lab?token={TOKEN}")
    assert status == 200
    start = page.index('id="jupyter-config-data"')
    config = json.loads(page[page.index(">", start) + 1:page.index("</script>", start)])
    disabled = config["disabledExtensions"]
    for plugin in INSTRUCTOR_PLUGINS:
        assert plugin in disabled, plugin
    assert "@jupyter/nbgrader:validate-assignment" not in disabled


def test_binder_start_uses_the_students_configuration():
    start = REPO / "binder" / "start"
    assert os.access(start, os.X_OK)
    done = subprocess.run([str(start), "sh", "-c", 'echo "$JUPYTER_CONFIG_PATH"'],
                          env={"PATH": os.environ["PATH"], "JUPYTER_CONFIG_PATH": "/other"},
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == f"{STUDENT_CONFIG}:/other"


def test_course_sh_lab_uses_the_students_configuration():
    script = (REPO / "course.sh").read_text(encoding="utf-8")
    lab = script[script.index("\nlab)"):script.index("\ntest)")]
    assert 'export JUPYTER_CONFIG_PATH="$PWD/binder/jupyter_config' in lab
    assert lab.index("JUPYTER_CONFIG_PATH") < lab.index("exec jupyter lab")
