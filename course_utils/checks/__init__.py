"""Checkers, one module per chapter: each function checks one exercise and names the mistake.

Graded cells get their checker with :func:`load`, which re-reads the checker code from disk
(and the feedback core it uses), so nothing a notebook redefined or monkeypatched earlier can
change a verdict::

    from course_utils import checks
    check = checks.load("autograd")
    check.derivative(df_dx)
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType

_CORE = ("course_utils.feedback",)


def load(chapter: str) -> ModuleType:
    """A freshly executed copy of ``course_utils.checks.<chapter>``."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", chapter):
        raise ValueError(f"not a checker module name: {chapter!r} (e.g. 'autograd')")
    for name in (*_CORE, f"course_utils.checks.{chapter}"):
        importlib.reload(importlib.import_module(name))
    return importlib.import_module(f"course_utils.checks.{chapter}")
