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
        found[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
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
