"""The blind answers (tests/fixtures/blind_answers/): each wrong one fails, each right one passes.

164 answers written by someone who had not read the checkers or their tests, from the student
notebooks and a list of classic training-loop bugs (112 wrong, 52 right; INDEX.md lists them;
one written as wrong was reclassified as right in issue 14), and a second set of 99 by another
tester (74 wrong, 25 right, chapter 6 included; issue 14, round 2).
Each is run exactly as a graded cell runs it: ``checks.load(<chapter>)`` and the solution
notebook's visible check, then its hidden ones (tools/measure_checkers.py). A wrong answer must
fail, and where it is classified ``named`` the message must hold the classification's key
phrase; a right answer must pass every call. A wrong answer the course accepts on purpose
(classified ``accepted``; none since issue 14 decided the last three) is an expected failure,
strict: the day a checker catches it, the test says so. So is one classified ``missed`` (a real
bug no checker sees yet, with a note saying why).

One test file per chapter (test_blind_answers_<n>.py), so ``--dist loadfile`` spreads them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "tests" / "fixtures" / "blind_answers"
CLASSIFICATION = json.loads((ANSWERS / "classification_after.json").read_text())

_spec = importlib.util.spec_from_file_location("measure_checkers",
                                               ROOT / "tools" / "measure_checkers.py")
measure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(measure)


def cases(chapter: str) -> list:
    """One pytest parameter per answer file of ``chapter``."""
    params = []
    for path in sorted((ANSWERS / chapter).glob("*.py")):
        key = f"{chapter}/{path.name}"
        verdict = CLASSIFICATION.get(key, {}).get("verdict")
        marks = []
        if verdict in ("accepted", "missed"):  # missed: a known gap, still open
            marks.append(pytest.mark.xfail(
                strict=True, reason=CLASSIFICATION[key].get("note", "accepted on purpose")))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def check_answer(path: Path) -> None:
    chapter = path.parent.name
    info = measure.header(path)
    calls = measure.notebook_calls(chapter)[info["check"]]
    assert calls, f"no graded call of check.{info['check']} in the {chapter} notebook"
    key = f"{chapter}/{path.name}"
    if info["kind"] == "correct":
        results = measure.run_one(path, chapter, calls, info["exercise"])
        failed = [r for r in results if not r["passed"]]
        assert not failed, f"false positive ({failed[0]['where']}): {failed[0]['message']}"
        return
    results = measure.run_one(path, chapter, calls, info["exercise"], stop_at_failure=True)
    failed = [r for r in results if not r["passed"]]
    assert failed, f"missed: every check passes, but the answer is wrong: {info['bug']}"
    message = failed[0]["message"]
    assert not message.startswith("CHECKER CRASH"), message
    entry = CLASSIFICATION.get(key, {})
    if entry.get("verdict") == "named":
        assert entry["phrase"] in message, f"{entry['phrase']!r} not in {message!r}"
    if entry.get("visible"):
        assert failed[0]["where"] == "visible", f"caught only by a hidden test: {message}"
