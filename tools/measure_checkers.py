"""Run a folder of independently written answers through the course's checkers.

Each answer file is a small module whose docstring says ``KIND: wrong|correct``,
``EXERCISE: <function name>``, ``CHECK: check.<checker>`` and, for a wrong one, ``BUG: <sentence>``.
For every file this script executes it, loads the chapter's checker exactly as a graded cell
does (``checks.load``) and runs the checks of the solution notebook's graded test cell: the
visible call first, then each hidden one. It records, per call, whether the check passed and the
first ``✗`` message, and writes one JSON table (and a CSV next to it)::

    COURSE_PROFILE=smoke HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 \\
        python tools/measure_checkers.py ANSWERS_DIR OUT.json [--only SUBSTRING]

A classification file (``--classification FILE``: ``{"<chapter>/<file>": "named" | "misnamed"``
``| "missed"}`` written by a person reading each message against its BUG) turns the table into
named / misnamed / missed / false-positive counts per chapter; ``--summary`` prints them.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = {
    "01_autograd": "autograd",
    "02_training_loop": "training",
    "02b_schedules_and_accumulation": "training",  # a default: check_module reads the cell
    "03_evaluation_loop": "evaluation",
    "04_accelerate": "accelerate_loop",
    "05_beyond_the_loop": "strategies",
    "06_capstone": "capstone",
}


def header(path: Path) -> dict[str, str]:
    """KIND, EXERCISE, CHECK and BUG from an answer file's docstring."""
    text = path.read_text()
    fields = {}
    for key in ("KIND", "EXERCISE", "CHECK", "BUG"):
        match = re.search(rf"^(?:\"\"\")?{key}:\s*(.+?)\s*$", text, re.M)
        fields[key.lower()] = match.group(1) if match else ""
    fields["check"] = fields["check"].removeprefix("check.")
    return fields


def notebook_calls(chapter: str) -> dict[str, list[tuple[str, str]]]:
    """checker name -> [(visible|hidden, source of one check call)] from the solution notebook."""
    notebook = next((ROOT / "solutions" / chapter).glob("*.ipynb"))
    cells = json.loads(notebook.read_text())["cells"]
    calls: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] != "code" or not meta.get("grade"):
            continue
        source = "".join(cell["source"])
        where = "visible"
        statement = ""
        for line in source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                where = "hidden"
                continue
            if "END HIDDEN TESTS" in line:
                continue
            if statement or line.startswith("check."):
                statement += line + "\n"
                if statement.count("(") == statement.count(")"):
                    name = re.match(r"check\.(\w+)\(", statement).group(1)
                    calls[name].append((where, statement))
                    statement = ""
    return calls


def check_module(chapter: str, check_name: str) -> str:
    """The checker module the graded cell of ``check.<check_name>`` loads (``checks.load``)."""
    notebook = next((ROOT / "solutions" / chapter).glob("*.ipynb"))
    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"])
        found = re.search(r"checks\.load\(\"(\w+)\"\)", source)
        if found and f"check.{check_name}(" in source:
            return found.group(1)
    return MODULES[chapter]


def run_one(path: Path, chapter: str, calls: list[tuple[str, str]], exercise: str,
            stop_at_failure: bool = False) -> list[dict]:
    import torch  # noqa: F401  (the notebooks' test cells may use it)

    from course_utils import checks
    from course_utils.feedback import CheckFailed

    namespace: dict = {"__name__": f"answer_{path.stem}", "torch": torch}
    results = []
    module = check_module(chapter, re.match(r"check\.(\w+)\(", calls[0][1].strip()).group(1)) \
        if calls else MODULES[chapter]
    try:
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    except Exception as error:  # noqa: BLE001
        return [{"where": "load", "passed": False, "message": f"could not load: {error!r}"}]
    for where, statement in calls:
        namespace["check"] = checks.load(module)
        call = re.sub(r"^(check\.\w+\()\s*\w+", rf"\g<1>{exercise}", statement.strip())
        start = time.perf_counter()
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                exec(call, namespace)
            passed, message = True, out.getvalue().strip().splitlines()[-1:] or [""]
            message = message[0]
        except CheckFailed as failure:
            passed, message = False, str(failure)
        except Exception as error:  # noqa: BLE001  (a checker crash is a finding too)
            passed, message = False, f"CHECKER CRASH {type(error).__name__}: {error}"
        results.append(
            {
                "where": where,
                "call": call,
                "passed": passed,
                "message": message,
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
        if stop_at_failure and not passed:
            break
    return results


def measure(answers: Path, only: str | None) -> list[dict]:
    rows = []
    for chapter in MODULES:
        folder = answers / chapter
        if not folder.is_dir():
            continue
        calls = notebook_calls(chapter)
        for path in sorted(folder.glob("*.py")):
            key = f"{chapter}/{path.name}"
            if only and only not in key:
                continue
            info = header(path)
            results = run_one(path, chapter, calls[info["check"]], info["exercise"])
            first_fail = next((r for r in results if not r["passed"]), None)
            rows.append(
                {
                    "file": key,
                    "chapter": chapter,
                    **info,
                    "visible_passed": bool(results) and results[0]["passed"],
                    "all_passed": all(r["passed"] for r in results),
                    "first_failure": first_fail["message"] if first_fail else "",
                    "first_failure_where": first_fail["where"] if first_fail else "",
                    "results": results,
                }
            )
            mark = "PASS" if rows[-1]["all_passed"] else "FAIL"
            print(f"{mark} {info['kind']:7} {key}: {rows[-1]['first_failure'][:160]}", flush=True)
    return rows


def summarise(rows: list[dict], classification: dict[str, str]) -> dict:
    """Per chapter: named / misnamed / missed (wrong answers), false positives (correct ones)."""
    table: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        counts = table[row["chapter"]]
        if row["kind"] == "correct":
            counts["correct"] += 1
            counts["false_positive"] += not row["all_passed"]
            continue
        counts["wrong"] += 1
        if row["all_passed"]:
            verdict = "missed"
        else:
            verdict = classification.get(row["file"], "unclassified")
            if verdict == "missed":  # a person's old verdict on an answer that now fails
                verdict = "unclassified"
        counts[verdict] += 1
        counts["visible_missed"] += row["visible_passed"]
    total = Counter()
    for counts in table.values():
        total.update(counts)
    table["total"] = total
    return {chapter: dict(counts) for chapter, counts in table.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("answers", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--only")
    parser.add_argument("--classification", type=Path)
    parser.add_argument("--summary", action="store_true", help="only summarise an existing OUT")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.summary:
        rows = json.loads(args.out.read_text())
    else:
        rows = measure(args.answers, args.only)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        with open(args.out.with_suffix(".csv"), "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "kind", "bug", "visible_passed", "all_passed",
                             "first_failure_where", "first_failure"])
            for row in rows:
                writer.writerow([row["file"], row["kind"], row["bug"], row["visible_passed"],
                                 row["all_passed"], row["first_failure_where"],
                                 row["first_failure"]])
    classification = {}
    if args.classification and args.classification.exists():
        classification = {
            key: value["verdict"] if isinstance(value, dict) else value
            for key, value in json.loads(args.classification.read_text()).items()
        }
    summary = summarise(rows, classification)
    for chapter, counts in summary.items():
        print(chapter, json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main()
