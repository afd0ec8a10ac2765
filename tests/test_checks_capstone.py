"""The chapter-6 checkers: right answers in several styles pass, each named mistake is named."""

from __future__ import annotations

import pytest
import torch
from checker_asserts import fails_with, passes
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, get_scheduler

from course_utils.checks import capstone as check

# --- exercise 1: prepare_sst2 -------------------------------------------------------------------


def prepare_course(raw_datasets, tokenizer):
    def tokenize_function(examples):
        return tokenizer(examples["sentence"], truncation=True)

    tokenized = raw_datasets.map(tokenize_function, batched=True)
    tokenized = tokenized.remove_columns(["sentence", "idx"]).rename_column("label", "labels")
    tokenized.set_format("torch")
    return tokenized


def prepare_other_style(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(lambda row: tokenizer(row["sentence"], truncation=True),
                                 remove_columns=["sentence", "idx"])
    tokenized = tokenized.rename_columns({"label": "labels"})
    return tokenized.with_format("torch", columns=["input_ids", "token_type_ids",
                                                   "attention_mask", "labels"])


def prepare_pairs_leftover(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(
        lambda b: tokenizer(b["sentence1"], b["sentence2"], truncation=True), batched=True)
    return tokenized.rename_column("label", "labels").with_format("torch")


def prepare_sentence_twice(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(
        lambda b: tokenizer(b["sentence"], b["sentence"], truncation=True), batched=True)
    tokenized = tokenized.remove_columns(["sentence", "idx"]).rename_column("label", "labels")
    return tokenized.with_format("torch")


def prepare_not_renamed(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(lambda b: tokenizer(b["sentence"], truncation=True),
                                 batched=True)
    return tokenized.remove_columns(["sentence", "idx"]).with_format("torch")


def prepare_text_left(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(lambda b: tokenizer(b["sentence"], truncation=True),
                                 batched=True)
    return tokenized.rename_column("label", "labels").with_format("torch")


def prepare_padded(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(
        lambda b: tokenizer(b["sentence"], truncation=True, padding="max_length"), batched=True)
    tokenized = tokenized.remove_columns(["sentence", "idx"]).rename_column("label", "labels")
    return tokenized.with_format("torch")


def prepare_untruncated(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(lambda b: tokenizer(b["sentence"]), batched=True)
    tokenized = tokenized.remove_columns(["sentence", "idx"]).rename_column("label", "labels")
    return tokenized.with_format("torch")


def prepare_set_format_returned(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(lambda b: tokenizer(b["sentence"], truncation=True),
                                 batched=True)
    tokenized = tokenized.remove_columns(["sentence", "idx"]).rename_column("label", "labels")
    return tokenized.set_format("torch")


def prepare_no_torch(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(lambda b: tokenizer(b["sentence"], truncation=True),
                                 batched=True)
    return tokenized.remove_columns(["sentence", "idx"]).rename_column("label", "labels")


def prepare_without_test(raw_datasets, tokenizer):
    tokenized = prepare_course(raw_datasets, tokenizer)
    return type(tokenized)(train=tokenized["train"], validation=tokenized["validation"])


def prepare_columns_subset(raw_datasets, tokenizer):
    tokenized = prepare_course(raw_datasets, tokenizer)
    tokenized.set_format("torch", columns=["input_ids", "labels"])
    return tokenized


@pytest.mark.parametrize("answer", [prepare_course, prepare_other_style])
def test_prepare_right_answers_pass(answer, capsys):
    passes(check.prepare_sst2, answer, capsys)
    passes(check.prepare_sst2, answer, capsys, rows=10, seed=3)


@pytest.mark.parametrize("answer, phrases", [
    (prepare_pairs_leftover, ["sentence pairs", "one sentence per row", "`sentence`"]),
    (prepare_sentence_twice, ["tokenized as sentence pairs", "token_type_ids"]),
    (prepare_not_renamed, ["`label` column but no `labels`"]),
    (prepare_text_left, ["still has the column(s) ['idx', 'sentence']"]),
    (prepare_padded, ["padded to 128 tokens", "DataCollatorWithPadding"]),
    (prepare_untruncated, ["truncation=True"]),
    (prepare_set_format_returned, ["returned None", "set_format"]),
    (prepare_no_torch, ["not in torch format"]),
    (prepare_without_test, ["has no test split"]),
    (prepare_columns_subset, ["hides the column(s) ['attention_mask', 'token_type_ids']"]),
])
def test_prepare_mistakes_are_named(answer, phrases):
    fails_with(check.prepare_sst2, answer, *phrases)


# --- exercise 2: make_dataloaders ---------------------------------------------------------------


def loaders_course(tokenized, tokenizer, batch_size):
    collator = DataCollatorWithPadding(tokenizer=tokenizer)
    train_dataloader = DataLoader(tokenized["train"], shuffle=True, batch_size=batch_size,
                                  collate_fn=collator)
    eval_dataloader = DataLoader(tokenized["validation"], batch_size=batch_size,
                                 collate_fn=collator)
    return train_dataloader, eval_dataloader


def loaders_keywords(tokenized, tokenizer, batch_size):
    pad = DataCollatorWithPadding(tokenizer, padding="longest")
    return (DataLoader(dataset=tokenized["train"], batch_size=batch_size, shuffle=True,
                       collate_fn=pad, drop_last=False),
            DataLoader(dataset=tokenized["validation"], batch_size=batch_size, shuffle=False,
                       collate_fn=pad))


def loaders_no_collator(tokenized, tokenizer, batch_size):
    return (DataLoader(tokenized["train"], shuffle=True, batch_size=batch_size),
            DataLoader(tokenized["validation"], batch_size=batch_size))


def loaders_fixed_length(tokenized, tokenizer, batch_size):
    pad = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=128)
    return (DataLoader(tokenized["train"], shuffle=True, batch_size=batch_size, collate_fn=pad),
            DataLoader(tokenized["validation"], batch_size=batch_size, collate_fn=pad))


def loaders_eval_on_train(tokenized, tokenizer, batch_size):
    pad = DataCollatorWithPadding(tokenizer)
    return (DataLoader(tokenized["train"], shuffle=True, batch_size=batch_size, collate_fn=pad),
            DataLoader(tokenized["train"], batch_size=batch_size, collate_fn=pad))


def loaders_not_shuffled(tokenized, tokenizer, batch_size):
    pad = DataCollatorWithPadding(tokenizer)
    return (DataLoader(tokenized["train"], batch_size=batch_size, collate_fn=pad),
            DataLoader(tokenized["validation"], batch_size=batch_size, collate_fn=pad))


@pytest.mark.parametrize("answer", [loaders_course, loaders_keywords])
def test_dataloaders_right_answers_pass(answer, capsys):
    passes(check.make_dataloaders, answer, capsys)
    passes(check.make_dataloaders, answer, capsys, batch_size=5, seed=2)


@pytest.mark.parametrize("answer, phrases", [
    (loaders_no_collator, ["not padded", "DataCollatorWithPadding"]),
    (loaders_fixed_length, ["pads every batch to 128 tokens", "dynamically"]),
    (loaders_eval_on_train, ["eval_dataloader goes over the training split"]),
    (loaders_not_shuffled, ["shuffle=True"]),
])
def test_dataloaders_mistakes_are_named(answer, phrases):
    fails_with(check.make_dataloaders, answer, *phrases)


# --- exercise 3: train --------------------------------------------------------------------------


def train_course(model, train_dataloader, epochs, lr, device):
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    num_training_steps = epochs * len(train_dataloader)
    lr_scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                                 num_training_steps=num_training_steps)
    losses = []
    model.train()
    for _ in range(epochs):
        for batch in tqdm(train_dataloader, disable=True):
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    return losses


def train_zero_first(model, train_dataloader, epochs, lr, device):
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 1 - step / (epochs * len(train_dataloader)))
    losses = []
    for _ in range(epochs):
        model.train()
        for batch in train_dataloader:
            optimizer.zero_grad(set_to_none=False)
            batch = {name: tensor.to(device) for name, tensor in batch.items()}
            outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                            token_type_ids=batch["token_type_ids"], labels=batch["labels"])
            outputs.loss.backward()
            optimizer.step()
            scheduler.step()
            losses += [outputs.loss.item()]
    return losses


def train_epoch_means(model, train_dataloader, epochs, lr, device):
    losses = train_course(model, train_dataloader, epochs, lr, device)
    per_epoch = len(losses) // epochs
    return [sum(losses[i:i + per_epoch]) / per_epoch for i in range(0, len(losses), per_epoch)]


def train_tensor_losses(model, train_dataloader, epochs, lr, device):
    return [torch.tensor(loss) for loss in train_course(model, train_dataloader, epochs, lr,
                                                        device)]


def train_never_zeroes(model, train_dataloader, epochs, lr, device):
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=epochs * len(train_dataloader))
    model.train()
    for _ in range(epochs):
        for batch in train_dataloader:
            batch = {k: v.to(device) for k, v in batch.items()}
            model(**batch).loss.backward()
            optimizer.step()
            scheduler.step()


def train_zero_per_epoch(model, train_dataloader, epochs, lr, device):
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=epochs * len(train_dataloader))
    model.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        for batch in train_dataloader:
            batch = {k: v.to(device) for k, v in batch.items()}
            model(**batch).loss.backward()
            optimizer.step()
            scheduler.step()


def train_eval_mode(model, train_dataloader, epochs, lr, device):
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=epochs * len(train_dataloader))
    for _ in range(epochs):
        for batch in train_dataloader:
            batch = {k: v.to(device) for k, v in batch.items()}
            model(**batch).loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()


def train_no_scheduler(model, train_dataloader, epochs, lr, device):
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in train_dataloader:
            batch = {k: v.to(device) for k, v in batch.items()}
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()


def train_schedule_one_epoch(model, train_dataloader, epochs, lr, device):
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1 - step / len(train_dataloader)))
    model.train()
    for _ in range(epochs):
        for batch in train_dataloader:
            batch = {k: v.to(device) for k, v in batch.items()}
            model(**batch).loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()


def train_unmoved_batches(model, train_dataloader, epochs, lr, device):
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=epochs * len(train_dataloader))
    model.train()
    for _ in range(epochs):
        for batch in train_dataloader:
            model(**batch).loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()


@pytest.mark.parametrize("answer", [train_course, train_zero_first])
def test_train_right_answers_pass(answer, capsys):
    passes(check.train, answer, capsys)
    passes(check.train, answer, capsys, epochs=1, lr=1e-3, batch_size=5, seed=4)


@pytest.mark.parametrize("answer, phrases", [
    (train_never_zeroes, ["gradients are never zeroed", "zero_grad() 0 times"]),
    (train_zero_per_epoch, ["not zeroed before every step", "in 6 of 8 steps"]),
    (train_eval_mode, ["eval mode", "model.train()"]),
    (train_no_scheduler, ["schedule stepped 0 times"]),
    (train_schedule_one_epoch, ["linear decay to 0", "epochs * len(train_dataloader)"]),
    (train_unmoved_batches, [".to(device)"]),
    (train_epoch_means, ["2 losses, one per epoch, for 8 batches"]),
    (train_tensor_losses, ["are Tensor, not floats"]),
])
def test_train_mistakes_are_named(answer, phrases):
    fails_with(check.train, answer, *phrases)


def test_a_check_leaves_the_random_state_and_threads_alone(capsys):
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.train(train_course)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


# --- exercise 4: evaluate_accuracy --------------------------------------------------------------


def evaluate_course(model, dataloader, metric, device):
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            batch = {k: v.to(device) for k, v in batch.items()}
            predictions = model(**batch).logits.argmax(dim=-1)
            metric.add_batch(predictions=predictions, references=batch["labels"])
    return metric.compute()


@torch.inference_mode()
def evaluate_lists(model, dataloader, metric, device):
    model.eval()
    predictions, references = [], []
    for batch in dataloader:
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        predictions += logits.argmax(-1).tolist()
        references += batch["labels"].tolist()
    return metric.compute(predictions=predictions, references=references)


def evaluate_train_mode(model, dataloader, metric, device):
    with torch.no_grad():
        for batch in dataloader:
            predictions = model(**batch).logits.argmax(dim=-1)
            metric.add_batch(predictions=predictions, references=batch["labels"])
    return metric.compute()


def evaluate_with_grad(model, dataloader, metric, device):
    model.eval()
    for batch in dataloader:
        predictions = model(**batch).logits.argmax(dim=-1)
        metric.add_batch(predictions=predictions, references=batch["labels"])
    return metric.compute()


def evaluate_dataset_labels(model, dataloader, metric, device):
    model.eval()
    predictions = []
    with torch.no_grad():
        for batch in dataloader:
            predictions += model(**batch).logits.argmax(dim=-1).tolist()
    return metric.compute(predictions=predictions, references=dataloader.dataset["labels"])


def evaluate_float(model, dataloader, metric, device):
    return evaluate_course(model, dataloader, metric, device)["accuracy"]


@pytest.mark.parametrize("answer", [evaluate_course, evaluate_lists])
def test_evaluate_right_answers_pass(answer, capsys):
    passes(check.evaluate_accuracy, answer, capsys)
    passes(check.evaluate_accuracy, answer, capsys, batch_size=5, seed=3)


@pytest.mark.parametrize("answer, phrases", [
    (evaluate_train_mode, ["train mode", "model.eval()"]),
    (evaluate_with_grad, ["gradients enabled", "no_grad"]),
    (evaluate_dataset_labels, ["that same batch's labels"]),
    (evaluate_float, ["should return the dict of metric.compute()"]),
])
def test_evaluate_mistakes_are_named(answer, phrases):
    fails_with(check.evaluate_accuracy, answer, *phrases)


def test_the_stand_in_model_predicts_both_classes():
    tokenizer = check.checker_tokenizer()
    data = check.reference_tokenized(check.small_sst2(48, 0), tokenizer)["train"]
    loader = check._loader(data, tokenizer, 8)
    predictions, _ = check._predictions(check.stand_in_model(loader, 0), loader)
    assert 5 < int(predictions.sum()) < len(predictions) - 5, "one class only hides bugs"


# --- exercise 5: run_capstone -------------------------------------------------------------------


def run_course(raw_datasets, tokenizer, checkpoint, metric, epochs, lr, batch_size, device,
               evaluate_split="validation", trainer=train_course):
    tokenized = prepare_course(raw_datasets, tokenizer)
    train_dataloader, eval_dataloader = loaders_course(tokenized, tokenizer, batch_size)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=2)
    trainer(model, train_dataloader, epochs, lr, device)
    loader = {"validation": eval_dataloader, "train": train_dataloader,
              "test": DataLoader(tokenized["test"], batch_size=batch_size,
                                 collate_fn=DataCollatorWithPadding(tokenizer))}[evaluate_split]
    return model, evaluate_course(model, loader, metric, device)


def run_on_train(*args):
    return run_course(*args, evaluate_split="train")


def run_on_test(*args):
    return run_course(*args, evaluate_split="test")


def run_never_zeroing(*args):
    return run_course(*args, trainer=train_never_zeroes)


def run_three_labels(raw_datasets, tokenizer, checkpoint, metric, epochs, lr, batch_size,
                     device):
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=3)
    return model, {"accuracy": 0.5}


def test_run_capstone_right_answer_passes(capsys):
    line = passes(check.run_capstone, run_course, capsys)
    assert "floor 0.75" in line


@pytest.mark.parametrize("answer, phrases", [
    (run_on_train, ["training split", "validation split"]),
    (run_on_test, ["labels of -1", "test split"]),
    (run_never_zeroing, ["validation accuracy", "above 0.75"]),
    (run_three_labels, ["3 labels", "num_labels=2"]),
])
def test_run_capstone_mistakes_are_named(answer, phrases):
    fails_with(check.run_capstone, answer, *phrases)
