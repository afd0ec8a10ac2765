"""Helpers for the course "Write your own training loop".

What the notebooks share: the active profile and what it loads (``get_profile``,
``load_mrpc``, ``mrpc_metric``), the checkers (``course_utils.checks``), plots and the
environment check (``python -m course_utils.env``). Imports are lazy so that
``import course_utils`` is instant and does not pull in torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Profile": "course_utils.profiles",
    "get_profile": "course_utils.profiles",
    "CourseSetupError": "course_utils.profiles",
    "load_mrpc": "course_utils.data",
    "load_mrpc_tsv": "course_utils.data",
    "mrpc_metric": "course_utils.metrics",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")


__all__ = sorted(_LAZY) + ["__version__"]
