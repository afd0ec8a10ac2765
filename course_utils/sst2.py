"""GLUE SST-2 for the capstone (chapter 6): the data and the metric of the active profile.

``full`` loads ``load_dataset("glue", "sst2")`` and ``evaluate.load("glue", "sst2")`` from the
Hub; ``smoke`` reads the sentiment fixture shipped in ``course_utils/fixtures/sentiment`` (GLUE
SST-2's TSV format: ``sentence<TAB>label``, the test file ``index<TAB>sentence``) and scores
with a local copy of the same accuracy. Either way the splits are train, validation and test,
the columns ``sentence``, ``label`` and ``idx``, and the test labels are -1.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course_utils.i18n import _
from course_utils.profiles import SENTIMENT_FIXTURE_DIR, CourseSetupError, Profile, get_profile

if TYPE_CHECKING:
    from datasets import DatasetDict, Features

LABEL_NAMES = ["negative", "positive"]
SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}
METRIC_DIR = Path(__file__).resolve().parent / "metrics" / "glue_sst2"


def sst2_features() -> Features:
    """The columns of the Hub's glue/sst2: sentence, label (ClassLabel), idx (int32)."""
    from datasets import ClassLabel, Features, Value

    return Features({"sentence": Value("string"), "label": ClassLabel(names=LABEL_NAMES),
                     "idx": Value("int32")})


def read_sst2_file(path: str | os.PathLike) -> dict[str, list]:
    """Read one SST-2 TSV file into columns; labels are -1 when the file is unlabeled."""
    path = Path(path)
    if not path.is_file():
        raise CourseSetupError(_("SST-2 file not found: {path}").format(path=path))
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t",
                           quoting=csv.QUOTE_NONE))
    header, body = rows[0], [row for row in rows[1:] if row]
    columns: dict[str, list] = {"sentence": [], "label": [], "idx": []}
    if header not in (["sentence", "label"], ["index", "sentence"]):
        raise CourseSetupError(
            _("{path}, line 1: expected the SST-2 header 'sentence<TAB>label' or "
              "'index<TAB>sentence', got {header!r}").format(path=path, header=header))
    labeled = header[0] == "sentence"
    for number, row in enumerate(body):
        if len(row) != 2 or (labeled and row[1] not in ("0", "1")):
            raise CourseSetupError(
                _("{path}, line {line}: expected a sentence and a label 0 or 1 (or an index "
                  "and a sentence), got {row!r}").format(path=path, line=number + 2, row=row))
        columns["sentence"].append(row[0] if labeled else row[1])
        columns["label"].append(int(row[1]) if labeled else -1)
        columns["idx"].append(number)
    return columns


def load_sst2_tsv(data_dir: str | os.PathLike) -> DatasetDict:
    """SST-2 from GLUE's TSV files, with the splits and columns of the Hub's version."""
    from datasets import Dataset, DatasetDict

    features = sst2_features()
    return DatasetDict({split: Dataset.from_dict(read_sst2_file(Path(data_dir) / name),
                                                 features=features)
                        for split, name in SPLIT_FILES.items()})


def load_sst2(profile: Profile | None = None) -> DatasetDict:
    """SST-2 as the profile says: the Hub (``full``) or the shipped sentiment fixture."""
    profile = profile or get_profile()
    if profile.name == "full":
        from datasets import load_dataset

        return load_dataset("glue", "sst2")
    return load_sst2_tsv(SENTIMENT_FIXTURE_DIR)


def sst2_metric(profile: Profile | None = None, **kwargs: Any) -> Any:
    """An ``evaluate`` metric with ``add_batch`` and ``compute() -> {"accuracy": ...}``."""
    import evaluate

    profile = profile or get_profile()
    if profile.name == "full":
        return evaluate.load("glue", "sst2", **kwargs)
    return evaluate.load(str(METRIC_DIR), **kwargs)
