"""Time a solution notebook, top to bottom, in the environment `bash course.sh lab` gives and
with OMP_NUM_THREADS=1, alternating the two.

    .venv/bin/python tools/time_chapter.py                       # chapter 5, 2 rounds
    .venv/bin/python tools/time_chapter.py 02_training_loop --rounds 3

"lab" is this environment without OMP_NUM_THREADS, MKL_NUM_THREADS or COURSE_PROFILE (so
`auto` chooses, as in the lab); "omp1" adds OMP_NUM_THREADS=1, the setting `course.sh test`
uses. `--torch-default` adds "torch-default": OMP_NUM_THREADS set to the number of cores, which
the smoke profile respects, so torch keeps its default of one thread per core: what students
got before the profile chose one thread. Each run is a fresh kernel (nbclient). The script
prints one line per run, then the medians and their ratio, and the same as one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLEARED = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "COURSE_PROFILE", "COURSE_CHECKPOINT",
           "COURSE_DATA_DIR")


def run_once(notebook: Path, extra: dict[str, str], timeout: int) -> float:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    saved = {name: os.environ.get(name) for name in (*CLEARED, *extra)}
    for name in CLEARED:
        os.environ.pop(name, None)
    os.environ.update(extra)
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(notebook.parent)}})
        started = time.perf_counter()
        client.execute()
        return time.perf_counter() - started
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", nargs="?", default="05_beyond_the_loop")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--torch-default", action="store_true",
                        help="also time torch's default thread count (one per core)")
    args = parser.parse_args(argv)
    notebook = ROOT / "solutions" / args.chapter / f"{args.chapter}.ipynb"
    if not notebook.is_file():
        parser.error(f"no notebook {notebook.relative_to(ROOT)}")
    variants = {"lab": {}, "omp1": {"OMP_NUM_THREADS": "1"}}
    if args.torch_default:
        variants["torch-default"] = {"OMP_NUM_THREADS": str(os.cpu_count())}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        for name, extra in variants.items():
            seconds = run_once(notebook, extra, args.timeout)
            times[name].append(seconds)
            print(f"round {round_ + 1}: {name:13s} {seconds:7.1f} s", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["lab"] / medians["omp1"]
    print(f"median: lab {medians['lab']:.1f} s, OMP_NUM_THREADS=1 {medians['omp1']:.1f} s, "
          f"ratio {ratio:.2f} (target: at most 1.2)")
    if "torch-default" in medians:
        print(f"torch's default threads: {medians['torch-default']:.1f} s, "
              f"{medians['torch-default'] / medians['omp1']:.2f}x the one-thread time")
    print(json.dumps({"chapter": args.chapter, "cpus": os.cpu_count(), "times": times,
                      "median": medians, "ratio": round(ratio, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
