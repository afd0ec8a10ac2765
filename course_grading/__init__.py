"""Grading the course's notebooks so that an instructor can trust every score.

One job per module:

- :mod:`course_grading.program` turns a submitted notebook into a *grading job*: the
  statements each exercise's answer needs and the instructor's own test code (pure, no I/O).
- :mod:`course_grading.runner` runs a job: imported trusted code first, then one forked
  process per exercise, each checked for tampering before its verdict is sent back.
- :mod:`course_grading.sandbox` builds the bubblewrap command a runner lives in.
- :mod:`course_grading.verdicts` runs jobs (in parallel) and turns their verdicts into the
  test cells' outputs that nbgrader scores.
- :mod:`course_grading.preprocessors` holds the nbgrader preprocessors the course uses.
- :mod:`course_grading.collect` checks and copies hand-ins into nbgrader's ``submitted/``.
- :mod:`course_grading.export_student` writes a student-only copy of the course.
"""
