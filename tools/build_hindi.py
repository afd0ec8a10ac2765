"""Build the Hindi edition of every chapter from the English solutions and the translations.

    python tools/build_hindi.py                  # build every translated chapter
    python tools/build_hindi.py 01_autograd      # build some chapters
    python tools/build_hindi.py --check          # exit 1 if a Hindi notebook is stale
    python tools/build_hindi.py todo [FILE]      # list (or write to FILE) what needs translating
    python tools/build_hindi.py apply FILE       # take the translations filled in FILE
    python tools/build_hindi.py table            # the README's Hindi chapter table (Markdown)

The translations are data: ``i18n/hi/<chapter>.json`` holds one entry per English cell that
is translated (every Markdown cell but the generated badges, and the Setup cell), keyed by
the cell's id and the hash of the English source it translates. The build writes
``solutions/<chapter>_hi/<chapter>_hi.ipynb`` (with the chapter's other files, ``train.py``
say): the English notebook with those cells in Hindi, its own badges, the Setup cell choosing
Hindi messages, and ``metadata.course.language = "hi"`` (the grader reads it). Code cells,
exercises, checks, points and grade ids are the English ones, unchanged.

The build fails, naming each cell, when an entry is missing or stale (its hash is not the
hash of the English cell now). To bring a chapter up to date after English edits: ``todo
todo.json``, fill in each entry's ``"hi"`` (the English source and, for a stale entry, the
English and Hindi it had before are beside it), ``apply todo.json``, build, then release
(``python tools/release.py <chapter>_hi``).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils import links  # noqa: E402

LANGUAGE = "hi"
SUFFIX = f"_{LANGUAGE}"
BADGES_ID = "badges"
SETUP_ID = "setup"
ENV_IMPORT = "from course_utils.env import check_environment"
LANGUAGE_LINES = f'from course_utils.i18n import set_language\n\nset_language("{LANGUAGE}")'


class BuildError(Exception):
    """A Hindi notebook cannot be built; the message names every cell at fault."""


@dataclass(frozen=True)
class Problem:
    """One English cell whose translation is missing or stale."""

    chapter: str
    cell: str
    kind: str  # "missing", "stale" or "setup"
    english: str
    old_english: str = ""
    old_hindi: str = ""

    def __str__(self) -> str:
        what = {
            "missing": "has no Hindi translation",
            "stale": "changed since it was translated (the hash differs)",
            "setup": "has a Hindi Setup cell whose code is not the English code",
        }[self.kind]
        return f"{self.chapter}: cell {self.cell} {what}"


def digest(text: str) -> str:
    """The hash an entry is keyed by: the first 12 hex digits of the source's SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def hindi_name(chapter: str) -> str:
    return f"{chapter}{SUFFIX}"


def is_translation(chapter: str) -> bool:
    return chapter.endswith(SUFFIX)


def english_chapters(root: Path = ROOT) -> list[str]:
    """The English chapters of ``solutions/`` (the folders with a notebook of their name)."""
    folder = root / "solutions"
    return sorted(
        p.name for p in folder.iterdir()
        if (p / f"{p.name}.ipynb").is_file() and not is_translation(p.name)
    ) if folder.is_dir() else []


def translated_chapters(root: Path = ROOT) -> list[str]:
    """The English chapters that have a translation file."""
    return [c for c in english_chapters(root) if data_path(c, root).exists()]


def data_path(chapter: str, root: Path = ROOT) -> Path:
    return root / "i18n" / LANGUAGE / f"{chapter}.json"


def notebook_path(chapter: str, root: Path = ROOT) -> Path:
    return root / "solutions" / chapter / f"{chapter}.ipynb"


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _text(lines: list[str] | str) -> str:
    return lines if isinstance(lines, str) else "\n".join(lines)


def translatable(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The cells that get a translation: Markdown (but the badges) and the Setup cell."""
    return [
        cell for cell in nb.cells
        if (cell.cell_type == "markdown" and cell.get("id") != BADGES_ID)
        or (cell.cell_type == "code" and cell.get("id") == SETUP_ID)
    ]


def load_entries(chapter: str, root: Path = ROOT) -> dict[str, dict]:
    """The chapter's translation entries by cell id (none when it has no file)."""
    path = data_path(chapter, root)
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {entry["id"]: entry for entry in data["cells"]}


def save_entries(chapter: str, entries: list[dict], root: Path = ROOT) -> None:
    path = data_path(chapter, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"chapter": chapter, "language": LANGUAGE, "cells": entries}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _code_tokens(source: str) -> list[tuple[int, str]]:
    """A code cell's tokens without comments and layout (``%pip`` lines kept as text)."""
    lines = [("#%" + line) if line.lstrip().startswith("%") else line
             for line in source.splitlines()]
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
            tokenize.DEDENT, tokenize.ENDMARKER}
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
        if token.type == tokenize.COMMENT and token.string.startswith("#%"):
            tokens.append((tokenize.OP, token.string))
        elif token.type not in skip:
            tokens.append((token.type, token.string))
    return tokens


def with_language(setup: str) -> str:
    """The English Setup cell with the lines that choose this language's messages."""
    if ENV_IMPORT not in setup:
        raise BuildError(f"the Setup cell has no line `{ENV_IMPORT}`")
    return setup.replace(ENV_IMPORT, f"{ENV_IMPORT}\n{LANGUAGE_LINES}", 1)


def problems(chapter: str, root: Path = ROOT) -> list[Problem]:
    """Every translatable cell of the English chapter whose entry is missing or stale."""
    nb = nbformat.read(notebook_path(chapter, root), as_version=4)
    entries = load_entries(chapter, root)
    found = []
    for cell in translatable(nb):
        entry = entries.get(cell.id)
        if entry is None or not _text(entry.get("hi", "")).strip():
            found.append(Problem(chapter, cell.id, "missing", cell.source))
        elif entry["sha"] != digest(cell.source):
            found.append(Problem(chapter, cell.id, "stale", cell.source,
                                 _text(entry.get("en", "")), _text(entry["hi"])))
        elif cell.id == SETUP_ID and (
            _code_tokens(_text(entry["hi"])) != _code_tokens(with_language(cell.source))
        ):
            found.append(Problem(chapter, cell.id, "setup", cell.source, "", _text(entry["hi"])))
    return found


def build(chapter: str, root: Path = ROOT) -> nbformat.NotebookNode:
    """The Hindi solution notebook of ``chapter``; :class:`BuildError` names every bad cell."""
    found = problems(chapter, root)
    if found:
        raise BuildError(
            f"the Hindi edition of {chapter} cannot be built: {len(found)} cell(s) to "
            "translate (python tools/build_hindi.py todo todo.json):\n"
            + "\n".join(f"  - {problem}" for problem in found)
        )
    nb = nbformat.read(notebook_path(chapter, root), as_version=4)
    hindi = copy.deepcopy(nb)
    entries = load_entries(chapter, root)
    name = hindi_name(chapter)
    ids = {cell.id for cell in translatable(hindi)}
    for cell in hindi.cells:
        if cell.get("id") == BADGES_ID:
            cell.source = links.badges(f"notebooks/{name}/{name}.ipynb")
        elif cell.get("id") in ids:
            cell.source = _text(entries[cell.id]["hi"])
    hindi.metadata["course"] = {"language": LANGUAGE, "source": chapter}
    return hindi


def write(chapter: str, root: Path = ROOT) -> Path:
    """Build ``solutions/<chapter>_hi/``: the notebook and a copy of the chapter's files."""
    nb = build(chapter, root)
    source, target = root / "solutions" / chapter, root / "solutions" / hindi_name(chapter)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(
        f"{chapter}.ipynb", ".ipynb_checkpoints", "__pycache__", "*.pyc"))
    path = target / f"{hindi_name(chapter)}.ipynb"
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


def stale_outputs(chapter: str, root: Path = ROOT) -> list[str]:
    """What differs between the committed Hindi folder and a fresh build (empty: up to date)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        copy_root = Path(tmp)
        shutil.copytree(root / "solutions" / chapter, copy_root / "solutions" / chapter)
        shutil.copytree(root / "i18n", copy_root / "i18n")
        built = write(chapter, copy_root).parent
        committed = root / "solutions" / hindi_name(chapter)
        names = {p.relative_to(built) for p in built.rglob("*") if p.is_file()}
        if committed.is_dir():
            names |= {p.relative_to(committed) for p in committed.rglob("*")
                      if p.is_file() and ".ipynb_checkpoints" not in p.parts
                      and "__pycache__" not in p.parts}
        return sorted(
            f"solutions/{hindi_name(chapter)}/{rel}" for rel in names
            if not (built / rel).is_file() or not (committed / rel).is_file()
            or (built / rel).read_bytes() != (committed / rel).read_bytes()
        )


def todo(root: Path = ROOT) -> list[dict]:
    """Every missing or stale entry of every English chapter, with its English source."""
    memory = {  # the same English translated in another chapter (the Setup cell, say)
        entry["sha"]: entry["hi"]
        for chapter in translated_chapters(root)
        for entry in load_entries(chapter, root).values()
    }
    items = []
    for chapter in english_chapters(root):
        for problem in problems(chapter, root):
            items.append({
                "chapter": chapter, "id": problem.cell, "kind": problem.kind,
                "sha": digest(problem.english), "en": _lines(problem.english),
                "old_en": _lines(problem.old_english) if problem.old_english else [],
                "old_hi": _lines(problem.old_hindi) if problem.old_hindi else [],
                "hi": memory.get(digest(problem.english), []),
            })
    return items


def apply(items: list[dict], root: Path = ROOT) -> list[str]:
    """Store the filled-in ``"hi"`` of to-do items; rewrite touched files in notebook order.

    An item is taken only if its English is still the notebook's (its ``sha``). Entries of
    cells the English chapter no longer has are dropped. Returns what was taken.
    """
    taken = []
    for chapter in sorted({item["chapter"] for item in items}):
        nb = nbformat.read(notebook_path(chapter, root), as_version=4)
        entries = load_entries(chapter, root)
        current = {cell.id: cell.source for cell in translatable(nb)}
        for item in items:
            if item["chapter"] != chapter or not _text(item.get("hi", "")).strip():
                continue
            english = current.get(item["id"])
            if english is None or digest(english) != item["sha"]:
                raise BuildError(f"{chapter}: cell {item['id']} changed again since the to-do "
                                 "list was made: make a new one")
            entries[item["id"]] = {"id": item["id"], "sha": item["sha"],
                                   "en": _lines(english), "hi": _lines(_text(item["hi"]))}
            taken.append(f"{chapter}: {item['id']}")
        if entries:
            save_entries(chapter, [entries[i] for i in current if i in entries], root)
    return taken


def table(root: Path = ROOT) -> str:
    """A Markdown table of the Hindi chapters with their badges (as the README's English one)."""
    rows = ["| अध्याय | खोलें |", "| --- | --- |"]
    for chapter in translated_chapters(root):
        name = hindi_name(chapter)
        nb = nbformat.read(notebook_path(name, root), as_version=4)
        title = next((line[2:].strip() for cell in nb.cells if cell.cell_type == "markdown"
                      for line in cell.source.splitlines() if line.startswith("# ")), name)
        path = f"notebooks/{name}/{name}.ipynb"
        rows.append(f"| [{title}]({path}) | {links.badges(path)} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if argv[:1] == ["table"]:
        print(table())
        return 0
    if argv[:1] == ["todo"]:
        items = todo()
        if len(argv) > 1:
            Path(argv[1]).write_text(json.dumps(items, ensure_ascii=False, indent=1) + "\n",
                                     encoding="utf-8")
        for item in items:
            filled = " (same English translated elsewhere: filled in)" if item["hi"] else ""
            print(f"{item['kind']:8} {item['chapter']}: {item['id']}{filled}")
        print(f"{len(items)} cell(s) to translate")
        return 0
    if argv[:1] == ["apply"]:
        if len(argv) != 2:
            print("usage: python tools/build_hindi.py apply FILE", file=sys.stderr)
            return 2
        items = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        taken = apply(items)
        print(f"took {len(taken)} translation(s); now run python tools/build_hindi.py")
        return 0
    check = "--check" in argv
    names = [a for a in argv if not a.startswith("-")] or translated_chapters()
    unknown = sorted(set(names) - set(english_chapters()))
    if unknown:
        print(f"no such English chapter in solutions/: {', '.join(unknown)}", file=sys.stderr)
        return 2
    failed = False
    for chapter in names:
        try:
            if check:
                stale = stale_outputs(chapter)
                if stale:
                    failed = True
                    print(f"out of date: {', '.join(stale)}")
            else:
                print(f"built {write(chapter).relative_to(ROOT)}")
        except BuildError as error:
            failed = True
            print(error, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
