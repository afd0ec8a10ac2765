"""The instructor's guide in README.md, run as written on fixture students, end to end.

The README's "For instructors" section marks each block of grading commands with
``<!-- instructor-commands -->``. This test runs those blocks, in order, in one bash shell
started in the repository root, exactly as an instructor pastes them, with ``HOME`` set to a
temporary folder so the guide's ``COURSE=~/...`` lands there. First as written (one chapter,
``CHAPTER=01_autograd``), then once more with the guide's other form, ``CHAPTER='*'`` (every
chapter), the only line the test changes.

Before the first run the fixture students of ``tests/instructor_fixtures.py`` (an endless
loop; an answer cell that raises; edited and deleted test cells; copied cells, another
kernel and megabytes of output; monkeypatched checkers; an empty, a corrupt and a missing
notebook) are put in the course directory's ``inbox/``, as the guide says. The checks: the
exported ``grades.csv`` holds the expected score of every student, each robustness case was
graded as the instructor wrote the tests, and the feedback names a known wrong answer.

Only chapter 1 has fixture students: its notebook runs five times, which with the dozen
nbgrader commands (each a few seconds to start) keeps this file near two minutes on two
cores; grading fixtures for every chapter would add minutes per chapter. The ``'*'`` run
releases every chapter of ``solutions/``, collects, grades, gives feedback and exports, so
the all-chapters commands are exercised too. Cells get a 20 s timeout here
(``COURSE_CELL_TIMEOUT``, documented in the guide) so the endless loop costs 20 s rather
than the configured 300 s.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from grading_attacks import SENTINEL, attack_submissions
from instructor_fixtures import ALWAYS_PASSES, Submission, submissions
from nbgrader_course import (
    REPO,
    Grades,
    cell_text,
    chapters,
    grade_id,
    load_wrong_answer,
    read_grades,
    read_nb,
    require_sandbox,
)

CHAPTER = "01_autograd"  # the chapter the fixture students hand in
MARK = "<!-- instructor-commands -->"
CELL_TIMEOUT = 20  # seconds; the configured 300 s would make the endless loop cost 5 minutes
README = REPO / "README.md"
# The fixture students whose notebooks are graded (tests/instructor_fixtures.py), then the
# cheats and the honest students of tests/grading_attacks.py.
BASIC = ["infinite_loop", "raises", "edits_tests", "messy_but_right", "monkeypatch"]
GRADED = BASIC + sorted(
    s.student
    for s in attack_submissions(
        read_nb(REPO / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"),
        read_nb(REPO / "notebooks" / CHAPTER / f"{CHAPTER}.ipynb"),
    )
)


def instructor_blocks(text: str | None = None) -> list[str]:
    """The fenced ``bash`` blocks that follow an ``<!-- instructor-commands -->`` mark."""
    text = README.read_text(encoding="utf-8") if text is None else text
    blocks = re.findall(re.escape(MARK) + r"\s*\n```bash\n(.*?)\n```", text, flags=re.S)
    assert len(blocks) == text.count(MARK), "each instructor-commands mark needs a ```bash block"
    return blocks


def _course_dir(blocks: list[str], home: Path) -> Path:
    """Where the guide's ``COURSE=~/...`` puts the course directory, with ``HOME=home``."""
    found = re.findall(r"^COURSE=(\S+)", "\n".join(blocks), flags=re.M)
    assert len(found) == 1, f"the guide should set COURSE once, not {found}"
    path = found[0].strip("\"'")
    assert path.startswith("~/"), f"COURSE should be under ~ in the guide, not {path}"
    return home / path[2:]


def _all_chapters(blocks: list[str]) -> list[str]:
    """The blocks with ``CHAPTER=01_autograd`` turned into the guide's ``CHAPTER='*'``."""
    line = re.compile(rf"^CHAPTER={CHAPTER}\b", flags=re.M)
    assert sum(len(line.findall(b)) for b in blocks) == 1, f"no single CHAPTER={CHAPTER} line"
    return [line.sub("CHAPTER='*'", b) for b in blocks]


@dataclass(frozen=True)
class Run:
    """What the documented commands left behind."""

    course: Path
    log: str
    students: dict[str, Submission]
    grades: dict[str, Grades]  # from the gradebook, per cell
    exported: dict[tuple[str, str], dict[str, str]]  # grades.csv by (chapter, student)
    points: dict[str, float]  # the chapter's graded cells and their points
    manual: set[str]  # the graded cells autograde leaves to the instructor (written answers)

    @property
    def top(self) -> float:
        """The chapter's maximum: every graded cell, the manually graded ones included."""
        return sum(self.points.values())

    @property
    def auto_top(self) -> float:
        """What autograde alone can award: the written answers wait for the instructor."""
        return self.top - sum(self.points[cell] for cell in self.manual)

    def autograded(self, student: str):
        return read_nb(self.course / "autograded" / student / CHAPTER / f"{CHAPTER}.ipynb")

    def feedback(self, student: str) -> Path:
        return self.course / "feedback" / student / CHAPTER / f"{CHAPTER}.html"

    def test_outputs(self, student: str) -> dict[str, str]:
        return {  # the test cells (code); written answers print nothing
            grade_id(c): cell_text(c)
            for c in self.autograded(student).cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
        }


def _bash(script: str, env: dict[str, str], log: Path) -> str:
    """Run ``script`` in bash from the repository root, stopping at the first failing command."""
    done = subprocess.run(
        ["bash", "-c", "PS4='+ [${SECONDS}s] '\nset -euxo pipefail\n" + script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    log.write_text(done.stdout, encoding="utf-8")
    if done.returncode != 0:
        pytest.fail(
            f"the instructor commands failed (exit {done.returncode}); full log in {log}:\n"
            + done.stdout[-6000:]
        )
    return done.stdout


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    require_sandbox()
    blocks = instructor_blocks()
    assert blocks, f"README.md has no {MARK} blocks"
    home = tmp_path_factory.mktemp("home")
    course = _course_dir(blocks, home)

    solution = read_nb(REPO / "solutions" / CHAPTER / f"{CHAPTER}.ipynb")
    release = read_nb(REPO / "notebooks" / CHAPTER / f"{CHAPTER}.ipynb")
    subs = submissions(CHAPTER, solution, release, load_wrong_answer(CHAPTER))
    subs += attack_submissions(solution, release)
    assert sorted(s.student for s in subs if s.gradable) == sorted(GRADED)
    checkers_before = _tree_digest(REPO / "course_utils")
    for sub in subs:  # the students' hand-ins, where the guide says to put them
        path = course / "inbox" / CHAPTER / sub.student / sub.filename
        path.parent.mkdir(parents=True)
        path.write_bytes(sub.content)

    env = dict(os.environ)
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(REPO / ".venv" / "bin"), env.get("PATH", "")]),
        COURSE_CELL_TIMEOUT=str(CELL_TIMEOUT),
    )
    env.pop("VIRTUAL_ENV", None)
    log = _bash("\n".join(blocks), env, home / "one_chapter.log")
    log += _bash("\n".join(_all_chapters(blocks)), env, home / "all_chapters.log")

    with open(course / "grades.csv", newline="", encoding="utf-8") as f:
        exported = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(f)}
    students = {s.student: s for s in subs}
    points = {
        grade_id(c): float(c.metadata["nbgrader"]["points"])
        for c in solution.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    manual = {  # written answers: autograde leaves them, unscored, for the instructor
        grade_id(c)
        for c in solution.cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution")
    }
    grades = read_grades(course, CHAPTER, sorted(students))
    assert _tree_digest(REPO / "course_utils") == checkers_before, "course_utils was changed"
    assert not list(home.rglob(SENTINEL)), "a submission wrote into the grader's home"
    assert not (home / ".ipython").exists(), "a submission wrote an IPython startup file"
    return Run(course, log, students, grades, exported, points, manual)


def _tree_digest(folder: Path) -> str:
    """One hash of every source file under ``folder`` (caches left out)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_the_guide_covers_every_step() -> None:
    script = "\n".join(instructor_blocks())
    for step in [
        "nbgrader generate_assignment",
        "tools/collect.py",
        "nbgrader autograde",
        "nbgrader generate_feedback",
        "nbgrader export",
    ]:
        assert step in script, f"the instructor's guide has no `{step}` command"
    assert "CHAPTER='*'" in README.read_text(encoding="utf-8"), "no all-chapters form"
    _all_chapters(instructor_blocks())


def test_exported_grades(run: Run) -> None:
    wrong = []
    for student, sub in run.students.items():
        row = run.exported.get((CHAPTER, student))
        if row is None:
            wrong.append(f"{student}: no row in grades.csv")
            continue
        lost = sum(run.points[cell] for cell in sub.lost)
        expected = run.auto_top - lost if sub.gradable else 0
        if float(row["score"]) != expected or float(row["max_score"]) != run.top:
            wrong.append(
                f"{student} ({sub.why}): {row['score']}/{row['max_score']}, expected "
                f"{expected:g}/{run.top:g}"
            )
    assert not wrong, "grades.csv:\n" + "\n".join(wrong)


def test_written_answers_are_left_for_the_formgrader(run: Run) -> None:
    """Autograde scores no written answer; each honest hand-in is flagged for manual grading."""
    from nbgrader.api import Gradebook

    assert run.manual, f"{CHAPTER} has no written answer: this test checks nothing"
    with Gradebook(f"sqlite:///{run.course / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook(CHAPTER, CHAPTER, "honest_stderr")
        grades = {grade.name: grade for grade in submission.grades}
        for name in run.manual:
            assert grades[name].auto_score is None and grades[name].manual_score is None
            assert grades[name].needs_manual_grade
            assert grades[name].max_score == run.points[name]
        assert submission.needs_manual_grade


@pytest.mark.parametrize("student", GRADED)
def test_each_test_cell_scores_as_expected(run: Run, student: str) -> None:
    sub = run.students[student]
    grades = run.grades[student]
    outputs = run.test_outputs(student)
    for cell, (score, top) in grades.cells.items():
        expected = 0 if cell in sub.lost or cell in run.manual else top
        assert score == expected, (
            f"{student} ({sub.why}): {cell} scored {score:g}/{top:g}, expected {expected:g}; "
            f"it printed:\n{outputs.get(cell, '(cell missing)')[-1500:]}"
        )


def test_an_endless_loop_times_out(run: Run) -> None:
    sub = run.students["infinite_loop"]
    outputs = run.test_outputs("infinite_loop")
    limit = "ran longer than the grader's limit"
    for cell in sub.lost:
        assert limit in outputs[cell], outputs[cell][-1500:]
    assert limit in html.unescape(run.feedback("infinite_loop").read_text(encoding="utf-8"))


def test_tampered_test_cells_are_graded_as_written(run: Run) -> None:
    source = {
        grade_id(c): c.source
        for c in read_nb(run.course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb").cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    graded = {
        grade_id(c): c.source
        for c in run.autograded("edits_tests").cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert sorted(graded) == sorted(source), "a test cell is missing or doubled"
    for cell, text in graded.items():  # nbgrader notes a restored cell on its first line
        assert text == source[cell] or text.endswith("\n\n" + source[cell]), (
            f"{cell} was graded as the student left it:\n{text}"
        )
    assert ALWAYS_PASSES not in "\n".join(run.test_outputs("edits_tests").values())


def test_duplicated_cells_count_once(run: Run) -> None:
    ids = [grade_id(c) for c in run.autograded("messy_but_right").cells if grade_id(c)]
    assert len(ids) == len(set(ids)), f"a grade_id is there twice: {ids}"
    assert run.grades["messy_but_right"].max_score == run.top


def test_the_kernelspec_is_reset(run: Run) -> None:
    source = read_nb(run.course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb")
    graded = run.autograded("messy_but_right")
    assert graded.metadata["kernelspec"] == source.metadata["kernelspec"]


def test_megabytes_of_output_are_cut(run: Run) -> None:
    notebook = run.course / "autograded" / "messy_but_right" / CHAPTER / f"{CHAPTER}.ipynb"
    assert notebook.stat().st_size < 1_000_000, f"{notebook.stat().st_size} bytes"
    assert run.feedback("messy_but_right").stat().st_size < 1_500_000


def test_monkeypatched_checkers_do_not_pass(run: Run) -> None:
    for cell, text in run.test_outputs("monkeypatch").items():
        assert "✗" in text and ALWAYS_PASSES not in text, (
            f"{cell} did not run the real checker:\n{text[-1500:]}"
        )
    notes = re.findall(r"^\s*note\s+(\S+)\s+(.*)$", run.log, flags=re.M)
    noted = {student for student, text in notes if "at run time" in text}
    assert "monkeypatch" in noted, f"tools/collect.py should note monkeypatch's cell: {notes}"
    honest = {s for s in noted if s.startswith("honest") or s == "messy_but_right"}
    assert not honest, f"honest students noted as patching: {honest}"


def test_broken_hand_ins_are_reported_and_the_rest_graded(run: Run) -> None:
    errors = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\s*ERROR\s+(\S+)\s+(.*)$", run.log, flags=re.M)
    }
    for student, sub in run.students.items():
        if sub.gradable:
            assert student not in errors, f"{student}: {errors[student]}"
            assert student in run.grades, f"{student} was not graded"
        else:
            assert sub.collect_error in errors.get(student, ""), (
                f"tools/collect.py did not report {student} ({sub.why}) with "
                f"{sub.collect_error!r}; it said {errors.get(student)!r}"
            )
            assert not run.feedback(student).exists()


def test_feedback_names_the_mistake(run: Run) -> None:
    for student, sub in run.students.items():
        if sub.gradable:
            assert run.feedback(student).is_file(), f"no feedback for {student}"
    wrong = load_wrong_answer(CHAPTER)
    if wrong is None:
        pytest.skip(f"no tests/fixtures/wrong_answers/{CHAPTER}.json")
    page = run.feedback("edits_tests").read_text(encoding="utf-8")
    assert html.escape(wrong.message, quote=False) in page, (
        f"{wrong.message!r} is not in the feedback of edits_tests"
    )
    assert "✗" in page


def test_feedback_hides_hidden_tests_and_student_scripts(run: Run) -> None:
    source = read_nb(run.course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb")
    hidden = [
        line.strip()
        for cell in source.cells
        if "BEGIN HIDDEN TESTS" in cell.source
        for line in cell.source.split("### BEGIN HIDDEN TESTS")[1].splitlines()
        if line.strip() and "END HIDDEN TESTS" not in line
    ]
    assert hidden, "chapter 1 has no hidden tests to look for"
    for student in ("honest_stderr", "edits_tests", "cheat_patch_in_cell"):
        page = html.unescape(run.feedback(student).read_text(encoding="utf-8"))
        shown = [line for line in hidden if line in page]
        assert not shown, f"{student}'s feedback shows hidden tests: {shown}"
    page = run.feedback("honest_stderr").read_text(encoding="utf-8")
    assert "<script>alert" not in page, "a student's <script> reached the feedback page"


def test_cheats_are_named_in_the_feedback(run: Run) -> None:
    expected = {
        "cheat_patch_load_default_arg": "changes what the checks rely on",
        "cheat_patch_torch_in_body": "`torch.allclose` was replaced",
        "cheat_torch_function_mode": "torch function or dispatch mode",
        "cheat_tensor_subclass": "a tensor of its own class",
        "cheat_search_objects": "gc.get_objects",
        "cheat_kill_the_grader": "sends a signal to the grading processes",
        "cheat_exit_when_defined": "ended (exit status 0)",
    }
    for student, phrase in expected.items():
        outputs = "\n".join(run.test_outputs(student).values())
        assert phrase in outputs, f"{student}: {phrase!r} not in\n{outputs[-1500:]}"


def test_every_chapter_is_released_and_exported(run: Run) -> None:
    for chapter in chapters():
        assert (run.course / "notebooks" / chapter / f"{chapter}.ipynb").is_file(), chapter
        for student in run.students:
            assert (chapter, student) in run.exported, f"grades.csv has no {chapter}/{student}"


def test_the_timeout_is_configurable(tmp_path: Path) -> None:
    from traitlets.config.loader import PyFileConfigLoader

    def timeout(value: str | None) -> object:
        saved = os.environ.pop("COURSE_CELL_TIMEOUT", None)
        try:
            if value is not None:
                os.environ["COURSE_CELL_TIMEOUT"] = value
            return (
                PyFileConfigLoader("nbgrader_config.py", path=str(REPO))
                .load_config()
                .GradeInSandbox.timeout
            )
        finally:
            os.environ.pop("COURSE_CELL_TIMEOUT", None)
            if saved is not None:
                os.environ["COURSE_CELL_TIMEOUT"] = saved

    assert timeout(None) == 300
    assert timeout("3600") == 3600
    assert timeout("0") == 0  # no limit


# --- tools/collect.py on its own: the cases the fixture students do not cover -------------


def _collect_tool():
    spec = importlib.util.spec_from_file_location("course_collect", REPO / "tools" / "collect.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


def _small_course(root: Path) -> Path:
    source = root / "solutions" / CHAPTER
    source.mkdir(parents=True)
    shutil.copy2(REPO / "solutions" / CHAPTER / f"{CHAPTER}.ipynb", source)
    return root


def test_collect_picks_one_notebook_per_student(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    course = _small_course(tmp_path)
    notebook = (REPO / "notebooks" / CHAPTER / f"{CHAPTER}.ipynb").read_bytes()
    hand_ins = {
        "exact": {f"{CHAPTER}.ipynb": notebook, "Untitled.ipynb": notebook},
        "two_copies": {"a.ipynb": notebook, "b.ipynb": notebook},
        "not_a_notebook": {f"{CHAPTER}.ipynb": b'{"answer": 42}'},
        "other_chapter": {"x.ipynb": nbformat.writes(nbformat.v4.new_notebook()).encode()},
        "Jane Doe": {f"{CHAPTER}.ipynb": notebook},
    }
    for student, files in hand_ins.items():
        for name, content in files.items():
            path = course / "inbox" / CHAPTER / student / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    monkeypatch.chdir(course)

    assert _collect_tool().main([CHAPTER]) == 0
    out = capsys.readouterr().out
    submitted = sorted(p.parent.parent.name for p in (course / "submitted").rglob("*.ipynb"))
    assert submitted == ["exact", "other_chapter"], out
    assert (course / "submitted" / "exact" / CHAPTER / f"{CHAPTER}.ipynb").read_bytes() == notebook
    assert re.search(r"ERROR\s+two_copies\s+several notebooks \(a.ipynb, b.ipynb\)", out), out
    assert re.search(r"ERROR\s+not_a_notebook\s+.*not a Jupyter notebook", out), out
    assert re.search(r"note\s+other_chapter\s+.*none of this chapter's exercise cells", out), out
    assert re.search(r"ERROR\s+Jane Doe\s+not usable as a student id", out), out


def test_collect_refuses_a_wrong_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    collect = _collect_tool()
    monkeypatch.chdir(tmp_path)
    assert collect.main([CHAPTER]) == 2
    assert "not a course directory" in capsys.readouterr().err
    _small_course(tmp_path)
    assert collect.main(["99_nothing"]) == 2
    assert "no chapter '99_nothing'" in capsys.readouterr().err
    assert collect.main([CHAPTER]) == 2
    assert "no folder" in capsys.readouterr().err
    assert collect.main(["*"]) == 0
    assert "nothing to collect" in capsys.readouterr().out
