"""Helpers for the tests that run the real nbgrader CLI on a throw-away copy of the course.

A test builds a course directory with :func:`make_course` (``nbgrader_config.py`` and
``solutions/`` copied into a temporary folder), runs nbgrader there with :func:`nbgrader`, and
reads the gradebook with :func:`read_grades`. Notebooks run offline on the ``smoke`` profile.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import nbformat
from nbformat import NotebookNode

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
RELEASE = REPO / "notebooks"
WRONG_ANSWERS = Path(__file__).resolve().parent / "fixtures" / "wrong_answers"

# What nbgrader itself skips when it copies an assignment (CourseDirectory.ignore).
_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _load_release_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("course_release", REPO / "tools" / "release.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release_tool = _load_release_tool()  # tools/release.py: the one way to make notebooks/


def chapters() -> list[str]:
    """The chapters: the folders of ``solutions/``, sorted."""
    return release_tool.chapters(REPO)


def notebook(root: Path, chapter: str) -> Path:
    """``<root>/<chapter>/<chapter>.ipynb``: the chapter's notebook under a step folder."""
    return root / chapter / f"{chapter}.ipynb"


def course_env() -> dict[str, str]:
    """What nbgrader and its kernels run with: offline, ``smoke`` profile, this venv on PATH."""
    env = release_tool.nbgrader_env()
    env.update(COURSE_PROFILE="smoke", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return env


def require_sandbox() -> None:
    """Skip a grading test where bubblewrap cannot run, but never in CI (it installs it)."""
    import pytest

    from course_grading import sandbox

    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"grading needs the sandbox: {error}")


def make_course(dest: Path) -> Path:
    """A fresh course directory in ``dest``: the config and a copy of ``solutions/``."""
    require_sandbox()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(SOLUTIONS, dest / "solutions", ignore=_IGNORE)
    return dest


def nbgrader(course: Path, *args: str, timeout: float = 3600) -> str:
    """Run ``nbgrader <args>`` in ``course``; return its log, fail with its tail if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=course_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise AssertionError(
            f"`nbgrader {' '.join(args)}` exited {done.returncode}:\n{log[-4000:]}"
        )
    return log


def read_nb(path: Path) -> NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def grade_id(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cell_text(cell: NotebookNode) -> str:
    """Everything a cell printed or raised, ANSI colours removed."""
    parts: list[str] = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts += [out.ename, out.evalue, *out.traceback]
        else:
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return _ANSI.sub("", "\n".join(parts))


@dataclass(frozen=True)
class Grades:
    """One student's autograde result: the total and every graded cell's (score, max_score)."""

    score: float
    max_score: float
    cells: dict[str, tuple[float, float]]


def read_grades(course: Path, chapter: str, students: list[str]) -> dict[str, Grades]:
    """The gradebook's scores for ``students`` (missing students are left out)."""
    from nbgrader.api import Gradebook, MissingEntry

    grades: dict[str, Grades] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in students:
            try:
                submission = gb.find_submission(chapter, student)
            except MissingEntry:
                continue
            cells = {
                grade.name: (grade.score, grade.max_score)
                for nb in submission.notebooks
                for grade in nb.grades
            }
            grades[student] = Grades(submission.score, submission.max_score, cells)
    return grades


@dataclass(frozen=True)
class WrongAnswer:
    """A wrong answer for one exercise and the checker message it must produce."""

    answer_id: str
    source: str
    message: str


def load_wrong_answer(chapter: str) -> WrongAnswer | None:
    """``tests/fixtures/wrong_answers/<chapter>.json``, or None if the chapter has none.

    The file holds one object: ``{"answer_id": grade_id of the answer cell, "source": the
    full replacement source of that cell, "message": a substring of the checker's message}``.
    """
    path = WRONG_ANSWERS / f"{chapter}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    missing = {"answer_id", "source", "message"} - set(data)
    if missing:
        raise ValueError(f"{path}: missing keys {sorted(missing)}")
    return WrongAnswer(str(data["answer_id"]), str(data["source"]), str(data["message"]))


def with_answer(nb: NotebookNode, answer_id: str, source: str) -> NotebookNode:
    """A copy of ``nb`` whose answer cell ``answer_id`` has ``source`` instead."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if grade_id(c) == answer_id]
    if len(cells) != 1 or not cells[0].metadata["nbgrader"].get("solution"):
        raise ValueError(f"no single answer cell with grade_id {answer_id!r}")
    cells[0].source = source
    return nb
