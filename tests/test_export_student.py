"""The student-only copy: what a student needs, nothing an answer could be taken from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nbgrader_course import REPO, SOLUTIONS

from course_grading.export_student import export


def test_the_copy_holds_no_solution_and_its_checkers_still_run(tmp_path: Path) -> None:
    copy = tmp_path / "students"
    files = export(copy)
    names = {p.relative_to(copy).as_posix() for p in files}
    assert not any(
        n.startswith(("solutions/", "tests/", "tools/", "course_grading/")) for n in names
    )
    assert not list((copy / "course_utils" / "checks").glob("*.py")), "checker source shipped"
    assert not (copy / "course_utils" / "pipeline.py").exists()
    assert (copy / "course_utils" / "checks" / "autograd.pyc").is_file()
    for notebook in (copy / "notebooks").rglob("*.ipynb"):
        text = notebook.read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text, notebook
    solution_line = "return 2 * x * torch.sin(x) + x**2 * torch.cos(x)"
    assert solution_line in (SOLUTIONS / "01_autograd" / "01_autograd.ipynb").read_text("utf-8")
    for path in files:
        data = path.read_bytes()
        assert solution_line.encode() not in data, f"{path} holds a solution line"

    check = (
        "import torch\nfrom course_utils import checks\n"
        "print(checks.load('autograd').__file__)\n"
        "checks.load('autograd').derivative(lambda x: 2 * x)\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(copy)!r})\n{check}"],
        capture_output=True,
        text=True,
        cwd=copy,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0 and "✗ derivative" in done.stderr + done.stdout, done.stderr[-2000:]
    assert done.stdout.strip() == str(copy / "course_utils" / "checks" / "autograd.pyc"), (
        f"the checkers came from elsewhere: {done.stdout}"
    )
    assert str(REPO) not in done.stdout
