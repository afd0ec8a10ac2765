"""Write the smoke profile's paraphrase fixture: MRPC-shaped TSV files of made-up news pairs.

    python tools/make_paraphrase_fixture.py [--out DIR]

The output (default ``course_utils/fixtures/paraphrase``) is ``train.tsv`` (480 pairs),
``dev.tsv`` (101) and ``test.tsv`` (100, unlabeled), in GLUE MRPC's own format: a header row,
tab-separated, UTF-8 with a byte-order mark on train and dev, double quotes inside sentences.
A fixed seed makes every run write the same bytes.

A positive pair says the same facts in two wordings (one may add "on Monday" or "officials
said"). A negative pair is one of: a sentence that contradicts the first (not, no, denied,
rejected ...), the same kind of event with other numbers and a changed verb (rose/fell,
cut/hire ...), or another event about the same company ("Separately, ..."). Cue words make the
task learnable by a tiny model in seconds; the altered pairs still need both sentences read.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path

SEED = 20240611
SIZES = {"train.tsv": 480, "dev.tsv": 101, "test.tsv": 100}
POSITIVE_RATE = 0.63
NEGATIVE_KINDS = (("contradiction", 0.5), ("altered", 0.3), ("unrelated", 0.2))
BOM = "\ufeff"
HEADER_TAIL = "#1 ID\t#2 ID\t#1 String\t#2 String"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "course_utils" / "fixtures" / "paraphrase"

COMPANIES = [
    "Harbor Mills", "Corvex Systems", "Alder Bank", "Bluestone Energy", "Kestrel Airlines",
    "Norland Foods", "Pinecrest Pharma", "Quarry Telecom", "Redwing Motors", "Silverline Media",
    "Tideway Shipping", "Vantor Software", "Westgate Retail", "Yarrow Chemicals",
    "Ostrava Steel", "Meridian Insurance",
]
PEOPLE = [
    "Maria Okafor", "James Whitfield", "Chen Liang", "Anna Kowalski", "David Mensah",
    "Laura Bianchi", "Rahul Mehta", "Sofia Lindqvist", "Peter Haas", "Grace Tan",
    "Omar Haddad", "Helen Doyle", "Tomás Ruiz", "Brian O'Neill",
]
CITIES = [
    "Chicago", "Toronto", "Denver", "Atlanta", "Boston", "Seattle", "Houston", "Dublin",
    "Sydney", "Frankfurt", "Osaka", "Lyon",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = ["Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.",
          "Nov.", "Dec."]
QUARTERS = ["first", "second", "third", "fourth"]
AGENCIES = [
    "the Securities and Exchange Commission", "the Justice Department",
    "the Federal Trade Commission", "state regulators",
]
PRODUCTS = [
    "the Aria phone", "the Strata tablet", "the Volt pickup", "the Lumen camera",
    "the Orbit router", "the Cadence watch",
]
INDEXES = [
    "the Dow Jones industrial average", "the Nasdaq composite index",
    "the Standard & Poor's 500 index",
]
BILLS = ["energy", "tax", "health care", "immigration", "highway", "education"]
CHAMBERS = ["the Senate", "the House", "the state assembly"]
CRIMES = ["securities fraud", "tax evasion", "wire fraud", "bribery"]
PRAISE = ["a turning point", "a major step forward", "a great day", "a fresh start"]
SCORN = ["a serious mistake", "a bad bet", "a waste of money"]
STORMS = ["Alma", "Bertha", "Claudette", "Dolly", "Edouard", "Fay"]
REGIONS = ["northern Mexico", "the Florida Keys", "coastal Texas", "eastern Cuba", "Bermuda"]

Slots = dict[str, str]
Frame = tuple[Callable[[random.Random], Slots], list[str], list[str], list[str]]


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _uncap(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text[0].lower() + text[1:] if first in LOWER_STARTS else text


def _two(rng: random.Random, pool: list[str]) -> tuple[str, str]:
    first, second = rng.sample(pool, 2)
    return first, second


def _common(rng: random.Random) -> Slots:
    """Slots every frame may use; frames add their own and may override these."""
    co, co2 = _two(rng, COMPANIES)
    person, person2 = _two(rng, PEOPLE)
    city, city2 = _two(rng, CITIES)
    return {
        "co": co, "co2": co2, "p": person, "p2": person2, "city": city, "city2": city2,
        "day": rng.choice(DAYS), "month": rng.choice(MONTHS), "d": str(rng.randint(1, 28)),
    }


def _earnings(rng: random.Random) -> Slots:
    return {"q": rng.choice(QUARTERS), "pct": str(rng.randint(3, 45)),
            "amt": str(rng.randint(12, 950)), "pct2": str(rng.randint(3, 45)),
            "amt2": str(rng.randint(12, 950))}


def _deal(rng: random.Random) -> Slots:
    return {"bn": f"{rng.randint(1, 9)}.{rng.randint(1, 9)}",
            "bn2": f"{rng.randint(1, 9)}.{rng.randint(1, 9)}"}


def _jobs(rng: random.Random) -> Slots:
    return {"n": f"{50 * rng.randint(4, 90):,}", "n2": f"{50 * rng.randint(4, 90):,}"}


def _money(rng: random.Random) -> Slots:
    return {"amt": str(rng.randint(5, 400)), "product": rng.choice(PRODUCTS),
            "agency": rng.choice(AGENCIES), "price": str(rng.choice([199, 249, 299, 399, 499])),
            "price2": str(rng.choice([99, 149, 179]))}


def _market(rng: random.Random) -> Slots:
    close = rng.randint(1800, 11000)
    pts = rng.randint(12, 190)
    return {"index": rng.choice(INDEXES), "pts": str(pts), "close": f"{close:,}",
            "pct": f"{rng.randint(1, 3)}.{rng.randint(1, 9)}", "pts2": str(rng.randint(12, 190)),
            "close2": f"{close - rng.randint(30, 400):,}"}


def _vote(rng: random.Random) -> Slots:
    yes = rng.randint(51, 80)
    return {"chamber": rng.choice(CHAMBERS), "bill": rng.choice(BILLS), "yes": str(yes),
            "no": str(100 - yes - rng.randint(0, 3))}


def _court(rng: random.Random) -> Slots:
    crime, crime2 = _two(rng, CRIMES)
    return {"crime": crime, "crime2": crime2, "years": str(rng.randint(2, 25)),
            "years2": str(rng.randint(2, 25))}


def _quote(rng: random.Random) -> Slots:
    return {"praise": rng.choice(PRAISE), "scorn": rng.choice(SCORN),
            "title": rng.choice(["chief executive", "chairman", "president"])}


def _storm(rng: random.Random) -> Slots:
    region, region2 = _two(rng, REGIONS)
    return {"storm": rng.choice(STORMS), "region": region, "region2": region2,
            "n": str(rng.randint(3, 60)), "n2": str(rng.randint(100, 5000))}


# Each frame: extra slots, paraphrases of one fact, contradictions of it, altered versions.
FRAMES: list[Frame] = [
    (_earnings, [
        "{co} said on {day} that its {q}-quarter profit rose {pct} percent to ${amt} million.",
        "{co}'s net income climbed {pct} percent in the {q} quarter, to ${amt} million.",
        "Profit at {co} increased {pct} percent to ${amt} million in the {q} quarter, "
        "the company said.",
        "{co} reported a {pct} percent gain in {q}-quarter profit, which reached ${amt} million.",
    ], [
        "{co} denied on {day} that its {q}-quarter profit had risen {pct} percent.",
        "{co} said its {q}-quarter profit did not reach ${amt} million, despite earlier forecasts.",
        "{co} said its profit did not rise in the {q} quarter.",
    ], [
        "{co} said its {q}-quarter profit fell {pct2} percent to ${amt2} million.",
        "{co} posted a {q}-quarter loss of ${amt2} million, compared with a profit a year earlier.",
    ]),
    (_deal, [
        "{co} agreed to buy {co2} for ${bn} billion in cash.",
        "{co} will acquire {co2} in an all-cash deal valued at ${bn} billion.",
        "{co2} has agreed to be bought by {co} for about ${bn} billion, the companies said {day}.",
        "In a ${bn} billion cash deal, {co} is buying its rival {co2}.",
    ], [
        "{co} said it was not in talks to buy {co2}.",
        "{co2} said it would not accept a ${bn} billion takeover offer from {co}.",
        "{co} denied reports that it planned to acquire {co2}.",
    ], [
        "{co2} agreed to buy {co} for ${bn2} billion in stock.",
        "{co} sold its stake in {co2} for ${bn2} billion on {day}.",
    ]),
    (lambda rng: {}, [
        "{co} named {p} as its new chief executive, replacing {p2}.",
        "{p} will succeed {p2} as chief executive of {co}, the company said.",
        "{co} appointed {p} to replace {p2} as its top executive.",
        "{p2} is being replaced as chief executive of {co} by {p}.",
    ], [
        "{co} said {p} would not replace {p2} as chief executive.",
        "{p} did not accept an offer to succeed {p2} as head of {co}.",
        "{co} denied that {p2} was leaving the company.",
    ], [
        "{p} resigned as chief financial officer of {co} on {day}.",
        "{co} said {p2} would remain chief executive until {month} {d}.",
    ]),
    (_jobs, [
        "{co} said it would cut {n} jobs at its {city} plant.",
        "{co} plans to eliminate {n} positions in {city}, the company said on {day}.",
        "About {n} workers at {co}'s {city} plant will lose their jobs.",
        "{co} is laying off {n} employees at its plant in {city}.",
    ], [
        "{co} said it would not cut any jobs at its {city} plant.",
        "{co} denied that it planned to cut jobs in {city}.",
        "A union leader said {co} had no plans to close its {city} plant.",
    ], [
        "{co} said it would hire {n2} new workers at its {city} plant.",
        "{co} will open a new plant in {city2}, creating {n2} jobs.",
    ]),
    (_money, [
        "{agency} sued {co} on {day}, accusing it of misleading investors.",
        "{co} was sued by {agency}, which said the company misled investors.",
        "In a lawsuit filed {day}, {agency} accused {co} of misleading investors.",
    ], [
        "{agency} said it found no evidence that {co} misled investors.",
        "{agency} said it would not take action against {co}.",
    ], [
        "{co} agreed to pay ${amt} million to settle charges brought by {agency}.",
        "{co} sued {agency} on {day}, saying the agency had exceeded its authority.",
    ]),
    (_money, [
        "{co} will launch {product} on {month} {d}, priced at ${price}.",
        "{product_cap} from {co} goes on sale {month} {d} for ${price}.",
        "{co} said {product} will cost ${price} when it arrives in stores on {month} {d}.",
    ], [
        "{co} said it would not launch {product} this year.",
        "{co} has no plans to sell {product}, a spokesman said.",
    ], [
        "{co} recalled {product} on {day}, citing a battery problem.",
        "{co} lowered the price of {product} to ${price2} after weak sales.",
    ]),
    (_market, [
        "{index_cap} rose {pts} points, or {pct} percent, to {close} on {day}.",
        "On {day}, {index} gained {pts} points to close at {close}.",
        "{index_cap} closed up {pts} points at {close} on {day}.",
    ], [
        "{index_cap} did not move much on {day}, ending the session flat.",
        "{index_cap} ended {day} with no change.",
    ], [
        "{index_cap} fell {pts2} points to {close2} on {day}, erasing early gains.",
        "{index_cap} dropped {pts2} points, closing at {close2} on {day}.",
    ]),
    (_vote, [
        "{chamber_cap} voted {yes} to {no} on {day} to approve the {bill} bill.",
        "The {bill} bill passed {chamber} by a vote of {yes} to {no}.",
        "By {yes} votes to {no}, {chamber} approved the {bill} bill on {day}.",
    ], [
        "{chamber_cap} did not approve the {bill} bill on {day}.",
        "{chamber_cap} rejected the {bill} bill, which fell {no} votes short.",
    ], [
        "{chamber_cap} will not vote on the {bill} bill until {month}.",
        "{chamber_cap} delayed a vote on the {bill} bill to {month} {d}.",
    ]),
    (_court, [
        "{p} was sentenced to {years} years in prison for {crime}.",
        "A judge in {city} sentenced {p} to {years} years in prison for {crime}.",
        "{p} received a {years}-year prison sentence on {day} for {crime}.",
    ], [
        "{p} was found not guilty of {crime} by a jury in {city}.",
        "A judge in {city} dismissed the {crime} charges against {p}.",
    ], [
        "{p} pleaded guilty to {crime2} and faces up to {years2} years in prison.",
        "{p} was charged with {crime2} in {city} on {day}.",
    ]),
    (_quote, [
        '{p}, the {title} of {co}, called the deal "{praise}" for the company.',
        '"This is {praise} for {co}," {p}, its {title}, said of the deal.',
        '{co} {title} {p} described the agreement as "{praise}."',
    ], [
        '{p} said the deal was "{scorn}" and would not help {co}.',
        '{p} did not support the deal, calling it "{scorn}."',
    ], [
        "{p} refused to comment on the deal, a {co} spokesman said.",
        '{p} said the agreement was "too early to judge."',
    ]),
    (_storm, [
        "Tropical Storm {storm} killed at least {n} people in {region} on {day}.",
        "At least {n} people died when Tropical Storm {storm} struck {region}.",
        "The death toll from Tropical Storm {storm} in {region} rose to at least {n}.",
    ], [
        "Tropical Storm {storm} weakened before it reached {region}, and no deaths were reported.",
        "Officials said no one was killed when Tropical Storm {storm} hit {region}.",
    ], [
        "Tropical Storm {storm} left {n2} people homeless in {region2}.",
        "Tropical Storm {storm} is expected to reach {region2} by {day}.",
    ]),
]
SEGUES = ["Separately, ", "In other news, "]
LOWER_STARTS = {"The", "A", "In", "On", "At", "About", "By", "Profit", "This"}
TAILS = ["", "", "", "", "", " on {day}", ", according to a statement", ", officials said"]


def _slots(rng: random.Random, frame: Frame) -> Slots:
    slots = _common(rng)
    slots.update(frame[0](rng))
    for key in ("product", "index", "chamber"):
        if key in slots:
            slots[key + "_cap"] = _cap(slots[key])
    return slots


def _fill(template: str, slots: Slots, rng: random.Random, tail: bool = False) -> str:
    """Fill a template, capitalised; sometimes add a harmless tail before the final period."""
    text = _cap(template.format(**slots))
    extra = rng.choice(TAILS).format(**slots) if tail else ""
    quiet = "{day}" in template or " said" in text or text.endswith('."')
    if extra and text.endswith(".") and not quiet:
        text = text[:-1] + extra + "."
    return text


def make_pair(rng: random.Random, positive: bool) -> tuple[str, str, str]:
    """A sentence pair and its kind: a paraphrase when ``positive``, else a kind of negative."""
    frame = rng.choice(FRAMES)
    slots = _slots(rng, frame)
    paraphrases, contradictions, altered = frame[1], frame[2], frame[3]
    if positive:
        first, second = rng.sample(paraphrases, 2)
        pair = _fill(first, slots, rng, tail=True), _fill(second, slots, rng, tail=True)
        return (*pair, "paraphrase")
    kind = rng.choices([k for k, _ in NEGATIVE_KINDS], [w for _, w in NEGATIVE_KINDS])[0]
    first = _fill(rng.choice(paraphrases), slots, rng, tail=True)
    if kind == "contradiction":
        second = _fill(rng.choice(contradictions), slots, rng)
    elif kind == "altered":
        second = _fill(rng.choice(altered), slots, rng)
    else:
        other = rng.choice([f for f in FRAMES if f is not frame])
        other_slots = _slots(rng, other)
        other_slots["co"] = slots["co"]
        second = _fill(rng.choice(other[1]), other_slots, rng, tail=True)
        second = rng.choice(SEGUES) + _uncap(second)
    return (second, first, kind) if rng.random() < 0.3 else (first, second, kind)


def make_rows(rng: random.Random, count: int, seen: set[tuple[str, str]]) -> list[tuple]:
    """``count`` rows (label, id1, id2, sentence1, sentence2), no pair repeated across files.

    The share of positives is ``POSITIVE_RATE`` in every file, rounded, in a shuffled order.
    """
    positives = round(count * POSITIVE_RATE)
    labels = [1] * positives + [0] * (count - positives)
    rng.shuffle(labels)
    rows = []
    for label in labels:
        while True:
            first, second, _ = make_pair(rng, bool(label))
            if (first, second) not in seen and first != second:
                break
        seen.add((first, second))
        id1 = rng.randint(100000, 3999999)
        rows.append((label, id1, id1 + rng.randint(1, 400), first, second))
    return rows


def render(rows: list[tuple], labeled: bool) -> str:
    """The text of one MRPC TSV file; unlabeled files put a running index in the first column."""
    head = ("Quality" if labeled else "index") + "\t" + HEADER_TAIL
    lines = [head] + [
        "\t".join(map(str, (label if labeled else i, *rest)))
        for i, (label, *rest) in enumerate(rows)
    ]
    return (BOM if labeled else "") + "\n".join(lines) + "\n"


def write_fixture(out_dir: Path) -> None:
    """Write train.tsv, dev.tsv and test.tsv into ``out_dir``."""
    rng = random.Random(SEED)
    seen: set[tuple[str, str]] = set()
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
