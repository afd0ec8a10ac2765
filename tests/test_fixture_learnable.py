"""The smoke profile must teach something: the tiny BERT, fine-tuned on the paraphrase fixture
with a plain AdamW loop for a few seconds, beats the majority-class baseline clearly."""

from __future__ import annotations

import time

import pytest
import torch
from torch.utils.data import DataLoader
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding
from transformers.utils import logging

from course_utils import tiny_bert
from course_utils.data import load_mrpc_tsv
from course_utils.profiles import FIXTURE_DIR

EPOCHS, BATCH_SIZE, LR, SEED = 5, 8, 1e-3, 0


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model is fastest on one thread, and deterministic
    yield
    torch.set_num_threads(before)


def batches(checkpoint: str) -> tuple[DataLoader, DataLoader]:
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    raw = load_mrpc_tsv(FIXTURE_DIR)
    tokenized = raw.map(lambda b: tokenizer(b["sentence1"], b["sentence2"], truncation=True),
                        batched=True)
    tokenized = tokenized.remove_columns(["sentence1", "sentence2", "idx"])
    tokenized = tokenized.rename_column("label", "labels").with_format("torch")
    collate = DataCollatorWithPadding(tokenizer)
    generator = torch.Generator().manual_seed(SEED)
    train = DataLoader(tokenized["train"], batch_size=BATCH_SIZE, shuffle=True,
                       collate_fn=collate, generator=generator)
    return train, DataLoader(tokenized["validation"], batch_size=64, collate_fn=collate)


def test_tiny_bert_learns_the_fixture(tmp_path, monkeypatch, one_thread, capsys):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    checkpoint = tiny_bert.tiny_checkpoint()
    train, validation = batches(checkpoint)
    torch.manual_seed(SEED)
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # no "newly initialized head" notice
    try:
        model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=2)
    finally:
        logging.set_verbosity(verbosity)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)

    start = time.perf_counter()
    model.train()
    for _ in range(EPOCHS):
        for batch in train:
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    seconds = time.perf_counter() - start

    model.eval()
    correct, labels = 0, []
    with torch.no_grad():
        for batch in validation:
            correct += int((model(**batch).logits.argmax(-1) == batch["labels"]).sum())
            labels += batch["labels"].tolist()
    accuracy = correct / len(labels)
    baseline = max(sum(labels), len(labels) - sum(labels)) / len(labels)
    with capsys.disabled():
        print(f"\nfixture: accuracy {accuracy:.3f} vs majority {baseline:.3f} "
              f"after {EPOCHS} epochs in {seconds:.1f} s")
    assert len(labels) == 101
    assert accuracy >= 0.85, f"accuracy {accuracy:.3f}, majority baseline {baseline:.3f}"
    assert accuracy - baseline >= 0.15
