"""The numbers the lessons quote in their prose are the numbers their cells print.

Where a claim is deterministic, the test runs the computation the notebook runs (its own code
cells, with the course's reference answers standing in for the exercises) and compares the
number in the student notebook's prose with the printed one. A later edit that changes a
cell, a setting or the data without changing the prose (or the other way round) fails here.

Fast by design: chapter 1's cells run in about a second; chapters 2 and 5 are checked against
the settings and the code the cells use, without training anything.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re

import matplotlib
import nbformat
import pytest
from nbgrader_course import RELEASE, SOLUTIONS

matplotlib.use("Agg")

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10}


def _cells(root, chapter: str) -> list:
    return nbformat.read(root / chapter / f"{chapter}.ipynb", as_version=4).cells


def prose(chapter: str, needle: str) -> str:
    """The one markdown cell of the student notebook that contains ``needle``, lines joined."""
    hits = [c.source for c in _cells(RELEASE, chapter)
            if c.cell_type == "markdown" and needle in c.source]
    assert len(hits) == 1, f"{chapter}: {len(hits)} markdown cells contain {needle!r}"
    return " ".join(hits[0].split())


def code(chapter: str, needle: str) -> str:
    """The one code cell of the instructor notebook that contains ``needle``."""
    hits = [c.source for c in _cells(SOLUTIONS, chapter)
            if c.cell_type == "code" and needle in c.source]
    assert len(hits) == 1, f"{chapter}: {len(hits)} code cells contain {needle!r}"
    return hits[0]


def run(sources: list[str], namespace: dict) -> str:
    """Run notebook cells in ``namespace``; return what they printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for source in sources:
            exec(compile(source, "<notebook cell>", "exec"), namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
    return out.getvalue()


def claim(pattern: str, text: str) -> tuple[str, ...]:
    found = re.search(pattern, text)
    assert found, f"the prose no longer says {pattern!r}:\n{text}"
    return found.groups()


# --- chapter 1: the learning-rate experiment ---------------------------------------------------


@pytest.fixture(scope="module")
def chapter1_printout() -> str:
    from course_utils.checks.autograd import reference_fit

    namespace = {"fit_line": reference_fit}  # the exercise, answered by the course's reference
    return run([code("01_autograd", "torch.manual_seed(0)"),
                code("01_autograd", "x_data, y_data = line_data("),
                code("01_autograd", "curves = {lr:")], namespace)


def printed_losses(printout: str) -> dict[str, tuple[str, str, str]]:
    """{lr: (loss at the start, loss after 40 steps, when it is below 0.1)} as printed."""
    return {lr: (start, end, below) for lr, start, end, below in re.findall(
        r"lr = ([\d.]+): loss (\S+) at the start, (\S+) after 40 steps; below 0\.1 ([^\n]+)",
        printout)}


def test_chapter1_prose_quotes_the_printed_losses(chapter1_printout):
    text = prose("01_autograd", "too large")
    losses = printed_losses(chapter1_printout)
    assert set(losses) == {"0.1", "0.4", "0.8"}, chapter1_printout

    start, end, steps = claim(r"With `lr=0\.1` the loss falls steadily, from (\S+) to (\S+?), "
                              r"and is below 0\.1 (after \d+ steps);", text)
    assert (start, end, steps) == losses["0.1"]
    end, steps = claim(r"`lr=0\.4` ends at the same (\S+) but is below 0\.1 (after \d+ steps)\.",
                       text)
    assert (end, steps) == losses["0.4"][1:]
    (blown,) = claim(r"the loss \*grows\*, to (\S+) after 40 steps", text)
    assert blown == losses["0.8"][1]
    assert losses["0.8"][2] == "never"
    assert claim(r"`(lr=[\d.]+)` is too large", text) == ("lr=0.8",)


def test_chapter1_too_large_really_diverges_and_the_others_converge(chapter1_printout):
    printed = printed_losses(chapter1_printout)
    losses = {lr: (float(a), float(b)) for lr, (a, b, _) in printed.items()}
    assert losses["0.8"][1] > 100 * losses["0.8"][0]  # diverges
    assert losses["0.4"][1] <= losses["0.1"][1] < losses["0.1"][0]  # both converge


def test_chapter1_divergence_threshold(chapter1_printout):
    text = prose("01_autograd", "too large")
    curvature, limit = re.search(
        r"curvature 2 \* mean\(x\^2\) = (\S+); divergence above lr = (\S+)", chapter1_printout
    ).groups()
    assert claim(r"= (\d\.\d\d)\$", text) == (curvature,)
    assert claim(r"any learning rate above about (\S+) diverges", text) == (limit,)
    # and the threshold is real: just below it converges, just above it diverges
    from course_utils.checks.autograd import line_data, reference_fit

    x, y = line_data(slope=3.0, intercept=-1.0)

    def loss(lr: float) -> float:
        w, b = reference_fit(x, y, lr, 200)
        return float(((w * x + b - y) ** 2).mean())

    assert loss(float(limit) - 0.02) < 1.0 < loss(float(limit) + 0.02)


CHAPTER_2B = "02b_schedules_and_accumulation"


# --- chapter 2: the settings ------------------------------------------------------------------


def test_chapter2_settings_in_prose_are_the_profiles(monkeypatch):
    from course_utils.pipeline import hyperparameters
    from course_utils.profiles import FULL_CHECKPOINT, Profile

    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    smoke = hyperparameters()
    full = hyperparameters(Profile("full", FULL_CHECKPOINT, None, "glue", "test"))
    text = prose("02_training_loop", "In `full` the settings are the usual ones")

    lr, epochs, batch = claim(r"AdamW at (\S+), (\d+) epochs, batches of (\d+)\.", text)
    assert (float(lr), int(epochs), int(batch)) == (full.lr, full.epochs, full.batch_size)

    lr, word = claim(r"AdamW at (\S+) for (\w+) short epochs", text)
    assert (float(lr), WORDS[word]) == (smoke.lr, smoke.epochs)
    (printed,) = claim(r"\(`(lr=\S+, epochs=\d+)`\)", text)
    assert printed in str(smoke)  # what the cell's "settings:" line prints


# --- chapter 5: how many fine-tunings ---------------------------------------------------------


def count_fine_tunings(chapter: str) -> tuple[int, int]:
    """Fine-tunings the code cells start: run_loop(...) calls (a comprehension over a tuple
    counts once per element) and trainer.train() calls. Also returns the strategies' count."""
    total, strategies = 0, 0
    for cell in _cells(SOLUTIONS, chapter):
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "!")):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # a cell with IPython magics inside
            continue
        in_comprehension = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ListComp):
                iterable = node.generators[0].iter
                for call in ast.walk(node.elt):
                    if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "run_loop":
                        assert isinstance(iterable, ast.Tuple)
                        total += len(iterable.elts)
                        strategies = len(iterable.elts)
                        in_comprehension.add(id(call))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in in_comprehension:
                continue
            if getattr(node.func, "id", "") == "run_loop":
                total += 1
            elif (isinstance(node.func, ast.Attribute) and node.func.attr == "train"
                  and getattr(node.func.value, "id", "") == "trainer"):
                total += 1
    return total, strategies


def test_chapter5_counts_its_fine_tunings():
    total, strategies = count_fine_tunings("05_beyond_the_loop")
    text = prose("05_beyond_the_loop", "the chapter fine-tunes")
    word, strategy_word = claim(r"the chapter fine-tunes (\w+) times \(the (\w+) strategies", text)
    assert (WORDS[word], WORDS[strategy_word]) == (total, strategies) == (5, 3)


# --- chapter 3: choosing the epoch on one set of pairs, reporting on another -------------------


def test_chapter3_reports_on_pairs_the_choice_never_saw(monkeypatch):
    from course_utils import pipeline

    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    setup = pipeline.prepare_mrpc()
    namespace = {"setup": setup, "hparams": setup.hparams}
    printout = run([code("03_evaluation_loop", "choose_split, report_split =")], namespace)

    def pairs(split):
        return {tuple(row["input_ids"].tolist()) for row in split}

    chosen, reported = pairs(namespace["choose_split"]), pairs(namespace["report_split"])
    assert chosen and reported and not chosen & reported
    # the smoke fixture's test labels are -1: the validation split is halved
    assert len(namespace["choose_split"]) + len(namespace["report_split"]) == len(
        setup.tokenized["validation"])
    assert f"on {len(namespace['choose_split'])} pairs; report on" in printout
    text = prose("03_evaluation_loop", "## 10. Report once")
    assert "optimistic" in text and "no_grad` has no part in that" in text


def test_plot_history_draws_the_validation_loss_when_it_is_kept():
    from course_utils.plots import plot_history

    rows = [{"train_loss": 0.7, "eval_loss": 0.65, "accuracy": 0.6, "f1": 0.7},
            {"train_loss": 0.5, "eval_loss": 0.6, "accuracy": 0.7, "f1": 0.8}]
    loss_ax, _ = plot_history(rows)
    assert [line.get_label() for line in loss_ax.get_lines()] == ["training", "validation"]
    loss_ax, _ = plot_history([{k: v for k, v in r.items() if k != "eval_loss"} for r in rows])
    assert len(loss_ax.get_lines()) == 1
    import matplotlib.pyplot as plt

    plt.close("all")


def test_chapter2_accumulation_demo_sizes_are_the_codes():
    text = prose(CHAPTER_2B, "See the equivalence for yourself")
    micro, size, whole = map(int, claim(
        r"one accumulated update over (\d+) micro-batches of (\d+) examples, against one ordinary "
        r"update on the same (\d+) examples", text))
    source = code(CHAPTER_2B, "micro_batches = toy_dataloader(")
    num_batches, batch_size = map(int, re.search(
        r"toy_dataloader\(num_batches=(\d+), batch_size=(\d+)", source).groups())
    assert (micro, size, whole) == (num_batches, batch_size, num_batches * batch_size)
    assert re.search(rf"nn\.CrossEntropyLoss\(\), {micro}\)", source)  # accumulation_steps


# --- chapter 2b: the learning-rate sweep ------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_printout(monkeypatch_module) -> tuple[str, dict]:
    """The sweep cell's table, from the notebook's own cells (smoke profile: deterministic)."""
    namespace: dict = {}
    printed = run([code(CHAPTER_2B, "from course_utils.progress import progress_bar"),
                   code(CHAPTER_2B, "setup = pipeline.prepare_mrpc()"),
                   code(CHAPTER_2B, "for factor in (0.25, 1, 10):")], namespace)
    return printed, namespace


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_PROFILE", "smoke")
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        yield patch


def test_chapter2b_sweep_reading_is_what_the_sweep_prints(sweep_printout):
    printed, namespace = sweep_printout
    rows = {}
    for line in printed.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0][0].isdigit():
            rows[float(parts[0])] = [float(p) for p in parts[1:]]
    assert len(rows) == 3, printed
    low, mid, high = sorted(rows)
    text = prose(CHAPTER_2B, "How to read it.")

    rate, loss, accuracy = claim(r"At \*\*(\S+)\*\*, a quarter of the chapter's rate, .*? "
                                 r"loss is still (\S+), and it reaches an accuracy of "
                                 r"([\d.]+)\.", text)
    assert (float(rate), float(loss), float(accuracy)) == (low, rows[low][1], rows[low][2])
    rate, loss, accuracy = claim(r"At \*\*(\S+)\*\*, the chapter's rate, the loss falls to "
                                 r"(\S+) and the accuracy reaches ([\d.]+), the best", text)
    assert (float(rate), float(loss), float(accuracy)) == (mid, rows[mid][1], rows[mid][2])
    assert rows[mid][2] == max(row[2] for row in rows.values())
    rate, loss, accuracy = claim(r"At \*\*(\S+)\*\*, ten times the rate, .*?\((\S+) in the last "
                                 r"epoch\).*?accuracy of ([\d.]+) is", text)
    assert (float(rate), float(loss), float(accuracy)) == (high, rows[high][1], rows[high][2])
    assert high == 10 * mid and low == mid / 4

    # "answers paraphrase for every pair": the accuracy is the share of label 1
    labels = [int(label) for label in namespace["setup"].tokenized["validation"]["labels"]]
    assert round(sum(labels) / len(labels), 3) == rows[high][2]
    losses, _ = namespace["sweep"][high]
    per_epoch = len(namespace["train_dataloader"])
    assert abs(sum(losses[-per_epoch:]) / per_epoch - losses[0]) < 0.05  # never left the start

    (pairs,) = claim(r"The validation split has (\d+) pairs", text)
    assert int(pairs) == len(labels)


# --- chapter 6: the fixture, the settings, the floor ---------------------------------------------


def test_chapter6_prose_quotes_the_fixture_settings_and_floor(monkeypatch):
    import math

    from course_utils import sst2
    from course_utils.checks.capstone import ACCURACY_FLOOR
    from course_utils.pipeline import hyperparameters
    from course_utils.profiles import FULL_CHECKPOINT, SENTIMENT_FIXTURE_DIR, Profile

    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    smoke = hyperparameters()
    full = hyperparameters(Profile("full", FULL_CHECKPOINT, None, "glue", "test"))
    sizes = {split: len(rows) for split, rows in sst2.load_sst2_tsv(SENTIMENT_FIXTURE_DIR).items()}

    intro = prose("06_capstone", "**Where it runs:**")
    train, valid, test = claim(r"\((\d+) training sentences, (\d+) validation, (\d+) test", intro)
    assert (int(train), int(valid), int(test)) == (sizes["train"], sizes["validation"],
                                                  sizes["test"])
    epochs, steps = claim(r"(\d+) epochs of ([\d,]+) steps each", intro)
    assert int(epochs) == full.epochs
    assert int(steps.replace(",", "")) == math.ceil(67349 / full.batch_size)

    exercise = prose("06_capstone", "### Exercise 5")
    epochs, lr, batch = claim(r"\((\d+) epochs,\s+AdamW at (\S+), batch (\d+),", exercise)
    assert (int(epochs), float(lr), int(batch)) == (smoke.epochs, smoke.lr, smoke.batch_size)
    (floor,) = claim(r"that accuracy is above (\d\.\d+)\.", exercise)
    assert float(floor) == ACCURACY_FLOOR

    run = prose("06_capstone", "## 7. The real run")
    batch, lr = claim(r"on `full`, 3 epochs, batch (\d+), AdamW at (\S+);", run)
    assert (int(batch), float(lr)) == (full.batch_size, full.lr)
    (lr,) = claim(r"needs more: 5 epochs at (\S+)\.", run)
    assert float(lr) == smoke.lr and smoke.epochs == 5


# --- chapter 4: how often Accelerate steps a prepared scheduler --------------------------------


def _one_update_on_a_prepared_scheduler() -> int:
    """In each launched process: one optimizer step, one scheduler.step(); how far it moved."""
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    optimizer, scheduler = accelerator.prepare(optimizer, scheduler)
    accelerator.backward(weight.sum())
    optimizer.step()
    scheduler.step()
    return scheduler.scheduler.last_epoch


def test_chapter4_a_prepared_scheduler_steps_num_processes_times_per_update():
    """The prose says N times per update (it once said "once per process"); two real
    processes started by notebook_launcher each move their prepared scheduler by 2."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("launches CPU processes; this machine has a GPU")
    from course_utils.checks import launching

    text = prose("04_accelerate", "passed to `accelerator.prepare` | by Accelerate")
    assert "once per process" not in text
    assert "**N times** (`num_processes` times) at each real optimizer step" in text
    records, error = launching.launch(_one_update_on_a_prepared_scheduler, ())
    assert [record["returned"] for record in records] == [2, 2], (records, error)
    cell = code("04_accelerate", "prepared scheduler, stepped")
    assert '"prepared scheduler, stepped", processes, "times per update:"' in cell
