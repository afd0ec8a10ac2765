"""The nbgrader round trip, per chapter, with the real CLI in a throw-away course directory.

``generate_assignment``, then three submissions graded by one ``autograde`` run:

- ``sol``: the solution notebook, which must get every point autograde can give; the written
  answers (markdown cells nbgrader grades by hand) are left unscored for the instructor, who
  grades them in the formgrader;
- ``blank``: the release notebook as a student gets it, which must get 0 without a crash;
- ``wrong``: the solution with one answer replaced by a known mistake
  (``tests/fixtures/wrong_answers/<chapter>.json``), which must lose exactly that exercise's
  points and show the checker's message in the failing test cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import (
    Grades,
    WrongAnswer,
    cell_text,
    chapters,
    grade_id,
    load_wrong_answer,
    make_course,
    nbgrader,
    notebook,
    read_grades,
    read_nb,
    with_answer,
)


@dataclass(frozen=True)
class Round:
    """What one chapter's autograde run left behind."""

    chapter: str
    course: Path
    students: list[str]
    grades: dict[str, Grades]
    wrong: WrongAnswer | None
    manual: dict[str, float]  # written answers (graded by hand) and their points

    @property
    def auto_max(self) -> float:
        """The points autograde can award: the maximum less the written answers'."""
        return self.grades["sol"].max_score - sum(self.manual.values())

    def autograded(self, student: str) -> nbformat.NotebookNode:
        return read_nb(notebook(self.course / "autograded" / student, self.chapter))

    def failures(self, student: str) -> str:
        """The graded cells that lost points, with what they printed."""
        lost = [
            f"{name} ({score:g}/{top:g})"
            for name, (score, top) in self.grades[student].cells.items()
            if score < top and name not in self.manual
        ]
        outputs = [
            f"--- {grade_id(cell)}:\n{cell_text(cell)[-600:]}"
            for cell in self.autograded(student).cells
            if grade_id(cell) and cell_text(cell).strip()
        ]
        return f"cells below full marks: {lost}\n" + "\n".join(outputs)


@pytest.fixture(scope="module", params=chapters())
def graded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Round:
    chapter: str = request.param
    course = make_course(tmp_path_factory.mktemp(f"course_{chapter}"))
    nbgrader(course, "generate_assignment", chapter, "--force")

    solution = read_nb(notebook(course / "solutions", chapter))
    submissions = {
        "sol": solution,
        "blank": read_nb(notebook(course / "notebooks", chapter)),
    }
    wrong = load_wrong_answer(chapter)
    if wrong:
        submissions["wrong"] = with_answer(solution, wrong.answer_id, wrong.source)
    for student, nb in submissions.items():
        path = notebook(course / "submitted" / student, chapter)
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)

    nbgrader(course, "autograde", chapter)
    students = sorted(submissions)
    manual = {
        grade_id(cell): float(cell.metadata["nbgrader"]["points"])
        for cell in solution.cells
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("grade")
    }
    return Round(chapter, course, students, read_grades(course, chapter, students), wrong, manual)


def test_every_submission_is_graded(graded: Round) -> None:
    for student in graded.students:
        assert student in graded.grades, f"{graded.chapter}: no grade for {student}"
        assert notebook(graded.course / "autograded" / student, graded.chapter).exists()
    assert graded.grades["sol"].max_score > 0, f"{graded.chapter} has no graded test cell"


def test_solution_gets_full_marks(graded: Round) -> None:
    sol = graded.grades["sol"]
    assert sol.score == graded.auto_max, (
        f"{graded.chapter}: the solution scores {sol.score:g}/{sol.max_score:g} "
        f"({sum(graded.manual.values()):g} of them graded by hand); " + graded.failures("sol")
    )


def test_written_answers_wait_for_the_instructor(graded: Round) -> None:
    """Autograde scores no written answer and flags each one for the formgrader; one left as
    released ("YOUR ANSWER HERE") nbgrader itself scores 0, with nothing left to grade."""
    if not graded.manual:
        pytest.skip(f"{graded.chapter} has no written answers")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded.course / 'gradebook.db'}") as gb:
        def grades(student: str) -> tuple[dict, bool]:
            submission = gb.find_submission_notebook(graded.chapter, graded.chapter, student)
            return {g.name: g for g in submission.grades}, submission.needs_manual_grade

        answered, flagged = grades("sol")
        blank, blank_flagged = grades("blank")
        for name, points in graded.manual.items():
            assert answered[name].max_score == points, f"{name} is worth {points:g}"
            assert answered[name].auto_score is None, (
                f"{name} was scored automatically ({answered[name].auto_score})")
            assert answered[name].needs_manual_grade, f"{name} is not left for the instructor"
            assert answered[name].score == 0
            assert blank[name].auto_score == 0 and not blank[name].needs_manual_grade
        assert flagged and not blank_flagged


def _exercise_cells(graded: Round) -> dict[str, tuple[float, float]]:
    if graded.wrong is None:
        pytest.skip(
            f"{graded.chapter}: no wrong-answer fixture; add "
            f"tests/fixtures/wrong_answers/{graded.chapter}.json"
        )
    prefix = f"test_{graded.wrong.answer_id}"
    cells = {k: v for k, v in graded.grades["wrong"].cells.items() if k.startswith(prefix)}
    assert cells, f"{graded.chapter}: no graded cell named {prefix}*"
    return cells


def test_wrong_answer_loses_exactly_its_points(graded: Round) -> None:
    own = _exercise_cells(graded)
    wrong = graded.grades["wrong"]
    points = sum(top for _, top in own.values())
    assert wrong.score == graded.auto_max - points, (
        f"{graded.chapter}: {graded.wrong.answer_id} is worth {points:g} points, so the wrong "
        f"answer should score {graded.auto_max - points:g}, not {wrong.score:g}; "
        + graded.failures("wrong")
    )
    for name, (score, top) in wrong.cells.items():
        expected = 0 if name in own or name in graded.manual else top
        assert score == expected, f"{graded.chapter}: {name} scored {score:g}, not {expected:g}"


def test_wrong_answer_is_named(graded: Round) -> None:
    own = _exercise_cells(graded)
    texts = [cell_text(c) for c in graded.autograded("wrong").cells if grade_id(c) in own]
    assert any(graded.wrong.message in text for text in texts), (
        f"{graded.chapter}: {graded.wrong.message!r} is not in the output of "
        f"{sorted(own)}:\n" + "\n---\n".join(texts)
    )
