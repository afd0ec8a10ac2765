"""How fast the sandboxed grader gets through a class, with 1 worker and with N.

Builds a class of hand-ins for a chapter from its own notebooks (a third right answers, a
third blank, a third with every answer wrong), grades the whole class once with one
sandbox at a time and once with N at a time (alternating, repeated), checks that both give
exactly the same verdicts, and prints submissions per minute, the speed-up and what a class
of 100 would take. The last line of stdout is all of it as one JSON object::

    COURSE_PROFILE=smoke HF_HUB_OFFLINE=1 .venv/bin/python tools/benchmark_grading.py \\
        01_autograd --students 6 --workers 2 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from course_grading.program import build_job  # noqa: E402
from course_grading.verdicts import Pool, Settings  # noqa: E402


def make_class(chapter: str, students: int) -> list[nbformat.NotebookNode]:
    """Hand-ins for ``chapter``: right, blank and wrong answers, round robin."""
    from instructor_fixtures import answered, with_solution_body

    solution = nbformat.read(REPO / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    release = nbformat.read(REPO / "notebooks" / chapter / f"{chapter}.ipynb", as_version=4)
    # Graded as the grader sees them: the instructor's test cells, hidden tests included.
    tests = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in solution.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    wrong_ids = [
        c.metadata["nbgrader"]["grade_id"]
        for c in solution.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    ]
    kinds = [
        answered(solution, release),
        release,
        answered(
            solution,
            release,
            {gid: (lambda s: with_solution_body(s, "return None")) for gid in wrong_ids},
        ),
    ]
    hand_ins = []
    for index in range(students):
        nb = nbformat.from_dict(json.loads(nbformat.writes(kinds[index % 3])))
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in tests:
                cell.source = tests[gid]
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"student {index}"))  # distinct jobs
        hand_ins.append(nb)
    return hand_ins


def grade_class(hand_ins: list, workers: int, settings: Settings) -> tuple[float, list[dict]]:
    """Seconds to grade every hand-in with ``workers`` sandboxes, and the verdicts."""
    pool = Pool(workers)
    jobs = [build_job(nb) for nb in hand_ins]
    start = time.perf_counter()
    for job in jobs:
        pool.submit(job, settings)
    results = [pool.result(job, settings) for job in jobs]
    seconds = time.perf_counter() - start
    pool.executor.shutdown()
    verdicts = [{k: (v.passed, v.message) for k, v in sorted(r.items())} for r in results]
    return seconds, verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", nargs="?", default="01_autograd")
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)

    hand_ins = make_class(args.chapter, args.students)
    settings = Settings(timeout=args.timeout, hidden=[REPO])
    times: dict[int, list[float]] = {1: [], args.workers: []}
    reference = None
    same = True
    for repeat in range(args.repeats):
        for workers in (1, args.workers):
            seconds, verdicts = grade_class(hand_ins, workers, settings)
            times[workers].append(seconds)
            reference = reference or verdicts
            same &= verdicts == reference
            print(
                f"repeat {repeat + 1}: {workers} worker(s): {len(hand_ins)} hand-ins in "
                f"{seconds:.1f} s ({60 * len(hand_ins) / seconds:.1f} per minute)",
                flush=True,
            )
    one, many = statistics.mean(times[1]), statistics.mean(times[args.workers])
    result = {
        "chapter": args.chapter,
        "students": len(hand_ins),
        "workers": args.workers,
        "per_minute_1": round(60 * len(hand_ins) / one, 2),
        f"per_minute_{args.workers}": round(60 * len(hand_ins) / many, 2),
        "speedup": round(one / many, 2),
        "class_of_100_minutes_1": round(100 * one / len(hand_ins) / 60, 1),
        f"class_of_100_minutes_{args.workers}": round(100 * many / len(hand_ins) / 60, 1),
        "same_verdicts": same,
        "passed_per_student": [sum(p for p, _ in v.values()) for v in reference],
    }
    print(
        f"{args.chapter}: {result['per_minute_1']} hand-ins/min with 1 worker, "
        f"{result[f'per_minute_{args.workers}']} with {args.workers} "
        f"({result['speedup']}x); verdicts identical: {same}"
    )
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
