"""Messages a student reads, in the notebook's language (English or Hindi).

Write every student-facing message as ``_("template with {placeholders}").format(...)`` so
that the message catalogue can translate it (never an f-string inside ``_``). The catalogues
are gettext files in ``course_utils/locale/<language>/LC_MESSAGES/course.po`` (compiled to
``.mo`` beside them by ``python tools/messages.py``, which also extracts new messages).

The language is English unless a notebook's Setup cell calls :func:`set_language` (the Hindi
notebooks do), the ``COURSE_LANGUAGE`` environment variable names another one, or the grader
sets it from the notebook's metadata (``course_grading.runner``).
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "course"
LANGUAGES = ("en", "hi")
DEFAULT = "en"

_state = {"language": os.environ.get("COURSE_LANGUAGE", DEFAULT)}
if _state["language"] not in LANGUAGES:
    _state["language"] = DEFAULT


@functools.cache
def translation(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English falls back to the message itself)."""
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    except OSError:
        if language == DEFAULT:
            return gettext.NullTranslations()
        raise


def set_language(language: str) -> None:
    """Show the course's messages in ``language`` from now on: ``"en"`` or ``"hi"``."""
    if language not in LANGUAGES:
        raise ValueError(
            f"the course has no messages in {language!r}; choose one of {', '.join(LANGUAGES)}"
        )
    translation(language)  # a missing catalogue fails here, not at the first message
    _state["language"] = language


def language() -> str:
    """The language messages are shown in now."""
    return _state["language"]


def _(message: str) -> str:
    """``message`` (an English template) in the active language."""
    return translation(_state["language"]).gettext(message)
