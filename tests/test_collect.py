"""``tools/collect.py`` on hand-ins that used to crash it or slip through: one line each."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import REPO

from course_grading import collect

CHAPTER = "01_autograd"


def _course(root: Path) -> Path:
    (root / "solutions" / CHAPTER).mkdir(parents=True)
    shutil.copy2(REPO / "solutions" / CHAPTER / f"{CHAPTER}.ipynb", root / "solutions" / CHAPTER)
    return root


def _hand_in(course: Path, student: str, name: str, content: bytes | None = None) -> Path:
    path = course / "inbox" / CHAPTER / student / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is not None:
        path.write_bytes(content)
    return path


def _notebook() -> dict:
    return json.loads((REPO / "notebooks" / CHAPTER / f"{CHAPTER}.ipynb").read_text("utf-8"))


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return _course(tmp_path)


def _run(capsys: pytest.CaptureFixture[str]) -> str:
    assert collect.main([CHAPTER]) == 0
    return capsys.readouterr().out


def test_malformed_notebooks_get_one_error_line_each(course: Path, capsys) -> None:
    string_meta = _notebook()
    string_meta["cells"][3]["metadata"]["nbgrader"] = "grade me"
    number_source = _notebook()
    number_source["cells"][2]["source"] = 42
    deep = b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    _hand_in(course, "string_meta", "a.ipynb", json.dumps(string_meta).encode())
    _hand_in(course, "number_source", "a.ipynb", json.dumps(number_source).encode())
    _hand_in(course, "deep", "a.ipynb", deep)
    _hand_in(course, "fine", "a.ipynb", json.dumps(_notebook()).encode())
    out = _run(capsys)
    assert re.search(r"ERROR\s+string_meta\s+.*nbgrader metadata is a str", out), out
    assert re.search(r"ERROR\s+number_source\s+.*source is a int, not text", out), out
    assert re.search(r"ERROR\s+deep\s+.*nested too deeply", out), out
    assert re.search(r"ok\s+fine\s", out), out  # and the student after them is collected
    assert (course / "submitted" / "fine" / CHAPTER / f"{CHAPTER}.ipynb").is_file()


def test_links_and_huge_files_are_refused(course: Path, capsys) -> None:
    solution = course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"
    _hand_in(course, "honest", "a.ipynb", json.dumps(_notebook()).encode())
    _hand_in(course, "link_solution", "a.ipynb").symlink_to(solution)
    other = course / "inbox" / CHAPTER / "honest" / "a.ipynb"
    _hand_in(course, "link_other", "a.ipynb").symlink_to(other)
    big = _notebook()
    big["cells"][0]["source"] = "x" * (collect.MAX_BYTES + 1)
    _hand_in(course, "huge", "a.ipynb", json.dumps(big).encode())
    out = _run(capsys)
    assert re.search(r"ERROR\s+link_solution\s+.*is a link", out), out
    assert re.search(r"ERROR\s+link_other\s+.*is a link", out), out
    assert re.search(r"ERROR\s+huge\s+.*over the 20 MB limit", out), out
    submitted = sorted(p.parts[-3] for p in (course / "submitted").rglob("*.ipynb"))
    assert submitted == ["honest"]


def test_names_cannot_forge_report_lines(course: Path, capsys) -> None:
    _hand_in(course, "mallory", "a.ipynb\n  ok     alice  forged.ipynb", b"")
    out = _run(capsys)
    lines = [line for line in out.splitlines() if re.match(r"\s+(ok|ERROR|note)\s", line)]
    assert len(lines) == 1 and "ERROR  mallory" in lines[0], out
    assert "\\n" in lines[0], out


def test_a_byte_order_mark_and_crlf_are_collected_and_graded_as_text(course: Path, capsys):
    text = nbformat.writes(nbformat.from_dict(_notebook())).replace("\n", "\r\n")
    original = b"\xef\xbb\xbf" + text.encode()
    path = _hand_in(course, "windows", "a.ipynb", original)
    out = _run(capsys)
    assert re.search(r"ok\s+windows\s", out), out
    collected = course / "submitted" / "windows" / CHAPTER / f"{CHAPTER}.ipynb"
    assert not collected.read_bytes().startswith(b"\xef\xbb\xbf")
    nbformat.validate(nbformat.read(collected, as_version=4))
    assert path.read_bytes() == original, "the student's own file must never change"
