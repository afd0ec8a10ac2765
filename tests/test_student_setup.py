"""Students' entry points: badges that open their own notebook, the Setup cell, pins for Colab."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from course_utils import env, i18n, links

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
ENGLISH = [c for c in CHAPTERS if not c.endswith("_hi")]  # the Hindi ones: tests/test_hindi.py


@pytest.fixture(autouse=True)
def _english_afterwards():
    """A Hindi Setup cell run here switches the messages to Hindi: switch them back."""
    yield
    i18n.set_language("en")
BADGE = re.compile(r"\[!\[(Open In Colab|Launch Binder)\]\([^)]*\)\]\(([^)]*)\)")


def badge_targets(markdown: str) -> dict[str, str]:
    """{"colab": repository path, "binder": repository path} that the badges open."""
    found = {}
    for kind, url in BADGE.findall(markdown):
        parsed = urlparse(url)
        if kind == "Open In Colab":
            assert parsed.netloc == "colab.research.google.com", url
            prefix = f"/github/{links.REPOSITORY}/blob/{links.BRANCH}/"
            assert parsed.path.startswith(prefix), url
            found["colab"] = parsed.path.removeprefix(prefix)
        else:
            assert parsed.netloc == "mybinder.org", url
            assert parsed.path == f"/v2/gh/{links.REPOSITORY}/{links.BRANCH}", url
            found["binder"] = unquote(parse_qs(parsed.query)["labpath"][0])
    return found


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_notebook_opens_with_badges_to_its_own_student_notebook(folder, chapter):
    nb = nbformat.read(REPO / folder / chapter / f"{chapter}.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown", f"{folder}/{chapter}: the first cell is not the badges"
    own = f"notebooks/{chapter}/{chapter}.ipynb"
    assert badge_targets(first.source) == {"colab": own, "binder": own}
    assert (REPO / own).is_file()


def test_readme_table_has_one_row_per_chapter_with_its_own_badges():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- chapters:start", 1)[1].split("<!-- chapters:end", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| [")]
    assert len(rows) == len(ENGLISH), rows
    for chapter, row in zip(ENGLISH, rows, strict=True):
        own = f"notebooks/{chapter}/{chapter}.ipynb"
        assert f"]({own})" in row, row
        assert badge_targets(row) == {"colab": own, "binder": own}


def test_generated_cells_and_table_are_up_to_date():
    result = subprocess.run([sys.executable, "tools/student_cells.py", "--check"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def setup_cell(chapter: str) -> str:
    nb = nbformat.read(REPO / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.get("id") == "setup"]
    return cell.source


class FakeIPython:
    def __init__(self):
        self.magics: list[tuple[str, str]] = []

    def run_line_magic(self, name: str, line: str) -> None:
        self.magics.append((name, line))


def run_setup_cell(chapter: str, monkeypatch, in_colab: bool) -> tuple[FakeIPython, list]:
    calls = []
    monkeypatch.setattr(env, "check_environment", lambda: calls.append("check") or True)
    monkeypatch.setattr(env, "install_missing", lambda: calls.append("install") or [])
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    shell = FakeIPython()
    code = TransformerManager().transform_cell(setup_cell(chapter))
    exec(compile(code, "setup", "exec"), {"get_ipython": lambda: shell})
    return shell, calls


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_setup_cell_installs_nothing_outside_colab(chapter, monkeypatch):
    shell, calls = run_setup_cell(chapter, monkeypatch, in_colab=False)
    assert shell.magics == []
    assert calls == ["check"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_setup_cell_in_colab_installs_course_utils_then_the_missing_packages(chapter,
                                                                            monkeypatch):
    shell, calls = run_setup_cell(chapter, monkeypatch, in_colab=True)
    assert shell.magics == [("pip", f'install --quiet --no-deps "{links.install_spec()}"')]
    assert calls == ["install", "check"]


def test_install_missing_installs_only_missing_or_too_old_packages_and_never_torch(monkeypatch):
    present = {"transformers": "4.20.0", "datasets": "5.2.0", "accelerate": "1.15.0",
               "tqdm": "4.70.1", "matplotlib": "3.10.0", "ipywidgets": "7.7.1", "numpy": "2.0.2"}

    def fake_check(name, pins=None, optional=False):
        installed = present.get(name)
        ok = installed is not None and env._at_least(installed, env.MINIMUM_VERSIONS[name])
        return env.PackageStatus(name, installed, None, ok)

    commands = []
    monkeypatch.setattr(env, "check_package", fake_check)
    wanted = env.install_missing(run=lambda command, check: commands.append(command))
    pins = env.read_pins(env.PACKAGED_PINS)
    # torch is missing here too, but Colab's own build must never be replaced
    assert wanted == [f"transformers=={pins['transformers']}", f"evaluate=={pins['evaluate']}"]
    assert commands == [[sys.executable, "-m", "pip", "install", "--quiet", *wanted]]


def test_install_missing_does_nothing_when_everything_is_there(capsys):
    commands = []
    assert env.install_missing(run=lambda command, check: commands.append(command)) == []
    assert commands == []
    assert "Nothing to install" in capsys.readouterr().out


def test_packaged_pins_equal_requirements_txt():
    ours = env.read_pins(REPO / "requirements.txt")
    packaged = env.read_pins(env.PACKAGED_PINS)
    assert sorted(packaged) == sorted(env.normalize(n) for n in env.STUDENT_PACKAGES)
    assert {name: ours[name] for name in packaged} == packaged, (
        "course_utils/pins.txt differs from requirements.txt: copy the student packages' lines"
    )


def test_environment_check_writes_nothing(tmp_path, monkeypatch, capsys):
    work = tmp_path / "my_notebook.ipynb"
    work.write_text("a student's work", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    env.check_environment()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_notebook.ipynb"]
    assert work.read_text(encoding="utf-8") == "a student's work"
    assert "[OK] torch" in capsys.readouterr().out
