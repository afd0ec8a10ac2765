"""How `bash course.sh test` shares the suite between pytest-xdist workers (conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import work_unit  # noqa: E402  (the repository root's conftest.py)


def test_a_notebooks_cells_are_one_unit() -> None:
    cells = [f"solutions/02_training_loop/02_training_loop.ipynb::Cell {i}" for i in range(3)]
    assert {work_unit(cell) for cell in cells} == {
        "solutions/02_training_loop/02_training_loop.ipynb"}


def test_a_test_file_is_one_unit_even_when_parametrized() -> None:
    assert work_unit("tests/test_data.py::test_rows[train]") == "tests/test_data.py"
    assert work_unit("tests/test_data.py::test_other") == "tests/test_data.py"


def test_the_round_trip_is_one_unit_per_chapter() -> None:
    first = work_unit("tests/test_roundtrip.py::test_solution_gets_full_marks[01_autograd]")
    same = work_unit("tests/test_roundtrip.py::test_blank_release_gets_zero[01_autograd]")
    other = work_unit("tests/test_roundtrip.py::test_solution_gets_full_marks[04_accelerate]")
    split = work_unit("tests/test_roundtrip.py::test_solution_gets_full_marks[04b_launching]")
    assert first == same == "tests/test_roundtrip.py[01_autograd]"
    assert other == "tests/test_roundtrip.py[04_accelerate]"
    assert split == "tests/test_roundtrip.py[04b_launching]"
