"""Collect the students' notebooks of a chapter into nbgrader's ``submitted/`` folder, checked.

Run it in the course directory (the folder with ``nbgrader_config.py`` and ``solutions/``)::

    python tools/collect.py 01_autograd     # inbox/01_autograd/<student>/<notebook>.ipynb
    python tools/collect.py '*'             # every chapter folder in inbox/

(``tools/collect.py`` is this module's command line.)

Each student's folder in ``inbox/<chapter>/`` is named by the student's id and holds the
notebook they handed in, under any file name ("Copy of 01_autograd.ipynb" from Colab is fine).
A notebook that can be graded is copied to ``submitted/<student>/<chapter>/<chapter>.ipynb``,
where ``nbgrader autograde`` looks for it, rewritten by ``nbformat`` (a byte-order mark or
CRLF line ends are fine; the student's own file in ``inbox/`` is never changed). A folder
without a notebook, an empty file, a file that is not valid JSON or not a notebook, a link
(to ``solutions/`` or another student's file, say) or a file over the size limit is reported
with an ``ERROR`` line naming the student and the problem, and is not copied, so that
``nbgrader autograde`` grades everyone else
without tripping over it. A ``note`` line points at a notebook worth a look: one with none of
the chapter's cells, or one whose code assigns to the checkers or the import system.

Every student with a folder is added to the gradebook, so one who has nothing gradable yet
still gets a row (score 0) in ``nbgrader export``.

Problems with submissions do not change the exit status (0): the report says who needs
attention. The exit status is 2 when the command itself is wrong (not a course directory, no
such chapter, no inbox folder for a chapter named on the command line).
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*")
MAX_BYTES = 20_000_000  # a course notebook with outputs is well under 5 MB


class UsageError(Exception):
    """The command cannot run as given (exit status 2)."""


@dataclass(frozen=True)
class Result:
    """What happened to one student's folder."""

    student: str
    source: Path | None = None
    error: str | None = None
    warning: str | None = None


def chapters(course: Path) -> list[str]:
    """The chapters of the course: the folders of ``solutions/``."""
    return sorted(
        p.name
        for p in (course / "solutions").iterdir()
        if p.is_dir() and not p.name.startswith((".", "_"))
    )


def exercise_ids(course: Path, chapter: str) -> set[str]:
    """The grade ids of the chapter's answer and test cells (empty if it has no notebook)."""
    path = course / "solutions" / chapter / f"{chapter}.ipynb"
    if not path.exists():
        return set()
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    return {
        cell.metadata["nbgrader"]["grade_id"]
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id")
    }


def _pick_notebook(folder: Path, chapter: str) -> tuple[Path | None, str | None]:
    """The notebook in a student's folder, or why there is none to grade."""
    files = sorted(
        p
        for p in folder.iterdir()
        if (p.is_file() or p.is_symlink()) and not p.name.startswith(".")
    )
    notebooks = [p for p in files if p.suffix.lower() == ".ipynb"]
    if len(notebooks) == 1:
        return notebooks[0], None
    exact = [p for p in notebooks if p.name == f"{chapter}.ipynb"]
    if len(exact) == 1:
        return exact[0], None
    if notebooks:
        names = ", ".join(safe(p.name) for p in notebooks)
        return None, f"several notebooks ({names}): leave only the one to grade"
    if files:
        names = ", ".join(safe(p.name) for p in files)
        return None, f"no notebook (.ipynb) was handed in; the folder holds only: {names}"
    return None, "no notebook (.ipynb) was handed in; the folder is empty"


def safe(text: object) -> str:
    """A name as it can be printed on one report line: odd characters escaped."""
    value = str(text)
    return value if value.isprintable() else ascii(value)[1:-1]


def problem(path: Path, ids: set[str]) -> tuple[str | None, str | None]:
    """``(error, warning)`` for one notebook file: an error means it cannot be graded."""
    if path.is_symlink():
        return (
            "the notebook is a link to another file, not a file of its own: hand in the "
            "notebook itself",
            None,
        )
    size = path.stat().st_size
    if size > MAX_BYTES:
        return (
            f"the notebook is {size / 1e6:.0f} MB, over the {MAX_BYTES / 1e6:.0f} MB limit: "
            "ask for it again with outputs cleared (Edit > Clear Outputs of All Cells)",
            None,
        )
    data = path.read_bytes()
    if not data.strip():
        return f"the notebook file is empty ({len(data)} bytes): ask for it again", None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "the file is not a notebook (not even text): ask for the .ipynb file", None
    try:
        content = json.loads(text)
    except RecursionError:
        return "the file is JSON nested too deeply to be a notebook: ask for the .ipynb file", None
    except json.JSONDecodeError as error:
        return (
            f"the file is not valid JSON ({error.msg} at line {error.lineno}, column "
            f"{error.colno}): it is damaged or cut short, or not a notebook; ask for it again",
            None,
        )
    if not isinstance(content, dict) or not isinstance(content.get("cells"), list):
        return "the file is JSON but not a Jupyter notebook (it has no list of cells)", None
    shape = _shape_problem(content)
    if shape:
        return f"the file is not a well-formed Jupyter notebook: {shape}", None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises several types for malformed notebooks
        return (
            f"the file is not a readable Jupyter notebook ({type(error).__name__}: "
            f"{safe(str(error)[:200])})",
            None,
        )
    warnings = []
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        warnings.append(f"the notebook does not fully follow the format ({error.message})")
    found = {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in nb.cells}
    if ids and not ids & found:
        warnings.append(
            "it has none of this chapter's exercise cells: is it another chapter's notebook?"
        )
    warnings += patches(nb)
    return None, "; ".join(warnings) or None


def _shape_problem(content: dict) -> str | None:
    """What about a notebook's cells nbgrader cannot take (None when they are fine)."""
    for index, cell in enumerate(content["cells"]):
        if not isinstance(cell, dict):
            return f"cell {index} is not a cell (a {type(cell).__name__})"
        source = cell.get("source", "")
        if not isinstance(source, str) and not (
            isinstance(source, list) and all(isinstance(line, str) for line in source)
        ):
            return f"cell {index}'s source is a {type(source).__name__}, not text"
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            return f"cell {index}'s metadata is a {type(metadata).__name__}, not a mapping"
        if "nbgrader" in metadata and not isinstance(metadata["nbgrader"], dict):
            return f"cell {index}'s nbgrader metadata is a {type(metadata['nbgrader']).__name__}"
    return None


# Code that changes these at run time may be trying to change what the checkers report.
_WATCHED = {"course_utils", "checks", "check", "feedback", "importlib", "builtins", "sys"}


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def patches(nb: nbformat.NotebookNode) -> list[str]:
    """Where a student's cell assigns to an attribute of the checkers or the import system.

    Graded cells reload their checker and the feedback core, so patching a checker function
    does not change a grade; the note points the instructor at the cell all the same.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            continue
        code = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in cell.source.splitlines()
        )
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        watched = set(_WATCHED)
        for node in ast.walk(tree):  # names that alias a watched module
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else ""
                for alias in node.names:
                    full = f"{module}.{alias.name}" if module else alias.name
                    if alias.asname and full.split(".")[0] in _WATCHED:
                        watched.add(alias.asname)
                    elif module and module.split(".")[0] in _WATCHED:
                        watched.add(alias.name)
        for node in ast.walk(tree):
            targets: list[ast.AST] = []
            if isinstance(node, (ast.Assign, ast.Delete)):
                targets = list(node.targets)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("setattr", "delattr")
                and node.args
            ):
                targets = [ast.Attribute(value=node.args[0], attr="?")]
            for target in targets:
                if isinstance(target, (ast.Attribute, ast.Subscript)) and _root(target) in watched:
                    line = ast.get_source_segment(code, node) or ""
                    found.append(
                        f"cell {index} changes `{_root(target)}` at run time "
                        f"(`{line.splitlines()[0][:80]}`): review it"
                    )
                    break
            if found and found[-1].startswith(f"cell {index} "):
                break
    return found


def collect_chapter(course: Path, inbox: Path, chapter: str) -> list[Result]:
    """Check and copy every student's notebook of ``inbox/<chapter>/`` into ``submitted/``."""
    ids = exercise_ids(course, chapter)
    results = []
    for folder in sorted(p for p in (inbox / chapter).iterdir() if not p.name.startswith(".")):
        if folder.is_symlink():
            results.append(
                Result(folder.name, error="the student folder is a link: copy the files in")
            )
            continue
        if not folder.is_dir():
            results.append(
                Result(
                    folder.name,
                    error="not in a student folder: put it in "
                    f"{inbox.name}/{chapter}/<student id>/",
                )
            )
            continue
        student = folder.name
        if not STUDENT_ID.fullmatch(student):
            results.append(
                Result(
                    student,
                    error="not usable as a student id (letters, digits and "
                    "._@+- only, no spaces): rename the folder",
                )
            )
            continue
        notebook, error = _pick_notebook(folder, chapter)
        warning = None
        if notebook is not None:
            error, warning = problem(notebook, ids)
        if error is None:
            dest = course / "submitted" / student / chapter / f"{chapter}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            nb = nbformat.reads(notebook.read_bytes().decode("utf-8-sig"), as_version=4)
            nbformat.write(nb, dest)
        elif (course / "submitted" / student / chapter).exists():
            error += "; the copy collected earlier stays in submitted/ and is what gets graded"
        results.append(Result(student, notebook, error, warning))
    return results


def register(course: Path, students: set[str]) -> None:
    """Add the students to the gradebook, so each gets a row in ``nbgrader export``."""
    from nbgrader.api import Gradebook

    # nbgrader runs `alembic` to create a new gradebook: the one next to this Python.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in sorted(students):
            gradebook.update_or_create_student(student)


def _selected(course: Path, inbox: Path, patterns: list[str]) -> list[str]:
    known = chapters(course)
    if not patterns:
        patterns = ["*"]
    selected: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            selected += [
                c for c in known if fnmatch.fnmatchcase(c, pattern) and (inbox / c).is_dir()
            ]
        elif pattern not in known:
            raise UsageError(f"no chapter {pattern!r} in solutions/ (chapters: {', '.join(known)})")
        elif not (inbox / pattern).is_dir():
            raise UsageError(
                f"no folder {inbox / pattern}: put each student's notebook in "
                f"{inbox / pattern}/<student id>/"
            )
        else:
            selected.append(pattern)
    return sorted(set(selected))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter names or globs (default: '*')")
    parser.add_argument("--inbox", default="inbox", help="the inbox folder (default: inbox)")
    args = parser.parse_args(argv)
    course = Path.cwd()
    inbox = Path(args.inbox) if Path(args.inbox).is_absolute() else course / args.inbox
    try:
        if not (course / "solutions").is_dir():
            raise UsageError(
                f"{course} is not a course directory (no solutions/ folder): run this in the "
                "course directory"
            )
        selected = _selected(course, inbox, args.chapters)
    except UsageError as error:
        print(f"collect: {error}", file=sys.stderr)
        return 2
    if not selected:
        print(f"collect: nothing to collect: no chapter folder in {inbox} matches")
        return 0

    students: set[str] = set()
    for chapter in selected:
        results = collect_chapter(course, inbox, chapter)
        students |= {r.student for r in results if STUDENT_ID.fullmatch(r.student)}
        width = max((len(r.student) for r in results), default=0)
        print(f"{chapter}: {len(results)} student folders in {inbox / chapter}")
        for r in results:
            if r.error:
                where = f" ({r.source.relative_to(inbox)})" if r.source else ""
                print(f"  ERROR  {safe(r.student):<{width}}  {r.error}{safe(where)}")
            else:
                print(f"  ok     {safe(r.student):<{width}}  {safe(r.source.relative_to(inbox))}")
            if r.warning:
                print(f"  note   {safe(r.student):<{width}}  {r.warning}")
        bad = [r.student for r in results if r.error]
        print(
            f"{chapter}: {len(results) - len(bad)} collected into submitted/"
            + (
                f"; {len(bad)} not gradable, scored 0 until fixed: {', '.join(map(safe, bad))}"
                if bad
                else ""
            )
        )
    register(course, students)
    return 0


if __name__ == "__main__":
    sys.exit(main())
