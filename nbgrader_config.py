"""nbgrader configuration for the course; the course directory is where nbgrader runs.

nbgrader reads this file from the current directory: the repository root (``tools/release.py``
does) or a grading folder this file was copied to (README, "For instructors"). The gradebook
is nbgrader's default, ``gradebook.db`` in that folder. What the classes named here do is in
``course_grading/preprocessors.py``.
"""

import os
import sys

from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.preprocessors import (
    ClearHiddenTests,
    DeduplicateIds,
    Execute,
    LimitOutput,
    OverwriteCells,
)

from course_grading import sandbox
from course_grading.preprocessors import (
    CleanCellMetadata,
    GradeInSandbox,
    LimitOutputSize,
    RestoreMissingCells,
    SanitizeFeedback,
)

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

# Autograding needs the sandbox: stop before nbgrader touches anything when it is missing.
if sys.argv[1:2] == ["autograde"]:
    sandbox.check_or_exit()

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Each exercise's check may run this long (seconds; COURSE_CELL_TIMEOUT=0: no limit). The
# smoke profile's slowest check takes a few seconds; `full` needs far more (README).
c.GradeInSandbox.timeout = float(os.environ.get("COURSE_CELL_TIMEOUT", "300"))
c.GradeInSandbox.memory_gb = float(os.environ.get("COURSE_GRADING_MEMORY_GB", "6"))
c.GradeInSandbox.workers = int(os.environ.get("COURSE_GRADING_WORKERS", "0"))

# A deleted test cell is put back from the source notebook and graded.
c.OverwriteCells.add_missing_cells = True

_REPLACED = {
    Execute: GradeInSandbox,
    LimitOutput: LimitOutputSize,
    DeduplicateIds: CleanCellMetadata,
    OverwriteCells: RestoreMissingCells,
}
c.Autograde.autograde_preprocessors = [
    _REPLACED.get(step, step)
    for step in Autograde.class_traits()["autograde_preprocessors"].default()
]
c.Autograde.sanitize_preprocessors = [
    _REPLACED.get(step, step)
    for step in Autograde.class_traits()["sanitize_preprocessors"].default()
]
# Feedback: hidden tests stay hidden, and no student HTML or JavaScript runs in the page.
c.GenerateFeedback.preprocessors = [
    ClearHiddenTests,
    SanitizeFeedback,
    *GenerateFeedback.class_traits()["preprocessors"].default(),
]
c.ClearHiddenTests.enforce_metadata = False
