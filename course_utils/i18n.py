"""Messages a student reads, in the notebook's language.

Write every student-facing message as ``_("template with {placeholders}").format(...)`` so
that the message catalogue can translate it (never an f-string inside ``_``).
"""

from __future__ import annotations


def _(message: str) -> str:
    """The message in the active language (for now: unchanged)."""
    return message
