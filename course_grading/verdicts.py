"""Run grading jobs in their sandboxes and turn the verdicts into what nbgrader scores.

nbgrader gives a test cell its points when its outputs hold no error and no ``stderr``
(``nbgrader.utils.determine_grade``). Here a test cell's outputs are *written by the grader*
from the runner's verdict: a passed exercise gets its ✓ lines on ``stdout``, any other gets one
``error`` output with the checker's ✗ message. Nothing the student's code prints reaches a
test cell's outputs, so printing, warnings or progress bars can neither cost nor earn points.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from course_grading import sandbox
from course_grading.program import Job

STARTUP_SECONDS = 180  # importing torch and the checkers on a busy machine
# The variables a grading run passes into the sandbox; everything else stays outside.
PASSED_VARIABLES = (
    "COURSE_PROFILE",
    "COURSE_CHECKPOINT",
    "COURSE_DATA_DIR",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "HF_HOME",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PATH",
    "LANG",
    "LC_ALL",
    "TRANSFORMERS_VERBOSITY",
    "TOKENIZERS_PARALLELISM",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "COURSE_LANGUAGE",
)


class GradingError(RuntimeError):
    """The grader itself could not run (not the student's fault): grading stops."""


@dataclass
class Verdict:
    """One exercise's outcome: passed or not, and the message the student reads."""

    grade_id: str
    passed: bool
    message: str
    printed: str = ""
    seconds: float = 0.0


@dataclass
class Settings:
    """Limits of one sandboxed run."""

    timeout: float = 300.0
    memory_bytes: int = 6 << 30
    hidden: list[Path] = field(default_factory=list)


def verdict_from(raw: dict, notes: list[str]) -> Verdict:
    """A runner's report on one exercise, judged: every condition must hold to pass."""
    grade_id = raw["grade_id"]
    printed = raw.get("log", "")
    if raw.get("crash"):
        return Verdict(grade_id, False, f"✗ {grade_id} — {raw['crash']}", printed)
    seconds = float(raw.get("seconds", 0.0))
    extra = [*raw.get("load_errors", []), *notes]
    also = (" Also: " + "; ".join(extra) + ".") if extra else ""
    if raw.get("violations"):
        return Verdict(
            grade_id,
            False,
            f"✗ {grade_id} — not graded: {raw['violations'][0]}. Answers must compute their "
            "own results; this exercise scores 0.",
            printed,
            seconds,
        )
    if raw.get("tampering"):
        changed = "; ".join(raw["tampering"][:3])
        return Verdict(
            grade_id,
            False,
            f"✗ {grade_id} — not graded: the notebook's code changes what the checks rely on "
            f"({changed}), so no result of this exercise can be trusted; it scores 0.",
            printed,
            seconds,
        )
    records = raw.get("records", [])
    failed = [text for ok, text in records if not ok]
    if raw.get("error"):
        return Verdict(grade_id, False, raw["error"] + also, printed, seconds)
    if failed:
        return Verdict(grade_id, False, failed[0] + also, printed, seconds)
    if len(records) < int(raw.get("expected_records", 1)) or not records:
        return Verdict(
            grade_id,
            False,
            f"✗ {grade_id} — the checks of this exercise did not all report a verdict "
            f"({len(records)} of {raw.get('expected_records', 1)}).{also}",
            printed,
            seconds,
        )
    return Verdict(grade_id, True, "\n".join(text for _, text in records), printed, seconds)


def _environment() -> dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_VARIABLES if k in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONHASHSEED"] = "0"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_job(job: Job, settings: Settings) -> dict[str, Verdict]:
    """Run one notebook's job in a fresh sandbox; its verdicts by grade id."""
    payload = job.to_dict() | {"timeout": settings.timeout, "memory_bytes": settings.memory_bytes}
    command = [sys.executable, "-I", "-m", "course_grading.runner"]
    if not sandbox.unsandboxed_allowed():
        command = [*sandbox.bwrap_command(settings.hidden), *command]
    limit = STARTUP_SECONDS + (settings.timeout + 30) * max(1, len(job.exercises))
    with tempfile.TemporaryDirectory(prefix="course-grading-") as scratch:
        if sandbox.unsandboxed_allowed():
            cwd = scratch
        else:
            cwd = None
        try:
            result = subprocess.run(
                command,
                input=json.dumps(payload),
                capture_output=True,
                text=True,
                timeout=limit if settings.timeout > 0 else None,
                env=_environment(),
                cwd=cwd,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            result = None
    lines = (
        []
        if result is None
        else [line for line in result.stdout.splitlines() if line.startswith("{")]
    )
    reports = [json.loads(line) for line in lines]
    if not reports or not reports[0].get("ready"):
        why = (
            "it ran past its overall time limit"
            if result is None
            else ((result.stderr.strip().splitlines() or ["no message"])[-1])
        )
        raise GradingError(f"the grading sandbox did not start ({why})")
    verdicts: dict[str, Verdict] = {}
    for raw in reports[1:]:
        verdicts[raw["grade_id"]] = verdict_from(raw, job.notes)
    for exercise in job.exercises:
        if exercise.grade_id not in verdicts:
            verdicts[exercise.grade_id] = Verdict(
                exercise.grade_id,
                False,
                f"✗ {exercise.grade_id} — the grading run for this notebook stopped before "
                "this exercise (an earlier exercise ran past every limit)",
            )
    return verdicts


def job_key(job: Job, settings: Settings) -> str:
    """The identity of a grading run: same key, same verdicts."""
    data = json.dumps([job.to_dict(), settings.timeout, settings.memory_bytes], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


class Pool:
    """Grading runs shared out over workers, one sandbox each; results kept by job key."""

    def __init__(self, workers: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="grade")
        self.futures: dict[str, Future] = {}
        self.lock = threading.Lock()

    def submit(self, job: Job, settings: Settings) -> Future:
        key = job_key(job, settings)
        with self.lock:
            if key not in self.futures:
                self.futures[key] = self.executor.submit(run_job, job, settings)
            return self.futures[key]

    def has(self, job: Job, settings: Settings) -> bool:
        """Whether ``job`` was submitted already (by a prefetch)."""
        with self.lock:
            return job_key(job, settings) in self.futures

    def result(self, job: Job, settings: Settings) -> dict[str, Verdict]:
        future = self.submit(job, settings)
        verdicts = future.result()
        with self.lock:
            self.futures.pop(job_key(job, settings), None)
        return verdicts


def default_workers() -> int:
    """One sandbox per core, unless ``COURSE_GRADING_WORKERS`` says otherwise."""
    value = os.environ.get("COURSE_GRADING_WORKERS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
