"""No solution and no hidden test of solutions/ is readable anywhere in notebooks/.

The secrets are the ``### BEGIN SOLUTION``/``### END SOLUTION`` regions of answer cells (a
whole answer cell when it has no markers) and the ``### BEGIN HIDDEN TESTS``/``### END HIDDEN
TESTS`` regions. Every file under notebooks/ is scanned, notebook cells of any type and other
files alike. A line counts when it is not blank, not a comment and has a letter or digit.

- A hidden-test line found (stripped) on any line of the release is a leak.
- A solution leaks when three of its consecutive lines (the whole solution, when it has only
  two) are found as consecutive lines of one release cell or file. One line, or a generic pair
  the lecture also shows (``optimizer.step()`` then ``optimizer.zero_grad()``), is no leak;
  a one-line solution is too short to tell from lecture text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader_course import RELEASE, REPO, SOLUTIONS

SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_SKIP_PARTS = {".ipynb_checkpoints", "__pycache__"}


@dataclass(frozen=True)
class Secret:
    kind: str  # "solution" or "hidden test"
    origin: str  # "solutions/<chapter>/<chapter>.ipynb cell 4 (ex1_derivative)"
    lines: tuple[str, ...]  # its meaningful lines, stripped


@dataclass(frozen=True)
class Leak:
    where: str  # "notebooks/<chapter>/<chapter>.ipynb cell 7 line 3"
    secret: Secret
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text!r} is from the {self.secret.kind} in {self.secret.origin}"


def meaningful(line: str) -> str | None:
    """The stripped line if it says something: not blank, not a comment, a letter or digit."""
    text = line.strip()
    if not text or text.startswith("#") or not any(ch.isalnum() for ch in text):
        return None
    return text


def _regions(lines: list[str], begin: str, end: str) -> Iterator[list[str]]:
    """The lines between ``begin`` and ``end`` marker lines (matched as nbgrader does)."""
    region: list[str] | None = None
    for line in lines:
        if begin in line:
            region = []
        elif end in line and region is not None:
            yield region
            region = None
        elif region is not None:
            region.append(line)


def secrets(path: Path, label: str) -> list[Secret]:
    """The solution and hidden-test regions of one nbgrader source notebook."""
    found: list[Secret] = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        lines = cell.source.splitlines()
        meta = cell.metadata.get("nbgrader", {})
        origin = f"{label} cell {index} ({meta.get('grade_id', 'no grade_id')})"
        blocks = [("hidden test", r) for r in _regions(lines, *HIDDEN_MARKERS)]
        if meta.get("solution"):
            regions = list(_regions(lines, *SOLUTION_MARKERS))
            blocks += [("solution", r) for r in (regions or [lines])]
        for kind, block in blocks:
            kept = tuple(t for t in map(meaningful, block) if t)
            if kept:
                found.append(Secret(kind, origin, kept))
    return found


def units(path: Path, label: str) -> Iterator[tuple[str, list[str]]]:
    """(where, lines) for each cell of a notebook, or once for any other text file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return  # binary: nothing a student could read as code
    if path.suffix == ".ipynb":
        for index, cell in enumerate(nbformat.reads(text, as_version=4).cells):
            yield f"{label} cell {index}", cell.source.splitlines()
    else:
        yield label, text.splitlines()


RUN = 3  # consecutive solution lines that make a leak (fewer when the solution is shorter)


def find_leaks(secret_list: list[Secret], release: Path, base: Path) -> list[Leak]:
    """Every hidden-test line, and every run of consecutive solution lines, under ``release``."""
    hidden = {line: s for s in secret_list if s.kind == "hidden test" for line in s.lines}
    runs: dict[tuple[str, ...], Secret] = {}
    for s in secret_list:
        size = min(RUN, len(s.lines))
        if s.kind == "solution" and size >= 2:
            for start in range(len(s.lines) - size + 1):
                runs[tuple(s.lines[start : start + size])] = s
    sizes = sorted({len(run) for run in runs})
    leaks: list[Leak] = []
    for path in _release_files(release):
        for where, lines in units(path, str(path.relative_to(base))):
            kept = [(n, t) for n, t in enumerate(map(meaningful, lines), start=1) if t]
            texts = [t for _, t in kept]
            for index, (number, text) in enumerate(kept):
                if text in hidden:
                    leaks.append(Leak(f"{where} line {number}", hidden[text], text))
                for size in sizes:
                    run = tuple(texts[index : index + size])
                    if len(run) == size and run in runs:
                        leaks.append(Leak(f"{where} line {number}", runs[run], " / ".join(run)))
                        break
    return leaks


def find_markers(release: Path, base: Path) -> list[str]:
    """Where nbgrader's solution or hidden-test markers are left in the release."""
    return [
        f"{where} line {number}: {line.strip()!r}"
        for path in _release_files(release)
        for where, lines in units(path, str(path.relative_to(base)))
        for number, line in enumerate(lines, start=1)
        if any(marker in line for marker in SOLUTION_MARKERS + HIDDEN_MARKERS)
    ]


def _release_files(release: Path) -> list[Path]:
    return sorted(
        p
        for p in release.rglob("*")
        if p.is_file() and not _SKIP_PARTS & set(p.relative_to(release).parts)
    )


def _solution_notebooks() -> list[Path]:
    return sorted(p for p in SOLUTIONS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _report(items: list) -> str:
    shown = "\n  ".join(map(str, items[:30]))
    more = f"\n  ... and {len(items) - 30} more" if len(items) > 30 else ""
    return f"\n  {shown}{more}"


# --- the course ---------------------------------------------------------------------------


def test_release_shows_no_solution_and_no_hidden_test() -> None:
    sources = _solution_notebooks()
    if not sources:
        pytest.skip("no solution notebook in solutions/ yet")
    found = [s for p in sources for s in secrets(p, str(p.relative_to(REPO)))]
    leaks = find_leaks(found, RELEASE, REPO)
    assert not leaks, f"{len(leaks)} leak(s) into notebooks/:{_report(leaks)}"


def test_release_has_no_nbgrader_markers() -> None:
    markers = find_markers(RELEASE, REPO)
    assert not markers, f"nbgrader markers left in notebooks/:{_report(markers)}"


# --- the detector itself, on small synthetic notebooks ------------------------------------

SOLUTION_CELL = """def step(w, grad, lr):
    ### BEGIN SOLUTION
    # move against the gradient
    w = w - lr * grad

    return w
    ### END SOLUTION"""
TEST_CELL = """check_step(step)
### BEGIN HIDDEN TESTS
assert step(0.0, -2.0, 0.1) == 0.2
### END HIDDEN TESTS"""
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"


def _nbgrader(grade_id: str, **flags: bool | int) -> dict:
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, **flags}}


def _write(path: Path, *cells: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=list(cells)), path)
    return path


@pytest.fixture
def source_secrets(tmp_path: Path) -> list[Secret]:
    path = _write(
        tmp_path / "solutions" / "ch" / "ch.ipynb",
        new_markdown_cell("Take one step: `w = w - lr * grad`."),
        new_code_cell(SOLUTION_CELL, metadata=_nbgrader("ex_step", solution=True)),
        new_code_cell("y = 2 * x\nreturn y", metadata=_nbgrader("ex_whole", solution=True)),
        new_code_cell(TEST_CELL, metadata=_nbgrader("test_ex_step", grade=True, points=1)),
    )
    return secrets(path, "solutions/ch/ch.ipynb")


def test_detector_reads_the_secrets(source_secrets: list[Secret]) -> None:
    assert [(s.kind, s.lines) for s in source_secrets] == [
        ("solution", ("w = w - lr * grad", "return w")),
        ("solution", ("y = 2 * x", "return y")),
        ("hidden test", ("assert step(0.0, -2.0, 0.1) == 0.2",)),
    ]


def test_detector_passes_a_clean_release(source_secrets: list[Secret], tmp_path: Path) -> None:
    release = tmp_path / "notebooks"
    _write(
        release / "ch" / "ch.ipynb",
        new_markdown_cell("Take one step: `w = w - lr * grad`."),
        new_code_cell("# one line the lecture shows\nw = w - lr * grad\nprint(w)"),
        new_code_cell("def step(w, grad, lr):\n" + STUB),
        new_code_cell("check_step(step)\n"),
    )
    assert find_leaks(source_secrets, release, tmp_path) == []
    assert find_markers(release, tmp_path) == []


def test_detector_finds_every_leak(source_secrets: list[Secret], tmp_path: Path) -> None:
    release = tmp_path / "notebooks"
    _write(
        release / "ch" / "ch.ipynb",
        new_code_cell("import torch"),
        new_markdown_cell("Hint:\n\n    w = w - lr * grad\n    # then\n    return w"),
        new_code_cell(TEST_CELL),
    )
    (release / "ch" / "train.py").write_text("x = 1\n    y = 2 * x\n    return y\n")
    leaks = find_leaks(source_secrets, release, tmp_path)
    assert sorted((leak.where, leak.secret.kind) for leak in leaks) == [
        ("notebooks/ch/ch.ipynb cell 1 line 3", "solution"),
        ("notebooks/ch/ch.ipynb cell 2 line 3", "hidden test"),
        ("notebooks/ch/train.py line 2", "solution"),
    ]
    assert "from the solution in solutions/ch/ch.ipynb cell 1 (ex_step)" in str(leaks[0])
    assert find_markers(release, tmp_path) == [
        "notebooks/ch/ch.ipynb cell 2 line 2: '### BEGIN HIDDEN TESTS'",
        "notebooks/ch/ch.ipynb cell 2 line 4: '### END HIDDEN TESTS'",
    ]


def test_detector_allows_a_generic_pair_from_a_longer_solution(tmp_path: Path) -> None:
    loop = "for batch in loader:\n    loss = model(batch)\n    loss.backward()\n    opt.step()"
    source = _write(
        tmp_path / "solutions" / "ch" / "ch.ipynb",
        new_code_cell(f"### BEGIN SOLUTION\n{loop}\n### END SOLUTION",
                      metadata=_nbgrader("ex_loop", solution=True)),
    )
    found = secrets(source, "solutions/ch/ch.ipynb")
    release = tmp_path / "notebooks"
    _write(release / "ch" / "ch.ipynb", new_code_cell("loss.backward()\nopt.step()"))
    assert find_leaks(found, release, tmp_path) == []
    _write(release / "ch" / "ch.ipynb",
           new_code_cell("loss = model(batch)\nloss.backward()\nopt.step()"))
    assert [leak.where for leak in find_leaks(found, release, tmp_path)] == [
        "notebooks/ch/ch.ipynb cell 0 line 1"
    ]
