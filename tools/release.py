"""Regenerate the student notebooks in notebooks/ from the instructor notebooks in solutions/.

    python tools/release.py              # every chapter
    python tools/release.py 01_autograd  # some chapters

For each chapter this runs ``nbgrader generate_assignment <chapter> --force`` in the course
directory (the repository root), then normalises every released notebook: no outputs, no
execution counts, no execution timings, no saved widget state. ``tests/test_release_sync.py``
calls :func:`generate` on a copy of the course, so the check and this tool agree byte for byte.
A ``gradebook.db`` that nbgrader creates here is removed again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def chapters(root: Path = ROOT) -> list[str]:
    """The chapter folders of ``solutions/``, sorted."""
    source = root / "solutions"
    if not source.is_dir():
        return []
    return sorted(
        p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )


def nbgrader_env() -> dict[str, str]:
    """The current environment with this Python's ``bin`` first on PATH (nbgrader runs alembic)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def normalise(text: str) -> str:
    """A released notebook as committed: outputs, counts, timings and widget state removed."""
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    out = nbformat.writes(nb)
    return out if out.endswith("\n") else out + "\n"


def generate(chapter: str, root: Path = ROOT) -> Path:
    """Run ``nbgrader generate_assignment <chapter> --force`` in ``root``; normalise the result.

    The old release folder is removed first, so files no longer in ``solutions/`` go too.
    """
    release = root / "notebooks" / chapter
    shutil.rmtree(release, ignore_errors=True)
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", chapter, "--force"]
    done = subprocess.run(
        command, cwd=root, env=nbgrader_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"`nbgrader generate_assignment {chapter} --force` failed "
            f"(exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    for path in sorted(release.rglob("*.ipynb")):
        path.write_text(normalise(path.read_text(encoding="utf-8")), encoding="utf-8")
    return release


def main(argv: list[str]) -> int:
    names = argv or chapters()
    unknown = sorted(set(names) - set(chapters()))
    if unknown:
        print(f"no such chapter in solutions/: {', '.join(unknown)}", file=sys.stderr)
        return 2
    gradebook = ROOT / "gradebook.db"
    had_gradebook = gradebook.exists()
    try:
        for name in names:
            print(f"released {generate(name).relative_to(ROOT)}")
    finally:
        if not had_gradebook:
            gradebook.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
