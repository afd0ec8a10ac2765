"""The message catalogue: extract ``_()`` messages, update the ``.po`` files, compile ``.mo``.

    python tools/messages.py            # extract, update en + hi, compile (after editing code)
    python tools/messages.py compile    # only compile the .po files (after translating)
    python tools/messages.py --check    # exit 1 if a .po or .mo is out of date

Messages are found with Babel's extractor: every ``_("...")`` call in ``course_utils/``.
The English catalogue translates each message to itself; a new Hindi message starts empty
(gettext then shows the English) and is listed by ``--check`` until it is translated in
``course_utils/locale/hi/LC_MESSAGES/course.po``. Messages no longer in the code are dropped.
"""

from __future__ import annotations

import copy
import io
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "course_utils"
LOCALE = PACKAGE / "locale"
DOMAIN = "course"
LANGUAGES = ("en", "hi")
# Fixed dates, so that extracting twice from the same code writes the same files.
_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def extract() -> Catalog:
    """Every ``_()`` message of ``course_utils/`` (with where it is used)."""
    template = Catalog(project="course-utils", fuzzy=False, creation_date=_DATE)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords={"_": None}
    ):
        template.add(message, None, [(f"course_utils/{filename}", lineno)],
                     auto_comments=comments, context=context)
    return template


def read(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, project="course-utils", fuzzy=False,
                       creation_date=_DATE, revision_date=_DATE)
    with path.open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def updated(language: str, template: Catalog) -> Catalog:
    """``language``'s catalogue with exactly the template's messages, old translations kept."""
    catalog = read(language)
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    catalog.fuzzy = False
    catalog.creation_date = catalog.revision_date = _DATE
    if language == "en":
        for message in catalog:
            if message.id:
                message.string = message.id
    return catalog


def po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False, sort_output=False)
    return out.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def untranslated(catalog: Catalog) -> list[str]:
    """The messages of ``catalog`` with no translation yet."""
    return [str(m.id) for m in catalog if m.id and not m.string]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    only_compile = "compile" in argv
    template = None if only_compile else extract()
    stale: list[str] = []
    for language in LANGUAGES:
        catalog = read(language) if template is None else updated(language, copy.deepcopy(template))
        wanted = {po_path(language): po_bytes(catalog), mo_path(language): mo_bytes(catalog)}
        for path, data in wanted.items():
            if path.exists() and path.read_bytes() == data:
                continue
            stale.append(str(path.relative_to(ROOT)))
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        missing = untranslated(catalog)
        if missing:
            stale.append(f"{len(missing)} untranslated in {language}: " + "; ".join(missing))
    if stale:
        print(("out of date: " if check else "updated: ") + "\n  ".join(["", *stale]))
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
