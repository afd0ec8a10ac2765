"""Binder's environment is the tested one: binder/requirements.txt copies requirements.txt."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIX = "copy requirements.txt to binder/requirements.txt (keep its header)"


def pins(path: Path) -> dict[str, str]:
    """``{normalised name: version}`` of the ``name==version`` lines of a requirements file."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{path.relative_to(REPO)}: {line!r} is not pinned with =="
        # a local label names a build of the same release: 2.13.0+cpu is torch 2.13.0
        found[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip().split("+")[0]
    return found


def test_binder_pins_the_same_versions() -> None:
    ours, binder = pins(REPO / "requirements.txt"), pins(REPO / "binder" / "requirements.txt")
    differ = {
        name: f"{ours[name]} here, {binder[name]} on Binder"
        for name in sorted(ours.keys() & binder.keys())
        if ours[name] != binder[name]
    }
    assert not differ, f"versions differ: {differ}; {FIX}"


def test_binder_has_every_package() -> None:
    ours, binder = pins(REPO / "requirements.txt"), pins(REPO / "binder" / "requirements.txt")
    missing, extra = sorted(ours.keys() - binder.keys()), sorted(binder.keys() - ours.keys())
    assert not missing, f"missing on Binder: {missing}; {FIX}"
    assert not extra, f"on Binder but not in requirements.txt (so untested): {extra}; {FIX}"


def test_binder_installs_course_utils() -> None:
    post_build = REPO / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable (chmod +x)"
    assert "pip install" in post_build.read_text(encoding="utf-8")


def test_binder_gets_the_cpu_build_of_torch() -> None:
    text = (REPO / "binder" / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^torch==[\d.]+\+cpu$", text, re.MULTILINE), "pin torch==<version>+cpu"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text, (
        "the +cpu wheels come from PyTorch's CPU index: add its --extra-index-url line"
    )


def test_binder_runs_python_311() -> None:
    runtime = (REPO / "binder" / "runtime.txt").read_text(encoding="utf-8").strip()
    assert runtime == "python-3.11", f"binder/runtime.txt says {runtime!r}, not python-3.11"
