"""Write a student-only copy of the course (see ``course_grading.export_student``)."""

import sys

from course_grading.export_student import main

if __name__ == "__main__":
    sys.exit(main())
