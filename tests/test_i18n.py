"""The message catalogue: English and Hindi entries for every message, placeholders that agree,
compiled files that match their sources, and the language reaching the checkers and the grader.
"""

from __future__ import annotations

import importlib.util
import string
import sys

import nbformat
import pytest
import tomllib
import torch
from nbgrader_course import REPO

from course_grading.program import build_job, notebook_language
from course_utils import i18n
from course_utils.feedback import Check, CheckFailed

_SPEC = importlib.util.spec_from_file_location("messages_tool", REPO / "tools" / "messages.py")
messages = importlib.util.module_from_spec(_SPEC)
sys.modules["messages_tool"] = messages
_SPEC.loader.exec_module(messages)


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    i18n.set_language("en")


def _fields(template: str) -> set[str]:
    """The ``{names}`` a template formats (format specs and conversions left out)."""
    return {name.split(".")[0].split("[")[0]
            for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_catalogues_hold_exactly_the_messages_of_the_code() -> None:
    extracted = {str(m.id) for m in messages.extract() if m.id}
    for language in messages.LANGUAGES:
        catalog = {str(m.id) for m in messages.read(language) if m.id}
        assert catalog == extracted, (
            f"{language}: not in the catalogue {sorted(extracted - catalog)[:3]}, no longer in "
            f"the code {sorted(catalog - extracted)[:3]}: run python tools/messages.py"
        )


@pytest.mark.parametrize("language", messages.LANGUAGES)
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    wrong = []
    for message in messages.read(language):
        if not message.id:
            continue
        if not message.string:
            wrong.append(f"untranslated: {message.id!r}")
        elif _fields(message.string) != _fields(message.id):
            wrong.append(f"placeholders {sorted(_fields(message.string))} in {message.string!r}, "
                         f"{sorted(_fields(message.id))} in the English")
    assert not wrong, f"{language}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("language", messages.LANGUAGES)
def test_the_compiled_catalogue_is_its_po_file(language: str) -> None:
    catalog = messages.read(language)
    assert messages.mo_path(language).read_bytes() == messages.mo_bytes(catalog), (
        f"{messages.mo_path(language)} is stale: run python tools/messages.py compile"
    )


def test_the_catalogues_ship_with_the_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "locale/**/*" in pyproject["tool"]["setuptools"]["package-data"]["course_utils"]


def test_set_language_switches_the_messages() -> None:
    english = "Nothing to install: every course package is already here."
    assert i18n._(english) == english
    i18n.set_language("hi")
    assert i18n.language() == "hi"
    assert i18n._(english) == "इंस्टॉल करने को कुछ नहीं: कोर्स का हर पैकेज पहले से यहाँ है।"
    i18n.set_language("en")
    assert i18n._(english) == english


def test_an_unknown_language_is_refused_in_one_sentence() -> None:
    refused = "the course has no messages in 'fr'; choose one of en, hi"
    with pytest.raises(ValueError, match=refused):
        i18n.set_language("fr")
    assert i18n.language() == "en"


def test_a_failed_check_is_framed_and_named_in_hindi() -> None:
    i18n.set_language("hi")
    with pytest.raises(CheckFailed) as failed, Check("sgd_step") as check:
        check.call(lambda: (_ for _ in ()).throw(NotImplementedError()), name="sgd_step")
    assert str(failed.value).startswith("✗ sgd_step — अभी उत्तर नहीं दिया गया: `sgd_step`")


def test_a_wrong_answer_gets_its_hindi_message_from_the_checker() -> None:
    from course_utils import checks

    def forgets_to_zero(params, lr):
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad

    i18n.set_language("hi")
    check = checks.load("autograd")
    with pytest.raises(CheckFailed, match="ग्रेडिएंट शून्य नहीं किए गए, इसलिए वे चरणों में"):
        check.sgd_step(forgets_to_zero)


def test_a_right_answer_passes_in_hindi(capsys: pytest.CaptureFixture[str]) -> None:
    from course_utils import checks

    def sgd_step(params, lr):
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None

    i18n.set_language("hi")
    checks.load("autograd").sgd_step(sgd_step)
    assert "✓ sgd_step — 3/3 जाँचें सफल (पैरामीटर −lr·grad से खिसके" in capsys.readouterr().out


def test_the_grader_takes_the_language_from_the_notebook() -> None:
    english = nbformat.read(REPO / "solutions/01_autograd/01_autograd.ipynb", as_version=4)
    hindi = nbformat.read(REPO / "solutions/01_autograd_hi/01_autograd_hi.ipynb", as_version=4)
    assert build_job(english, "01_autograd").language == "en"
    assert build_job(hindi, "01_autograd_hi").language == "hi"
    hindi.metadata.pop("course")  # a student dropped the metadata: the assignment still says
    assert build_job(hindi, "01_autograd_hi").language == "hi"
    assert notebook_language({"metadata": {"course": {"language": "xx"}}}, "ch") == "en"
    assert build_job(english, "01_autograd").to_dict()["language"] == "en"  # what the runner reads
