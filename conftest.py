"""Suite-wide pytest setup: how `bash course.sh test` shares the tests between workers.

`course.sh test` runs pytest-xdist with ``--dist loadfile``: one worker runs a whole file, so
a notebook's cells run in order in one kernel (nbval) and a module's expensive fixtures are
built once. The nbgrader round trip is the exception: it is the slowest file, and its tests
share one nbgrader run *per chapter*, so each chapter is a unit of its own.

(xdist's ``loadgroup`` would say this with markers, but pytest-xdist 3.8 cannot rename test
ids under pytest 9, so its groups are silently ignored.)
"""

from __future__ import annotations

import pytest

SPLIT_BY_PARAMETER = ("tests/test_roundtrip.py",)  # one unit per chapter, not per file


def work_unit(nodeid: str) -> str:
    """The unit a test is scheduled with: its file, or its file and parameter (see above)."""
    path, _, name = nodeid.partition("::")
    if path in SPLIT_BY_PARAMETER and name.endswith("]") and "[" in name:
        return f"{path}[{name.rsplit('[', 1)[1]}"
    return path


try:
    from xdist.scheduler import LoadFileScheduling
except ImportError:  # pytest-xdist is not installed: nothing to schedule
    pass
else:

    class CourseScheduling(LoadFileScheduling):
        """``--dist loadfile``, with the round trip split by chapter."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadFileScheduling | None:
        if config.getvalue("dist") == "loadfile":
            return CourseScheduling(config, log)
        return None
