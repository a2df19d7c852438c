"""Streaming, validated reading of pixel files (`.csv`, `.csv.gz`, `.parquet`) into uint8 batches.

Columns are matched by name: `pixel0..pixelN-1` in any order, an optional `label` and an optional
`ImageId`; anything else is an error unless the caller asks to ignore it. pyarrow does the parsing
in bounded blocks, so memory stays flat however big the file. pyarrow's own error messages point
vaguely at a block, so when it (or a check) fails, `core.pixelcheck` rereads the text in Python to
name the exact line, column and value; that slow pass runs only on the error path.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import BadInput

PIXEL_COLUMN = re.compile(r"^pixel(\d+)$")
LABEL_COLUMN = "label"
ID_COLUMN = "ImageId"
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_SUFFIXES = (".parquet", ".pq")
# ~2,300 Digit Recognizer rows per chunk: small enough for flat memory, big enough to amortise.
DEFAULT_BLOCK_BYTES = 4 << 20
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


@dataclass
class PixelBatch:
    pixels: np.ndarray  # uint8 (rows, num_pixels), pixel0.. order
    labels: np.ndarray | None
    ids: np.ndarray | None
    first_row: int  # 0-based index of this batch's first data row in the file


def file_kind(path: Path) -> tuple[str, bool]:
    """("csv"|"parquet", gzip-compressed?) by content where it can tell, by name otherwise."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1" or path.suffix.lower() in PARQUET_SUFFIXES:
        return "parquet", False
    return "csv", magic[:2] == GZIP_MAGIC


def open_binary(path: Path, compressed: bool):
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def inspect(path: str | Path, num_pixels: int | None = None, *, ignore_extra: bool = False) -> PixelLayout:
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
        raise BadInput(f"{path}: line 1: cannot read the header ({_gzip_reason(exc)})") from None
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
        raise BadInput(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None


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


def iter_batches(layout: PixelLayout, block_bytes: int = DEFAULT_BLOCK_BYTES) -> Iterator[PixelBatch]:
    """Yield validated uint8 batches in file order; raise BadInput naming line, column and value."""
    if layout.kind == "parquet":
        yield from _parquet_batches(layout, rows=max(256, block_bytes // (2 * layout.num_pixels)))
    else:
        yield from _csv_batches(layout, block_bytes)


def read_pixels(path: str | Path, num_pixels: int | None = None, *, ignore_extra: bool = False,
                block_bytes: int = DEFAULT_BLOCK_BYTES) -> Iterator[PixelBatch]:
    """inspect + iter_batches: the header is checked before the first row is parsed."""
    return iter_batches(inspect(path, num_pixels, ignore_extra=ignore_extra), block_bytes)


# -- CSV -----------------------------------------------------------------------------------------

def _csv_batches(layout: PixelLayout, block_bytes: int) -> Iterator[PixelBatch]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {name: pa.uint8() for name in layout.pixel_columns}
    if layout.id_column:
        types[layout.id_column] = pa.string()
    read = pacsv.ReadOptions(column_names=layout.names, use_threads=True)
    # No null values: an empty pixel cell must fail conversion, not become a silent NaN.
    convert = pacsv.ConvertOptions(column_types=types, include_columns=layout.wanted, null_values=[],
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    parse = pacsv.ParseOptions(delimiter=",")
    rows_done = 0
    try:
        for chunk in _line_chunks(layout, block_bytes):
            table = pacsv.read_csv(pa.py_buffer(chunk), read_options=read, parse_options=parse,
                                   convert_options=convert)
            for record_batch in table.combine_chunks().to_batches():
                if record_batch.num_rows:
                    yield _to_pixel_batch(record_batch, layout, rows_done)
                    rows_done += record_batch.num_rows
    except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
        from core.pixelcheck import locate_csv_problem

        raise BadInput(locate_csv_problem(layout, rows_done) or
                       f"{layout.path}: near line {rows_done + 2}: {_first_line(exc)}") from None
    if rows_done == 0:
        raise BadInput(f"{layout.path}: line 1: header only, no data rows follow")


def _line_chunks(layout: PixelLayout, chunk_bytes: int) -> Iterator[memoryview]:
    """The rows after the header in pieces of about `chunk_bytes`, each ending at a line end.

    Why not pyarrow's own streaming reader: it reads up to 32 blocks ahead, so its memory grows
    with the block size and the file; here exactly one chunk is parsed at a time, in one buffer
    reused throughout (fresh multi-megabyte buffers per chunk fragment the C heap). Each view is
    valid until the next one is requested. Pixel CSVs hold no quoted line breaks, so cutting at a
    newline never splits a row.
    """
    import pyarrow as pa

    buffer = bytearray(2 * chunk_bytes)
    filled, in_header = 0, True
    with pa.input_stream(layout.path, compression="gzip" if layout.compressed else None) as stream:
        while True:
            if len(buffer) - filled < chunk_bytes:  # a line longer than a chunk: make room
                buffer = buffer + bytes(chunk_bytes)  # a new buffer: the last view may still be alive
            read = stream.readinto(memoryview(buffer)[filled:filled + chunk_bytes])
            filled += read
            start = 0
            if in_header:
                newline = buffer.find(b"\n", 0, filled)
                if newline < 0 and read:
                    continue
                start, in_header = newline + 1, False
            cut = filled if not read else buffer.rfind(b"\n", start, filled) + 1
            if cut > start and (read or buffer[start:cut].strip()):
                yield memoryview(buffer)[start:cut]
            if not read:
                return
            carry = filled - max(cut, start)
            buffer[:carry] = buffer[max(cut, start):filled]
            filled = carry


def _to_pixel_batch(record_batch, layout: PixelLayout, first_row: int) -> PixelBatch:
    # One C++ pass to a row-major (rows, N) matrix; a Python loop over 784 columns costs 10x more.
    pixels = np.asarray(record_batch.select(range(layout.num_pixels)).to_tensor(row_major=True))
    labels, ids = _label_and_ids(record_batch, layout)
    return PixelBatch(pixels=pixels, labels=labels, ids=ids, first_row=first_row)


# -- Parquet -------------------------------------------------------------------------------------

def _parquet_batches(layout: PixelLayout, rows: int) -> Iterator[PixelBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(layout.path)
    schema = parquet.schema_arrow
    for name in layout.pixel_columns:
        kind = schema.field(name).type
        if not pa.types.is_integer(kind):
            raise BadInput(f"{layout.path}: schema, column {layout.names.index(name) + 1} ({name}): type {kind}; "
                           "expected integers 0..255")
    rows_done = 0
    try:
        for table_batch in parquet.iter_batches(batch_size=rows, columns=layout.wanted):
            yield _checked_parquet_batch(table_batch, layout, rows_done)
            rows_done += table_batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise BadInput(f"{layout.path}: near row {rows_done + 1}: {_first_line(exc)}") from None
    if rows_done == 0:
        raise BadInput(f"{layout.path}: no data rows")


def _checked_parquet_batch(record_batch, layout: PixelLayout, first_row: int) -> PixelBatch:
    n = layout.num_pixels
    pixels = np.empty((record_batch.num_rows, n), dtype=np.uint8)
    for j, name in enumerate(layout.pixel_columns):
        column = record_batch.column(j)
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise BadInput(f"{layout.path}: row {first_row + row + 1}, column {name}: empty value; "
                           "expected an integer 0..255")
        values = column.to_numpy()
        bad = np.flatnonzero((values < 0) | (values > 255)) if values.dtype != np.uint8 else ()
        if len(bad):
            raise BadInput(f"{layout.path}: row {first_row + int(bad[0]) + 1}, column {name}: value "
                           f"{values[bad[0]]}; expected an integer 0..255")
        pixels[:, j] = values
    labels, ids = _label_and_ids(record_batch, layout)
    return PixelBatch(pixels=pixels, labels=labels, ids=ids, first_row=first_row)


def _label_and_ids(record_batch, layout: PixelLayout):
    """The columns after the pixels, in `PixelLayout.wanted` order."""
    extra, labels, ids = layout.num_pixels, None, None
    if layout.label_column:
        labels = record_batch.column(extra).to_numpy(zero_copy_only=False)
        extra += 1
    if layout.id_column:
        ids = record_batch.column(extra).to_numpy(zero_copy_only=False).astype(str)
    return labels, ids


# -- messages ------------------------------------------------------------------------------------

def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _gzip_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "compressed data ends early: a truncated .gz file?"
    return _first_line(exc)
