"""Write the smoke profile's sentiment fixture: GLUE SST-2-shaped TSV files of made-up reviews.

    python tools/make_sentiment_fixture.py [--out DIR]

The output (default ``course_utils/fixtures/sentiment``) is ``train.tsv`` (480 sentences),
``dev.tsv`` (100) and ``test.tsv`` (100, unlabeled), in GLUE SST-2's own format: a header row
(``sentence<TAB>label``; the test file has ``index<TAB>sentence``), tab-separated, UTF-8, and
SST-2's look: lower case, with a space on both sides of punctuation. Label 1 is positive, 0
negative, about half each. A fixed seed makes every run write the same bytes.

Every sentence is written from the templates below, about films and shows that do not exist.
Most carry one judging word (charming, tedious ...); some negate it ("is never dull": positive)
and some turn around halfway ("starts slow , but ends gripping": the second half decides), so
that the tiny model has to read more than one word, yet learns the task in seconds.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

SEED = 20261129
SIZES = {"train.tsv": 480, "dev.tsv": 100, "test.tsv": 100}
KINDS = (("plain", 0.8), ("negated", 0.1), ("turn", 0.1))
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "course_utils" / "fixtures" / "sentiment"

GOOD = ["charming", "delightful", "gripping", "moving", "clever", "funny", "warm", "tender",
        "brilliant", "beautiful", "witty", "lively", "smart", "touching", "fresh", "great"]
BAD = ["dull", "tedious", "clumsy", "bland", "messy", "lifeless", "boring", "silly",
       "tiresome", "awful", "shallow", "forgettable", "predictable", "weak", "slow", "flat"]
SUBJECTS = ["the film", "this movie", "the story", "the script", "the cast", "the ending",
            "the sequel", "the soundtrack", "the dialogue", "the plot", "this comedy",
            "the drama", "the documentary", "the pilot episode", "the remake", "the musical"]
ADVERBS = ["", "", "very ", "quite ", "often ", "thoroughly ", "simply ", "rather "]
NOUNS = ["film", "movie", "comedy", "drama", "thriller", "romance", "cartoon", "western"]
EXTRAS = ["", "", " from start to finish", " for most of its running time",
          " despite a small budget", " in every scene", " , as expected", " to the very end"]

Template = tuple[str, ...]
PLAIN: Template = (
    "{subj} is {adv}{adj}{extra} .",
    "a {adv}{adj} {noun}{extra} .",
    "i found {subj} {adv}{adj} .",
    "{subj} feels {adv}{adj}{extra} .",
    "what a {adj} {noun} .",
    "{subj} turns out to be {adv}{adj} .",
)
NEGATED: Template = (
    "{subj} is never {adj} .",
    "{subj} is not {adv}{adj}{extra} .",
    "i did not find {subj} {adj} .",
    "hardly a {adj} {noun} .",
    "{subj} is anything but {adj} .",
)
TURN: Template = (
    "{subj} starts {first} , but ends {second} .",
    "{subj} is {first} at first , yet {second} in the end .",
    "the opening is {first} , but the rest is {second} .",
    "although {subj} is {first} , it is mostly {second} .",
)


def make_sentence(rng: random.Random, positive: bool) -> str:
    """One review sentence whose sentiment is ``positive`` (else negative)."""
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    slots = {"subj": rng.choice(SUBJECTS), "adv": rng.choice(ADVERBS),
             "noun": rng.choice(NOUNS), "extra": rng.choice(EXTRAS)}
    if kind == "plain":
        template = rng.choice(PLAIN)
        slots["adj"] = rng.choice(GOOD if positive else BAD)
    elif kind == "negated":  # "not dull" is positive: the negated word has the other sign
        template = rng.choice(NEGATED)
        slots["adj"] = rng.choice(BAD if positive else GOOD)
    else:  # the second half decides
        template = rng.choice(TURN)
        slots["first"] = rng.choice(BAD if positive else GOOD)
        slots["second"] = rng.choice(GOOD if positive else BAD)
    return " ".join(template.format(**slots).split()) + " "


def make_rows(rng: random.Random, count: int, seen: set[str]) -> list[tuple[str, int]]:
    """``count`` (sentence, label) rows, half positive (rounded down), none repeated."""
    labels = [1] * (count // 2) + [0] * (count - count // 2)
    rng.shuffle(labels)
    rows = []
    for label in labels:
        sentence = make_sentence(rng, bool(label))
        while sentence in seen:
            sentence = make_sentence(rng, bool(label))
        seen.add(sentence)
        rows.append((sentence, label))
    return rows


def render(rows: list[tuple[str, int]], labeled: bool) -> str:
    """The text of one SST-2 TSV file; the unlabeled test file starts with a running index."""
    if labeled:
        lines = ["sentence\tlabel"] + [f"{sentence}\t{label}" for sentence, label in rows]
    else:
        lines = ["index\tsentence"] + [f"{i}\t{sentence}" for i, (sentence, _) in enumerate(rows)]
    return "\n".join(lines) + "\n"


def write_fixture(out_dir: Path) -> None:
    """Write train.tsv, dev.tsv and test.tsv into ``out_dir``."""
    rng = random.Random(SEED)
    seen: set[str] = set()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, size in SIZES.items():
        text = render(make_rows(rng, size, seen), labeled=name != "test.tsv")
        (out_dir / name).write_bytes(text.encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args()
    write_fixture(args.out)
    print(f"wrote {', '.join(SIZES)} to {args.out}")


if __name__ == "__main__":
    main()
