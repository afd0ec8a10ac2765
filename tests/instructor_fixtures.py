"""Fixture students for the instructor workflow test, built from a chapter's own notebooks.

Each :class:`Submission` is what one student hands in (a file name and its bytes) and what
grading must make of it. The submissions are derived from the chapter's current solution
and release notebooks, so they stay valid when the chapter changes:

- ``infinite_loop``: the first exercise's answer never returns;
- ``raises``: a leftover debugging line above the second answer's function raises (the
  grader runs only what a test needs, so the function is still graded);
- ``edits_tests``: a known wrong answer whose test cell the student replaced by a print, a
  deleted test cell (its answer is right), and a whole exercise deleted;
- ``messy_but_right``: right answers, but another kernelspec, the file name Colab gives a
  download, an answer cell and a test cell copied (same ``grade_id``), megabytes printed, a
  test cell from another notebook and a cell with old nbgrader metadata;
- ``monkeypatch``: the blank release plus a cell that patches the checkers to always pass;
- ``empty_file``, ``corrupt_file``, ``no_notebook``: nothing gradable.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass

import nbformat
from nbformat import NotebookNode
from nbgrader_course import WrongAnswer, grade_id

ALWAYS_PASSES = "✓ every check passed"  # what the monkeypatched checkers print


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter: its answer cell, its test cells and their points."""

    answer_id: str
    tests: tuple[str, ...]
    points: float


@dataclass(frozen=True)
class Submission:
    """One fixture student: the file handed in, and the grade it must get.

    ``lost`` are the test cells that must score 0 (every other test cell scores full
    points); ``collect_error`` is set for a hand-in that cannot be graded: a phrase of the
    ERROR line ``tools/collect.py`` prints for it.
    """

    student: str
    filename: str
    content: bytes
    why: str
    lost: frozenset[str] = frozenset()
    collect_error: str | None = None

    @property
    def gradable(self) -> bool:
        return self.collect_error is None


def _meta(cell: NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercises(solution: NotebookNode) -> list[Exercise]:
    """The chapter's exercises in notebook order: answer cell ``exN_x``, tests ``test_exN_x*``."""
    answers = [
        grade_id(c)
        for c in solution.cells
        if _meta(c).get("solution") and not _meta(c).get("grade")
    ]
    graded = [c for c in solution.cells if _meta(c).get("grade")]
    found = []
    for answer in answers:
        tests = [c for c in graded if grade_id(c).startswith(f"test_{answer}")]
        found.append(
            Exercise(
                answer, tuple(grade_id(c) for c in tests), sum(_meta(c)["points"] for c in tests)
            )
        )
    return [e for e in found if e.tests]


def max_score(solution: NotebookNode) -> float:
    return float(sum(_meta(c).get("points", 0) for c in solution.cells if _meta(c).get("grade")))


def _cell(nb: NotebookNode, gid: str) -> NotebookNode:
    cells = [c for c in nb.cells if grade_id(c) == gid]
    assert len(cells) == 1, f"expected one cell {gid!r}, found {len(cells)}"
    return cells[0]


def _index(nb: NotebookNode, gid: str) -> int:
    return nb.cells.index(_cell(nb, gid))


def with_solution_body(source: str, body: str) -> str:
    """``source`` with its ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block replaced."""
    lines = source.splitlines()
    begin = next(i for i, line in enumerate(lines) if "### BEGIN SOLUTION" in line)
    end = next(i for i, line in enumerate(lines) if "### END SOLUTION" in line)
    indent = re.match(r"\s*", lines[begin]).group()
    new = [indent + line if line else line for line in body.splitlines()]
    return "\n".join(lines[:begin] + new + lines[end + 1 :])


def _is_answer(cell: NotebookNode) -> bool:
    return bool(_meta(cell).get("solution") and not _meta(cell).get("grade"))


def _is_written(cell: NotebookNode) -> bool:
    return bool(cell.cell_type == "markdown" and _meta(cell).get("solution")
                and _meta(cell).get("grade"))


def _strip_markers(source: str) -> str:
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(line for line in source.splitlines() if line.strip() not in markers)


def answered(
    solution: NotebookNode,
    release: NotebookNode,
    changes: dict[str, Callable[[str], str]] | None = None,
) -> NotebookNode:
    """The release with the solution's answers typed in, as a student hands it in.

    ``changes`` maps an answer cell's grade id to an edit of its solution source (with the
    solution markers, which are removed afterwards). Written answers (markdown cells graded by
    hand) get the solution's model answer. Test cells stay as released, without the hidden
    tests.
    """
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if _is_answer(cell):
            source = _cell(solution, grade_id(cell)).source
            change = (changes or {}).get(grade_id(cell))
            cell.source = _strip_markers(change(source) if change else source)
        elif _is_written(cell):  # a written answer, for the instructor to grade by hand
            cell.source = _cell(solution, grade_id(cell)).source
    return nb


def _checker_calls(solution: NotebookNode) -> tuple[list[str], list[str]]:
    """The checker modules graded cells load and the checker functions they call."""
    text = "\n".join(c.source for c in solution.cells if _meta(c).get("grade"))
    modules = sorted(set(re.findall(r"checks\.load\(\s*[\"'](\w+)[\"']\s*\)", text)))
    functions = sorted(set(re.findall(r"\bcheck\.(\w+)\(", text)))
    return modules, functions


def tamper_source(solution: NotebookNode) -> str:
    """A student cell that patches every checker the chapter uses so that it always passes."""
    modules, functions = _checker_calls(solution)
    assert modules and functions, "no graded cell calls checks.load(...) / check.<fn>(...)"
    imports = "\n".join(f"import course_utils.checks.{m}" for m in modules)
    patches = "\n".join(
        f"    setattr(course_utils.checks.{m}, name, always_passes)" for m in modules
    )
    return f'''# Make every check pass, whatever the answers are.
{imports}
import course_utils.feedback


def always_passes(*args, **kwargs):
    print("{ALWAYS_PASSES}")


for name in {functions!r}:
{patches}


class Lenient(course_utils.feedback.Check):
    def fail(self, message):
        self.case()

    def require(self, condition, message):
        self.case()

    def __exit__(self, *exc):
        print("{ALWAYS_PASSES}")
        return True  # swallow every failure


course_utils.feedback.Check.fail = Lenient.fail
course_utils.feedback.Check.require = Lenient.require
course_utils.feedback.Check.__exit__ = Lenient.__exit__
course_utils.feedback.Check = Lenient
'''


def _bytes(nb: NotebookNode) -> bytes:
    return nbformat.writes(nb).encode("utf-8")


def submissions(
    chapter: str, solution: NotebookNode, release: NotebookNode, wrong: WrongAnswer | None
) -> list[Submission]:
    """The fixture students of ``chapter`` (it needs at least three exercises)."""
    exs = exercises(solution)
    assert len(exs) >= 3, f"{chapter}: the fixtures need three exercises, found {len(exs)}"
    by_id = {e.answer_id: e for e in exs}
    name = f"{chapter}.ipynb"
    subs: list[Submission] = []

    # An answer that never returns: its test cell times out, nothing else is lost.
    loop = exs[0]
    endless = (  # and a bare except, which swallows an interrupt
        "while True:  # the stopping condition comes later\n"
        "    try:\n        pass\n    except:\n        pass"
    )
    subs.append(
        Submission(
            "infinite_loop",
            name,
            _bytes(
                answered(
                    solution, release, {loop.answer_id: lambda s: with_solution_body(s, endless)}
                )
            ),
            f"{loop.answer_id} loops forever",
            frozenset(loop.tests),
        )
    )

    # A leftover line in an answer cell that raises; the function itself is right.
    raising = exs[1]
    debug = "print(result)  # left over from debugging: NameError\n"
    subs.append(
        Submission(
            "raises",
            name,
            _bytes(answered(solution, release, {raising.answer_id: lambda s: debug + s})),
            f"a leftover line above the {raising.answer_id} function raises NameError "
            "(only what the test needs is run: the function is graded)",
        )
    )

    # Test cells tampered with: a wrong answer whose test cell is edited to pass, the deleted
    # test cell of a right answer, a whole exercise deleted.
    edited = by_id[wrong.answer_id] if wrong else exs[-1]
    deleted = next(e for e in reversed(exs) if e is not edited)
    dropped = next(e for e in exs if e not in (edited, deleted))
    mistake = wrong.source if wrong else "raise NotImplementedError()"
    nb = answered(solution, release, {edited.answer_id: lambda s: mistake})
    for test in edited.tests:
        _cell(nb, test).source = f'print("{ALWAYS_PASSES}")  # my own test'
    gone = set(deleted.tests) | set(dropped.tests) | {dropped.answer_id}
    nb.cells = [c for c in nb.cells if grade_id(c) not in gone]
    subs.append(
        Submission(
            "edits_tests",
            name,
            _bytes(nb),
            f"{edited.answer_id} wrong and its tests edited, {deleted.answer_id}'s tests "
            f"deleted, {dropped.answer_id} deleted",
            frozenset(edited.tests) | frozenset(dropped.tests),
        )
    )

    # Right answers in a messy notebook: run in another kernel and downloaded from Colab
    # (kernelspec and file name), a copied answer cell (an abandoned first attempt above the
    # answer, same grade_id) and a copied test cell, megabytes of debug output (many lines
    # from inside a function the test cells call, one long line at the top level), a test
    # cell pasted from another notebook (a grade_id the gradebook does not know) and a cell
    # with nbgrader metadata of an old schema.
    copied, noisy = exs[0], exs[1]
    test_copied = exs[-1].tests[0]

    def noise(source: str) -> str:
        lines = source.splitlines()
        begin = next(i for i, line in enumerate(lines) if "### BEGIN SOLUTION" in line)
        indent = re.match(r"\s*", lines[begin]).group()
        lines.insert(begin + 1, indent + 'print("\\n".join(f"step {i}" for i in range(100_000)))')
        return "\n".join(lines) + '\n\nprint("debug " * 1_000_000)\n'

    nb = answered(solution, release, {noisy.answer_id: noise})
    nb.metadata["kernelspec"] = {
        "name": "python2",
        "display_name": "Python 2",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python", "version": "2.7.18"}
    attempt = copy.deepcopy(_cell(nb, copied.answer_id))
    attempt.source = _strip_markers(
        with_solution_body(_cell(solution, copied.answer_id).source, "raise NotImplementedError()")
    )
    attempt["id"] = "copied-answer"  # Jupyter gives a copied cell a new id
    nb.cells.insert(_index(nb, copied.answer_id), attempt)
    test = copy.deepcopy(_cell(nb, test_copied))
    test["id"] = "copied-test"
    nb.cells.insert(_index(nb, test_copied) + 1, test)
    pasted = nbformat.v4.new_code_cell('print("a test cell pasted from another notebook")')
    pasted.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "test_from_elsewhere",
        "locked": True,
        "points": 5,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    stale = nbformat.v4.new_code_cell("scratch = 1")
    stale.metadata["nbgrader"] = {"grade": False, "locked": False, "solution": False}
    nb.cells += [pasted, stale]
    subs.append(
        Submission(
            "messy_but_right",
            f"Copy of {name}",
            _bytes(nb),
            f"kernelspec python2, file 'Copy of {name}', {copied.answer_id} and "
            f"{test_copied} copied, megabytes printed by {noisy.answer_id}, a foreign test "
            "cell and old nbgrader metadata",
        )
    )

    # The blank release, plus a cell that makes every checker pass.
    nb = copy.deepcopy(release)
    nb.cells.insert(
        _index(nb, exs[0].answer_id) + 1, nbformat.v4.new_code_cell(tamper_source(solution))
    )
    subs.append(
        Submission(
            "monkeypatch",
            name,
            _bytes(nb),
            "no answers, checkers patched to always pass",
            frozenset(t for e in exs for t in e.tests),
        )
    )

    # Nothing gradable.
    whole = _bytes(answered(solution, release))
    subs += [
        Submission("empty_file", name, b"", "a 0-byte file", collect_error="empty"),
        Submission(
            "corrupt_file",
            name,
            whole[: len(whole) // 2],
            "half a notebook",
            collect_error="not valid JSON",
        ),
        Submission(
            "no_notebook",
            "notes.txt",
            b"I will send my notebook tomorrow.\n",
            "a text file, no notebook",
            collect_error="no notebook",
        ),
    ]
    return subs
