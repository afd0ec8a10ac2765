"""The nbgrader preprocessors the course grades with (``nbgrader_config.py`` lists them).

- :class:`GradeInSandbox` replaces nbgrader's ``Execute``: instead of running the notebook in
  a kernel in the instructor's account, it grades each exercise in a bubblewrap sandbox
  (:mod:`course_grading.runner`) and writes each test cell's outputs from the checker's
  verdict, which is what nbgrader's ``SaveAutoGrades`` then scores. Submissions are graded
  in parallel, one sandbox each; the scores do not depend on the order or the number of
  workers, because each notebook's verdicts come from its own run alone.
- :class:`CleanCellMetadata` and :class:`RestoreMissingCells` are nbgrader's
  ``DeduplicateIds`` and ``OverwriteCells`` without their crashes on tampered metadata.
- :class:`LimitOutputSize` is nbgrader's ``LimitOutput`` with a limit on characters too.
"""

from __future__ import annotations

import copy
import fnmatch
from pathlib import Path

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.nbgraderformat import SCHEMA_VERSION
from nbgrader.preprocessors import (
    DeduplicateIds,
    LimitOutput,
    NbGraderPreprocessor,
    OverwriteCells,
)
from traitlets import Float, Integer

from course_grading import sandbox
from course_grading.program import build_job
from course_grading.verdicts import Pool, Settings, Verdict, default_workers


class CleanCellMetadata(DeduplicateIds):
    """nbgrader's DeduplicateIds, made safe for the rest of the class.

    After a notebook whose nbgrader metadata has another schema version ("an old version of
    the nbgrader metadata format"), nbgrader stops autograding every student left, and its
    own DeduplicateIds makes such metadata: it empties the metadata of all but the last copy
    of a copied cell. Here those copies, and cells whose nbgrader metadata has no grade id,
    become plain cells, and the other cells get the current schema version (OverwriteCells,
    next, restores the rest of their metadata from the gradebook).
    """

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            _drop_stray_metadata(cell)
        nb, resources = super().preprocess(nb, resources)
        for cell in nb.cells:
            _drop_stray_metadata(cell)
            if "nbgrader" in cell.metadata:
                cell.metadata["nbgrader"]["schema_version"] = SCHEMA_VERSION
        return nb, resources


def _drop_stray_metadata(cell):
    """Make ``cell`` a plain cell if its nbgrader metadata has no grade id."""
    if "nbgrader" in cell.metadata and not _grade_id(cell):
        del cell.metadata["nbgrader"]


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


class RestoreMissingCells(OverwriteCells):
    """nbgrader's OverwriteCells with ``add_missing_cells``, without its crashes.

    A cell with a grade id the gradebook does not know (pasted from another chapter, say)
    becomes a plain cell; nbgrader keeps its other nbgrader metadata, which then fails to
    validate. nbgrader puts a missing test cell back after the source cell before it; when
    that one is missing too (the student deleted a whole exercise), nbgrader crashes. Here
    the cell goes after the nearest earlier source cell that is still there, else before
    the nearest later one, else last.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        _drop_stray_metadata(cell)  # nbgrader removed the grade id of an unknown cell
        return cell, resources

    def add_missing_grade_cells(self, nb, resources):
        source = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [cell.name for cell in source.source_cells]
        solutions = {cell.name for cell in source.solution_cells}
        points = {cell.name: cell.max_score for cell in source.grade_cells}
        for name, source_cell in zip(order, source.source_cells, strict=True):
            present = {_grade_id(cell): index for index, cell in enumerate(nb.cells)}
            if name not in points or name in present:
                continue
            self.log.warning("Missing grade cell %s encountered, adding to notebook", name)
            at = order.index(name)
            before = [present[n] for n in order[:at] if n in present]
            after = [present[n] for n in order[at + 1 :] if n in present]
            cell = self.missing_cell_transform(
                source_cell, points[name], is_solution=name in solutions
            )
            nb.cells.insert(
                before[-1] + 1 if before else after[0] if after else len(nb.cells), cell
            )
        return nb, resources


# --- Output limits -----------------------------------------------------------------------
class LimitOutputSize(LimitOutput):
    """nbgrader's LimitOutput (at most 1000 lines per cell), plus a limit on characters.

    One ``print`` of a few megabytes on a single line passes the line limit and ends up in
    the autograded notebook and the feedback HTML. This keeps the start and the end of the
    text a cell printed, ``max_chars`` characters in all, and says how much was cut.
    """

    max_chars = Integer(
        20_000, help="characters of text output kept per cell (-1 means no limit)"
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type != "code" or self.max_chars < 0:
            return cell, resources
        left = self.max_chars
        for output in cell.outputs:
            if output.output_type == "stream":
                output.text, used = _cut(output.text, left)
            elif output.output_type in ("execute_result", "display_data"):
                used = 0
                for mime, value in output.get("data", {}).items():
                    if mime.startswith("text/") and isinstance(value, str):
                        output.data[mime], size = _cut(value, left)
                        used = max(used, size)
            elif output.output_type == "error":
                # The checker's message lives here: keep it, but not megabytes of it.
                output.evalue = _cut(output.evalue, self.max_chars)[0]
                output.traceback = [_cut(line, self.max_chars)[0] for line in output.traceback]
                used = 0
            else:
                used = 0
            left = max(0, left - used)
        return cell, resources


def _cut(text, limit):
    """``text`` cut to about ``limit`` characters (head and tail kept), and its new length."""
    if len(text) <= limit:
        return text, len(text)
    head, tail = limit * 3 // 4, limit // 4
    note = f"\n... {len(text) - head - tail} characters of output cut by the grader ...\n"
    text = text[:head] + note + (text[-tail:] if tail else "")
    return text, limit


# --- Grading in the sandbox --------------------------------------------------------------
_POOL: Pool | None = None
_PREFETCHED: set[tuple[str, str]] = set()
_SANDBOX_CHECKED: list[bool] = []


def _pool(workers: int) -> Pool:
    global _POOL
    if _POOL is None:
        _POOL = Pool(workers)
    return _POOL


def verdict_outputs(verdict: Verdict) -> list[NotebookNode]:
    """A test cell's outputs, written from its verdict (never from the student's output)."""
    if verdict.passed:
        return [nbformat.v4.new_output("stream", name="stdout", text=verdict.message + "\n")]
    outputs = []
    if verdict.printed.strip():
        printed = verdict.printed.strip()[-1500:]
        outputs.append(
            nbformat.v4.new_output(
                "stream",
                name="stdout",
                text=f"(what the code printed while graded, last lines)\n{printed}\n",
            )
        )
    outputs.append(
        nbformat.v4.new_output(
            "error",
            ename="CheckFailed",
            evalue=verdict.message,
            traceback=verdict.message.splitlines(),
        )
    )
    return outputs


class GradeInSandbox(NbGraderPreprocessor):
    """Score every test cell from its checker's verdict, established in a sandbox."""

    timeout = Float(300.0, help="seconds one exercise's check may run (0: no limit)").tag(
        config=True
    )
    memory_gb = Float(6.0, help="memory one submission's exercise may use, in GiB").tag(config=True)
    workers = Integer(0, help="submissions graded at once (0: one per core)").tag(config=True)

    def _settings(self) -> Settings:
        hidden = [Path.cwd().resolve()]
        package = sandbox._package_dir("course_utils")
        if (package.parent / "solutions").exists():
            hidden.append(package.parent)  # the repository the checkers come from
        return Settings(self.timeout, int(self.memory_gb * (1 << 30)), hidden)

    def _check_sandbox(self) -> None:
        if _SANDBOX_CHECKED:
            return
        try:
            sandbox.check_available()
        except sandbox.SandboxUnavailable as error:
            self.log.error("Grading stopped: %s.", error)
            raise SystemExit(1) from None
        if sandbox.unsandboxed_allowed():
            self.log.warning(
                "%s=1: grading WITHOUT the sandbox. Students' code runs in your account and "
                "can read the solutions, the gradebook and other submissions.",
                sandbox.UNSANDBOXED_VARIABLE,
            )
        _SANDBOX_CHECKED.append(True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        self._check_sandbox()
        settings = self._settings()
        pool = _pool(self.workers or default_workers())
        info = resources.get("nbgrader", {})
        self._prefetch(pool, settings, info)
        job = build_job(nb, info.get("notebook") or "")
        self.log.info("Verdicts %s", "prefetched" if pool.has(job, settings) else "computed now")
        verdicts = pool.result(job, settings)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            cell.execution_count = None
            verdict = verdicts.get(meta.get("grade_id")) if meta.get("grade") else None
            if verdict is not None:
                cell.outputs = verdict_outputs(verdict)
                self.log.info("%s: %s", verdict.grade_id, "passed" if verdict.passed else "failed")
        return nb, resources

    def _prefetch(self, pool: Pool, settings: Settings, info: dict) -> None:
        """Start the other submissions of this assignment grading in the background."""
        assignment, notebook = info.get("assignment"), info.get("notebook")
        if not assignment or (assignment, notebook) in _PREFETCHED:
            return
        _PREFETCHED.add((assignment, notebook))
        converter = getattr(self.parent, "parent", None)  # nbgrader's Autograde converter
        coursedir = getattr(converter, "coursedir", None)
        students = getattr(coursedir, "student_id", "*") or "*"
        force = bool(getattr(converter, "force", False))
        started = 0
        for path in sorted(Path("submitted").glob(f"*/{assignment}/{notebook}.ipynb")):
            student = path.parts[1]
            if student == info.get("student") or not fnmatch.fnmatchcase(student, students):
                continue
            if not force and (Path("autograded") / student / assignment).exists():
                continue
            try:
                nb = self._sanitized(path, info | {"student": student})
            except Exception as error:  # noqa: BLE001  (graded, and reported, in its own turn)
                self.log.debug("not prefetched %s: %r", path, error)
                continue
            pool.submit(build_job(nb, notebook or ""), settings)
            started += 1
        if started:
            self.log.info(
                "Grading %d more submissions of %s in the background", started, assignment
            )

    def _sanitized(self, path: Path, info: dict) -> NotebookNode:
        """The submission as nbgrader's sanitize step will hand it to :meth:`preprocess`."""
        from nbgrader.converters import Autograde

        nb = nbformat.read(path, as_version=4)
        resources = ResourcesDict()
        resources["nbgrader"] = dict(info)
        steps = self.config.get("Autograde", {}).get("sanitize_preprocessors") or (
            Autograde.class_traits()["sanitize_preprocessors"].default()
        )
        for step in steps:
            nb, resources = step(config=self.config).preprocess(copy.deepcopy(nb), resources)
        return nb


# --- Feedback ----------------------------------------------------------------------------
class SanitizeFeedback(NbGraderPreprocessor):
    """No student HTML or JavaScript runs in a feedback page.

    Markdown cells go through nbconvert's ``clean_html`` (bleach: scripts, event handlers and
    ``javascript:`` links are escaped or dropped, ordinary formatting stays); HTML outputs are
    cleaned the same way and JavaScript outputs are dropped.
    """

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        from nbconvert.filters import clean_html

        for cell in nb.cells:
            if cell.cell_type in ("markdown", "raw"):
                cell.source = clean_html(cell.source)
                cell.pop("attachments", None)
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                for mime in [m for m in data if "javascript" in m or m.endswith("+json")]:
                    del data[mime]
                if "text/html" in data:
                    data["text/html"] = clean_html(data["text/html"])
        return nb, resources
