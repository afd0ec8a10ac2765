"""Write a student-only copy of the course, for instructors who keep their source private.

::

    python tools/export_student.py ../training-loop-students

The copy holds what a student needs to work through the course and nothing an answer could
be taken from: the released notebooks (``notebooks/``: no solutions, no hidden tests), the
``course_utils`` package, the environment files and ``course.sh``. The checkers and the
course's own training loop (``course_utils/checks/``, ``course_utils/pipeline.py``) compute
reference results, which is how they check; in the copy they are compiled Python 3.11
bytecode without their source, so they still run and still give feedback, but cannot be
read as a solution. (Calling them from an answer does not help either: the grader refuses
an answer that calls the course's reference code.) ``solutions/``, ``tests/``, ``tools/``,
the grading package and the git history are left out.
"""

from __future__ import annotations

import argparse
import py_compile
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPIED = ("notebooks", "course_utils", "binder", "course.sh", "pyproject.toml", "requirements.txt")
COMPILED = ("course_utils/checks", "course_utils/pipeline.py")  # shipped as bytecode only
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")

STUDENT_README = """# Write your own training loop (student copy)

Open the course with `bash course.sh lab` (Python 3.11), or upload a chapter's notebook from
`notebooks/` to Colab. Run each chapter's Setup cell first; answer in the cells marked
`# YOUR CODE HERE` and run the check below each answer.

This copy holds no solutions. The checkers ship as compiled Python 3.11 code.
"""


def export(destination: Path, repo: Path = REPO) -> list[Path]:
    """Write the student copy to ``destination`` (which must not exist); its files."""
    if destination.exists():
        raise FileExistsError(f"{destination} exists: choose a new folder")
    destination.mkdir(parents=True)
    for name in COPIED:
        source = repo / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=_IGNORE)
        elif source.exists():
            shutil.copy2(source, destination / name)
    pyproject = destination / "pyproject.toml"
    if pyproject.exists():  # the grading package is not part of the copy
        pyproject.write_text(
            pyproject.read_text(encoding="utf-8").replace(', "course_grading*"', ""),
            encoding="utf-8",
        )
    for name in COMPILED:
        target = destination / name
        sources = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for source in sources:
            py_compile.compile(str(source), cfile=str(source.with_suffix(".pyc")), doraise=True)
            source.unlink()
    (destination / "README.md").write_text(STUDENT_README, encoding="utf-8")
    return sorted(p for p in destination.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", type=Path, help="a new folder for the student copy")
    args = parser.parse_args(argv)
    if sys.version_info[:2] != (3, 11):
        print(
            "export: run this with Python 3.11 (the course's Python): the checkers are "
            "shipped as bytecode for that version",
            file=sys.stderr,
        )
        return 2
    try:
        files = export(args.destination)
    except FileExistsError as error:
        print(f"export: {error}", file=sys.stderr)
        return 2
    print(
        f"export: wrote {len(files)} files to {args.destination} (no solutions, no hidden "
        "tests, checkers as bytecode)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
