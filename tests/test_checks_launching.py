"""The chapter-4b checker: a function launched by ``notebook_launcher``. Right answers in
several styles pass; each mistake the checker names is named.

The check launches the answer on two forked CPU processes, so every answer is a module-level
function (it reaches the processes by fork). Answers that must be *wrong about where things
are built* use module globals, exactly as a notebook cell would.
"""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator
from checker_asserts import fails_with, passes

from course_utils.checks import launching as check

pytestmark = [
    pytest.mark.skipif(torch.cuda.is_available(),
                       reason="checks a CPU process group; this machine has a GPU"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def _train(accelerator, model, optimizer, train_dataloader, num_epochs):
    for _epoch in range(num_epochs):
        model.train()
        for batch in train_dataloader:
            accelerator.backward(model(**batch).loss)
            optimizer.step()
            optimizer.zero_grad()


def _accuracy_gathered(accelerator, model, eval_dataloader):
    model.eval()
    correct = total = 0
    for batch in eval_dataloader:
        with torch.no_grad():
            predictions = model(**batch).logits.argmax(dim=-1)
        predictions, labels = accelerator.gather_for_metrics((predictions, batch["labels"]))
        correct += (predictions == labels).sum().item()
        total += len(labels)
    return correct / total


# --- right answers ---------------------------------------------------------------------------


def right(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator(cpu=True)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    accuracy = _accuracy_gathered(accelerator, model, eval_dataloader)
    accelerator.print(f"accuracy {accuracy:.3f}")
    return accuracy


def right_main_process_print_and_tensor(make_model, make_dataloaders, num_epochs):
    """SGD, a metric over concatenated tensors, print under is_main_process, a 0-d tensor."""
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    train_dataloader, eval_dataloader = make_dataloaders()
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    eval_dataloader = accelerator.prepare(eval_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    model.eval()
    everything = []
    with torch.no_grad():
        for batch in eval_dataloader:
            everything.append(accelerator.gather_for_metrics(
                {"p": model(**batch).logits.argmax(-1), "y": batch["labels"]}))
    predictions = torch.cat([part["p"] for part in everything])
    labels = torch.cat([part["y"] for part in everything])
    accuracy = (predictions == labels).double().mean()
    if accelerator.is_main_process:
        print("validation accuracy:", accuracy.item())
    return accuracy


def right_unprepared_eval(make_model, make_dataloaders, num_epochs):
    """Every process scores the whole validation set itself: no gathering needed."""
    accelerator = Accelerator(cpu=True)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    model.eval()
    hits = rows = 0
    with torch.no_grad():
        for batch in eval_dataloader:
            batch = batch.to(accelerator.device)
            hits += int((model(**batch).logits.argmax(-1) == batch["labels"]).sum())
            rows += len(batch["labels"])
    accelerator.print(hits / rows)
    return hits / rows


@pytest.mark.parametrize("answer", [right, right_main_process_print_and_tensor,
                                    right_unprepared_eval])
def test_right_answers_pass(answer, capsys) -> None:
    line = passes(check.training_function, answer, capsys)
    assert "2 processes in one group" in line


def test_right_answer_passes_other_sizes(capsys) -> None:
    passes(check.training_function, right, capsys, num_epochs=1, num_train_rows=20,
           num_eval_rows=11, batch_size=3, seed=3)


# --- the classic mistake: built before the launch --------------------------------------------

OUTSIDE = Accelerator(cpu=True)


def accelerator_outside(make_model, make_dataloaders, num_epochs):
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, train_dataloader, eval_dataloader = OUTSIDE.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    _train(OUTSIDE, model, optimizer, train_dataloader, num_epochs)
    return _accuracy_gathered(OUTSIDE, model, eval_dataloader)


def _helper_using_outside():
    return OUTSIDE


def accelerator_outside_via_helper(make_model, make_dataloaders, num_epochs):
    accelerator = _helper_using_outside()
    return accelerator.num_processes


MODEL_OUTSIDE = check._make_model(0)


def model_outside(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator(cpu=True)
    optimizer = torch.optim.AdamW(MODEL_OUTSIDE.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        MODEL_OUTSIDE, optimizer, train_dataloader, eval_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    return _accuracy_gathered(accelerator, model, eval_dataloader)


def test_accelerator_created_outside_is_named() -> None:
    fails_with(check.training_function, accelerator_outside, "`OUTSIDE`",
               "Accelerator created outside it", "should only be initialized")
    fails_with(check.training_function, accelerator_outside_via_helper, "`OUTSIDE`",
               "Accelerator created outside it")


def test_closure_captured_accelerator_is_named() -> None:
    accelerator = OUTSIDE

    def in_a_closure(make_model, make_dataloaders, num_epochs):
        return accelerator.num_processes

    fails_with(check.training_function, in_a_closure, "`accelerator`",
               "Accelerator created outside it")


def test_model_built_before_the_launch_is_named() -> None:
    fails_with(check.training_function, model_outside, "`MODEL_OUTSIDE` (a model)",
               "built outside it, before the launch", "make_model()")


def test_a_local_variable_named_like_a_global_is_not_a_capture() -> None:
    assert check.captured_objects(right) == []


# --- the other mistakes ------------------------------------------------------------------------


def no_cpu_flag(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator()
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    accuracy = _accuracy_gathered(accelerator, model, eval_dataloader)
    accelerator.print(accuracy)
    return accuracy


def prints_everywhere(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator(cpu=True)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    accuracy = _accuracy_gathered(accelerator, model, eval_dataloader)
    print(f"accuracy {accuracy:.3f}")
    return accuracy


def never_gathers(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator(cpu=True)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for batch in eval_dataloader:
            correct += int((model(**batch).logits.argmax(-1) == batch["labels"]).sum())
            total += len(batch["labels"])
    accelerator.print(correct / total)
    return correct / total


def gathers_with_gather(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator(cpu=True)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for batch in eval_dataloader:
            predictions, labels = accelerator.gather(
                (model(**batch).logits.argmax(-1), batch["labels"]))
            correct += int((predictions == labels).sum())
            total += len(labels)
    accelerator.print(correct / total)
    return correct / total


def train_loader_not_prepared(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator(cpu=True)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    model, optimizer, eval_dataloader = accelerator.prepare(model, optimizer, eval_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    accuracy = _accuracy_gathered(accelerator, model, eval_dataloader)
    accelerator.print(accuracy)
    return accuracy


def model_not_prepared(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator(cpu=True)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_dataloader, eval_dataloader = make_dataloaders()
    train_dataloader, eval_dataloader = accelerator.prepare(train_dataloader, eval_dataloader)
    _train(accelerator, model, optimizer, train_dataloader, num_epochs)
    accuracy = _accuracy_gathered(accelerator, model, eval_dataloader)
    accelerator.print(accuracy)
    return accuracy


def returns_nothing(make_model, make_dataloaders, num_epochs):
    right(make_model, make_dataloaders, num_epochs)


def crashes(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator(cpu=True)
    accelerator.print("starting")
    return 1 / 0


def no_accelerator(make_model, make_dataloaders, num_epochs):
    return 0.5


def hangs_in_a_collective(make_model, make_dataloaders, num_epochs):
    accelerator = Accelerator(cpu=True)
    if accelerator.is_main_process:
        accelerator.gather(torch.zeros(1))
    return 0.5


def stub(make_model, make_dataloaders, num_epochs):
    raise NotImplementedError()


@pytest.mark.parametrize("answer, phrases", [
    (no_cpu_flag, ["did not form a group", "num_processes=1", "Accelerator(cpu=True)"]),
    (prints_everywhere, ["process 1 printed too", "accelerator.print"]),
    (never_gathers, ["never gathered", "own share", "gather_for_metrics"]),
    (gathers_with_gather, ["`accelerator.gather` keeps", "count twice", "gather_for_metrics"]),
    (train_loader_not_prepared, ["all 6 training batches", "not prepared"]),
    (model_not_prepared, ["different weights", "Pass the model to `accelerator.prepare`"]),
    (returns_nothing, ["process 0 returned None", "return the validation accuracy"]),
    (crashes, ["process 0", "ZeroDivisionError", "`return 1 / 0`"]),
    (no_accelerator, ["creates no Accelerator", "Accelerator(cpu=True)"]),
    (stub, ["not answered yet", "NotImplementedError"]),
])
def test_each_mistake_is_named(answer, phrases) -> None:
    fails_with(check.training_function, answer, *phrases)


def test_a_hung_collective_is_stopped_and_named() -> None:
    fails_with(check.training_function, hangs_in_a_collective, "never finished",
               "is_main_process", timeout=5)


def test_the_notebooks_state_is_kept() -> None:
    """The check clears Accelerate's state for the launch and puts it back afterwards."""
    from accelerate.state import AcceleratorState

    before = dict(AcceleratorState._shared_state)
    with pytest.raises(AssertionError):
        check.training_function(no_accelerator)
    assert AcceleratorState._shared_state == before


def test_not_a_function() -> None:
    fails_with(check.training_function, 3, "should be a function")


def uses_a_name_from_another_cell(make_model, make_dataloaders, num_epochs):
    """As graded when the cell that made ``accelerator_from_elsewhere`` did not run."""
    return accelerator_from_elsewhere.num_processes  # noqa: F821


def test_a_missing_outside_name_is_named_as_built_outside() -> None:
    fails_with(check.training_function, uses_a_name_from_another_cell,
               "uses `accelerator_from_elsewhere`, which it never creates",
               "everything must be built inside the launched function")


def test_the_course_fallback_passes(capsys) -> None:
    from course_utils import pipeline

    passes(check.training_function, pipeline.launched_training_function, capsys)


@pytest.mark.parametrize(("machine", "phrases"), [
    ({"colab": True}, ["on Colab", "cannot be judged in this notebook", "Binder"]),
    ({"accelerate": "1.10.1"}, ["Accelerate 1.10.1 cannot do", "fixed in Accelerate 1.12.0",
                                "pip install -U accelerate"]),
])
def test_where_notebook_launcher_cannot_fork_the_check_says_so(monkeypatch, machine,
                                                               phrases) -> None:
    """On Colab (the function would run once, here) and with an Accelerate too old to fork
    without a GPU, a right answer is not judged: the check says why instead of blaming it."""
    from course_utils import launching

    monkeypatch.setattr(launching, "this_machine", lambda: launching.Machine(**machine))
    fails_with(check.training_function, right, *phrases)
