"""nbgrader configuration for the course; the course directory is where nbgrader runs.

nbgrader reads this file from the current directory, so run it from the course directory:
the repository root (``tools/release.py`` does) or a grading folder this file was copied to
(README, "For instructors"). ``CourseDirectory.root`` is left at its default, the current
directory, and the gradebook (``gradebook.db``) is nbgrader's default, in that same directory.
"""

import os

from nbgrader.converters import Autograde
from nbgrader.nbgraderformat import SCHEMA_VERSION
from nbgrader.preprocessors import DeduplicateIds, LimitOutput, OverwriteCells
from traitlets import Integer

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

# solutions/<chapter>/ are the instructor (source) notebooks, notebooks/<chapter>/ the
# student (release) notebooks: one assignment per chapter folder.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# --- Timeouts ----------------------------------------------------------------------------
# Seconds one cell may run during autograde (nbgrader's default is 30). In the `smoke`
# profile most cells take well under a second and the slowest (the fine-tuning demos of
# chapters 2 and 3) up to a couple of minutes on a busy 2-core CPU, so 300 s leaves a margin
# for slow machines, while a submission that loops forever costs at most 300 s per looping
# cell. The `full` profile (bert-base-uncased, all of MRPC) needs far more per training cell:
# raise it for a run with
#   COURSE_CELL_TIMEOUT=3600 nbgrader autograde 02_training_loop
# (or `--Execute.timeout=3600`); 0 means no limit.
_timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "300"))
c.Execute.timeout = _timeout if _timeout > 0 else None
# On a timeout, interrupt the kernel, record a CellTimeoutError in that cell (so its test
# scores 0) and go on with the next cell: one endless loop costs one exercise, not the
# notebook. Interrupting is nbgrader's default, spelled out because grading relies on it; the
# message replaces nbgrader's "No reply from kernel before timeout" in the feedback.
c.Execute.interrupt_on_timeout = True
_TIMED_OUT = "the cell ran longer than the grader's time limit per cell and was stopped"
c.Execute.error_on_timeout = {
    "ename": "CellTimeoutError",
    "evalue": _TIMED_OUT,
    "traceback": [f"CellTimeoutError: {_TIMED_OUT} (Execute.timeout; an endless loop?)"],
}

# --- Tampered submissions ----------------------------------------------------------------
# A test cell the student deleted is put back from the source notebook and graded (nbgrader
# leaves it out by default, scoring 0). Edited test cells are restored from the source by
# nbgrader in any case (they are locked), with the hidden tests, and a changed kernelspec is
# reset to the source notebook's.
c.OverwriteCells.add_missing_cells = True


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


c.Autograde.autograde_preprocessors = [
    LimitOutputSize if step is LimitOutput else step
    for step in Autograde.class_traits()["autograde_preprocessors"].default()
]
_FIXED = {DeduplicateIds: CleanCellMetadata, OverwriteCells: RestoreMissingCells}
c.Autograde.sanitize_preprocessors = [
    _FIXED.get(step, step) for step in Autograde.class_traits()["sanitize_preprocessors"].default()
]
