"""The competition's sample_submission.csv: the format a submission must have, and the check that it does.

The sample decides everything about the output: the id column's name, the label column's name
(and spelling), which ids there are and in what order.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.errors import BadInput, first_line
from core.data.columns import DEFAULT_ID, DEFAULT_LABEL

DEFAULT_HEADER = (DEFAULT_ID, DEFAULT_LABEL)  # used when there is no sample to follow
SHOWN = 3  # ids quoted in a mismatch message
# The longest sample header read (characters, its line end included): a two-column header is short, and
# a longer one names no label column rather than a cut one.
HEADER_BYTES = 64 * 1024


@dataclass
class SampleFormat:
    header: list[str]  # [id column, label column], e.g. ["ImageId", "Label"] or ["id", "label"]
    ids: list[str]  # the ids in the order Kaggle expects
    path: Path | None = None

    @property
    def id_column(self) -> str:
        return self.header[0]

    @property
    def label_column(self) -> str:
        return self.header[1]


def read_sample(path: Path) -> SampleFormat:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read sample submission ({getattr(exc, 'strerror', None) or exc})") from None
    except csv.Error as exc:  # a field past csv's 128 KiB limit, a NUL byte: not a sample Kaggle wrote
        raise BadInput(f"{path}: line {reader.line_num}: not CSV ({first_line(exc)}); expected a sample "
                       "submission such as ImageId,Label") from None
    if not rows or len(rows[0]) != 2 or not all(name.strip() for name in rows[0]):
        found = f"{len(rows[0])} columns" if rows else "an empty file"
        raise BadInput(f"{path}: line 1: {found}; expected a two-column header, id then label, "
                       f"such as {','.join(DEFAULT_HEADER)}")
    ids = [row[0] for row in rows[1:] if row]
    duplicate = first_duplicate(ids)
    if duplicate is not None:
        raise BadInput(f"{path}: id {duplicate!r} appears more than once; a sample lists each id once")
    return SampleFormat(header=[name.strip() for name in rows[0]], ids=ids, path=Path(path))


def label_names(*names: str | None) -> tuple[str, ...]:
    """Label column names to recognise besides `label`, each once: --label-column and the sample
    submission's label column (a competition whose sample says `id,target` names the label `target`
    in its train.csv too). None or empty adds nothing."""
    return tuple(dict.fromkeys(name for name in names if name))


def sample_label_column(sample_path: Path) -> str | None:
    """The sample submission's label column from its header alone, for commands that read no more
    of it (train, inspect). A missing or unreadable sample gives None: it is checked where it is used."""
    try:
        with open(sample_path, newline="", encoding="utf-8-sig") as handle:
            line = handle.readline(HEADER_BYTES + 1)
            header = next(csv.reader([line]), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if len(line) > HEADER_BYTES:  # read in part: a cut name would be a wrong label column
        return None
    return header[1].strip() if len(header) == 2 else None


def order_by_sample(ids: np.ndarray, sample: SampleFormat, source: Path) -> np.ndarray:
    """Positions into `ids` (the input's own id column) that put its rows in the sample's order.

    The two must hold the same ids, each once; otherwise BadInput says how they differ.
    """
    ids = np.asarray(ids).astype(str).tolist()
    duplicate = first_duplicate(ids)
    if duplicate is not None:
        raise BadInput(f"{source}: id {duplicate!r} appears more than once; {sample.path} lists each id once")
    position = {value: i for i, value in enumerate(ids)}
    missing = [value for value in sample.ids if value not in position]
    if missing or len(ids) != len(sample.ids):
        wanted = set(sample.ids)
        unknown = [value for value in ids if value not in wanted]
        raise BadInput(f"{source}: its ids differ from {sample.path}'s: {_some(unknown)} only in {source.name}, "
                       f"{_some(missing)} only in the sample")
    return np.array([position[value] for value in sample.ids], dtype=np.int64)


def check_submission(path: Path, sample: SampleFormat, classes: list | None = None) -> int:
    """Raise BadInput unless `path` has the sample's header, row count and ids in order; returns the rows.

    Read as a stream, so a huge or hostile file costs no more memory than the sample. A UTF-8 byte
    order mark (Excel writes one) and blank lines at the end are accepted, as Kaggle accepts them.
    """
    allowed = None if classes is None else {str(c) for c in classes}
    rows, blank_since = 0, None
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            if header != sample.header:
                raise BadInput(f"{path}: line 1: header {header} differs from sample {sample.header}")
            for row in reader:
                line = reader.line_num
                if not row:
                    blank_since = blank_since or line
                    continue
                if blank_since is not None:
                    raise BadInput(f"{path}: line {blank_since}: a blank line before more rows")
                if rows == len(sample.ids):
                    raise BadInput(f"{path}: more than the sample submission's {len(sample.ids)} rows (line {line})")
                expected = sample.ids[rows]
                if len(row) != 2 or row[0] != expected:
                    raise BadInput(f"{path}: line {line}: id {row[0]!r}, sample expects {expected!r}"
                                   if len(row) == 2 else f"{path}: line {line}: {len(row)} columns; expected 2")
                if allowed is not None and row[1] not in allowed:
                    raise BadInput(f"{path}: line {line}: label {row[1]!r} is not one of the model's classes")
                rows += 1
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.object[exc.start:exc.start + 1]!r}); "
                       "expected a CSV submission saved as UTF-8") from None
    except csv.Error as exc:  # a NUL byte, an unterminated quote: not a CSV a scorer reads
        raise BadInput(f"{path}: line {reader.line_num}: not CSV ({first_line(exc)})") from None
    if rows != len(sample.ids):
        raise BadInput(f"{path}: {rows} rows, sample submission has {len(sample.ids)}")
    return rows


def default_ids(count: int) -> np.ndarray:
    """Without an id column or a sample: rows numbered from 1, as Digit Recognizer numbers them."""
    return np.arange(1, count + 1)


def first_duplicate(values) -> str | None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


def _some(values: list[str]) -> str:
    if not values:
        return "none"
    shown = ", ".join(repr(v) for v in values[:SHOWN])
    return f"{len(values)} ({shown}{', ...' if len(values) > SHOWN else ''})"
