"""The chapter-4 checkers: correct answers in several styles pass, each named mistake is found.

The checks run the answer on two forked CPU processes (a real gloo group), so every answer here
is a module-level function: it reaches the children by fork, never by pickling.
"""

from __future__ import annotations

import math

import pytest
import torch
from checker_asserts import fails_with, passes
from transformers import get_scheduler

from course_utils.checks import accelerate_loop as check

pytestmark = pytest.mark.skipif(not check.can_fork(), reason="the checks fork processes")


# --- the machinery ---------------------------------------------------------------------------


def test_stand_in_model_is_called_like_bert() -> None:
    model = check.PairClassifier(seed=1)
    batch = next(iter(check.toy_dataloader(10, 4, split="validation")))
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    out = model(**batch)
    assert out.logits.shape == (4, 2) and out.loss.ndim == 0
    same = check.PairClassifier(seed=1)
    assert torch.equal(check._weights(model), check._weights(same))


def test_counting_metric_matches_glue_mrpc() -> None:
    from course_utils.metrics import local_metric

    preds, refs = [1, 0, 1, 1, 0, 1, 0], [1, 0, 0, 1, 1, 1, 0]
    counting = check.CountingMetric()
    counting.add_batch(predictions=torch.tensor(preds[:4]), references=refs[:4])
    counting.add_batch(predictions=preds[4:], references=torch.tensor(refs[4:]))
    ours = counting.compute()
    theirs = local_metric(keep_in_memory=True).compute(predictions=preds, references=refs)
    assert counting.scored == [7]
    assert ours == pytest.approx(theirs)


def _group_job(rank: int, world_size: int) -> dict:
    accelerator = check._new_accelerator()
    total = accelerator.reduce(torch.tensor([rank + 1.0]), reduction="sum")
    return {"type": str(accelerator.distributed_type), "processes": accelerator.num_processes,
            "index": accelerator.process_index, "sum": float(total)}


def test_checks_run_in_a_real_two_process_group() -> None:
    results = check.run_processes(_group_job, 2)
    assert [r["index"] for r in results] == [0, 1]
    assert {r["type"] for r in results} == {"DistributedType.MULTI_CPU"}
    assert {r["processes"] for r in results} == {2}
    assert {r["sum"] for r in results} == {3.0}


def _hangs_on_rank_0(rank: int, world_size: int) -> dict:
    if rank == 0:
        torch.distributed.barrier()  # rank 1 never comes
    return {}


def test_a_hung_collective_is_stopped() -> None:
    results = check.run_processes(_hangs_on_rank_0, 2, timeout=3)
    assert "timeout" in results[0] and "timeout" not in results[1]


# --- exercise 1: gather_predictions ---------------------------------------------------------


def gather_solution(accelerator, model, eval_dataloader):
    model.eval()
    all_predictions, all_labels = [], []
    for batch in eval_dataloader:
        with torch.no_grad():
            logits = model(**batch).logits
        predictions, labels = accelerator.gather_for_metrics(
            (logits.argmax(dim=-1), batch["labels"]))
        all_predictions.append(predictions)
        all_labels.append(labels)
    return torch.cat(all_predictions), torch.cat(all_labels)


def gather_as_lists(accelerator, model, eval_dataloader):
    model.eval()
    preds, labels = [], []
    with torch.inference_mode():
        for batch in eval_dataloader:
            batch = batch.to(accelerator.device)  # allowed: the accelerator's own device
            predicted = model(**batch).logits.argmax(-1)
            preds += accelerator.gather_for_metrics(predicted).cpu().tolist()
            labels += accelerator.gather_for_metrics(batch["labels"]).cpu().tolist()
    return preds, labels


def gather_plain(accelerator, model, eval_dataloader):
    model.eval()
    preds, labels = [], []
    for batch in eval_dataloader:
        with torch.no_grad():
            logits = model(**batch).logits
        both = accelerator.gather((logits.argmax(dim=-1), batch["labels"]))
        preds.append(both[0])
        labels.append(both[1])
    return torch.cat(preds), torch.cat(labels)


def gather_nothing(accelerator, model, eval_dataloader):
    model.eval()
    preds, labels = [], []
    for batch in eval_dataloader:
        with torch.no_grad():
            preds.append(model(**batch).logits.argmax(dim=-1))
        labels.append(batch["labels"])
    return torch.cat(preds), torch.cat(labels)


def gather_in_train_mode(accelerator, model, eval_dataloader):
    preds, labels = [], []
    for batch in eval_dataloader:
        with torch.no_grad():
            logits = model(**batch).logits
        p, y = accelerator.gather_for_metrics((logits.argmax(dim=-1), batch["labels"]))
        preds.append(p)
        labels.append(y)
    return torch.cat(preds), torch.cat(labels)


def gather_with_gradients(accelerator, model, eval_dataloader):
    model.eval()
    preds, labels = [], []
    for batch in eval_dataloader:
        logits = model(**batch).logits
        p, y = accelerator.gather_for_metrics((logits.argmax(dim=-1), batch["labels"]))
        preds.append(p)
        labels.append(y)
    return torch.cat(preds), torch.cat(labels)


def gather_logits(accelerator, model, eval_dataloader):
    model.eval()
    logits, labels = [], []
    for batch in eval_dataloader:
        with torch.no_grad():
            out = model(**batch).logits
        p, y = accelerator.gather_for_metrics((out, batch["labels"]))
        logits.append(p)
        labels.append(y)
    return torch.cat(logits), torch.cat(labels)


def gather_moved_by_hand(accelerator, model, eval_dataloader):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.eval()
    preds, labels = [], []
    for batch in eval_dataloader:
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.no_grad():
            logits = model(**batch).logits
        p, y = accelerator.gather_for_metrics((logits.argmax(dim=-1), batch["labels"]))
        preds.append(p)
        labels.append(y)
    return torch.cat(preds), torch.cat(labels)


def gather_on_main_only(accelerator, model, eval_dataloader):
    model.eval()
    preds, labels = [], []
    for batch in eval_dataloader:
        with torch.no_grad():
            p = model(**batch).logits.argmax(dim=-1)
        if accelerator.is_main_process:
            p, y = accelerator.gather_for_metrics((p, batch["labels"]))
            preds.append(p)
            labels.append(y)
    return torch.cat(preds) if preds else None, torch.cat(labels) if labels else None


def gather_stub(accelerator, model, eval_dataloader):
    raise NotImplementedError()


def gather_returns_none(accelerator, model, eval_dataloader):
    gather_solution(accelerator, model, eval_dataloader)


@pytest.mark.parametrize("answer", [gather_solution, gather_as_lists])
def test_gather_predictions_accepts_correct_answers(answer, capsys) -> None:
    line = passes(check.gather_predictions, answer, capsys)
    assert "21 rows on 2 processes" in line and "3 padding rows dropped" in line
    passes(check.gather_predictions, answer, capsys, num_rows=13, batch_size=3, seed=5)


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (gather_plain, ["gather instead of gather_for_metrics", "24 rows", "21"]),
        (gather_nothing, ["this process's share", "gather_for_metrics"]),
        (gather_in_train_mode, ["the evaluation ran in train mode", "model.eval()"]),
        (gather_with_gradients, ["gradients were enabled during evaluation",
                                 "torch.no_grad()"]),
        (gather_logits, ["those are logits", "argmax(dim=-1)"]),
        (gather_moved_by_hand, ["moved by hand", "accelerator.device"]),
        (gather_stub, ["not answered yet"]),
        (gather_returns_none, ["returned None"]),
    ],
)
def test_gather_predictions_names_the_mistake(answer, phrases) -> None:
    fails_with(check.gather_predictions, answer, *phrases)


def test_gather_on_one_process_only_hangs_and_is_named(monkeypatch) -> None:
    monkeypatch.setattr(check, "TIMEOUT", 4.0)
    fails_with(check.gather_predictions, gather_on_main_only, "had not finished",
               "is_main_process")


# --- exercise 2: train_accumulating ---------------------------------------------------------


def accumulate_solution(accelerator, model, optimizer, train_dataloader, num_epochs):
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            with accelerator.accumulate(model):
                accelerator.backward(model(**batch).loss)
                optimizer.step()
                optimizer.zero_grad()


def accumulate_one_epoch_short(accelerator, model, optimizer, train_dataloader, num_epochs):
    accumulate_solution(accelerator, model, optimizer, train_dataloader, num_epochs - 1)


def accumulate_each_prepared_alone(accelerator, model, optimizer, train_dataloader, num_epochs):
    model = accelerator.prepare_model(model)
    optimizer = accelerator.prepare_optimizer(optimizer)
    train_dataloader = accelerator.prepare_data_loader(train_dataloader)
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            with accelerator.accumulate(model):
                accelerator.backward(model(**batch).loss)
                optimizer.step()
                optimizer.zero_grad()


def accumulate_zero_first(accelerator, model, optimizer, train_dataloader, num_epochs):
    prepared = accelerator.prepare(model, optimizer, train_dataloader)
    model, optimizer, train_dataloader = prepared
    for _ in range(num_epochs):
        model.train()
        for batch in train_dataloader:
            optimizer.zero_grad()  # before the block: it follows the previous batch's window
            with accelerator.accumulate(model):
                outputs = model(**batch)
                accelerator.backward(outputs.loss)
                optimizer.step()


def accumulate_never(accelerator, model, optimizer, train_dataloader, num_epochs):
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            accelerator.backward(model(**batch).loss)
            optimizer.step()
            optimizer.zero_grad()


def accumulate_plain_backward(accelerator, model, optimizer, train_dataloader, num_epochs):
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            with accelerator.accumulate(model):
                model(**batch).loss.backward()
                optimizer.step()
                optimizer.zero_grad()


def accumulate_divided_twice(accelerator, model, optimizer, train_dataloader, num_epochs):
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss / accelerator.gradient_accumulation_steps
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()


def accumulate_own_modulo(accelerator, model, optimizer, train_dataloader, num_epochs):
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    model.train()
    for _ in range(num_epochs):
        for step, batch in enumerate(train_dataloader):
            with accelerator.accumulate(model):
                accelerator.backward(model(**batch).loss)
                if step % accelerator.gradient_accumulation_steps == 0:
                    optimizer.step()
                    optimizer.zero_grad()


def accumulate_never_zeroed(accelerator, model, optimizer, train_dataloader, num_epochs):
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            with accelerator.accumulate(model):
                accelerator.backward(model(**batch).loss)
                optimizer.step()


def accumulate_unprepared_optimizer(accelerator, model, optimizer, train_dataloader,
                                    num_epochs):
    model, train_dataloader = accelerator.prepare(model, train_dataloader)
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            with accelerator.accumulate(model):
                accelerator.backward(model(**batch).loss)
                optimizer.step()
                optimizer.zero_grad()


def accumulate_zero_first_inside(accelerator, model, optimizer, train_dataloader, num_epochs):
    """Chapter 2's order (zero, forward, backward, step) moved inside accumulate: wrong there."""
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            with accelerator.accumulate(model):
                optimizer.zero_grad()
                accelerator.backward(model(**batch).loss)
                optimizer.step()


def accumulate_in_eval_mode(accelerator, model, optimizer, train_dataloader, num_epochs):
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    for _ in range(num_epochs):
        for batch in train_dataloader:
            with accelerator.accumulate(model):
                accelerator.backward(model(**batch).loss)
                optimizer.step()
                optimizer.zero_grad()


@pytest.mark.parametrize("answer", [accumulate_solution, accumulate_zero_first,
                                    accumulate_each_prepared_alone])
def test_train_accumulating_accepts_correct_answers(answer, capsys) -> None:
    line = passes(check.train_accumulating, answer, capsys)
    assert "6 optimizer steps with gradient_accumulation_steps=2 on 2 processes" in line
    passes(check.train_accumulating, answer, capsys, gradient_accumulation_steps=4, num_rows=40,
           world_size=1, seed=1)


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (accumulate_never, ["accelerator.accumulate is never used", "stepped 12 times"]),
        (accumulate_plain_backward, ["loss.backward() is left in place",
                                     "not divided by gradient_accumulation_steps=2"]),
        (accumulate_divided_twice, ["divided by gradient_accumulation_steps twice"]),
        (accumulate_one_epoch_short, ["1 epoch(s) of its 6 batches, but num_epochs = 2"]),
        (accumulate_own_modulo, ["stepped 0 times", "`if step % k == 0`"]),
        (accumulate_never_zeroed, ["gradients are never zeroed"]),
        (accumulate_unprepared_optimizer, ["optimizer never went through accelerator.prepare"]),
        (accumulate_in_eval_mode, ["trained in eval mode", "model.train()"]),
        (accumulate_zero_first_inside, ["optimizer.zero_grad() runs first inside "
                                        "accelerator.accumulate", "6 updates used only their "
                                        "last batch instead of 2", "zero after the step"]),
    ],
)
def test_train_accumulating_names_the_mistake(answer, phrases) -> None:
    fails_with(check.train_accumulating, answer, *phrases)


def test_zero_grad_first_inside_accumulate_is_named_with_longer_windows() -> None:
    """By name, not as a weight difference, whatever the window length."""
    message = fails_with(check.train_accumulating, accumulate_zero_first_inside,
                         "runs first inside accelerator.accumulate", "instead of 4",
                         gradient_accumulation_steps=4, num_rows=40, world_size=1, seed=1)
    assert "weights differ" not in message


# --- exercise 3: training_function ----------------------------------------------------------


def _evaluate(accelerator, model, eval_dataloader, metric, gather=None):
    model.eval()
    gather = gather or accelerator.gather_for_metrics
    for batch in eval_dataloader:
        with torch.no_grad():
            logits = model(**batch).logits
        predictions, references = gather((logits.argmax(dim=-1), batch["labels"]))
        metric.add_batch(predictions=predictions, references=references)
    return metric.compute()


def _train(accelerator, model, optimizer, scheduler, train_dataloader, num_epochs,
           every_batch=True, backward=None, move=None):
    for _ in range(num_epochs):
        model.train()
        for batch in train_dataloader:
            if move is not None:
                batch = {k: v.to(move) for k, v in batch.items()}
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                if backward is None:
                    accelerator.backward(loss)
                else:
                    backward(loss)
                optimizer.step()
                if scheduler is not None and (every_batch or accelerator.sync_gradients):
                    scheduler.step()
                optimizer.zero_grad()


def convert_prepared_scheduler(accelerator, model, optimizer, train_dataloader, eval_dataloader,
                               metric, num_epochs):
    steps = num_epochs * len(train_dataloader) // accelerator.gradient_accumulation_steps
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=steps)
    model, optimizer, train_dataloader, eval_dataloader, scheduler = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader, scheduler)
    _train(accelerator, model, optimizer, scheduler, train_dataloader, num_epochs)
    return _evaluate(accelerator, model, eval_dataloader, metric)


def convert_own_scheduler(accelerator, model, optimizer, train_dataloader, eval_dataloader,
                          metric, num_epochs):
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    steps = num_epochs * math.ceil(len(train_dataloader) / accelerator.gradient_accumulation_steps)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=steps)
    _train(accelerator, model, optimizer, scheduler, train_dataloader, num_epochs,
           every_batch=False)
    return _evaluate(accelerator, model, eval_dataloader, metric)


def convert_evaluating_every_epoch(accelerator, model, optimizer, train_dataloader,
                                   eval_dataloader, metric, num_epochs):
    steps = num_epochs * len(train_dataloader) // accelerator.gradient_accumulation_steps
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=steps)
    model, optimizer, train_dataloader, eval_dataloader, scheduler = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader, scheduler)
    for _ in range(num_epochs):
        _train(accelerator, model, optimizer, scheduler, train_dataloader, 1)
        scores = _evaluate(accelerator, model, eval_dataloader, metric)
    return scores


def _own_scheduler(accelerator, model, optimizer, train_dataloader, eval_dataloader, metric,
                   num_epochs, *, steps_from_unprepared, divide, every_batch=False):
    length = len(train_dataloader)
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    if not steps_from_unprepared:
        length = len(train_dataloader)
    k = accelerator.gradient_accumulation_steps if divide else 1
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=num_epochs * math.ceil(length / k))
    _train(accelerator, model, optimizer, scheduler, train_dataloader, num_epochs,
           every_batch=every_batch)
    return _evaluate(accelerator, model, eval_dataloader, metric)


def convert_forgets_processes(*args):
    return _own_scheduler(*args, steps_from_unprepared=True, divide=True)


def convert_forgets_both(*args):
    return _own_scheduler(*args, steps_from_unprepared=True, divide=False)


def convert_steps_every_batch(*args):
    return _own_scheduler(*args, steps_from_unprepared=False, divide=False, every_batch=True)


def convert_forgets_accumulation(accelerator, model, optimizer, train_dataloader,
                                 eval_dataloader, metric, num_epochs):
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=num_epochs * len(train_dataloader))
    model, optimizer, train_dataloader, eval_dataloader, scheduler = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader, scheduler)
    _train(accelerator, model, optimizer, scheduler, train_dataloader, num_epochs)
    return _evaluate(accelerator, model, eval_dataloader, metric)


def convert_counts_processes_twice(accelerator, model, optimizer, train_dataloader,
                                   eval_dataloader, metric, num_epochs):
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    steps = num_epochs * len(train_dataloader) // accelerator.gradient_accumulation_steps
    scheduler = accelerator.prepare(get_scheduler("linear", optimizer=optimizer,
                                                  num_warmup_steps=0, num_training_steps=steps))
    _train(accelerator, model, optimizer, scheduler, train_dataloader, num_epochs)
    return _evaluate(accelerator, model, eval_dataloader, metric)


def convert_without_scheduler(accelerator, model, optimizer, train_dataloader, eval_dataloader,
                              metric, num_epochs):
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    _train(accelerator, model, optimizer, None, train_dataloader, num_epochs)
    return _evaluate(accelerator, model, eval_dataloader, metric)


def _prepared_then(accelerator, model, optimizer, train_dataloader, eval_dataloader, metric,
                   num_epochs, **options):
    steps = num_epochs * len(train_dataloader) // accelerator.gradient_accumulation_steps
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=steps)
    model, optimizer, train_dataloader, eval_dataloader, scheduler = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader, scheduler)
    gather = options.pop("gather", None)
    _train(accelerator, model, optimizer, scheduler, train_dataloader, num_epochs, **options)
    if gather == "gather":
        return _evaluate(accelerator, model, eval_dataloader, metric, accelerator.gather)
    if gather == "none":
        return _evaluate(accelerator, model, eval_dataloader, metric, lambda pair: pair)
    return _evaluate(accelerator, model, eval_dataloader, metric)


def convert_plain_backward(*args):
    return _prepared_then(*args, backward=lambda loss: loss.backward())


def convert_moves_batches(*args):
    return _prepared_then(*args, move=torch.device("cpu"))


def convert_with_gather(*args):
    return _prepared_then(*args, gather="gather")


def convert_without_gather(*args):
    return _prepared_then(*args, gather="none")


def convert_without_accumulate(accelerator, model, optimizer, train_dataloader, eval_dataloader,
                               metric, num_epochs):
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=num_epochs * len(train_dataloader))
    model.train()
    for _ in range(num_epochs):
        for batch in train_dataloader:
            accelerator.backward(model(**batch).loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
    return _evaluate(accelerator, model, eval_dataloader, metric)


def convert_returns_nothing(*args):
    convert_prepared_scheduler(*args)


@pytest.mark.parametrize("answer", [convert_prepared_scheduler, convert_own_scheduler,
                                    convert_evaluating_every_epoch])
def test_training_function_accepts_correct_answers(answer, capsys) -> None:
    line = passes(check.training_function, answer, capsys)
    assert "2 processes × 6 batches × 2 epochs, 4 optimizer steps each" in line
    assert "21 validation rows scored once" in line


def test_training_function_passes_the_hidden_cases(capsys) -> None:
    passes(check.training_function, convert_prepared_scheduler, capsys,
           gradient_accumulation_steps=1, num_eval_rows=13, seed=4)
    passes(check.training_function, convert_own_scheduler, capsys,
           gradient_accumulation_steps=2, world_size=1, seed=2)


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (convert_plain_backward, ["loss.backward() is left in place of "
                                  "accelerator.backward(loss)"]),
        (convert_moves_batches, ["batches are still moved by hand", "device(type='cpu')"]),
        (convert_forgets_processes, ["does not account for the 2 processes",
                                     "decays to zero over 8 optimizer steps",
                                     "makes 4 optimizer steps"]),
        (convert_forgets_accumulation, ["does not account for gradient accumulation",
                                        "single-process units", "= 8"]),
        (convert_forgets_both, ["neither for the 2 processes nor for gradient accumulation"]),
        (convert_counts_processes_twice, ["reaches zero too early", "also prepared"]),
        (convert_steps_every_batch, ["the scheduler steps on every batch",
                                     "accelerator.sync_gradients"]),
        (convert_without_scheduler, ["the learning rate never changed"]),
        (convert_without_accumulate, ["accelerator.accumulate is never used"]),
        (convert_with_gather, ["gather instead of gather_for_metrics", "24 rows", "21"]),
        (convert_without_gather, ["this process's share"]),
        (convert_returns_nothing, ["return metric.compute()"]),
    ],
)
def test_training_function_names_the_mistake(answer, phrases) -> None:
    fails_with(check.training_function, answer, *phrases)
