"""What a pixel file holds, worked out from its header (or Parquet schema) before any row is read.

Columns are matched by name: `pixel0..pixelN-1` in any order, an optional `label` and an optional
`ImageId`; anything else is an error unless the caller asks to ignore it.
"""

from __future__ import annotations

import csv
import gzip
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from core.base.errors import BadInput, first_line

PIXEL_COLUMN = re.compile(r"^pixel(\d+)$")
LABEL_COLUMN = "label"
ID_COLUMN = "ImageId"
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_SUFFIXES = (".parquet", ".pq")
MAX_HEADER_BYTES = 1 << 22
OTHER_DELIMITERS = (";", "\t", "|", " ")


@dataclass(frozen=True)
class PixelLayout:
    """Where things are in one file, worked out from its header (or Parquet schema) alone."""

    path: Path
    kind: str  # "csv" | "parquet"
    compressed: bool
    names: list[str]  # every column, in file order
    pixel_columns: list[str]  # pixel0..pixelN-1, in pixel order
    label_column: str | None = None
    id_column: str | None = None
    ignored: list[str] = field(default_factory=list)

    @property
    def num_pixels(self) -> int:
        return len(self.pixel_columns)

    @property
    def wanted(self) -> list[str]:
        """The columns read, in the order batches hold them: pixels first, then label, then id."""
        return self.pixel_columns + [c for c in (self.label_column, self.id_column) if c]


def square_shape(num_pixels: int) -> tuple[int, int, int] | None:
    """(1, side, side) when the pixels make a square grayscale image, which pixel CSVs hold; else None."""
    side = math.isqrt(num_pixels)
    return (1, side, side) if num_pixels > 0 and side * side == num_pixels else None


def file_kind(path: Path) -> tuple[str, bool]:
    """("csv"|"parquet", gzip-compressed?) by content where it can tell, by name otherwise."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1" or path.suffix.lower() in PARQUET_SUFFIXES:
        return "parquet", False
    return "csv", magic[:2] == GZIP_MAGIC


def open_binary(path: Path, compressed: bool):
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def read_layout(path: str | Path, num_pixels: int | None = None, *, ignore_extra: bool = False) -> PixelLayout:
    """Validate the header (or schema) before any row is read."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    kind, compressed = file_kind(path)
    if kind == "parquet":
        names = _parquet_names(path)
        where = "schema"
    else:
        names = _csv_header(path, compressed)
        where = "line 1"
    return _layout(path, kind, compressed, names, num_pixels, ignore_extra, where)


def _csv_header(path: Path, compressed: bool) -> list[str]:
    try:
        with open_binary(path, compressed) as handle:
            raw = handle.readline(MAX_HEADER_BYTES)
            second = handle.readline(MAX_HEADER_BYTES)
            while second and not second.strip():  # blank lines between header and rows
                second = handle.readline(MAX_HEADER_BYTES)
    except (EOFError, OSError, zlib.error) as exc:
        raise BadInput(f"{path}: line 1: cannot read the header ({read_failure(exc)})") from None
    if not raw.strip():
        raise BadInput(f"{path}: line 1: the file is empty; expected a header such as label,pixel0,pixel1,...")
    if b"\x00" in raw:
        raise BadInput(f"{path}: line 1: binary data, not CSV text; expected a header such as pixel0,pixel1,...")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: line 1: byte {exc.start + 1} is not UTF-8 text; expected a CSV header "
                       "such as pixel0,pixel1,...") from None
    names = next(csv.reader([text.rstrip("\r\n")]))
    if len(names) == 1:
        found = next((d for d in OTHER_DELIMITERS if d in names[0].strip()), None)
        if found:
            raise BadInput(f"{path}: line 1: columns are separated by {found!r}; expected ','")
    if not second:
        raise BadInput(f"{path}: line 1: header only, no data rows follow")
    return [name.strip() for name in names]


def _parquet_names(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowException, OSError) as exc:
        raise BadInput(f"{path}: not a readable Parquet file ({first_line(exc)})") from None


def _layout(path, kind, compressed, names, num_pixels, ignore_extra, where) -> PixelLayout:
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if name in seen:
            raise BadInput(f"{path}: {where}, column {number}: duplicate column name {name!r} "
                           f"(first at column {seen[name]})")
        seen[name] = number
    pixel_index = {int(m.group(1)): name for name in names if (m := PIXEL_COLUMN.match(name))}
    count = num_pixels if num_pixels is not None else _contiguous_count(pixel_index)
    missing = [f"pixel{i}" for i in range(count) if i not in pixel_index]
    if count == 0 or missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BadInput(f"{path}: {where}: missing column {missing[0] if missing else 'pixel0'}{more}; "
                       f"expected pixel0..pixel{max(count, 1) - 1}")
    pixels = [pixel_index[i] for i in range(count)]
    known = set(pixels) | {LABEL_COLUMN, ID_COLUMN}
    extra = [name for name in names if name not in known]
    if extra and not ignore_extra:
        raise BadInput(f"{path}: {where}, column {seen[extra[0]]}: unexpected column {extra[0]!r}; expected "
                       f"{LABEL_COLUMN}, {ID_COLUMN} or pixel0..pixel{count - 1} (--ignore-extra-columns skips it)")
    return PixelLayout(path=path, kind=kind, compressed=compressed, names=list(names), pixel_columns=pixels,
                       label_column=LABEL_COLUMN if LABEL_COLUMN in seen else None,
                       id_column=ID_COLUMN if ID_COLUMN in seen else None, ignored=extra)


def _contiguous_count(pixel_index: dict[int, str]) -> int:
    """Without a checkpoint, N is pixel0..pixelK-1 for the largest K present (gaps are reported)."""
    return max(pixel_index) + 1 if pixel_index else 0


def read_failure(exc: BaseException) -> str:
    """Why reading (and decompressing) the file failed, in a few words."""
    if isinstance(exc, EOFError):
        return "compressed data ends early: a truncated .gz file?"
    return first_line(exc)
