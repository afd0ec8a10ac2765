"""The Hindi edition: built from the English solutions and ``i18n/hi/``, and never stale.

- every committed ``solutions/<chapter>_hi/`` is exactly what ``tools/build_hindi.py`` makes;
- every translated English cell has an entry whose hash is that of the English it translates,
  and a changed or missing one is named, cell by cell (checked on a temporary copy too);
- the Hindi notebook's code, exercises, checks, points and grade ids are the English ones;
- its prose is Hindi, keeps every number of the English, and follows the glossary.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import REPO

_SPEC = importlib.util.spec_from_file_location("build_hindi", REPO / "tools" / "build_hindi.py")
build_hindi = importlib.util.module_from_spec(_SPEC)
sys.modules["build_hindi"] = build_hindi  # its dataclasses look their module up
_SPEC.loader.exec_module(build_hindi)

ENGLISH = build_hindi.english_chapters(REPO)
TRANSLATED = build_hindi.translated_chapters(REPO)
# Chapters whose Hindi edition is still to come: `python tools/build_hindi.py todo todo.json`
# lists their cells; translate, `apply todo.json`, build, release, then take them off here.
PENDING: set[str] = set()
GLOSSARY = REPO / "i18n" / "glossary_hi.md"
_CODE = re.compile(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)|https?://\S+", re.S)
_FIX = "python tools/build_hindi.py todo todo.json, translate, apply todo.json, build, release"


def _notebook(chapter: str) -> nbformat.NotebookNode:
    return nbformat.read(build_hindi.notebook_path(chapter, REPO), as_version=4)


def _hindi(chapter: str) -> nbformat.NotebookNode:
    return _notebook(build_hindi.hindi_name(chapter))


def _prose(text: str) -> str:
    """Markdown without code, formulas and link targets."""
    return _CODE.sub(" ", text)


def test_every_chapter_has_a_hindi_edition() -> None:
    missing = sorted(set(ENGLISH) - set(TRANSLATED) - PENDING)
    assert not missing, f"no Hindi edition of {missing}: {_FIX}"
    assert TRANSLATED, "no chapter is translated"


@pytest.mark.parametrize("chapter", TRANSLATED)
def test_no_translation_is_missing_or_stale(chapter: str) -> None:
    problems = build_hindi.problems(chapter, REPO)
    assert not problems, "\n".join(map(str, problems)) + f"\n({_FIX})"


@pytest.mark.parametrize("chapter", TRANSLATED)
def test_committed_hindi_solution_is_the_build(chapter: str) -> None:
    stale = build_hindi.stale_outputs(chapter, REPO)
    assert not stale, f"stale: {stale}: run python tools/build_hindi.py {chapter}, then release"


def _copy(tmp_path: Path, chapter: str) -> Path:
    shutil.copytree(REPO / "solutions" / chapter, tmp_path / "solutions" / chapter)
    shutil.copytree(REPO / "i18n", tmp_path / "i18n")
    return tmp_path


def _edit_english(root: Path, chapter: str, cell_id: str, new_source: str) -> None:
    path = build_hindi.notebook_path(chapter, root)
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if c.get("id") == cell_id]
    cell.source = new_source
    nbformat.write(nb, path)


def test_a_changed_english_cell_names_its_stale_hindi_cell(tmp_path: Path) -> None:
    chapter = "01_autograd"
    root = _copy(tmp_path, chapter)
    nb = _notebook(chapter)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and c.id.startswith("cell-0")
                and c.id != "cell-000")
    _edit_english(root, chapter, cell.id, cell.source + "\n\nOne more sentence.")
    problems = build_hindi.problems(chapter, root)
    assert [(p.cell, p.kind) for p in problems] == [(cell.id, "stale")]
    assert problems[0].old_english == cell.source  # the to-do shows what changed
    with pytest.raises(build_hindi.BuildError, match=f"cell {cell.id} changed since"):
        build_hindi.build(chapter, root)
    (item,) = build_hindi.todo(root)
    assert item["id"] == cell.id and item["en"][-1] == "One more sentence."


def test_a_missing_entry_is_named_and_the_todo_round_trip_fixes_it(tmp_path: Path) -> None:
    chapter = "01_autograd"
    root = _copy(tmp_path, chapter)
    path = build_hindi.data_path(chapter, root)
    data = json.loads(path.read_text(encoding="utf-8"))
    dropped = data["cells"].pop(3)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(build_hindi.BuildError, match=f"cell {dropped['id']} has no Hindi"):
        build_hindi.build(chapter, root)
    (item,) = build_hindi.todo(root)
    assert item["kind"] == "missing" and item["hi"] == []
    item["hi"] = dropped["hi"]
    assert build_hindi.apply([item], root) == [f"{chapter}: {dropped['id']}"]
    assert build_hindi.problems(chapter, root) == []
    assert build_hindi.stale_outputs(chapter, root) != []  # nothing was built in the copy


def test_a_setup_cell_that_changes_the_code_is_refused(tmp_path: Path) -> None:
    chapter = "01_autograd"
    root = _copy(tmp_path, chapter)
    path = build_hindi.data_path(chapter, root)
    data = json.loads(path.read_text(encoding="utf-8"))
    setup = next(e for e in data["cells"] if e["id"] == "setup")
    setup["hi"] = [line.replace('set_language("hi")', 'set_language("en")') for line in setup["hi"]]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert [p.kind for p in build_hindi.problems(chapter, root)] == ["setup"]


@pytest.mark.parametrize("chapter", TRANSLATED)
def test_code_exercises_points_and_grade_ids_are_the_english_ones(chapter: str) -> None:
    english, hindi = _notebook(chapter), _hindi(chapter)
    assert hindi.metadata["course"] == {"language": "hi", "source": chapter}
    kinds = [(c.id, c.cell_type) for c in english.cells]
    assert [(c.id, c.cell_type) for c in hindi.cells] == kinds
    for en, hi in zip(english.cells, hindi.cells, strict=True):
        assert hi.metadata == en.metadata, f"{chapter}: cell {en.id} metadata differs"
        if en.cell_type == "code" and en.id != build_hindi.SETUP_ID:
            assert hi.source == en.source, f"{chapter}: code cell {en.id} differs"
        elif en.cell_type == "markdown" and en.id != build_hindi.BADGES_ID:
            assert hi.source != en.source, f"{chapter}: cell {en.id} is not translated"
    setup = next(c for c in hindi.cells if c.id == build_hindi.SETUP_ID)
    assert 'set_language("hi")' in setup.source


@pytest.mark.parametrize("chapter", TRANSLATED)
def test_the_prose_is_hindi(chapter: str) -> None:
    """Each cell is mostly Devanagari; no English sentence is left (names and code aside)."""
    for cell in _hindi(chapter).cells:
        if cell.cell_type != "markdown" or cell.id == build_hindi.BADGES_ID:
            continue
        prose = _prose(cell.source)
        devanagari = len(re.findall(r"[\u0900-\u097F]", prose))
        latin = len(re.findall(r"[A-Za-z]", prose))
        assert devanagari > latin, f"{chapter}: cell {cell.id} is mostly Latin script"
        english_run = re.search(r"(?:\b[A-Za-z]{2,}\b[ ,]+){6,}", prose)
        assert not english_run, f"{chapter}: cell {cell.id}: English left: {english_run[0]!r}"


def _numbers(text: str) -> Counter:
    return Counter(re.findall(r"\d+(?:[.,]\d+)*", text))


@pytest.mark.parametrize("chapter", TRANSLATED)
def test_the_prose_keeps_every_number(chapter: str) -> None:
    english = {c.id: c.source for c in _notebook(chapter).cells}
    for cell in _hindi(chapter).cells:
        if cell.cell_type == "markdown" and cell.id != build_hindi.BADGES_ID:
            assert _numbers(cell.source) == _numbers(english[cell.id]), (
                f"{chapter}: cell {cell.id}: numbers differ from the English: "
                f"{_numbers(cell.source) ^ _numbers(english[cell.id])}"
            )


def glossary() -> list[tuple[str, str, list[str]]]:
    """(English term, Hindi term, forms to avoid) for every row of the glossary."""
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("English", "---"):
            continue
        english, hindi, _, avoid = cells
        avoided = [a.strip() for a in avoid.split(",") if a.strip()]
        for en, hi in zip(english.split(" / "), hindi.split(" / "), strict=True):
            rows.append((re.sub(r"\s*\(.*\)", "", en), hi, avoided))
    return rows


def test_the_glossary_agrees_with_the_seed_where_it_uses_a_term() -> None:
    terms = {en: hi for en, hi, _ in glossary()}
    assert terms["training"] == "प्रशिक्षण" and terms["evaluation loop"] == "मूल्यांकन लूप"
    assert terms["optimizer"] == "ऑप्टिमाइज़र" and terms["epoch"] == "युग"


@pytest.mark.parametrize("chapter", TRANSLATED)
def test_the_prose_follows_the_glossary(chapter: str) -> None:
    english = {  # library names (🤗 Datasets) are names, not the term
        c.id: re.sub(r"🤗 \w+", " ", " ".join(_prose(c.source).split()))
        for c in _notebook(chapter).cells
    }
    wrong = []
    for cell in _hindi(chapter).cells:
        if cell.cell_type != "markdown" or cell.id == build_hindi.BADGES_ID:
            continue
        hindi = " ".join(_prose(cell.source).split())
        words = set(re.split(r"[\s,.;:!?()\[\]“”\"'`—|*#-]+", hindi))
        for en, hi, avoided in glossary():
            # the term as a word (a capital first letter allowed, not CamelCase API names);
            # the Hindi inflects (प्रशिक्षण, प्रशिक्षित): a long term's last letter may change
            pattern = rf"\b[{en[0]}{en[0].upper()}]{re.escape(en[1:])}s?\b"
            stem = hi[:-1] if len(hi) >= 5 else hi
            if re.search(pattern, english[cell.id]) and stem not in hindi:
                wrong.append(f"cell {cell.id}: {en!r} should be {hi!r}")
            for form in avoided:
                if form in words or (" " in form and form in hindi):
                    wrong.append(f"cell {cell.id}: {form!r} is not the glossary's {hi!r}")
    assert not wrong, f"{chapter}:\n" + "\n".join(wrong)


def test_readme_lists_every_hindi_chapter() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert build_hindi.readme_with_table(readme, REPO) == readme, (
        "README's Hindi chapter table is out of date: run python tools/build_hindi.py readme")
