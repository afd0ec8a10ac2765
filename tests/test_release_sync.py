"""notebooks/ is exactly what ``nbgrader generate_assignment`` makes of solutions/.

Both this test and ``tools/release.py`` produce the release with ``release_tool.generate``
(nbgrader, then outputs and run metadata stripped), so they agree byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nbgrader_course import RELEASE, chapters, make_course, release_tool

_SKIP_PARTS = {".ipynb_checkpoints", "__pycache__"}


def _fix(chapter: str) -> str:
    return (
        f"regenerate it with `bash course.sh release {chapter}` (or `python tools/release.py "
        f"{chapter}`: nbgrader generate_assignment {chapter} --force, outputs stripped) and "
        "commit it"
    )


def _files(root: Path) -> set[Path]:
    return {
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and not _SKIP_PARTS & set(p.relative_to(root).parts)
    }


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _first_difference(committed: bytes, generated: bytes) -> str:
    """Where two notebooks differ, in words: the first differing cell and what differs."""
    old, new = json.loads(committed), json.loads(generated)
    if len(old["cells"]) != len(new["cells"]):
        return f"{len(old['cells'])} cells committed, {len(new['cells'])} generated"
    aspects = {
        "type": lambda c: c["cell_type"],
        "source": _source,
        "nbgrader metadata": lambda c: c.get("metadata", {}).get("nbgrader"),
        "metadata": lambda c: c.get("metadata"),
        "outputs": lambda c: (c.get("outputs"), c.get("execution_count")),
        "cell id": lambda c: c.get("id"),
    }
    for index, (a, b) in enumerate(zip(old["cells"], new["cells"], strict=True)):
        for what, get in aspects.items():
            if get(a) != get(b):
                return (
                    f"cell {index}: {what} differs (committed {get(a)!r:.200}, "
                    f"generated {get(b)!r:.200})"
                )
    if old.get("metadata") != new.get("metadata"):
        return "the notebook metadata differs"
    return "same content, different formatting"


@pytest.mark.parametrize("chapter", chapters())
def test_release_is_generated_from_solutions(chapter: str, tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    generated = release_tool.generate(chapter, course)
    committed = RELEASE / chapter
    assert committed.is_dir(), f"notebooks/{chapter}/ is missing: {_fix(chapter)}"

    new, old = _files(generated), _files(committed)
    assert new == old, (
        f"notebooks/{chapter}/ does not hold the files of the release: "
        f"not in the release {sorted(map(str, old - new))}, "
        f"missing {sorted(map(str, new - old))}: {_fix(chapter)}"
    )
    for rel in sorted(new):
        before, after = (committed / rel).read_bytes(), (generated / rel).read_bytes()
        if before != after:
            what = _first_difference(before, after) if rel.suffix == ".ipynb" else "it differs"
            pytest.fail(f"notebooks/{chapter}/{rel} is stale, {what}: {_fix(chapter)}")


@pytest.mark.parametrize("chapter", chapters())
def test_release_has_no_outputs(chapter: str) -> None:
    paths = sorted((RELEASE / chapter).rglob("*.ipynb"))
    assert paths, f"notebooks/{chapter}/ has no notebook: {_fix(chapter)}"
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for index, cell in enumerate(nb["cells"]):
            assert not cell.get("outputs") and cell.get("execution_count") is None, (
                f"{path.relative_to(RELEASE.parent)} cell {index} has outputs: {_fix(chapter)}"
            )
