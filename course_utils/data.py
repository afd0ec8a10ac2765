"""Load GLUE MRPC, from the Hub or from its original TSV files, with the Hub's columns.

The TSV files (``train.tsv``, ``dev.tsv``, ``test.tsv``) have a header row, tabs between five
fields, a UTF-8 byte-order mark on some files and double quotes inside sentences, so they are
read with quoting turned off. ``test.tsv`` is unlabeled: its first column is an index and its
labels become -1 (the Hub's MRPC test split has its labels; GLUE's TSV file does not).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.profiles import (
    FIXTURE_DIR,
    CourseSetupError,
    Profile,
    check_data_dir,
    get_profile,
)

if TYPE_CHECKING:
    from datasets import DatasetDict, Features

LABEL_NAMES = ["not_equivalent", "equivalent"]
SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}
_HEADER_TAIL = ["#1 ID", "#2 ID", "#1 String", "#2 String"]
_LABELED, _UNLABELED = "Quality", "index"


def mrpc_features() -> Features:
    """The columns of the Hub's glue/mrpc: sentence1, sentence2, label (ClassLabel), idx (int32)."""
    from datasets import ClassLabel, Features, Value

    return Features(
        {
            "sentence1": Value("string"),
            "sentence2": Value("string"),
            "label": ClassLabel(names=LABEL_NAMES),
            "idx": Value("int32"),
        }
    )


def read_mrpc_file(path: str | os.PathLike) -> dict[str, list]:
    """Read one MRPC TSV file into columns; labels are -1 when the file is unlabeled."""
    path = Path(path)
    if not path.is_file():
        raise CourseSetupError(f"MRPC file not found: {path}")
    try:
        text = path.read_bytes()
    except OSError as error:
        raise CourseSetupError(
            f"{path} cannot be read ({error.strerror or error}): give yourself read access to "
            "it, or point COURSE_DATA_DIR at another copy of GLUE MRPC."
        ) from None
    try:
        text = text.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = text.count(b"\n", 0, error.start) + 1
        column = error.start - (text.rfind(b"\n", 0, error.start) + 1) + 1
        raise CourseSetupError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{text[error.start]:02x} at column "
            f"{column}): save the file as UTF-8, as GLUE MRPC's original files are "
            "(for example: iconv -f latin1 -t utf-8)."
        ) from None
    return _parse_mrpc(path, text)


def _parse_mrpc(path: Path, text: str) -> dict[str, list]:
    columns: dict[str, list] = {"sentence1": [], "sentence2": [], "label": [], "idx": []}
    with io.StringIO(text, newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header is None or len(header) != 5 or header[1:] != _HEADER_TAIL:
            raise CourseSetupError(
                f"{path}, line 1: expected the MRPC header "
                f"'Quality<TAB>#1 ID<TAB>#2 ID<TAB>#1 String<TAB>#2 String', got {header!r}"
            )
        if header[0] not in (_LABELED, _UNLABELED):
            raise CourseSetupError(
                f"{path}, line 1: the first column must be {_LABELED!r} (labeled) or "
                f"{_UNLABELED!r} (unlabeled test file), got {header[0]!r}"
            )
        labeled = header[0] == _LABELED
        for row in rows:
            if not row:
                continue
            line = rows.line_num
            if len(row) != 5:
                raise CourseSetupError(
                    f"{path}, line {line}: expected 5 tab-separated fields, found {len(row)}"
                )
            if labeled and row[0] not in ("0", "1"):
                raise CourseSetupError(
                    f"{path}, line {line}: the label must be 0 or 1, not {row[0]!r}"
                )
            columns["sentence1"].append(row[3])
            columns["sentence2"].append(row[4])
            columns["label"].append(int(row[0]) if labeled else -1)
            columns["idx"].append(len(columns["idx"]))
    return columns


def load_mrpc_tsv(data_dir: str | os.PathLike) -> DatasetDict:
    """GLUE MRPC from its original TSV files, with the splits and columns of the Hub's version."""
    from datasets import Dataset, DatasetDict

    data_dir = Path(data_dir)
    features = mrpc_features()
    return DatasetDict(
        {
            split: Dataset.from_dict(read_mrpc_file(data_dir / name), features=features)
            for split, name in SPLIT_FILES.items()
        }
    )


def load_mrpc(profile: Profile | None = None) -> DatasetDict:
    """MRPC as the profile says: the Hub (full), ``profile.data_dir``, or the shipped fixture."""
    profile = profile or get_profile()
    if profile.data_dir is not None:
        check_data_dir(profile.data_dir)  # one sentence, not a traceback, if it changed since
        return load_mrpc_tsv(profile.data_dir)
    if profile.name == "full":
        from datasets import load_dataset

        return load_dataset("glue", "mrpc")
    return load_mrpc_tsv(FIXTURE_DIR)
