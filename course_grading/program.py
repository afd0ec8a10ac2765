"""A submitted notebook as a grading job: for each exercise, the code its test needs.

The grader never replays a notebook top to bottom. For each test cell it takes the
instructor's test code and, from the cells above it, only the statements that test needs:
every import, and the definitions (``def``, ``class``, assignments) of the names the test
uses, followed name by name through what those definitions use in turn. Demo cells, a stray
``exit()``, a training run left in an answer cell or code that patches the checkers from a cell
of its own are never run, and a helper a student defined in a cell of their own is found like
any other name. This module only reads the notebook: it is pure and runs no student code.
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import asdict, dataclass, field

from IPython.core.inputtransformer2 import TransformerManager

# Statement kinds that may define a name an answer needs; expressions, `del`, `assert`,
# `raise`, `global` and friends never are.
_DEFINING = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.If,
    ast.Try,
    ast.With,
    ast.For,
    ast.While,
)
_IMPORTS = (ast.Import, ast.ImportFrom)
# Cell magics whose body is ordinary code (`%%time` above an answer, say).
_CODE_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


@dataclass
class Statement:
    """One top-level statement of a cell, ready to run: its cell and its source."""

    cell: int
    line: int
    source: str


@dataclass
class Exercise:
    """One graded test cell and the statements it needs, in notebook order."""

    grade_id: str
    cell: int
    test: str
    checker_calls: int
    statements: list[Statement] = field(default_factory=list)


@dataclass
class Job:
    """Everything a runner needs for one notebook.

    ``modules`` are the modules the exercises' statements and tests import: the runner
    imports them before any student code runs, so they are part of the trusted record.
    """

    exercises: list[Exercise]
    notes: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    language: str = "en"  # the language of the checkers' messages (course_utils.i18n)

    def to_dict(self) -> dict:
        return asdict(self)


def _python_source(source: str) -> str:
    """A cell's source as plain Python: magics become calls (and so are never run)."""
    lines = source.splitlines()
    if lines and lines[0].startswith("%%"):
        magic = lines[0][2:].split(maxsplit=1)[0] if lines[0][2:].strip() else ""
        if magic in _CODE_CELL_MAGICS:
            source = "\n".join(lines[1:])
    return TransformerManager().transform_cell(source)


def bound_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds in the notebook's namespace."""
    if isinstance(node, _IMPORTS):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    names: set[str] = set()
    todo: list[ast.AST] = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(item.name)
            continue  # what is bound inside is local to it
        if isinstance(item, ast.Lambda):
            continue
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
            names.add(item.id)
        elif isinstance(item, _IMPORTS):
            names |= bound_names(item)
        todo.extend(ast.iter_child_nodes(item))
    return names


def used_names(node: ast.AST) -> set[str]:
    """The global names a statement reads, at its top level and inside its functions.

    Python's own scoping (:mod:`symtable`) decides what is global: a function's parameters
    and locals are not, so ``def fine_tune(model, ...)`` does not pull in the notebook's
    ``model``.
    """
    source = ast.unparse(node)
    try:
        table = symtable.symtable(source, "<statement>", "exec")
    except SyntaxError:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    names = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    todo = list(table.get_children())
    while todo:
        child = todo.pop()
        todo.extend(child.get_children())
        names |= {
            s.get_name()
            for s in child.get_symbols()
            if s.is_referenced() and (s.is_global() or s.is_free()) and not s.is_local()
        }
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        names.add(node.target.id)
    return names


def checker_calls(test: str) -> int:
    """How many checker verdicts a test cell should produce: its ``check.<name>(...)`` calls."""
    tree = ast.parse(test)
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "check"
    )


def _cell_kind(cell: dict) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if not isinstance(meta, dict):
        return "code"
    if meta.get("grade") and not meta.get("solution") and meta.get("grade_id"):
        return "test"
    return "code"


def notebook_language(nb: dict, name: str = "") -> str:
    """The language a notebook's messages are in: its ``metadata.course.language``.

    A notebook without it is English, unless its name ends in a language's suffix
    (``01_autograd_hi``): a student may drop the metadata, not change the assignment.
    """
    languages = ("en", "hi")  # course_utils.i18n.LANGUAGES (this module imports nothing else)
    course = nb.get("metadata", {}).get("course")
    language = course.get("language") if isinstance(course, dict) else None
    if language in languages:
        return language
    for candidate in languages:
        if name.endswith(f"_{candidate}"):
            return candidate
    return "en"


def build_job(nb: dict, name: str = "") -> Job:
    """The grading job of a notebook (as nbgrader's sanitized copy of the submission).

    ``name`` is the notebook's name, which decides the language when the metadata does not.
    """
    notes: list[str] = []
    statements: list[tuple[ast.stmt, Statement]] = []
    exercises: list[Exercise] = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if _cell_kind(cell) == "test":
            grade_id = cell["metadata"]["nbgrader"]["grade_id"]
            exercise = Exercise(grade_id, index, source, checker_calls(source))
            exercise.statements = _needed(statements, ast.parse(source))
            exercises.append(exercise)
            continue
        try:
            tree = ast.parse(_python_source(source))
        except (SyntaxError, ValueError) as error:
            line = getattr(error, "lineno", None)
            where = f" (line {line})" if line else ""
            notes.append(
                f"cell {index} has a syntax error{where}: nothing in it was run, so what it "
                "defines is missing"
            )
            continue
        for node in tree.body:
            if isinstance(node, _IMPORTS + _DEFINING):
                segment = ast.get_source_segment(_python_source(source), node) or ast.unparse(node)
                statements.append((node, Statement(index, node.lineno, segment)))
    modules: set[str] = set()
    for exercise in exercises:
        for source in [exercise.test, *(s.source for s in exercise.statements)]:
            modules |= imported_modules(source)
    return Job(exercises, notes, sorted(modules), notebook_language(nb, name))


def imported_modules(source: str) -> set[str]:
    """The modules a piece of code imports, and the checkers it loads (``checks.load("x")``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "load"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "checks"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(f"course_utils.checks.{node.args[0].value}")
    return found


def _needed(statements: list[tuple[ast.stmt, Statement]], test: ast.AST) -> list[Statement]:
    """The statements ``test`` needs: all imports, and definitions followed by name."""
    wanted = used_names(test) - bound_names_of_module(test)
    keep = [False] * len(statements)
    for position in range(len(statements) - 1, -1, -1):
        node, _ = statements[position]
        if isinstance(node, _IMPORTS):
            keep[position] = True
        elif bound_names(node) & wanted:
            keep[position] = True
            wanted |= used_names(node)
    return [statement for (_, statement), kept in zip(statements, keep, strict=True) if kept]


def bound_names_of_module(tree: ast.AST) -> set[str]:
    """Names a cell binds for itself (``check = checks.load(...)``): not needed from above."""
    body = tree.body if isinstance(tree, ast.Module) else []
    names: set[str] = set()
    for node in body:
        names |= bound_names(node)
    return names
