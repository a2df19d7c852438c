"""The competition's sample_submission.csv: the format a submission must have, and the check that it does."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.errors import BadInput

DEFAULT_HEADER = ("ImageId", "Label")  # Digit Recognizer's, used when there is no sample to follow


@dataclass
class SampleFormat:
    header: list[str]  # e.g. ["ImageId", "Label"]
    ids: list[str]  # the ids in the order Kaggle expects


def read_sample(path: Path) -> SampleFormat:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise BadInput(f"{path}: cannot read sample submission ({exc.strerror})") from None
    if not rows or len(rows[0]) != 2:
        raise BadInput(f"{path}: line 1: expected a two-column header such as ImageId,Label")
    return SampleFormat(header=rows[0], ids=[row[0] for row in rows[1:] if row])


def check_submission(path: Path, sample: SampleFormat, classes: list | None = None) -> int:
    """Raise BadInput unless `path` has the sample's header, row count and ids in order."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or rows[0] != sample.header:
        raise BadInput(f"{path}: line 1: header {rows[0] if rows else []} differs from sample {sample.header}")
    body = rows[1:]
    if len(body) != len(sample.ids):
        raise BadInput(f"{path}: {len(body)} rows, sample submission has {len(sample.ids)}")
    allowed = None if classes is None else {str(c) for c in classes}
    for line, (row, expected) in enumerate(zip(body, sample.ids), start=2):
        if len(row) != 2 or row[0] != expected:
            raise BadInput(f"{path}: line {line}: id {row[0] if row else ''!r}, sample expects {expected!r}")
        if allowed is not None and row[1] not in allowed:
            raise BadInput(f"{path}: line {line}: label {row[1]!r} is not one of the model's classes")
    return len(body)


def default_ids(count: int) -> np.ndarray:
    """Kaggle's Digit Recognizer numbers test rows from 1."""
    return np.arange(1, count + 1)
