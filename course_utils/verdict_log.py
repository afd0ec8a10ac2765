"""Where a grading run collects the checkers' verdicts (unused while a student works).

``course_utils.feedback`` reports every ✓ and ✗ here. In a notebook ``RECORDS`` is ``None``
and nothing is kept; the grader (``course_grading.runner``) sets it to a list before it runs
a test cell, and scores the cell from that list, never from what the cell printed. This
module is not reloaded by ``checks.load``, so the list survives a checker's fresh copy.
"""

from __future__ import annotations

RECORDS: list[tuple[bool, str]] | None = None


def record(passed: bool, text: str) -> None:
    """Keep one verdict line (``passed`` and the ✓/✗ text), when a grader is listening."""
    if RECORDS is not None:
        RECORDS.append((bool(passed), str(text)))
