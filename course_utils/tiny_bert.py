"""The smoke profile's checkpoint: a tiny, randomly initialised BERT and its tokenizer.

:func:`tiny_checkpoint` builds it once into ``$COURSE_CACHE`` (default
``~/.cache/course_utils``) and returns the directory, which ``AutoTokenizer.from_pretrained``
and ``AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)`` load exactly
like ``bert-base-uncased``. The weights come from ``torch.manual_seed(0)`` and the WordPiece
vocabulary from the words of the shipped paraphrase fixture, so every build writes the same
bytes. The words of the sentiment fixture (chapter 6) that the paraphrase fixture lacks come
last, with embedding rows of their own seed: the ids and weights of everything else are those
of a model built from the paraphrase fixture alone. The folder name carries a hash of the
builder and of the fixtures, and the build is atomic (a temporary folder renamed into place),
so processes started together by ``accelerate launch`` can all call it.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import string
import tempfile
from pathlib import Path
from typing import Any

from course_utils.profiles import FIXTURE_DIR, SENTIMENT_FIXTURE_DIR

BUILD_VERSION = "1"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_LENGTH = 128
CONFIG = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": MAX_LENGTH,
}
_FIXTURE_FILES = ("train.tsv", "dev.tsv", "test.tsv")
EXTRA_WORDS_SEED = 1  # the embedding rows of the sentiment fixture's own words


def cache_root() -> Path:
    """Where built artefacts live: ``$COURSE_CACHE`` or ``~/.cache/course_utils``."""
    return Path(os.environ.get("COURSE_CACHE") or "~/.cache/course_utils").expanduser()


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{BUILD_VERSION}|{sorted(CONFIG.items())}".encode())
    for folder in (FIXTURE_DIR, SENTIMENT_FIXTURE_DIR):
        for name in _FIXTURE_FILES:
            digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:12]


def tiny_checkpoint() -> str:
    """The directory of the tiny BERT checkpoint, built on first use."""
    final = cache_root() / f"tiny-bert-v{BUILD_VERSION}-{_fingerprint()}"
    if final.is_dir():
        return str(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".tiny-bert-building-", dir=final.parent))
    try:
        write_checkpoint(workdir)
        for path in [workdir, *workdir.iterdir()]:  # mkdtemp makes it private; share it
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            os.rename(workdir, final)
        except OSError:
            if not final.is_dir():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return str(final)


def _words(sentences: list[str]) -> list[str]:
    """The sorted words of ``sentences``, normalised and split the way BERT does."""
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    normalizer = BertNormalizer(lowercase=True)
    splitter = BertPreTokenizer()
    words: set[str] = set()
    for sentence in sentences:
        text = normalizer.normalize_str(sentence)
        words.update(word for word, _ in splitter.pre_tokenize_str(text))
    return sorted(words)


def _fixture_sentences(folder: Path, columns: slice) -> list[str]:
    sentences = []
    for name in _FIXTURE_FILES:
        for line in (folder / name).read_text(encoding="utf-8-sig").splitlines()[1:]:
            sentences += line.split("\t")[columns]
    return sentences


def fixture_words() -> list[str]:
    """The sorted words of the paraphrase fixture's sentences, split the way BERT does."""
    return _words(_fixture_sentences(FIXTURE_DIR, slice(3, None)))


def sentiment_words() -> list[str]:
    """The sorted words of the sentiment fixture's sentences, split the way BERT does."""
    sentences = []
    for name in _FIXTURE_FILES:
        lines = (SENTIMENT_FIXTURE_DIR / name).read_text(encoding="utf-8").splitlines()
        header = lines[0].split("\t")
        column = header.index("sentence")
        sentences += [line.split("\t")[column] for line in lines[1:]]
    return _words(sentences)


def base_vocab() -> list[str]:
    """Special tokens, single characters and their ``##`` forms, then the paraphrase words."""
    words = fixture_words()
    chars = sorted(set(string.ascii_lowercase + string.digits + string.punctuation))
    chars += sorted({c for word in words for c in word} - set(chars))
    vocab = SPECIAL_TOKENS + chars + ["##" + c for c in chars]
    known = set(vocab)
    return vocab + [word for word in words if word not in known]


def build_vocab() -> list[str]:
    """:func:`base_vocab`, then the sentiment fixture's words it lacks (sorted)."""
    vocab = base_vocab()
    known = set(vocab)
    return vocab + [word for word in sentiment_words() if word not in known]


def _add_word_rows(model: Any, count: int) -> None:
    """Append ``count`` embedding rows, drawn from their own seed, leaving the others as built."""
    import torch

    old = model.get_input_embeddings()
    generator = torch.Generator().manual_seed(EXTRA_WORDS_SEED)
    rows = torch.randn(count, old.embedding_dim, generator=generator)
    rows *= model.config.initializer_range
    new = torch.nn.Embedding(old.num_embeddings + count, old.embedding_dim,
                             padding_idx=old.padding_idx)
    with torch.no_grad():
        new.weight.copy_(torch.cat([old.weight, rows]))
    model.set_input_embeddings(new)
    model.config.vocab_size = new.num_embeddings


def write_checkpoint(directory: str | os.PathLike) -> None:
    """Write the tokenizer and the seeded BertModel into ``directory`` (no caching)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast
    from transformers.utils import logging

    directory = Path(directory)
    vocab = build_vocab()
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # transformers 5 names the argument `vocab`, 4.x `vocab_file` (and ignores `vocab`)
    parameters = inspect.signature(BertTokenizerFast.__init__).parameters
    vocab_argument = "vocab" if "vocab" in parameters else "vocab_file"
    tokenizer = BertTokenizerFast(
        **{vocab_argument: str(vocab_file)}, do_lower_case=True, model_max_length=MAX_LENGTH
    )
    tokenizer.save_pretrained(directory)
    base = len(base_vocab())
    config = BertConfig(vocab_size=base, pad_token_id=0, **CONFIG)
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(0)
        model = BertModel(config)
        _add_word_rows(model, len(vocab) - base)
    bars_were_on = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # no "Writing model shards" bar for a 200 KB file
    try:
        model.save_pretrained(directory)
    finally:
        if bars_were_on:
            logging.enable_progress_bar()
