"""The smoke profile's tiny BERT: loads like bert-base-uncased, same bytes on every build, built
once per cache and safely when two processes race."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from course_utils import tiny_bert
from course_utils.data import load_mrpc_tsv
from course_utils.profiles import FIXTURE_DIR


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_CACHE", str(tmp_path_factory.mktemp("cache")))
        return Path(tiny_bert.tiny_checkpoint())


@pytest.fixture(scope="module")
def tokenizer(checkpoint):
    return AutoTokenizer.from_pretrained(checkpoint)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_checkpoint_lives_in_a_versioned_folder_of_the_cache(checkpoint):
    assert checkpoint.name.startswith(f"tiny-bert-v{tiny_bert.BUILD_VERSION}-")
    files = {p.name for p in checkpoint.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"} <= files
    assert [p.name for p in checkpoint.parent.iterdir()] == [checkpoint.name]  # no temp left


def test_tokenizer_encodes_sentence_pairs_like_bert(tokenizer):
    encoded = tokenizer("Harbor Mills rose 9 percent.", "Profit rose.")
    assert set(encoded) == {"input_ids", "token_type_ids", "attention_mask"}
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens == ["[CLS]", "harbor", "mills", "rose", "9", "percent", ".", "[SEP]",
                      "profit", "rose", ".", "[SEP]"]
    assert encoded["token_type_ids"] == [0] * 8 + [1] * 4
    assert tokenizer.model_max_length == 128
    assert tokenizer.pad_token_id == 0


def test_every_fixture_word_is_in_the_vocabulary_and_others_split(tokenizer):
    splits = load_mrpc_tsv(FIXTURE_DIR)
    text = [s for split in splits.values() for c in ("sentence1", "sentence2") for s in split[c]]
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.unk_token_id not in {i for row in ids for i in row}
    assert tokenizer.tokenize("Zyx") == ["z", "##y", "##x"]


def test_model_loads_with_a_fresh_two_label_head(checkpoint, tokenizer):
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=2)
    config = model.config
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads,
            config.intermediate_size, config.max_position_embeddings) == (2, 32, 2, 64, 128)
    assert config.architectures == ["BertModel"] and config.vocab_size == len(tokenizer)
    batch = tokenizer(["a b c", "d"], ["e", "f g"], padding=True, return_tensors="pt")
    assert model(**batch).logits.shape == (2, 2)
    from safetensors import safe_open

    with safe_open(checkpoint / "model.safetensors", "pt") as saved:
        assert not any(key.startswith("classifier") for key in saved.keys())


def test_builds_write_the_same_bytes_and_leave_the_random_state_alone(tmp_path, checkpoint):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    start = time.perf_counter()
    tiny_bert.write_checkpoint(tmp_path)
    elapsed = time.perf_counter() - start
    assert torch.equal(torch.rand(3), expected)
    for name in ("model.safetensors", "vocab.txt", "config.json", "tokenizer.json"):
        assert digest(tmp_path / name) == digest(checkpoint / name), name
    assert elapsed < 2.0


def test_a_built_checkpoint_is_reused(monkeypatch, checkpoint):
    monkeypatch.setenv("COURSE_CACHE", str(checkpoint.parent))
    monkeypatch.setattr(tiny_bert, "write_checkpoint", lambda d: pytest.fail("rebuilt"))
    assert tiny_bert.tiny_checkpoint() == str(checkpoint)


def test_losing_the_race_to_another_process_keeps_the_winner(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    real_write = tiny_bert.write_checkpoint

    def write_while_a_rival_finishes(directory):
        rival = tmp_path / "rival"
        rival.mkdir()
        real_write(rival)
        (rival / "winner").write_text("rival")
        final = Path(directory).parent / f"tiny-bert-v{tiny_bert.BUILD_VERSION}-"
        rival.rename(final.with_name(final.name + tiny_bert._fingerprint()))
        real_write(directory)

    monkeypatch.setattr(tiny_bert, "write_checkpoint", write_while_a_rival_finishes)
    result = Path(tiny_bert.tiny_checkpoint())
    assert (result / "winner").read_text() == "rival"
    assert [p.name for p in tmp_path.iterdir()] == [result.name]


def test_cache_root_follows_course_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    assert tiny_bert.cache_root() == tmp_path
    monkeypatch.delenv("COURSE_CACHE")
    assert tiny_bert.cache_root() == Path.home() / ".cache" / "course_utils"
