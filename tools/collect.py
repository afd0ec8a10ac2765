"""Collect students' notebooks into nbgrader's ``submitted/`` (see ``course_grading.collect``)."""

import sys

from course_grading.collect import main

if __name__ == "__main__":
    sys.exit(main())
