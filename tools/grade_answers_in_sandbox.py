"""Grade a folder of single-exercise answers through the sandboxed grader, as a hand-in would be.

Each answer file (``tests/fixtures/blind_answers/<chapter>/<fn>__<slug>.py``, with ``KIND:``
and ``EXERCISE:`` in its docstring) replaces that exercise's answer cell in a notebook whose
other answers are the solutions; the notebook is graded by ``course_grading`` exactly as
``nbgrader autograde`` grades it (hidden tests included), that exercise only. A right answer
must pass and a wrong one fail; the script prints every answer judged otherwise::

    COURSE_PROFILE=smoke HF_HUB_OFFLINE=1 .venv/bin/python tools/grade_answers_in_sandbox.py \\
        tests/fixtures/blind_answers [--kind correct] [--workers 2]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from course_grading.program import build_job  # noqa: E402
from course_grading.verdicts import Pool, Settings  # noqa: E402


def notebook_with(answer: Path) -> tuple[str, nbformat.NotebookNode, str]:
    """The answer's kind, its chapter's notebook graded as a hand-in, and its test grade id."""
    from instructor_fixtures import answered

    text = answer.read_text(encoding="utf-8")
    kind = re.search(r"KIND:\s*(\w+)", text).group(1)
    function = re.search(r"EXERCISE:\s*(\w+)", text).group(1)
    chapter = answer.parent.name
    solution = nbformat.read(REPO / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    release = nbformat.read(REPO / "notebooks" / chapter / f"{chapter}.ipynb", as_version=4)
    nb = answered(solution, release)
    tests = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in solution.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    target = None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and re.search(rf"def {function}\b", cell.source):
            cell.source, target = text, meta["grade_id"]
        elif meta.get("grade_id") in tests:
            cell.source = tests[meta["grade_id"]]  # as graded: hidden tests included
    if target is None:
        raise SystemExit(f"{answer}: no answer cell defines {function}")
    return kind, nb, f"test_{target}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--kind", choices=("correct", "wrong"), help="only answers of this kind")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    settings = Settings(timeout=300, hidden=[REPO])
    pool = Pool(args.workers)
    jobs = []
    for answer in sorted(args.folder.glob("*/*.py")):
        kind, nb, test = notebook_with(answer)
        if args.kind and kind != args.kind:
            continue
        job = build_job(nb)
        job.exercises = [e for e in job.exercises if e.grade_id.startswith(test)]
        pool.submit(job, settings)
        jobs.append((answer, kind, job))
    started, differ = time.perf_counter(), 0
    for answer, kind, job in jobs:
        verdicts = pool.result(job, settings)
        passed = bool(verdicts) and all(v.passed for v in verdicts.values())
        if passed != (kind == "correct"):
            differ += 1
            messages = "; ".join(v.message.splitlines()[0][:200] for v in verdicts.values())
            print(f"{kind:>7} {answer.relative_to(args.folder)}: {messages}")
    print(
        f"{len(jobs)} answers graded in the sandbox in {time.perf_counter() - started:.0f} s: "
        f"{differ} judged otherwise than their kind"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
