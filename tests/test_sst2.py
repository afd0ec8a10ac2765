"""Chapter 6's data: the SST-2-shaped sentiment fixture, its loader and metric, and the tiny
BERT's vocabulary for it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from course_utils import sst2, tiny_bert
from course_utils.profiles import SENTIMENT_FIXTURE_DIR, CourseSetupError

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_sentiment_fixture", ROOT / "tools" / "make_sentiment_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_fixture_is_what_the_generator_writes(tmp_path):
    _generator().write_fixture(tmp_path)
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        assert (tmp_path / name).read_bytes() == (SENTIMENT_FIXTURE_DIR / name).read_bytes()


def test_the_fixture_has_sst2_splits_columns_and_labels():
    data = sst2.load_sst2_tsv(SENTIMENT_FIXTURE_DIR)
    assert {split: len(rows) for split, rows in data.items()} == {
        "train": 480, "validation": 100, "test": 100}
    for rows in data.values():
        assert rows.column_names == ["sentence", "label", "idx"]
        assert rows["idx"] == list(range(len(rows)))
    assert data["train"].features["label"].names == ["negative", "positive"]
    assert set(data["test"]["label"]) == {-1}
    for split in ("train", "validation"):
        labels = data[split]["label"]
        assert set(labels) == {0, 1} and sum(labels) == len(labels) // 2
    sentences = [s for rows in data.values() for s in rows["sentence"]]
    assert len(set(sentences)) == len(sentences), "no sentence repeated across splits"


def test_smoke_loads_the_fixture_and_its_metric(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    data = sst2.load_sst2()
    assert len(data["validation"]) == 100
    metric = sst2.sst2_metric(keep_in_memory=True)
    metric.add_batch(predictions=[1, 0, 1], references=[1, 1, 1])
    metric.add_batch(predictions=[0], references=[0])
    assert metric.compute() == {"accuracy": 0.75}


def test_the_local_metric_refuses_the_unlabeled_test_split(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    metric = sst2.sst2_metric(keep_in_memory=True)
    with pytest.raises(ValueError, match="test split, which has no labels"):
        metric.compute(predictions=[1, 0], references=[-1, -1])


def test_a_broken_file_gets_one_sentence(tmp_path):
    (tmp_path / "train.tsv").write_text("sentence\tlabel\ngood film .\t7\n")
    with pytest.raises(CourseSetupError, match="line 2: expected a sentence and a label 0 or 1"):
        sst2.read_sst2_file(tmp_path / "train.tsv")
    (tmp_path / "dev.tsv").write_text("text\tlabel\n")
    with pytest.raises(CourseSetupError, match="expected the SST-2 header"):
        sst2.read_sst2_file(tmp_path / "dev.tsv")


def test_the_tiny_vocabulary_covers_the_fixture_and_keeps_the_old_ids(tmp_path):
    from transformers import AutoTokenizer

    base, vocab = tiny_bert.base_vocab(), tiny_bert.build_vocab()
    assert vocab[:len(base)] == base and len(vocab) > len(base)
    tiny_bert.write_checkpoint(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    data = sst2.load_sst2_tsv(SENTIMENT_FIXTURE_DIR)
    for rows in data.values():
        for sentence in rows["sentence"]:
            tokens = tokenizer.tokenize(sentence)
            assert not any(t.startswith("##") or t == "[UNK]" for t in tokens), sentence


def test_the_old_embedding_rows_are_those_of_the_paraphrase_only_model(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    for name in ("both", "paraphrase"):
        (tmp_path / name).mkdir()
    tiny_bert.write_checkpoint(tmp_path / "both")
    monkeypatch.setattr(tiny_bert, "sentiment_words", lambda: [])
    tiny_bert.write_checkpoint(tmp_path / "paraphrase")
    both = load_file(tmp_path / "both" / "model.safetensors")
    alone = load_file(tmp_path / "paraphrase" / "model.safetensors")
    assert both.keys() == alone.keys()
    for key, weight in alone.items():
        assert torch.equal(both[key][:weight.shape[0]], weight), key
