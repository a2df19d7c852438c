"""Streaming, validated reading of pixel files (`.csv`, `.csv.gz`, `.parquet`) into uint8 batches.

pyarrow does the parsing in bounded blocks, so memory stays flat however big the file. pyarrow's
own error messages point vaguely at a block, so when it (or a check) fails, `core.data.problems`
rereads the text in Python to name the exact line, column and value; that slow pass runs only on
the error path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.errors import BadInput, first_line
from core.base.threads import thread_budget
from core.data.classes import cell_texts
from core.data.layout import (
    MAX_LINE_BYTES,
    READ_ERRORS,
    PixelLayout,
    cell_text,
    is_number_list,
    open_binary,
    read_layout,
)
from core.data.parts import FilePart
from core.data.problems import line_at, locate_csv_problem, packed_problem

# ~2,300 Digit Recognizer rows per chunk: small enough for flat memory, big enough to amortise.
DEFAULT_BLOCK_BYTES = 4 << 20


@dataclass
class PixelBatch:
    pixels: np.ndarray  # uint8 (rows, num_pixels), in pixel order
    labels: np.ndarray | None  # str: labels are compared as text (core.data.classes)
    ids: np.ndarray | None  # str
    first_row: int  # 0-based index of this batch's first data row in what is read (the file, or a part)
    read_to: int = 0  # progress once this batch is read, in progress_total's unit (progress_unit)


def progress_unit(layout: PixelLayout) -> str:
    """What reading progress counts: a CSV's bytes of the file on disk (compressed bytes for .gz or
    .zip: all that is known up front), a Parquet file's rows (from its metadata)."""
    return "rows" if layout.kind == "parquet" else "bytes"


def progress_total(layout: PixelLayout, part: FilePart = FilePart()) -> int:
    """How far `read_to` goes for `part`: a plain CSV part ends at its span's end, a compressed one
    (which must be inflated from the start) at the file's end."""
    import os

    if layout.kind == "parquet":
        import pyarrow.parquet as pq

        metadata = pq.ParquetFile(layout.path).metadata
        groups = part.row_groups if part.row_groups is not None else range(metadata.num_row_groups)
        return sum(metadata.row_group(i).num_rows for i in groups)
    if part.byte_span and part.byte_span[1] is not None and not layout.compressed:
        return part.byte_span[1]
    return os.path.getsize(layout.path)


def iter_batches(layout: PixelLayout, block_bytes: int = DEFAULT_BLOCK_BYTES,
                 part: FilePart = FilePart()) -> Iterator[PixelBatch]:
    """Yield validated uint8 batches of `part` (the whole file by default) in file order; raise
    BadInput naming the file's line (or row), column and value.

    A part may hold no rows (more readers than lines); the whole file must hold some."""
    if layout.kind == "parquet":
        yield from _parquet_batches(layout, max(256, block_bytes // (2 * layout.num_pixels)), part)
    else:
        yield from _csv_batches(layout, block_bytes, part)


def read_pixels(path: str | Path, num_pixels: int | None = None, *, ignore_extra: bool = False,
                label_names: Iterable[str] = (), block_bytes: int = DEFAULT_BLOCK_BYTES) -> Iterator[PixelBatch]:
    """read_layout + iter_batches: the header is checked before the first row is parsed."""
    return iter_batches(read_layout(path, num_pixels, ignore_extra=ignore_extra, label_names=label_names),
                        block_bytes)


class LineTooLong(Exception):
    """A line ran past MAX_LINE_BYTES; the error path names it."""


# -- CSV -----------------------------------------------------------------------------------------

def _csv_batches(layout: PixelLayout, block_bytes: int, part: FilePart) -> Iterator[PixelBatch]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    convert = [_convert_options(layout, pixel_type) for pixel_type in (pa.uint8(), pa.float64())]
    parse = pacsv.ParseOptions(delimiter=layout.delimiter)
    threads = thread_budget() > 1  # one thread: parse in this one, not on pyarrow's whole pool
    rows_done, failure, offset = 0, None, part.byte_span[0] if part.byte_span else 0
    try:
        for offset, chunk, read_to in _line_chunks(layout, block_bytes, part.byte_span):
            table = _parse_chunk(chunk, layout, parse, convert, threads)
            for record_batch in table.combine_chunks().to_batches():
                if record_batch.num_rows:
                    batch = _to_pixel_batch(record_batch, layout, rows_done, offset)
                    batch.read_to = read_to
                    yield batch
                    rows_done += record_batch.num_rows
    except (pa.ArrowException, *READ_ERRORS, LineTooLong) as exc:
        failure = first_line(exc)
    # Located outside the handler: the exception's traceback would keep the chunk buffers alive.
    # `offset`: where the chunk that failed starts; everything before it parsed cleanly.
    if failure is not None:
        raise BadInput(locate_csv_problem(layout, offset) or
                       f"{layout.path}: near line {line_at(layout, offset)}: {failure}")
    if rows_done == 0 and part.whole:
        raise BadInput(f"{layout.path}: line 1: header only, no data rows follow")


def _convert_options(layout: PixelLayout, pixel_type):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {name: pixel_type for name in layout.pixel_columns}
    for name in (layout.packed, layout.label_column, layout.id_column):
        if name:  # as text: "07" stays "07", and a label column's type never depends on the chunk
            types[name] = pa.string()
    # No null values: an empty pixel cell must fail conversion, not become a silent NaN.
    return pacsv.ConvertOptions(column_types=types, include_columns=layout.wanted, null_values=[],
                                strings_can_be_null=False, quoted_strings_can_be_null=False)


def _parse_chunk(chunk: memoryview, layout: PixelLayout, parse, convert: list, threads: bool):
    """Pixels as uint8; a chunk that is not all plain integers is read again with float pixels
    ("12.0": pandas writes a float frame's pixels so), which _to_pixel_batch keeps when every one is
    a whole number 0..255.

    `convert` is [first try, fallback]; after one fallback the file is taken to be written in
    floats and the order is swapped, so each later chunk is parsed once."""
    import pyarrow as pa

    try:
        return _read_chunk(chunk, layout, parse, convert[0], threads)
    except pa.ArrowInvalid as exc:
        if "conversion error" not in str(exc):
            raise
    convert.reverse()
    return _read_chunk(chunk, layout, parse, convert[0], threads)


def _whole_bytes(values: np.ndarray) -> np.ndarray:
    """Which float values are whole numbers 0..255 (NaN and infinities are not)."""
    return (values >= 0) & (values <= 255) & (np.floor(values) == values)


def _bytes_of(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels as they are; floats (_parse_chunk's fallback) when every one is a whole number 0..255."""
    if pixels.dtype == np.uint8:
        return pixels
    if not _whole_bytes(pixels).all():
        import pyarrow as pa

        raise pa.ArrowInvalid("a pixel that is not a whole number 0..255")  # the error path finds the cell
    return pixels.astype(np.uint8)


def _unpacked(column, count: int) -> np.ndarray:
    """(rows, count) uint8 from a text column of space-separated pixel values (FER-2013's `pixels`), or
    a Parquet column of number lists. Raises ArrowInvalid for a cell with another count or a value that
    is not a whole number 0..255; the error path finds which."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if is_number_list(column.type):
        values = column
    else:
        values = pc.ascii_split_whitespace(pc.ascii_trim_whitespace(column))  # as bytes.split() on the error path
    flat = pc.list_flatten(values)
    if column.null_count or flat.null_count or not pc.all(pc.equal(pc.list_value_length(values), count)).as_py():
        raise pa.ArrowInvalid(f"a packed cell without {count} values")
    try:
        pixels = pc.cast(flat, pa.uint8()).to_numpy(zero_copy_only=False, writable=True)  # torch wants it writable
    except pa.ArrowInvalid:  # "12.0", as a float frame writes it, or a bad value
        pixels = _bytes_of(pc.cast(flat, pa.float64()).to_numpy())
    return pixels.reshape(len(column), count)


def _read_chunk(chunk: memoryview, layout: PixelLayout, parse, convert, threads: bool):
    """pyarrow parses in 1 MiB blocks, several at once, and refuses a row that straddles two
    ("straddling object"); a chunk holding such a row is parsed as one block instead."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    read = pacsv.ReadOptions(column_names=layout.names, use_threads=threads)
    try:
        return pacsv.read_csv(pa.py_buffer(chunk), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
    read = pacsv.ReadOptions(column_names=layout.names, use_threads=threads, block_size=len(chunk) + 1)
    return pacsv.read_csv(pa.py_buffer(chunk), read_options=read, parse_options=parse, convert_options=convert)


def _line_chunks(layout: PixelLayout, chunk_bytes: int,
                 span: tuple[int, int | None] | None = None) -> Iterator[tuple[int, memoryview, int]]:
    """The rows after the header (or the text in `span`) in pieces of about `chunk_bytes`, each
    ending at a line end, with the offset of its first byte in the uncompressed text and how many
    bytes of the file on disk were read by then (progress: compressed bytes for a compressed file).

    Why not pyarrow's own streaming reader: it reads up to 32 blocks ahead, so its memory grows
    with the block size and the file; here exactly one chunk is parsed at a time, in one buffer
    reused throughout (fresh multi-megabyte buffers per chunk fragment the C heap). Each view is
    valid until the next one is requested. Pixel CSVs hold no quoted line breaks, so cutting at a
    newline never splits a row. A line longer than MAX_LINE_BYTES raises LineTooLong instead of
    growing the buffer without end.
    """
    buffer = bytearray(2 * chunk_bytes)
    filled, in_header, base = 0, span is None and layout.header, 0  # base: offset of buffer[0] in the text
    left = None if span is None or span[1] is None else span[1] - span[0]
    with open_counted(layout) as (stream, read_on_disk):
        if span is not None:
            base = _skip_to(stream, span[0], buffer, layout.compressed)
        while True:
            if len(buffer) - filled < chunk_bytes:  # a line longer than a chunk: make room
                buffer = buffer + bytes(chunk_bytes)  # a new buffer: the last view may still be alive
            want = chunk_bytes if left is None else min(chunk_bytes, left)
            read = stream.readinto(memoryview(buffer)[filled:filled + want]) if want else 0
            filled += read
            left = None if left is None else left - read
            start = 0
            if in_header:
                newline = buffer.find(b"\n", 0, filled)
                if newline < 0 and read:
                    continue
                start, in_header = newline + 1, False
            _check_line_lengths(buffer, start, filled)  # also bounds what is carried: at most one line
            cut = filled if not read else buffer.rfind(b"\n", start, filled) + 1
            if cut > start and (read or buffer[start:cut].strip()):
                yield base + start, memoryview(buffer)[start:cut], read_on_disk()
            if not read:
                return
            carry = filled - max(cut, start)
            base += max(cut, start)
            buffer[:carry] = buffer[max(cut, start):filled]
            filled = carry


@contextlib.contextmanager
def open_counted(layout: PixelLayout) -> Iterator[tuple[object, Callable[[], int]]]:
    """The CSV's text as a binary stream, and a function telling how many bytes of the file on disk
    were read so far. pyarrow inflates gzip and bz2 in C++; a zip member (and xz) is read through Python."""
    import pyarrow as pa

    if layout.compression in ("zip", "xz"):
        with open(layout.path, "rb") as raw, open_binary(raw, layout.compression, layout.member) as text:
            yield text, raw.tell
        return
    with pa.OSFile(str(layout.path)) as raw:
        if layout.compression is None:
            yield raw, raw.tell
            return
        with pa.CompressedInputStream(raw, layout.compression) as text:
            yield text, raw.tell


def _check_line_lengths(buffer: bytearray, start: int, end: int) -> None:
    """LineTooLong if a line in buffer[start:end] (the last one maybe without its end yet) is over
    MAX_LINE_BYTES, the line end included (core.data.layout's rule). One search per MAX_LINE_BYTES of
    text, and none when the text is shorter than that: the common case costs nothing."""
    while end - start > MAX_LINE_BYTES:
        newline = buffer.rfind(b"\n", start, start + MAX_LINE_BYTES)  # the line at `start` ends in here
        if newline < 0:
            raise LineTooLong(f"a line longer than {MAX_LINE_BYTES >> 20} MiB")
        start = newline + 1


def _skip_to(stream, offset: int, scratch: bytearray, compressed: bool) -> int:
    """Move `stream` to `offset` of its text: a seek, or inflating and dropping what comes before."""
    if not compressed:
        stream.seek(offset)
        return offset
    done, view = 0, memoryview(scratch)
    while done < offset:
        read = stream.readinto(view[:min(len(view), offset - done)])
        if not read:
            break
        done += read
    return done


def _to_pixel_batch(record_batch, layout: PixelLayout, first_row: int, chunk_at: int) -> PixelBatch:
    if layout.packed:
        pixels = _unpacked(record_batch.column(0), layout.num_pixels)
    else:  # one C++ pass to a row-major (rows, N) matrix; a Python loop over 784 columns costs 10x more
        pixels = _bytes_of(np.asarray(record_batch.select(range(layout.num_pixels)).to_tensor(row_major=True)))
    labels, ids = _label_and_ids(record_batch, layout, first_row, chunk_at)
    return PixelBatch(pixels=pixels, labels=labels, ids=ids, first_row=first_row)


# -- Parquet -------------------------------------------------------------------------------------

def _parquet_batches(layout: PixelLayout, rows: int, part: FilePart) -> Iterator[PixelBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(layout.path)
    schema = parquet.schema_arrow
    for name in layout.pixel_columns:  # a packed column's type is checked with the layout
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):  # floats: when whole (checked)
            raise BadInput(f"{layout.path}: schema, column {layout.names.index(name) + 1} ({name}): type {kind}; "
                           "expected integers 0..255")
    rows_done = part.first_row
    try:
        for table_batch in parquet.iter_batches(batch_size=rows, columns=layout.wanted, row_groups=part.row_groups):
            batch = _checked_parquet_batch(table_batch, layout, rows_done)  # file row numbers in messages
            batch.first_row -= part.first_row
            batch.read_to = batch.first_row + table_batch.num_rows
            yield batch
            rows_done += table_batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise BadInput(f"{layout.path}: near row {rows_done + 1}: {first_line(exc)}") from None
    if rows_done == 0 and part.whole:
        raise BadInput(f"{layout.path}: no data rows")


def _checked_parquet_batch(record_batch, layout: PixelLayout, first_row: int) -> PixelBatch:
    if layout.packed:
        return _packed_parquet_batch(record_batch, layout, first_row)
    n = layout.num_pixels
    pixels = np.empty((record_batch.num_rows, n), dtype=np.uint8)
    for j, name in enumerate(layout.pixel_columns):
        column = record_batch.column(j)
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise BadInput(f"{layout.path}: row {first_row + row + 1}, column {name}: empty value; "
                           "expected an integer 0..255")
        values = column.to_numpy()
        bad = np.flatnonzero(~_whole_bytes(values)) if values.dtype != np.uint8 else ()
        if len(bad):
            raise BadInput(f"{layout.path}: row {first_row + int(bad[0]) + 1}, column {name}: value "
                           f"{values[bad[0]]}; expected an integer 0..255")
        pixels[:, j] = values
    labels, ids = _label_and_ids(record_batch, layout, first_row)
    return PixelBatch(pixels=pixels, labels=labels, ids=ids, first_row=first_row)


def _packed_parquet_batch(record_batch, layout: PixelLayout, first_row: int) -> PixelBatch:
    import pyarrow as pa

    column, count = record_batch.column(0), layout.num_pixels
    try:
        pixels = _unpacked(column, count)
    except pa.ArrowInvalid:
        located = next(((row, problem) for row, cell in enumerate(column.to_pylist())
                        if (problem := packed_problem(cell if cell is None else cell_text(cell), count))), None)
        if located is None:  # pyarrow refused what the Python check takes ('٣'): _parquet_batches says near which row
            raise
        row, problem = located
        raise BadInput(f"{layout.path}: row {first_row + row + 1}, column {layout.packed}: {problem}") from None
    labels, ids = _label_and_ids(record_batch, layout, first_row)
    return PixelBatch(pixels=pixels, labels=labels, ids=ids, first_row=first_row)


def _label_and_ids(record_batch, layout: PixelLayout, first_row: int, chunk_at: int = 0):
    """The columns after the pixels, in `PixelLayout.wanted` order, as text; an empty label or id is
    BadInput. `chunk_at`: where the CSV chunk holding these rows starts in the text, for the error path."""
    extra, labels, ids = len(layout.pixel_fields), None, None
    if layout.label_column:
        labels = _texts(record_batch.column(extra), layout, layout.label_column, "a label", first_row, chunk_at)
        extra += 1
    if layout.id_column:
        ids = _texts(record_batch.column(extra), layout, layout.id_column, "an id", first_row, chunk_at)
    return labels, ids


def _texts(column, layout: PixelLayout, name: str, expected: str, first_row: int, chunk_at: int) -> np.ndarray:
    cells = column.to_numpy(zero_copy_only=False)
    texts = cell_texts(cells)
    missing = column.is_null().to_numpy(zero_copy_only=False) | (texts == "")
    if cells.dtype.kind == "f":  # a Parquet float column's NaN is a missing value, not a label "nan"
        missing |= np.isnan(cells)
    empty = np.flatnonzero(missing)
    if len(empty):
        located = locate_csv_problem(layout, chunk_at) if layout.kind == "csv" else None
        raise BadInput(located or f"{layout.path}: data row {first_row + int(empty[0]) + 1}, column {name}: "
                                  f"empty cell; expected {expected}")
    return texts
