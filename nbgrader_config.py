"""nbgrader configuration for the course; the course directory is where nbgrader runs.

Run nbgrader from the repository root (``nbgrader generate_assignment 01_autograd --force``):
``CourseDirectory.root`` is left at its default, the current directory, so this file also
works when copied into another course directory (the tests do that). The gradebook
(``gradebook.db``) is nbgrader's default, in that same directory.
"""

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

# solutions/<chapter>/ are the instructor (source) notebooks, notebooks/<chapter>/ the
# student (release) notebooks: one assignment per chapter folder.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Seconds one cell may run during autograde (nbgrader's default is 30). Enough for the
# `smoke` profile on a CPU; the `full` profile (bert-base-uncased, all of MRPC) needs far
# more per training cell. Raise it for one run with
#   nbgrader autograde 02_training_loop --Execute.timeout=3600
# or here; None means no limit.
c.Execute.timeout = 120
