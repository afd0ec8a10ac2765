"""The chapter-3 checkers: right answers in several styles pass, each known mistake is named."""

from __future__ import annotations

import copy

import pytest
import torch
from checker_asserts import fails_with, passes
from transformers import get_scheduler

from course_utils.checks import evaluation as check
from course_utils.metrics import local_metric


def to_device(batch, device):
    return {k: v.to(device) for k, v in batch.items()}


# --- the stand-in model and data ---------------------------------------------------------------


def test_stand_in_model_has_dropout_and_varied_predictions():
    model = check.toy_model(0)
    loader = check.pair_dataloader(check.pair_dataset(100, 2), 8)
    predictions, labels, sizes = check.reference_predictions(model, loader)
    assert len(predictions) == len(labels) == 100 and sizes[-1] == 4
    assert 10 < int(predictions.sum()) < 90, "a stand-in that always predicts one class hides bugs"
    model.train()
    with torch.no_grad():
        batch = next(iter(loader))
        a, b = model(**batch).logits, model(**batch).logits
    assert not torch.equal(a, b), "dropout must make train-mode passes differ"


def test_scores_match_the_metric():
    metric = local_metric(keep_in_memory=True)
    generator = torch.Generator().manual_seed(0)
    for size in (1, 5, 40):
        for _ in range(5):
            p = torch.randint(0, 2, (size,), generator=generator)
            y = torch.randint(0, 2, (size,), generator=generator)
            expected = metric.compute(predictions=p, references=y)
            got = check.scores(p, y)
            assert abs(got["accuracy"] - expected["accuracy"]) < 1e-12
            assert abs(got["f1"] - expected["f1"]) < 1e-12


def test_a_check_leaves_the_random_state_and_threads_alone(capsys):
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.evaluate_model(evaluate_add_batch)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


# --- exercise 1: evaluate_model ------------------------------------------------------------------


def evaluate_add_batch(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            batch = to_device(batch, device)
            logits = model(**batch).logits
            metric.add_batch(predictions=logits.argmax(dim=-1), references=batch["labels"])
    return metric.compute()


def evaluate_collect_then_compute(model, dataloader, metric, device):
    model.to(device).eval()
    predictions, labels = [], []
    with torch.inference_mode():
        for batch in dataloader:
            labels.append(batch.pop("labels"))
            outputs = model(**to_device(batch, device))
            predictions.append(torch.argmax(outputs.logits, dim=1).cpu())
    return metric.compute(predictions=torch.cat(predictions), references=torch.cat(labels))


def evaluate_lists_one_by_one(model, dataloader, metric, device):
    model.eval()
    for batch in dataloader:
        with torch.no_grad():
            probabilities = model(**{k: v.to(device) for k, v in batch.items()}).logits.softmax(
                dim=-1)
        for prediction, label in zip(probabilities.argmax(-1).tolist(),
                                     batch["labels"].tolist(), strict=True):
            metric.add(prediction=prediction, reference=label)
    return dict(metric.compute())


def evaluate_batch_to(model, dataloader, metric, device):
    """The batches are BatchEncodings, as DataCollatorWithPadding makes them: .to moves all."""
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            batch = batch.to(device)
            metric.add_batch(predictions=model(**batch).logits.argmax(-1),
                             references=batch["labels"])
    return metric.compute()


@pytest.mark.parametrize("answer", [evaluate_add_batch, evaluate_collect_then_compute,
                                    evaluate_lists_one_by_one, evaluate_batch_to])
def test_evaluate_model_accepts_correct_answers(answer, capsys):
    line = passes(check.evaluate_model, answer, capsys)
    assert "on 100 examples, as expected" in line and "eval mode, no gradients" in line
    passes(check.evaluate_model, answer, capsys, batch_size=5, seed=3)


def no_eval_mode(model, dataloader, metric, device):
    with torch.no_grad():
        for batch in dataloader:
            logits = model(**batch).logits
            metric.add_batch(predictions=logits.argmax(dim=-1), references=batch["labels"])
    return metric.compute()


def no_no_grad(model, dataloader, metric, device):
    model.eval()
    for batch in dataloader:
        logits = model(**batch).logits
        metric.add_batch(predictions=logits.argmax(dim=-1), references=batch["labels"])
    return metric.compute()


def argmax_dim0(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            logits = model(**batch).logits
            metric.add_batch(predictions=logits.argmax(dim=0), references=batch["labels"])
    return metric.compute()


def argmax_dim0_collected(model, dataloader, metric, device):
    model.eval()
    predictions, labels = [], []
    with torch.no_grad():
        for batch in dataloader:
            predictions.append(model(**batch).logits.argmax(0))
            labels.append(batch["labels"])
    return metric.compute(predictions=torch.cat(predictions), references=torch.cat(labels))


def argmax_no_dim(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            predictions = model(**batch).logits.argmax()
            metric.add_batch(predictions=predictions.reshape(1), references=batch["labels"])
    return metric.compute()


def logits_to_metric(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            metric.add_batch(predictions=model(**batch).logits, references=batch["labels"])
    return metric.compute()


def last_batch_only(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            predictions = model(**batch).logits.argmax(dim=-1)
    metric.add_batch(predictions=predictions, references=batch["labels"])
    return metric.compute()


def compute_in_loop(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            predictions = model(**batch).logits.argmax(dim=-1)
            metric.add_batch(predictions=predictions, references=batch["labels"])
            result = metric.compute()
    return result


def return_in_loop(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            predictions = model(**batch).logits.argmax(dim=-1)
            metric.add_batch(predictions=predictions, references=batch["labels"])
            return metric.compute()


def two_passes(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        predictions = [model(**batch).logits.argmax(dim=-1) for batch in dataloader]
    labels = [batch["labels"] for batch in dataloader]
    return metric.compute(predictions=torch.cat(predictions), references=torch.cat(labels))


def labels_from_dataset(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        predictions = [model(**batch).logits.argmax(dim=-1) for batch in dataloader]
    return metric.compute(predictions=torch.cat(predictions),
                          references=dataloader.dataset["labels"])


def argmin(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            logits = model(**batch).logits
            metric.add_batch(predictions=logits.argmin(dim=-1), references=batch["labels"])
    return metric.compute()


def input_ids_only(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            logits = model(input_ids=batch["input_ids"]).logits
            metric.add_batch(predictions=logits.argmax(dim=-1), references=batch["labels"])
    return metric.compute()


def returns_tuple(model, dataloader, metric, device):
    result = evaluate_add_batch(model, dataloader, metric, device)
    return result["accuracy"], result["f1"]


def batch_not_moved(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            logits = model(**batch).logits
            metric.add_batch(predictions=logits.argmax(dim=-1), references=batch["labels"])
    return metric.compute()


def labels_moved_inputs_not(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            labels = batch.pop("labels").to(device)
            logits = model(**batch).logits
            metric.add_batch(predictions=logits.argmax(dim=-1), references=labels)
    return metric.compute()


def never_calls_model(model, dataloader, metric, device):
    return {"accuracy": 0.5, "f1": 0.5}


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (no_eval_mode, ["evaluation ran in train mode", "of 13 forward passes",
                        "predictions differ from eval mode", "model.eval()"]),
        (no_no_grad, ["gradients were enabled during evaluation", "13 of 13",
                      "torch.no_grad()"]),
        (argmax_dim0, ["argmax over the wrong dimension", "2 predictions for 8 labels"]),
        (argmax_dim0_collected, ["argmax over the wrong dimension", "26 predictions for 100"]),
        (argmax_no_dim, ["argmax without a dimension", "1 prediction for a batch of 8"]),
        (logits_to_metric, ["are logits, shape (8, 2)", "argmax(dim=-1)"]),
        (last_batch_only, ["only the last batch reached the metric", "4 of 100 examples"]),
        (compute_in_loop, ["metric.compute() ran inside the loop", "4 of 100 examples"]),
        (return_in_loop, ["only the first batch reached the metric", "8 of 100"]),
        (two_passes, ["predictions and labels are misaligned", "from another",
                      "shuffles"]),
        (labels_from_dataset, ["predictions and labels are misaligned", "dataset's order"]),
        (argmin, ["every prediction is the opposite class"]),
        (input_ids_only, ["not the argmax of the model's logits", "attention_mask"]),
        (returns_tuple, ["should be a dict", "tuple"]),
        (never_calls_model, ["never called"]),
        (batch_not_moved, ["13 of 13 forward passes got tensors that never went through",
                           "none of the batch's tensors", "v.to(device)"]),
        (labels_moved_inputs_not, ["13 of 13 forward passes", "input_ids"]),
    ],
)
def test_evaluate_model_names_each_mistake(answer, phrases):
    fails_with(check.evaluate_model, answer, *phrases)


def test_evaluate_model_stub_says_not_answered():
    def evaluate_model(model, dataloader, metric, device):
        # YOUR CODE HERE
        raise NotImplementedError()

    fails_with(check.evaluate_model, evaluate_model, "not answered yet")


def test_misalignment_only_shows_on_shuffled_batches(capsys):
    """Two passes over an ordered dataloader are harmless: only the shuffled case fails."""
    message = fails_with(check.evaluate_model, two_passes, "misaligned")
    assert "validation batches in order" not in message


# --- exercise 2: accuracy_f1 ---------------------------------------------------------------------


def f1_from_counts(predictions, labels):
    tp = int(((predictions == 1) & (labels == 1)).sum())
    fp = int(((predictions == 1) & (labels == 0)).sum())
    fn = int(((predictions == 0) & (labels == 1)).sum())
    denominator = 2 * tp + fp + fn
    return {"accuracy": (predictions == labels).float().mean().item(),
            "f1": 2 * tp / denominator if denominator else 0.0}


def f1_tp_counted_once(predictions, labels):
    tp = int(((predictions == 1) & (labels == 1)).sum())
    wrong = int((predictions != labels).sum())
    return {"accuracy": (predictions == labels).float().mean().item(),
            "f1": 2 * tp / (tp + wrong) if tp + wrong else 0.0}


def f1_tp_counts_all_matches(predictions, labels):
    tp = int((predictions == labels).sum())
    fp = int(((predictions == 1) & (labels == 0)).sum())
    fn = int(((predictions == 0) & (labels == 1)).sum())
    return {"accuracy": (predictions == labels).float().mean().item(),
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0}


def f1_from_precision_recall(predictions, labels):
    matrix = torch.bincount(2 * labels + predictions, minlength=4).reshape(2, 2)
    tn, fp, fn, tp = matrix.flatten().tolist()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": (tp + tn) / len(labels), "f1": f1}


def f1_with_sklearn(predictions, labels):
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": accuracy_score(labels, predictions),
            "f1": f1_score(labels, predictions, zero_division=0)}


def f1_tensors(predictions, labels):
    tp = ((predictions == 1) & (labels == 1)).sum()
    wrong = (predictions != labels).sum()
    f1 = 2 * tp / (2 * tp + wrong) if 2 * tp + wrong > 0 else torch.tensor(0.0)
    return {"accuracy": (predictions == labels).double().mean().item(), "f1": float(f1)}


def tensor_accuracy(predictions, labels):
    tp, fp, fn, _tn = _parts(predictions, labels)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"accuracy": (predictions == labels).sum() / len(labels), "f1": f1}


def tensor_f1(predictions, labels):
    tp = ((predictions == 1) & (labels == 1)).sum()
    wrong = (predictions != labels).sum()
    f1 = 2 * tp / (2 * tp + wrong) if 2 * tp + wrong > 0 else torch.tensor(0.0)
    return {"accuracy": (predictions == labels).double().mean().item(), "f1": f1}


@pytest.mark.parametrize("answer", [f1_from_counts, f1_from_precision_recall, f1_with_sklearn,
                                    f1_tensors])
def test_accuracy_f1_accepts_correct_answers(answer, capsys):
    line = passes(check.accuracy_f1, answer, capsys)
    assert "6 random cases match GLUE MRPC's metric" in line
    passes(check.accuracy_f1, answer, capsys, seed=5)
    line = passes(check.accuracy_f1, answer, capsys, edge=True)
    assert "6 edge cases" in line


def _parts(predictions, labels):
    tp = int(((predictions == 1) & (labels == 1)).sum())
    fp = int(((predictions == 1) & (labels == 0)).sum())
    fn = int(((predictions == 0) & (labels == 1)).sum())
    tn = int(((predictions == 0) & (labels == 0)).sum())
    return tp, fp, fn, tn


def precision_as_f1(predictions, labels):
    tp, fp, fn, tn = _parts(predictions, labels)
    return {"accuracy": (tp + tn) / len(labels), "f1": tp / (tp + fp)}


def recall_as_f1(predictions, labels):
    tp, fp, fn, tn = _parts(predictions, labels)
    return {"accuracy": (tp + tn) / len(labels), "f1": tp / (tp + fn)}


def arithmetic_mean(predictions, labels):
    tp, fp, fn, tn = _parts(predictions, labels)
    return {"accuracy": (tp + tn) / len(labels), "f1": (tp / (tp + fp) + tp / (tp + fn)) / 2}


def f1_of_class_0(predictions, labels):
    return f1_from_counts(1 - predictions, 1 - labels) | {
        "accuracy": (predictions == labels).float().mean().item()}


def macro_f1(predictions, labels):
    ones = f1_from_counts(predictions, labels)["f1"]
    zeros = f1_from_counts(1 - predictions, 1 - labels)["f1"]
    return {"accuracy": (predictions == labels).float().mean().item(), "f1": (ones + zeros) / 2}


def error_rate(predictions, labels):
    return f1_from_counts(predictions, labels) | {
        "accuracy": (predictions != labels).float().mean().item()}


def correct_count(predictions, labels):
    return f1_from_counts(predictions, labels) | {"accuracy": int((predictions == labels).sum())}


def integer_division(predictions, labels):
    return f1_from_counts(predictions, labels) | {
        "accuracy": int((predictions == labels).sum()) // len(labels)}


def swapped(predictions, labels):
    result = f1_from_counts(predictions, labels)
    return {"accuracy": result["f1"], "f1": result["accuracy"]}


def as_tuple(predictions, labels):
    result = f1_from_counts(predictions, labels)
    return result["accuracy"], result["f1"]


def unguarded_tensors(predictions, labels):
    tp = ((predictions == 1) & (labels == 1)).sum().float()
    precision = tp / (predictions == 1).sum()
    recall = tp / (labels == 1).sum()
    return {"accuracy": (predictions == labels).float().mean().item(),
            "f1": float(2 * precision * recall / (precision + recall))}


def unguarded_ints(predictions, labels):
    tp, fp, fn, tn = _parts(predictions, labels)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    return {"accuracy": (tp + tn) / len(labels), "f1": f1}


@pytest.mark.parametrize(
    ("answer", "phrases", "kwargs"),
    [
        (precision_as_f1, ["your F1 is the precision", "TP = "], {}),
        (recall_as_f1, ["your F1 is the recall"], {}),
        (arithmetic_mean, ["arithmetic mean", "harmonic mean"], {}),
        (f1_of_class_0, ["F1 of class 0"], {}),
        (macro_f1, ["macro F1"], {}),
        (error_rate, ["error rate"], {}),
        (correct_count, ["number of correct predictions"], {}),
        (integer_division, ["integer division"], {}),
        (f1_tp_counted_once, ["the denominator counts TP once"], {}),
        (f1_tp_counts_all_matches, ["your TP counts every right prediction", "true negatives"],
         {}),
        (swapped, ["accuracy and F1 are swapped"], {}),
        (as_tuple, ["should be a dict", "tuple"], {}),
        (tensor_accuracy, ["returned 'accuracy' as a 0-d tensor", "float(...) or .item()"], {}),
        (tensor_f1, ["returned 'f1' as a 0-d tensor", "not a Python float"], {}),
        (unguarded_tensors, ["F1 came out as nan", "F1 = 0"], {"edge": True}),
        (unguarded_ints, ["division by zero", "F1 = 0"], {"edge": True}),
    ],
)
def test_accuracy_f1_names_each_mistake(answer, phrases, kwargs):
    fails_with(check.accuracy_f1, answer, *phrases, **kwargs)


def test_the_visible_check_already_has_a_case_without_positives():
    """The 0/0 guard is caught before grading, not only by the hidden edge cases."""
    fails_with(check.accuracy_f1, unguarded_ints, "division by zero", "F1 = 0")
    fails_with(check.accuracy_f1, unguarded_tensors, "F1 came out as nan")


# --- exercise 3: train_and_keep_best -------------------------------------------------------------


def make_trainer(*, train_once=False, never_train=False, eval_mode=True, no_grad=True,
                 save="best", evaluate_at_end=False, keep_lists=False, last_loss=False,
                 step=True, criterion="accuracy", move_model=True, move_batches=True,
                 step_first=False, zero=True):
    """The reference training function, or one with a named mistake switched on."""

    def train_and_keep_best(model, train_dataloader, eval_dataloader, epochs, lr, device,
                            save_dir):
        if move_model:
            model.to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                                  num_training_steps=epochs * len(train_dataloader))
        metric = local_metric()
        history, best, predictions, labels = [], -1.0, [], []
        if train_once:
            model.train()

        def evaluate():
            if eval_mode:
                model.eval()
            if not keep_lists:
                predictions.clear()
                labels.clear()
            with torch.set_grad_enabled(not no_grad):
                for batch in eval_dataloader:
                    batch = to_device(batch, device)
                    predictions.append(model(**batch).logits.argmax(dim=-1))
                    labels.append(batch["labels"])
            return metric.compute(predictions=torch.cat(predictions),
                                  references=torch.cat(labels))

        for epoch in range(epochs):
            if not (train_once or never_train):
                model.train()
            total = 0.0
            for batch in train_dataloader:
                loss = model(**(to_device(batch, device) if move_batches else batch)).loss
                if step_first:
                    optimizer.step()
                    scheduler.step()
                loss.backward()
                if step and not step_first:
                    optimizer.step()
                    scheduler.step()
                if zero:
                    optimizer.zero_grad()
                total += loss.item()
            if evaluate_at_end and epoch < epochs - 1:
                history.append({"train_loss": total / len(train_dataloader), "accuracy": 0.0,
                                "f1": 0.0})
                continue
            result = evaluate()
            mean = loss.item() if last_loss else total / len(train_dataloader)
            history.append({"epoch": epoch + 1, "train_loss": mean, **result})
            if save == "every" or (save == "best" and result[criterion] > best):
                best = max(best, result[criterion])
                model.save_pretrained(save_dir)
        return history

    return train_and_keep_best


def train_keep_state_in_memory(model, train_dataloader, eval_dataloader, epochs, lr, device,
                               save_dir):
    """Another style: keep the best weights in memory, save once at the end."""
    from course_utils import pipeline

    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    history, best_state, best_accuracy = [], None, None
    for _ in range(epochs):
        model.train()
        losses = []
        for batch in train_dataloader:
            optimizer.zero_grad(set_to_none=True)
            loss = model(**to_device(batch, device)).loss
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        result = pipeline.mrpc_scores(model, eval_dataloader, local_metric(), device)
        history.append({"train_loss": sum(losses) / len(losses), **result})
        if best_accuracy is None or result["accuracy"] > best_accuracy:
            best_accuracy, best_state = result["accuracy"], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.save_pretrained(save_dir)
    return history


@pytest.mark.parametrize("answer", [make_trainer(), train_keep_state_in_memory])
def test_train_and_keep_best_accepts_correct_answers(answer, capsys):
    line = passes(check.train_and_keep_best, answer, capsys)
    assert "the reloaded checkpoint repeats its 100 predictions" in line
    passes(check.train_and_keep_best, answer, capsys, epochs=2, lr=0.05, seed=4)


def test_default_scenario_has_a_best_epoch_before_the_last(capsys):
    """Otherwise saving the last epoch could not be told from saving the best one."""
    line = passes(check.train_and_keep_best, make_trainer(), capsys)
    assert "kept epoch 2 of 3" in line


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (make_trainer(train_once=True), ["left in eval mode when training resumed",
                                         "epochs 2 to 3", "model.train()"]),
        (make_trainer(never_train=True), ["the model trained in eval mode", "from_pretrained"]),
        (make_trainer(eval_mode=False), ["evaluation ran in train mode"]),
        (make_trainer(no_grad=False), ["gradients were enabled during evaluation"]),
        (make_trainer(save="every"), ["holds the last epoch (3", "epoch 2 scored"]),
        (make_trainer(save="never"), ["holds no model", "save_pretrained"]),
        (make_trainer(evaluate_at_end=True), ["epoch 1 was not followed by an evaluation",
                                              "only once"]),
        (make_trainer(keep_lists=True), ["also counts the predictions of the earlier epochs"]),
        (make_trainer(last_loss=True), ["loss of the epoch's last batch"]),
        (make_trainer(step=False), ["the weights did not change", "optimizer.step()"]),
        (make_trainer(move_model=False), ["the model is never moved to the device"]),
        (make_trainer(step_first=True), ["optimizer.step() runs before loss.backward()"]),
        (make_trainer(zero=False), ["gradients are never zeroed: optimizer.step() ran 96"]),
        (make_trainer(move_batches=False), ["forward passes got tensors that never went",
                                            "v.to(device)"]),
    ],
)
def test_train_and_keep_best_names_each_mistake(answer, phrases):
    fails_with(check.train_and_keep_best, answer, *phrases)


def test_keeping_the_best_f1_is_named():
    """With these settings the best accuracy (epoch 3) and the best F1 (epoch 2) differ."""
    fails_with(check.train_and_keep_best, make_trainer(criterion="f1"),
               "holds epoch 2, the best by F1", "keeps the highest accuracy: epoch 3",
               epochs=3, lr=0.1, seed=2)


def test_train_and_keep_best_history_shape():
    def short_history(model, train_dataloader, eval_dataloader, epochs, lr, device, save_dir):
        return make_trainer()(model, train_dataloader, eval_dataloader, epochs, lr, device,
                              save_dir)[:-1]

    fails_with(check.train_and_keep_best, short_history, "the history has 2 entries")

    def no_loss(model, train_dataloader, eval_dataloader, epochs, lr, device, save_dir):
        rows = make_trainer()(model, train_dataloader, eval_dataloader, epochs, lr, device,
                              save_dir)
        return [{"accuracy": r["accuracy"], "f1": r["f1"]} for r in rows]

    fails_with(check.train_and_keep_best, no_loss, "no 'train_loss'")


def test_training_under_no_grad_is_explained():
    def all_no_grad(model, train_dataloader, eval_dataloader, epochs, lr, device, save_dir):
        with torch.no_grad():
            return make_trainer()(model, train_dataloader, eval_dataloader, epochs, lr, device,
                                  save_dir)

    fails_with(check.train_and_keep_best, all_no_grad, "found no graph", "torch.no_grad()")
