"""The chapter-2 checkers: right answers in several styles pass, each classic bug is named."""

from __future__ import annotations

import io
import math

import pytest
import torch
from checker_asserts import fails_with, passes
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding, get_scheduler

from course_utils.checks import training as check

# --- exercise 1: one epoch on a toy model ----------------------------------------------------


def epoch_zero_first(model, dataloader, optimizer, loss_fn):
    model.train()
    losses = []
    for inputs, targets in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def epoch_zero_last_keep_tensors(model, dataloader, optimizer, loss_fn):
    model.train()
    losses = []
    for batch in dataloader:
        x, y = batch
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
        losses.append(loss.detach())
    return losses


def epoch_model_zero_grad_while(model, dataloader, optimizer, loss_fn):
    model.train(True)
    losses, batches = [], iter(dataloader)
    while (batch := next(batches, None)) is not None:
        model.zero_grad()
        output = model(batch[0])
        loss = loss_fn(output, batch[1])
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def epoch_grads_set_to_none_by_hand(model, dataloader, optimizer, loss_fn):
    model.train()
    losses = []
    for _, (x, y) in enumerate(dataloader):
        for p in model.parameters():
            p.grad = None
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("answer", [epoch_zero_first, epoch_zero_last_keep_tensors,
                                    epoch_model_zero_grad_while,
                                    epoch_grads_set_to_none_by_hand])
def test_train_one_epoch_accepts_correct_loops(answer, capsys):
    line = passes(check.train_one_epoch, answer, capsys)
    assert "final loss" in line and "reference" in line
    passes(check.train_one_epoch, answer, capsys, num_batches=5, optimizer="adam", lr=0.01,
           seed=3)


def never_zeroed(model, dataloader, optimizer, loss_fn):
    model.train()
    losses = []
    for x, y in dataloader:
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def zeroed_once(model, dataloader, optimizer, loss_fn):
    model.train()
    optimizer.zero_grad()
    return never_zeroed(model, dataloader, optimizer, loss_fn)


def zero_between_backward_and_step(model, dataloader, optimizer, loss_fn):
    model.train()
    losses = []
    for x, y in dataloader:
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        losses.append(loss.item())
    return losses


def trains_in_eval_mode(model, dataloader, optimizer, loss_fn):
    model.eval()
    losses = []
    for x, y in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def forgets_train_mode(model, dataloader, optimizer, loss_fn):
    losses = []
    for x, y in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def no_backward(model, dataloader, optimizer, loss_fn):
    model.train()
    losses = []
    for x, y in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        optimizer.step()
        losses.append(loss.item())
    return losses


def step_before_backward(model, dataloader, optimizer, loss_fn):
    model.train()
    losses = []
    for x, y in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        optimizer.step()
        loss.backward()
        losses.append(loss.item())
    return losses


def returns_nothing(model, dataloader, optimizer, loss_fn):
    epoch_zero_first(model, dataloader, optimizer, loss_fn)


def returns_the_mean(model, dataloader, optimizer, loss_fn):
    return [sum(epoch_zero_first(model, dataloader, optimizer, loss_fn)) / len(dataloader)]


def loss_after_step(model, dataloader, optimizer, loss_fn):
    model.train()
    losses = []
    for x, y in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            losses.append(loss_fn(model(x), y).item())
    return losses


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (never_zeroed, ["gradients are never zeroed", "optimizer.step() ran 6 times and "
                        "zero_grad() 0 times"]),
        (zeroed_once, ["not cleared before every backward pass", "5 of 6"]),
        (zero_between_backward_and_step, ["zero_grad() runs between backward() and step()"]),
        (trains_in_eval_mode, ["the model is in eval mode while training", "calls model.eval()"]),
        (forgets_train_mode, ["the model is in eval mode while training", "never switches"]),
        (no_backward, ["loss.backward() is never called"]),
        (step_before_backward, ["optimizer.step() runs before loss.backward()"]),
        (returns_nothing, ["returned None"]),
        (returns_the_mean, ["you returned 1 loss; there were 6 batches"]),
        (loss_after_step, ["not the ones backward() ran on", "12 forward passes for 6"]),
    ],
)
def test_train_one_epoch_names_each_mistake(answer, phrases):
    fails_with(check.train_one_epoch, answer, *phrases)


def test_train_one_epoch_stub_and_crash():
    def stub(model, dataloader, optimizer, loss_fn):
        raise NotImplementedError()

    fails_with(check.train_one_epoch, stub, "not answered yet")

    def crash(model, dataloader, optimizer, loss_fn):
        for x in dataloader:
            model(x)

    fails_with(check.train_one_epoch, crash, "raised", "at line")


def test_a_crash_inside_torch_points_at_the_students_line():
    def wrong_shape(model, dataloader, optimizer, loss_fn):
        for x, y in dataloader:
            loss_fn(model(x.T), y)  # the line to point at: torch raises deep inside Linear

    message = fails_with(check.train_one_epoch, wrong_shape, "RuntimeError", "at line")
    assert "model(x.T)" in message, message


def test_checker_leaves_global_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.train_one_epoch(epoch_zero_first)
    assert torch.equal(torch.rand(3), expected)
    assert torch.nn.Module.__dict__["train"].__name__ == "train"
    assert "zero_grad" in torch.optim.Optimizer.__dict__
    from torch.optim import optimizer

    assert not optimizer._global_optimizer_pre_hooks


# --- exercise 2: prepare_datasets ------------------------------------------------------------


def prepare_remove_then_rename(raw_datasets, tokenizer):
    def tokenize(batch):
        return tokenizer(batch["sentence1"], batch["sentence2"], truncation=True)

    tokenized = raw_datasets.map(tokenize, batched=True)
    tokenized = tokenized.remove_columns(["sentence1", "sentence2", "idx"])
    tokenized = tokenized.rename_column("label", "labels")
    tokenized.set_format("torch")
    return tokenized


def prepare_rename_first_with_format(raw_datasets, tokenizer):
    tokenized = raw_datasets.map(
        lambda row: tokenizer(row["sentence1"], row["sentence2"], truncation=True),
        remove_columns=["sentence1", "sentence2", "idx"],
    )
    return tokenized.rename_column("label", "labels").with_format("torch")


@pytest.mark.parametrize("answer", [prepare_remove_then_rename,
                                    prepare_rename_first_with_format])
def test_prepare_datasets_accepts_correct_answers(answer, capsys):
    line = passes(check.prepare_datasets, answer, capsys)
    assert "truncated at 128 tokens" in line
    passes(check.prepare_datasets, answer, capsys, rows=12, seed=5)


def _prepare(remove=True, rename=True, torch_format=True, **tokenize_kwargs):
    def prepare(raw_datasets, tokenizer):
        options = {"truncation": True, **tokenize_kwargs}
        pair = options.pop("pair", "two")

        def tokenize(batch):
            if pair == "first":
                return tokenizer(batch["sentence1"], **options)
            if pair == "joined":
                pairs = zip(batch["sentence1"], batch["sentence2"], strict=True)
                joined = [a + " " + b for a, b in pairs]
                return tokenizer(joined, **options)
            return tokenizer(batch["sentence1"], batch["sentence2"], **options)

        tokenized = raw_datasets.map(tokenize, batched=True)
        if remove:
            tokenized = tokenized.remove_columns(["sentence1", "sentence2", "idx"])
        if rename:
            tokenized = tokenized.rename_column("label", "labels")
        if torch_format:
            tokenized.set_format("torch")
        return tokenized

    return prepare


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (_prepare(remove=False), ["still has the column(s) sentence1, sentence2, idx",
                                  "remove_columns"]),
        (_prepare(rename=False), ["rename_column('label', 'labels')"]),
        (_prepare(torch_format=False), ["set_format('torch')"]),
        (_prepare(padding="max_length"), ["you padded while tokenizing", "128 tokens"]),
        (_prepare(padding=True), ["you padded while tokenizing"]),
        (_prepare(truncation=False), ["was not truncated", "truncation=True"]),
        (_prepare(pair="first"), ["only sentence1 was tokenized"]),
        (_prepare(pair="joined"), ["joined into one string"]),
        (lambda raw, tok: raw["train"], ["return the whole DatasetDict"]),
        (lambda raw, tok: raw.map(lambda b: tok(b["sentence_1"])), ["a column name is wrong"]),
    ],
)
def test_prepare_datasets_names_each_mistake(answer, phrases):
    fails_with(check.prepare_datasets, answer, *phrases)


# --- exercise 3: make_dataloaders ------------------------------------------------------------


def loaders_as_in_the_chapter(tokenized_datasets, tokenizer, batch_size):
    collator = DataCollatorWithPadding(tokenizer=tokenizer)
    train = DataLoader(tokenized_datasets["train"], shuffle=True, batch_size=batch_size,
                       collate_fn=collator)
    evaluation = DataLoader(tokenized_datasets["validation"], batch_size=batch_size,
                            collate_fn=collator)
    return train, evaluation


def loaders_bigger_eval_multiple_of_8(tokenized_datasets, tokenizer, batch_size):
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
    return (
        DataLoader(tokenized_datasets["train"], batch_size, shuffle=True, collate_fn=collator),
        DataLoader(tokenized_datasets["validation"], 2 * batch_size, collate_fn=collator),
    )


@pytest.mark.parametrize("answer", [loaders_as_in_the_chapter, loaders_bigger_eval_multiple_of_8])
def test_make_dataloaders_accepts_correct_answers(answer, capsys):
    line = passes(check.make_dataloaders, answer, capsys)
    assert "shuffled" in line and "padded to its own longest row" in line
    passes(check.make_dataloaders, answer, capsys, batch_size=5, rows=23, seed=2)


def _loaders(collate="dynamic", shuffle_train=True, shuffle_eval=False, size=None,
             drop_last=False):
    def make(tokenized_datasets, tokenizer, batch_size):
        if collate == "dynamic":
            collator = DataCollatorWithPadding(tokenizer=tokenizer)
        elif collate == "fixed":
            collator = DataCollatorWithPadding(tokenizer=tokenizer, padding="max_length")
        else:
            collator = None
        size_used = size or batch_size
        return (
            DataLoader(tokenized_datasets["train"], batch_size=size_used, shuffle=shuffle_train,
                       collate_fn=collator, drop_last=drop_last),
            DataLoader(tokenized_datasets["validation"], batch_size=size_used,
                       shuffle=shuffle_eval, collate_fn=collator),
        )

    return make


@pytest.mark.parametrize(
    ("answer", "kwargs", "phrases"),
    [
        (_loaders(collate=None), {}, ["DataCollatorWithPadding", "cannot stack rows"]),
        (_loaders(collate="fixed"), {}, ["padded to the fixed length 128",
                                         "padding='max_length'"]),
        (_loaders(shuffle_train=False), {}, ["the training dataloader is not shuffled"]),
        (_loaders(shuffle_eval=True), {}, ["the validation dataloader is shuffled"]),
        (_loaders(size=8), {"batch_size": 5}, ["expected batches of batch_size = 5"]),
        (_loaders(drop_last=True), {}, ["each row should come exactly once"]),
        (lambda tok_ds, tok, bs: DataLoader(tok_ds["train"]), {}, ["return the pair"]),
        (lambda tok_ds, tok, bs: loaders_as_in_the_chapter(tok_ds, tok, bs)[::-1], {},
         ["the training dataloader yields the rows of the validation split"]),
        (lambda tok_ds, tok, bs: loaders_as_in_the_chapter(
            {"train": tok_ds["train"], "validation": tok_ds["test"]}, tok, bs), {},
         ["the validation dataloader yields the rows of the test split"]),
    ],
)
def test_make_dataloaders_names_each_mistake(answer, kwargs, phrases):
    fails_with(check.make_dataloaders, answer, *phrases, **kwargs)


# --- exercise 4: fine_tune ------------------------------------------------------------------


def _fine_tune(schedule="linear", scheduler_step="batch", bar="steps", train_mode=True,
               optimizer_kind="adamw", fixed_lr=None, zero="end", optimizer_per_epoch=False,
               sizing="all", warmup=0, scheduler_first=False, recompute=False, clip=None):
    """A fine-tuning loop in the chapter's style, with one thing changed on request."""
    from tqdm.auto import tqdm

    def fine_tune(model, train_dataloader, epochs, lr, device):
        model.to(device)
        steps = epochs * len(train_dataloader) if sizing == "all" else len(train_dataloader)

        def new_optimizer():
            if optimizer_kind == "sgd":
                return torch.optim.SGD(model.parameters(), lr=fixed_lr or lr)
            return torch.optim.AdamW(model.parameters(), lr=fixed_lr or lr)

        def new_scheduler(optimizer):
            if schedule == "none":
                return None
            if schedule == "torch":
                return torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.0, total_iters=steps)
            return get_scheduler("linear", optimizer=optimizer, num_warmup_steps=warmup,
                                 num_training_steps=steps)

        optimizer = new_optimizer()
        scheduler = new_scheduler(optimizer)
        progress = tqdm(range(steps), file=io.StringIO()) if bar == "steps" else None
        if train_mode:
            model.train()
        losses = []
        for _ in range(epochs):
            if optimizer_per_epoch:
                optimizer = new_optimizer()
                scheduler = new_scheduler(optimizer)
            batches = train_dataloader
            if bar == "epochs":
                batches = tqdm(train_dataloader, file=io.StringIO())
            for batch in batches:
                if zero == "start":
                    optimizer.zero_grad()
                batch = {k: v.to(device) for k, v in batch.items()}
                loss = model(**batch).loss
                loss.backward()
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                if scheduler_first and scheduler is not None:
                    scheduler.step()
                optimizer.step()
                if scheduler_step == "batch" and scheduler is not None and not scheduler_first:
                    scheduler.step()
                if zero == "end":
                    optimizer.zero_grad()
                if recompute:  # the loss again, after the step: not the one trained on
                    with torch.no_grad():
                        loss = model(**batch).loss
                losses.append(loss.item())
                if progress is not None:
                    progress.update(1)
            if scheduler_step == "epoch" and scheduler is not None:
                scheduler.step()
        return losses

    return fine_tune


@pytest.mark.parametrize(
    "answer",
    [_fine_tune(), _fine_tune(zero="start"), _fine_tune(schedule="torch"),
     _fine_tune(bar="epochs")],
)
def test_fine_tune_accepts_correct_loops(answer, capsys):
    line = passes(check.fine_tune, answer, capsys)
    assert "10 steps" in line and "reference" in line


def test_fine_tune_other_arguments(capsys):
    passes(check.fine_tune, _fine_tune(), capsys, epochs=3, lr=1e-3, batch_size=4,
           num_batches=3, seed=1)


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (_fine_tune(scheduler_step="never"), ["the scheduler is never stepped",
                                              "scheduler.step() ran 0 times"]),
        (_fine_tune(scheduler_step="epoch"), ["scheduler.step() runs once per epoch (2 times)",
                                              "counted in optimizer steps (10)"]),
        (_fine_tune(schedule="none"), ["no learning-rate scheduler"]),
        (_fine_tune(sizing="epoch"), ["the schedule is sized for one epoch (5 steps"]),
        (_fine_tune(scheduler_first=True), ["scheduler.step() runs before optimizer.step()"]),
        (_fine_tune(warmup=2), ["the first step used lr = 0"]),
        (_fine_tune(bar="none"), ["no progress bar"]),
        (_fine_tune(train_mode=False), ["the model is in eval mode while training",
                                        "from_pretrained"]),
        (_fine_tune(optimizer_kind="sgd"), ["the optimizer is SGD"]),
        (_fine_tune(fixed_lr=5e-5), ["created with lr = 5e-05, not with the lr argument"]),
        (_fine_tune(optimizer_per_epoch=True), ["2 different optimizers took steps"]),
        (_fine_tune(zero="never"), ["gradients are never zeroed"]),
        (_fine_tune(recompute=True), ["the losses you returned are not the ones backward() "
                                      "ran on: at step 0", "before the step changes"]),
        (_fine_tune(clip=1e-3), ["the loss leaves the reference at step ",
                                 "matched)", "no extra changes to the gradients"]),
    ],
)
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_fine_tune_names_each_mistake(answer, phrases):
    fails_with(check.fine_tune, answer, *phrases)


# --- exercise 5: gradient accumulation ------------------------------------------------------


def accumulate_enumerate(model, dataloader, optimizer, loss_fn, accumulation_steps):
    model.train()
    optimizer.zero_grad()
    for idx, (x, y) in enumerate(dataloader):
        loss = loss_fn(model(x), y) / accumulation_steps
        loss.backward()
        if (idx + 1) % accumulation_steps == 0 or idx + 1 == len(dataloader):
            optimizer.step()
            optimizer.zero_grad()


def accumulate_counter_zero_at_window_start(model, dataloader, optimizer, loss_fn,
                                            accumulation_steps):
    model.train()
    seen = 0
    for x, y in dataloader:
        if seen % accumulation_steps == 0:
            optimizer.zero_grad(set_to_none=False)
        (loss_fn(model(x), y) / accumulation_steps).backward()
        seen += 1
        if seen % accumulation_steps == 0:
            optimizer.step()
    if seen % accumulation_steps:
        optimizer.step()


def accumulate_mean_of_short_window(model, dataloader, optimizer, loss_fn, accumulation_steps):
    model.train()
    batches = list(dataloader)
    for start in range(0, len(batches), accumulation_steps):
        window = batches[start : start + accumulation_steps]
        for x, y in window:
            (loss_fn(model(x), y) / len(window)).backward()
        optimizer.step()
        for p in model.parameters():
            p.grad = None


@pytest.mark.parametrize("answer", [accumulate_enumerate,
                                    accumulate_counter_zero_at_window_start])
def test_train_accumulate_accepts_correct_answers(answer, capsys):
    line = passes(check.train_accumulate, answer, capsys)
    assert "one update on the concatenated 16 examples" in line
    assert "max |difference|" in line and "tolerance 1e-09" in line
    passes(check.train_accumulate, answer, capsys, accumulation_steps=3, num_batches=7,
           batch_size=5, lr=0.3, seed=2)
    passes(check.train_accumulate, answer, capsys, accumulation_steps=1, num_batches=3)


def blog_loop(model, dataloader, optimizer, loss_fn, accumulation_steps):
    """The blog post's loop, with its three bugs."""
    model.eval()
    for idx, (x, y) in enumerate(dataloader):
        loss = loss_fn(model(x), y)
        loss.backward()
        if idx % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()


def blog_loop_train_mode(model, dataloader, optimizer, loss_fn, accumulation_steps):
    model.train()
    for idx, (x, y) in enumerate(dataloader):
        loss = loss_fn(model(x), y)
        loss.backward()
        if idx % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()


def no_loss_scaling(model, dataloader, optimizer, loss_fn, accumulation_steps):
    model.train()
    for idx, (x, y) in enumerate(dataloader):
        loss_fn(model(x), y).backward()
        if (idx + 1) % accumulation_steps == 0 or idx + 1 == len(dataloader):
            optimizer.step()
            optimizer.zero_grad()


def zero_every_batch(model, dataloader, optimizer, loss_fn, accumulation_steps):
    model.train()
    for idx, (x, y) in enumerate(dataloader):
        optimizer.zero_grad()
        (loss_fn(model(x), y) / accumulation_steps).backward()
        if (idx + 1) % accumulation_steps == 0 or idx + 1 == len(dataloader):
            optimizer.step()


def never_cleared(model, dataloader, optimizer, loss_fn, accumulation_steps):
    model.train()
    for idx, (x, y) in enumerate(dataloader):
        (loss_fn(model(x), y) / accumulation_steps).backward()
        if (idx + 1) % accumulation_steps == 0 or idx + 1 == len(dataloader):
            optimizer.step()


def drops_short_window(model, dataloader, optimizer, loss_fn, accumulation_steps):
    model.train()
    for idx, (x, y) in enumerate(dataloader):
        (loss_fn(model(x), y) / accumulation_steps).backward()
        if (idx + 1) % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()


def steps_every_batch(model, dataloader, optimizer, loss_fn, accumulation_steps):
    model.train()
    for x, y in dataloader:
        optimizer.zero_grad()
        (loss_fn(model(x), y) / accumulation_steps).backward()
        optimizer.step()


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (blog_loop, ["the model is in eval mode while training", "calls model.eval()"]),
        (blog_loop_train_mode, ["steps on the first batch of each accumulation window",
                                "(idx + 1) % accumulation_steps == 0"]),
        (no_loss_scaling, ["the loss is not divided by accumulation_steps",
                           "after your accumulated update and",
                           "after one update on the concatenated batch",
                           "tolerance 1e-09"]),
        (zero_every_batch, ["cleared inside accumulation windows"]),
        (never_cleared, ["never cleared after a step"]),
        (drops_short_window, ["never reached the optimizer", "Also step after the last batch"]),
        (steps_every_batch, ["steps after every batch"]),
        (accumulate_mean_of_short_window, ["the short last window (2 of 4 batches) divided "
                                           "its losses by 2, its own size"]),
    ],
)
def test_train_accumulate_names_each_mistake(answer, phrases):
    fails_with(check.train_accumulate, answer, *phrases)


def test_accumulation_equivalence_is_exact_not_approximate():
    """The proof really compares numbers: a tiny change in the update is caught."""
    def slightly_off(model, dataloader, optimizer, loss_fn, accumulation_steps):
        accumulate_enumerate(model, dataloader, optimizer, loss_fn, accumulation_steps)
        with torch.no_grad():
            next(model.parameters())[0, 0] += 1e-6

    message = fails_with(check.train_accumulate, slightly_off,
                         "does not equal one update on the concatenated batch")
    assert "0.weight[0, 0]" in message


# --- exercise 6: the number of optimizer steps ----------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        lambda num_batches, epochs, k: epochs * math.ceil(num_batches / k),
        lambda num_batches, epochs, k: epochs * -(-num_batches // k),
        lambda num_batches, epochs, k: epochs * ((num_batches + k - 1) // k),
        lambda num_batches, epochs, k: int(torch.tensor(num_batches / k).ceil() * epochs),
    ],
)
def test_num_update_steps_accepts_correct_answers(answer, capsys):
    line = passes(check.num_update_steps, answer, capsys)
    assert "optimizer steps" in line


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (lambda n, e, k: n * e, ["sized without dividing by the accumulation steps",
                                 "stop at 75% of its peak"]),
        (lambda n, e, k: e * (n // k), ["floor division drops the step"]),
        (lambda n, e, k: math.ceil(n * e / k), ["windows do not run across epochs"]),
        (lambda n, e, k: math.ceil(n / k), ["that is one epoch"]),
        (lambda n, e, k: n * e * k, ["multiplied by accumulation_steps"]),
        (lambda n, e, k: e * math.ceil(n / k) + 1, ["epochs × ⌈num_batches"]),
        (lambda n, e, k: e * n / k, ["a number of steps is an int"]),
    ],
)
def test_num_update_steps_names_each_mistake(answer, phrases):
    fails_with(check.num_update_steps, answer, *phrases)
