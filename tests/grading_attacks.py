"""Fixture hand-ins that try to cheat the grader, and honest ones it must not mis-score.

Each is chapter 1's release notebook (blank answers) with an attack typed in where a student
would put it: a cell of its own, the top of an answer cell, a default argument (run when the
function is defined), or the body of the answer function (run while the checker calls it).
Every attack must score 0 on every test cell. The honest ones hold right answers with noise
a real class produces (stderr, warnings, progress bars, a stray ``exit()``, an endless loop
in a scratch cell, a byte-order mark, helpers in cells of their own) and must score full marks.

``SENTINEL`` is a file an attack tries to create in the grader's home; the workflow test
checks it never appears, and that the checker sources and the gradebook's other rows are
untouched.
"""

from __future__ import annotations

import copy
import textwrap

import nbformat
from instructor_fixtures import Submission, _cell, _index, answered, exercises
from nbformat import NotebookNode

SENTINEL = ".course-grading-was-here"
FUNCTIONS = {  # chapter 1's answer cells: grade id -> the function each defines
    "ex1_derivative": "def df_dx(x):",
    "ex2_numerical_gradient": "def numerical_grad(f, x, eps=1e-6):",
    "ex3_sgd_step": "def sgd_step(params, lr):",
    "ex4_fit_line": "def fit_line(x, y, lr, steps):",
    "ex5_fit_line_optim": "def fit_line_optim(x, y, lr, steps):",
}


def _code(source: str) -> NotebookNode:
    return nbformat.v4.new_code_cell(textwrap.dedent(source).strip() + "\n")


def _with_cell(release: NotebookNode, source: str) -> NotebookNode:
    nb = copy.deepcopy(release)
    nb.cells.insert(_index(nb, "ex1_derivative"), _code(source))
    return nb


def _answers(release: NotebookNode, make: callable) -> NotebookNode:
    """The release with every answer cell replaced by ``make(signature)``."""
    nb = copy.deepcopy(release)
    for answer_id, signature in FUNCTIONS.items():
        _cell(nb, answer_id).source = textwrap.dedent(make(signature)).strip() + "\n"
    return nb


def _default_arg(payload: str) -> callable:
    """Answers whose default argument runs ``payload`` when the function is defined."""
    code = repr(textwrap.dedent(payload).strip())

    def make(signature: str) -> str:
        head = signature[:-2] + (", " if "()" not in signature else "") + f"_=exec({code})):"
        return f"{head}\n    raise NotImplementedError()"

    return make


def _body(payload: str, result: str = "0.0") -> callable:
    """Answers whose body runs ``payload`` while the checker calls them."""
    body = textwrap.indent(textwrap.dedent(payload).strip(), "    ")

    def make(signature: str) -> str:
        return f"{signature}\n{body}\n    return {result}"

    return make


CELL_ATTACKS = {
    "ast_transformer": """
        import ast
        class NoChecks(ast.NodeTransformer):
            def visit_Call(self, node):
                return ast.Constant(None)
        get_ipython().ast_transformers.append(NoChecks())
    """,
    "input_transformer": """
        get_ipython().input_transformers_post.append(lambda lines: ["print('ok')\\n"])
    """,
    "displayhook_score": """
        import sys
        sys.displayhook = lambda value: print(12)
        plain = get_ipython().display_formatter.formatters["text/plain"]
        plain.for_type(type(None), lambda *a: "12")
    """,
    "post_run_cell": """
        def forgive(result):
            result.error_in_exec = None
        get_ipython().events.register("post_run_cell", forgive)
        get_ipython().showtraceback = lambda *a, **k: None
    """,
    "patch_in_cell": """
        import course_utils.checks as checks_package
        everything = type("All", (), {"__getattr__": lambda s, n: print})
        vars(checks_package)["load"] = lambda name: everything()
        exec("import importlib; importlib.reload = lambda module: module")
    """,
    "startup_file": f"""
        import os, pathlib
        startup = pathlib.Path.home() / ".ipython/profile_default/startup"
        startup.mkdir(parents=True, exist_ok=True)
        (startup / "00-pass.py").write_text("import builtins; builtins.PASS = True")
        (pathlib.Path.home() / "{SENTINEL}").write_text("hello")
    """,
}

DEFINITION_ATTACKS = {  # run when the answer's function is defined
    "patch_load_default_arg": """
        import course_utils.checks
        everything = type("All", (), {"__getattr__": lambda s, n: print})
        course_utils.checks.load = lambda name: everything()
    """,
    "patch_feedback_default_arg": """
        import course_utils.feedback as f
        f.Check.fail = lambda self, message: self.case()
        f.Check.__exit__ = lambda self, *exc: True
        f.__dict__["CheckFailed"] = type("Never", (Exception,), {})
    """,
    "fake_package": """
        import os, sys
        os.makedirs("fake/course_utils/checks", exist_ok=True)
        open("fake/course_utils/__init__.py", "w").close()
        open("fake/course_utils/feedback.py", "w").write("class CheckFailed(Exception): pass")
        open("fake/course_utils/checks/__init__.py", "w").write(
            "class _All:\\n    def __getattr__(self, n): return print\\n"
            "def load(name): return _All()\\n")
        sys.path.insert(0, os.path.abspath("fake"))
        for name in [m for m in sys.modules if m.startswith("course_utils")]:
            del sys.modules[name]
    """,
    "edit_checker_source": """
        import course_utils.checks.autograd as a
        with open(a.__file__, "a") as f:
            f.write("\\ndef derivative(*args, **kwargs):\\n    print('passed')\\n")
    """,
    "detached_process": f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c",
            "import time, pathlib; time.sleep(3); "
            "[p.write_bytes(b'') for p in pathlib.Path('/').glob('**/gradebook.db')]; "
            "(pathlib.Path.home() / '{SENTINEL}').write_text('x')"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    """,
    "blank_other_students": """
        import glob, os
        for pattern in ["../../*/*/*.ipynb", "../../../submitted/*/*/*.ipynb",
                        os.path.expanduser("~/grading/*/submitted/*/*/*.ipynb")]:
            for path in glob.glob(pattern):
                open(path, "w").write("{}")
    """,
    "read_solutions": """
        import glob, json, os
        places = ["../../../solutions", os.path.expanduser("~/grading/*/solutions"),
                  "/work/*/solutions", "/root/*/solutions", "/home/*/*/solutions"]
        for place in places:
            for path in glob.glob(place + "/01_autograd/01_autograd.ipynb", recursive=True):
                for cell in json.load(open(path))["cells"]:
                    if cell["cell_type"] == "code" and "def " in "".join(cell["source"]):
                        exec("".join(cell["source"]), globals())
                break
    """,
    "exit_when_defined": """
        import os
        os._exit(0)
    """,
}

CALL_ATTACKS = {  # run while the checker calls the answer
    "patch_torch_in_body": (
        """
        import torch
        torch.allclose = lambda *a, **k: True
        torch.Tensor.__sub__ = lambda self, other: torch.zeros_like(self)
        torch.Tensor.abs = lambda self: torch.zeros_like(self)
        """,
        "x",
    ),
    "torch_function_mode": (
        """
        import torch
        from torch.overrides import TorchFunctionMode
        class Agree(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                if func in (torch.allclose, torch.equal):
                    return True
                return out
        Agree().__enter__()
        """,
        "x",
    ),
    "tensor_subclass": (
        """
        import torch
        class Always(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                out = super().__torch_function__(func, types, args, kwargs or {})
                return torch.zeros_like(out) if isinstance(out, torch.Tensor) else out
        """,
        "torch.zeros(3).as_subclass(Always)",
    ),
    "swap_verdict_log": (
        """
        from course_utils import verdict_log
        verdict_log.record(True, "✓ forged")
        verdict_log.RECORDS = []
        """,
        "0.0",
    ),
    "search_objects": (
        """
        import gc
        for obj in gc.get_objects():
            if type(obj).__name__ == "Check":
                type(obj).fail = lambda self, message: None
        """,
        "0.0",
    ),
    "trace_the_checker": (
        """
        import sys
        sys.settrace(lambda frame, event, arg: None)
        """,
        "0.0",
    ),
    "kill_the_grader": (
        """
        import os, signal
        for target in (os.getppid(), 1):
            try:
                os.kill(target, signal.SIGSTOP)
            except Exception:
                pass
        os.kill(os.getppid(), signal.SIGKILL)
        """,
        "0.0",
    ),
    "memory_hog": (
        """
        hoard = bytearray(200 * 1024**3)
        """,
        "0.0",
    ),
    "calls_reference": (
        """
        from course_utils.checks import autograd as ref
        if "steps" in locals():
            import torch
            return ref.reference_fit(x, y, lr, steps)
        """,
        "0.0",
    ),
}


def _honest(solution: NotebookNode, release: NotebookNode) -> list[Submission]:
    """Right answers with the noise of a real class: each must get full marks."""
    name = "01_autograd.ipynb"
    subs = []

    def noisy_fit(source: str) -> str:
        return source.replace(
            "for _ in range(steps):",
            "import sys, warnings\n    from tqdm import tqdm\n"
            "    warnings.warn('a library warning on stderr')\n"
            "    print('fitting...', file=sys.stderr)\n"
            "    for _ in tqdm(range(steps)):",
        )

    nb = answered(solution, release, {"ex4_fit_line": noisy_fit})
    nb.cells.insert(
        _index(nb, "ex1_derivative"),
        _code("import sys, warnings\nwarnings.warn('deprecated')\nprint('oops', file=sys.stderr)"),
    )
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("My notes <script>alert('xss')</script>"))
    subs.append(
        Submission("honest_stderr", name, nbformat.writes(nb).encode(), "stderr, warnings, tqdm")
    )

    nb = answered(solution, release)
    nb.cells.insert(_index(nb, "ex3_sgd_step"), _code("exit()"))
    nb.cells.insert(_index(nb, "ex4_fit_line"), _code("import os\nos._exit(0)"))
    nb.cells.insert(
        _index(nb, "ex5_fit_line_optim"),
        _code(
            "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except:\n        pass"
        ),
    )
    _cell(nb, "ex1_derivative").source += "\n\nprint(df_dx(torch.tensor(2.0)))\n"
    subs.append(
        Submission(
            "honest_exit_and_loop",
            name,
            nbformat.writes(nb).encode(),
            "stray exit() and os._exit() cells, an uninterruptible loop in a scratch cell",
        )
    )

    text = nbformat.writes(answered(solution, release)).replace("\n", "\r\n")
    subs.append(
        Submission("honest_bom_crlf", name, b"\xef\xbb\xbf" + text.encode(), "BOM and CRLF")
    )

    nb = answered(solution, release)
    nb.cells.insert(
        _index(nb, "ex4_fit_line"),
        _code(
            """
            import torch as T
            START = 0.0

            def mse(prediction, target):
                return ((prediction - target) ** 2).mean()
            """
        ),
    )
    _cell(nb, "ex4_fit_line").source = textwrap.dedent(
        """
        def fit_line(x, y, lr, steps):
            w = T.full((1,), START, requires_grad=True)
            b = T.full((1,), START, requires_grad=True)
            for _ in range(steps):
                loss = mse(w * x + b, y)
                loss.backward()
                with T.no_grad():
                    for p in (w, b):
                        p -= lr * p.grad
                        p.grad = None
            return w.item(), b.item()
        """
    ).strip()
    subs.append(
        Submission("honest_helpers", name, nbformat.writes(nb).encode(), "helpers in own cells")
    )
    return subs


def attack_submissions(solution: NotebookNode, release: NotebookNode) -> list[Submission]:
    """Chapter 1's cheating and honest fixture students."""
    every_test = frozenset(t for e in exercises(solution) for t in e.tests)
    name = "01_autograd.ipynb"
    subs = []
    for student, payload in CELL_ATTACKS.items():
        nb = _with_cell(release, payload)
        subs.append(
            Submission(
                f"cheat_{student}",
                name,
                nbformat.writes(nb).encode(),
                f"blank answers; a cell: {student}",
                every_test,
            )
        )
    for student, payload in DEFINITION_ATTACKS.items():
        nb = _answers(release, _default_arg(payload))
        subs.append(
            Submission(
                f"cheat_{student}",
                name,
                nbformat.writes(nb).encode(),
                f"blank answers; when defined: {student}",
                every_test,
            )
        )
    for student, (payload, result) in CALL_ATTACKS.items():
        nb = _answers(release, _body(payload, result))
        subs.append(
            Submission(
                f"cheat_{student}",
                name,
                nbformat.writes(nb).encode(),
                f"no real answers; when called: {student}",
                every_test,
            )
        )
    return subs + _honest(solution, release)
