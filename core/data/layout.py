"""What a pixel file holds, worked out from its header (or Parquet schema) before any row is read.

Columns are matched by name, by the conventions of core.data.columns: pixel columns numbered from
0 or from 1 in any order (or one `pixels` column packing them, whose first row says how many there
are), an optional label and an optional id; anything else is an error unless the caller asks to
ignore it. A CSV whose first line is a row of numbers has no header (EMNIST's): its columns are
named here, the pixels and maybe a label first (headerless_names), and line 1 is read as data. Pixel
columns are never ignored: a file with other pixels than the expected N is refused, whatever the options.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from core.base.errors import BadInput, first_line, require_file
from core.data.archive import open_zip
from core.data.columns import (
    LABEL_NAMES,
    MAX_PIXELS,
    BadColumnName,
    PixelNaming,
    describe_conventions,
    is_fallback_label,
    is_id,
    is_label,
    is_packed,
    pixel_name,
    pixel_naming,
)

GZIP_MAGIC = b"\x1f\x8b"
# Other single-file compressions people write CSVs with (`bzip2 test.csv`, `xz test.csv`, pandas'
# to_csv("x.csv.bz2")), told by content like gzip. pyarrow streams bz2 in C++; xz it lacks, so that
# one is read through Python's lzma, as a zip member is through zipfile.
COMPRESSION_MAGICS = {GZIP_MAGIC: "gzip", b"BZh": "bz2", b"\xfd7zXZ": "xz"}
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or its end record when empty
# What reading a plain or compressed file may raise that says the file (not the program) is at fault.
READ_ERRORS = (EOFError, OSError, zlib.error, zipfile.BadZipFile, lzma.LZMAError)
PARQUET_SUFFIXES = (".parquet", ".pq")
# The line-length rule, one for every reader of CSV text (this header check, the streaming reader,
# the error path): a line, header or row, holds at most MAX_LINE_BYTES bytes, its line end included;
# one byte more is refused, naming the line (`line_too_long`). A pixel cell takes at most 4 bytes
# ("255,"), so this fits rows of 4M pixels; it also bounds what one broken line without line ends
# can make the reader hold.
MAX_LINE_BYTES = 16 << 20


def read_line(handle) -> bytes:
    """The next line of binary `handle`, cut after MAX_LINE_BYTES + 1 bytes: enough to tell one too long."""
    return handle.readline(MAX_LINE_BYTES + 1)


def line_too_long(path: Path, line_number: int, expected: str) -> str:
    """The message for a line over MAX_LINE_BYTES (the line-length rule above)."""
    return (f"{path}: line {line_number}: longer than {MAX_LINE_BYTES >> 20} MiB ({MAX_LINE_BYTES:,} bytes "
            f"with its line end); expected {expected}")
# Field separators read, the first preferred: Excel writes ';' where ',' is the decimal comma, and
# tab-separated files are CSVs by another name. A single space (numpy's savetxt) only where line 1 has
# none of these; runs of spaces (fixed-width text) are refused.
DELIMITERS = (",", ";", "\t", "|")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?")  # a cell of a headerless row


@dataclass(frozen=True)
class PixelLayout:
    """Where things are in one file, worked out from its header (or Parquet schema) alone."""

    path: Path
    kind: str  # "csv" | "parquet"
    # None, "gzip", "bz2", "xz", or "zip" (a CSV zipped alone, as Kaggle's one-file downloads)
    compression: str | None
    names: list[str]  # every column, in file order
    pixel_columns: list[str]  # pixel0..pixelN-1 (or pixel1..pixelN), in pixel order
    label_column: str | None = None
    id_column: str | None = None
    ignored: list[str] = field(default_factory=list)
    packed: str | None = None  # the one column holding every pixel, space-separated (pixel_columns empty)
    packed_count: int = 0  # how many values each packed cell holds
    header: bool = True  # False: line 1 is a data row, and `names` were made up (headerless_names)
    member: str | None = None  # the CSV's name inside a zip
    delimiter: str = ","  # what separates fields (DELIMITERS), as line 1 shows
    grid: tuple[int, int] | None = None  # (height, width) the names give (1x1..HxW); None: not told

    @property
    def compressed(self) -> bool:
        """The text must be inflated from the start: no seeking into it."""
        return self.compression is not None

    def open(self):
        """The CSV's text as a binary stream (inflated)."""
        return open_binary(self.path, self.compression, self.member)

    @property
    def num_pixels(self) -> int:
        return self.packed_count if self.packed else len(self.pixel_columns)

    @property
    def pixel_fields(self) -> list[str]:
        """The columns holding the pixels: one per pixel, or the packed one."""
        return [self.packed] if self.packed else self.pixel_columns

    @property
    def wanted(self) -> list[str]:
        """The columns read, in the order batches hold them: pixels first, then label, then id."""
        return self.pixel_fields + [c for c in (self.label_column, self.id_column) if c]


def image_shape(num_pixels: int, grid: tuple[int, int] | None = None) -> tuple[int, int, int] | None:
    """(1, H, W): the grid the column names give (1x1..6x10 is 6 by 10), else a square; None when neither fits."""
    if grid and grid[0] * grid[1] == num_pixels:
        return 1, *grid
    return square_shape(num_pixels)


def square_shape(num_pixels: int) -> tuple[int, int, int] | None:
    """(1, side, side) when the pixels make a square grayscale image, which pixel CSVs hold; else None."""
    side = math.isqrt(num_pixels)
    return (1, side, side) if num_pixels > 0 and side * side == num_pixels else None


def unshaped(path: object, num_pixels: int) -> BadInput:
    """The error for pixels that make no square grayscale image, with the colour shapes to try when
    the count is three squares (3072 = 3 x 32 x 32, as CIFAR-10)."""
    side = square_shape(num_pixels // 3) if num_pixels % 3 == 0 else None
    hint = (f" (3x{side[1]}x{side[2]} if they are three colour planes: all red, then green, then blue; "
            f"{side[1]}x{side[2]}x3 if each pixel's red, green and blue are side by side)") if side else ""
    return BadInput(f"{path}: {num_pixels} pixel columns do not form a square image; "
                    f"give the shape with --input-shape CxHxW or HxWxC{hint}")


def parse_shape(text: str | None) -> tuple[tuple[int, int, int] | None, str]:
    """`CxHxW`, `HxWxC` or `HxW` (one channel) -> ((C, H, W), pixel order); no --input-shape -> (None, "chw").

    The shape is read as the user's array is shaped: a last number of at most 4 after a first one above
    4 is the channel count, last (28x28x3: each pixel's red, green, blue side by side); otherwise the
    first is (3x28x28: all red, then green, then blue).
    """
    if text is None:
        return None, "chw"
    parts = text.lower().replace("\u00d7", "x").split("x")
    if len(parts) == 2:
        parts = ["1", *parts]
    if len(parts) != 3 or not all(p.strip().isascii() and p.strip().isdigit() and int(p) > 0 for p in parts):
        raise BadInput(f"--input-shape: expected CxHxW such as 1x28x28 (or HxWxC such as 28x28x3), got {text!r}")
    first, second, last = (int(p) for p in parts)
    if last <= 4 < first:
        return (last, first, second), "hwc" if last > 1 else "chw"
    return (first, second, last), "chw"


def shape_text(shape: tuple[int, ...]) -> str:
    """(1, 28, 28) as `1x28x28`, the way --input-shape takes it."""
    return "x".join(str(side) for side in shape)


def file_kind(path: Path) -> tuple[str, str | None, str | None]:
    """("csv"|"parquet", compression, zip member) by content where it can tell, by name otherwise."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic[:4] == b"PAR1" or path.suffix.lower() in PARQUET_SUFFIXES:
        return "parquet", None, None
    if magic[:4] in ZIP_MAGICS:
        return "csv", "zip", _zip_member(path)
    return "csv", next((kind for start, kind in COMPRESSION_MAGICS.items() if magic.startswith(start)), None), None


def _zip_member(path: Path) -> str:
    """The one file of a zip holding a single CSV (`kaggle competitions download -f test.csv` gives
    test.csv.zip). It is streamed, never unpacked: a Parquet, gzip or zip file inside needs unpacking first."""
    with open_zip(path) as archive:
        files = [info.filename for info in archive.infolist() if not info.is_dir() and not _junk(info.filename)]
    if len(files) != 1:
        shown = ", ".join(files[:5]) + (" ..." if len(files) > 5 else "") if files else "no files"
        raise BadInput(f"{path}: a zip of {len(files)} files ({shown}); expected one CSV file in it, "
                       "or unzip it and give the file")
    if files[0].lower().endswith((*PARQUET_SUFFIXES, ".gz", ".zip")):  # read only from a seekable file
        raise BadInput(f"{path}: holds {files[0]}, not a CSV; unzip it and give the file")
    return files[0]


def _junk(name: str) -> bool:
    """What macOS's Archive Utility adds beside the files zipped (resource forks, folder settings)."""
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1] == ".DS_Store"


def open_binary(path: Path | BinaryIO, compression: str | None, member: str | None = None):
    """The text of `path` (a path, or for a compressed file an open binary file) as a binary stream, inflated."""
    if compression == "zip":
        with zipfile.ZipFile(path) as archive:  # the member keeps the file open until it is closed
            return archive.open(member)
    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(compression, open)
    return opener(path, "rb")


def read_layout(path: str | Path, num_pixels: int | None = None, *, ignore_extra: bool = False,
                id_names: Iterable[str] = (), label_names: Iterable[str] = ()) -> PixelLayout:
    """Validate the header (or schema) before any row is read.

    `num_pixels` (from a checkpoint or --input-shape) is how many pixel columns there must be;
    without it the file's own contiguous pixel columns decide. `id_names` and `label_names` add
    id and label column names to the recognised ones (the sample submission's, --label-column).
    """
    path = Path(path)
    require_file(path)
    kind, compression, member = file_kind(path)
    header, delimiter = True, ","
    if kind == "parquet":
        names = _parquet_names(path)
        where, first_cell = "schema", lambda name: ("row 1", _parquet_first(path, name))
    else:
        names, second, line, delimiter, header = _csv_header(path, compression, member)
        if not header:  # `names` are line 1's fields, a data row
            names = headerless_names(path, len(names), num_pixels, worded=not _is_number(names[0]))
        where, first_cell = "line 1", lambda name: (f"line {line}", _csv_cell(second, names, name, delimiter))
    layout = _layout(path, kind, compression, names, num_pixels, ignore_extra, where, tuple(id_names),
                     tuple(label_names))
    layout = replace(layout, header=header, member=member, delimiter=delimiter)
    if layout.packed:
        layout = replace(layout, packed_count=_packed_count(layout, num_pixels, first_cell))
    return layout


def named_pixel_columns(source: str, names: list[str], num_pixels: int) -> list[str]:
    """The `num_pixels` pixel columns among `names` (a data frame's, say), in pixel order, by the names a
    file's header would have; other columns, a label or an id among them, are passed over. BadInput as for
    a header, `source` naming what they belong to."""
    layout = _layout(source, "frame", None, names, num_pixels, True, "columns", (), ())
    if layout.packed:
        raise BadInput(f"{source}: column {layout.packed!r} packs the pixels as text; expected one column per pixel")
    return layout.pixel_columns


def _csv_header(path: Path, compression: str | None,
                member: str | None) -> tuple[list[str], bytes, int, str, bool]:
    """The column names, the first data row (for a packed column's count), its line number, the
    delimiter and True; for a file whose line 1 is a data row (no header), that row's fields, the row,
    1, the delimiter and False."""
    try:
        with open_binary(path, compression, member) as handle:
            raw = read_line(handle)
            if b"\r" in raw.rstrip(b"\r\n"):  # classic Mac OS line ends: the whole file reads as line 1
                raise BadInput(f"{path}: line 1: lines end with a bare carriage return (\\r); expected \\n or "
                               "\\r\\n line ends")
            if len(raw) > MAX_LINE_BYTES:
                raise BadInput(line_too_long(path, 1, "a CSV header such as label,pixel0,pixel1,..."))
            second, line = handle.readline(MAX_LINE_BYTES), 2
            while second and not second.strip():  # blank lines between header and rows
                second, line = handle.readline(MAX_LINE_BYTES), line + 1
    except READ_ERRORS as exc:
        raise BadInput(f"{path}: line 1: cannot read the header ({read_failure(exc)})") from None
    if not raw.strip():
        raise BadInput(f"{path}: line 1: the file is empty; expected a header such as label,pixel0,pixel1,...")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode Text", PowerShell's Out-File
        raise BadInput(f"{path}: line 1: UTF-16 text (its byte order mark); expected UTF-8: save it as CSV UTF-8, "
                       "or convert it with iconv -f UTF-16 -t UTF-8")
    if b"\x00" in raw:
        raise BadInput(f"{path}: line 1: binary data, not CSV text; expected a header such as pixel0,pixel1,...")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: line 1: byte {exc.start + 1} is not UTF-8 text; expected a CSV header "
                       "such as pixel0,pixel1,...") from None
    delimiter = max(DELIMITERS, key=text.count)  # the first of those most used; ',' when none is
    if not text.count(delimiter) and " " in text.strip():
        if "  " in text.strip():
            raise BadInput(f"{path}: line 1: columns are separated by runs of spaces (fixed-width text); "
                           f"expected one {', '.join(map(repr, DELIMITERS))} or space between fields")
        delimiter = " "
    try:
        names = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter))
    except csv.Error as exc:  # a column name past csv's 128 KiB field limit
        raise BadInput(f"{path}: line 1: not a CSV header ({first_line(exc)}); expected one such as "
                       "label,pixel0,pixel1,...") from None
    if _data_row(names):
        return names, raw, 1, delimiter, False
    if not second:
        raise BadInput(f"{path}: line 1: header only, no data rows follow")
    return [name.strip() for name in names], second, line, delimiter, True


def _data_row(fields: list[str]) -> bool:
    """Line 1 is a data row, not names (EMNIST's CSVs, for one, have no header): numbers, integers or as a
    float frame writes them, all but a first field that may be a label in words, and not counting up
    from 0 or 1 (a data frame's default column names, `0,1,...,783`, stay names)."""
    fields = [field.strip() for field in fields]
    numbers = fields if _is_number(fields[0]) else fields[1:]
    if len(fields) < 2 or not all(_is_number(field) for field in numbers) or is_label(fields[0]):
        return False  # `label,0,1,3`: a header with a gap, said as such
    return not (all(field.isdecimal() for field in numbers) and [int(f) for f in numbers] in (
        list(range(len(numbers))), list(range(1, len(numbers) + 1))))


def _is_number(field: str) -> bool:
    """A cell of a headerless row: an integer, or a number as a float frame or savetxt writes it."""
    return bool(_NUMBER.fullmatch(field.strip()))


def headerless_names(path: Path, fields: int, expected: int | None, worded: bool = False) -> list[str]:
    """Column names for a CSV without a header, as EMNIST's and "MNIST as CSV" files come: every field a
    pixel, or the label first and then the pixels, whichever makes `expected` pixels (a checkpoint's)
    or, without it, a square image. A first field in words (`worded`) can only be the label."""
    fits = (lambda n: n == expected) if expected is not None else (lambda n: square_shape(n) is not None)
    if fits(fields) and not worded:
        return [pixel_name(i) for i in range(fields)]
    if fits(fields - 1):
        return [LABEL_NAMES[0]] + [pixel_name(i) for i in range(fields - 1)]
    want = f"{expected} pixels" if expected is not None else "a square image"
    raise BadInput(f"{path}: line 1: numbers, not column names: the file has no header, and its {fields} fields "
                   f"are neither {want} nor a label and {want}; add a header such as label,pixel0,pixel1,...")


def headerless(layout: PixelLayout) -> str:
    """The warning for a CSV read without a header."""
    label = f"column 1 as the label, the other {layout.num_pixels}" if layout.label_column else (
        f"all {layout.num_pixels} columns")
    return f"{layout.path}: no header (line 1 is a data row): line 1 read as data, {label} as pixels"


def _csv_cell(row: bytes, names: list[str], name: str, delimiter: str) -> str:
    """Column `name`'s cell in one CSV row ('' where the row is short or not text). pyarrow, not the
    csv module: a packed cell of a 48x48 image passes csv's 128 KiB field limit at ~180x180."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        read = pacsv.ReadOptions(column_names=names, block_size=len(row) + 1)  # one block: no straddling
        table = pacsv.read_csv(pa.py_buffer(row), read_options=read,
                               parse_options=pacsv.ParseOptions(delimiter=delimiter),
                               convert_options=pacsv.ConvertOptions(include_columns=[name],
                                                                    column_types={name: pa.string()}))
    except pa.ArrowException:
        return ""
    return table.column(0)[0].as_py() or "" if table.num_rows else ""


def _parquet_names(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowException, OSError) as exc:
        raise BadInput(f"{path}: not a readable Parquet file ({first_line(exc)})") from None


def _parquet_first(path: Path, name: str) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        kind = parquet.schema_arrow.field(name).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or is_number_list(kind)):
            raise BadInput(f"{path}: schema, column {parquet.schema_arrow.names.index(name) + 1} ({name}): type "
                           f"{kind}; expected text of pixel values separated by spaces, or a list of numbers")
        first = next(parquet.iter_batches(batch_size=1, columns=[name]), None)
    except (pa.ArrowException, OSError) as exc:
        raise BadInput(f"{path}: row 1: cannot read ({first_line(exc)})") from None
    value = first.column(0)[0].as_py() if first is not None and first.num_rows else None
    return cell_text(value)


def is_number_list(kind) -> bool:
    """A Parquet list column of integers or floats: an image stored as an array rather than as text."""
    import pyarrow as pa

    return ((pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)) and
            (pa.types.is_integer(kind.value_type) or pa.types.is_floating(kind.value_type)))


def cell_text(value) -> str:
    """A packed cell as the text the checks read: a list of numbers as its values separated by spaces."""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def _packed_count(layout: PixelLayout, expected: int | None, first_cell: Callable[[str], tuple[str, str]]) -> int:
    """How many pixels a packed column holds: the first row's count, which every row must match."""
    where, cell = first_cell(layout.packed)
    count = len(cell.encode("utf-8", "replace").split())  # ASCII whitespace, as the reader splits
    column = f"{layout.path}: {where}, column {layout.names.index(layout.packed) + 1} ({layout.packed})"
    if count == 0:
        raise BadInput(f"{column}: empty cell; expected pixel values separated by spaces")
    found = next((d for d in (",", ";", "|") if d in cell), None) if count == 1 else None
    if found:
        raise BadInput(f"{column}: pixel values separated by {found!r}; expected spaces")
    if count > MAX_PIXELS:
        raise BadInput(f"{column}: {count:,} values, beyond the largest image read ({MAX_PIXELS:,} pixels)")
    if expected is not None and count != expected:
        raise BadInput(f"{column}: {count} pixel values; expected {expected}")
    return count


def _layout(path, kind, compression, names, num_pixels, ignore_extra, where, id_names, label_names) -> PixelLayout:
    seen, naming = _checked_names(path, where, names)
    pixels, labels, ids, extra = _roles(path, where, names, seen, naming, id_names, label_names)
    packed = [name for name in extra if is_packed(name)] if not pixels else []
    extra = [name for name in extra if name not in packed]
    for role, found in (("label", labels), ("id", ids), ("packed pixels", packed)):
        if len(found) > 1:
            raise BadInput(f"{path}: {where}, column {seen[found[1]]}: {found[1]!r} is a second {role} column "
                           f"besides {found[0]!r}; expected at most one")
    base, count = _pixel_range(path, where, pixels, num_pixels, naming) if not packed else (0, 0)
    if extra and not ignore_extra:
        raise BadInput(f"{path}: {where}, column {seen[extra[0]]}: "
                       f"{_unexpected(extra[0], labels, seen[extra[0]], kind)}")
    return PixelLayout(path=path, kind=kind, compression=compression, names=list(names),
                       pixel_columns=[pixels[i] for i in range(base, base + count)],
                       label_column=labels[0] if labels else None, id_column=ids[0] if ids else None,
                       ignored=extra, packed=packed[0] if packed else None, grid=naming.grid)


def _checked_names(path, where, names: list[str]) -> tuple[dict[str, int], PixelNaming]:
    """{name: column number} of names that are each used once, and their pixel naming (one scheme)."""
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if name in seen:
            raise BadInput(f"{path}: {where}, column {number}: duplicate column name {name!r} "
                           f"(first at column {seen[name]})")
        seen[name] = number
    try:
        naming = pixel_naming(names)
    except BadColumnName as exc:
        raise BadInput(f"{path}: {where}, column {seen[exc.name]}: {exc.name[:40]!r} is not a pixel column name: "
                       f"{exc}") from None
    if naming.mixed:
        first, other = naming.mixed
        raise BadInput(f"{path}: {where}, column {seen[other]}: {other!r} and {first!r} (column {seen[first]}) name "
                       "pixels in two ways; expected one naming for every pixel column")
    return seen, naming


def _roles(path, where, names, seen, naming: PixelNaming, id_names, label_names):
    """({pixel index: name}, label names, id names, other names), each in file order."""
    pixels: dict[int, str] = {}
    labels, ids, extra = [], [], []
    for number, name in enumerate(names, start=1):
        index = naming.indices.get(name)
        if index in pixels:
            raise BadInput(f"{path}: {where}, column {number}: {name!r} names the same pixel as {pixels[index]!r} "
                           f"(column {seen[pixels[index]]}); expected one column per pixel")
        if index is not None and is_label(name, label_names):  # --label-column pixel5: not silently a pixel
            raise BadInput(f"{path}: {where}, column {number}: {name!r} is named as the label column but is a pixel "
                           "column; expected the label in a column of its own")
        if index is not None:
            pixels[index] = name
        else:
            (labels if is_label(name, label_names) else ids if is_id(name, id_names) else extra).append(name)
    if not labels:  # `target` is the label only where no column goes by a label name
        labels = [name for name in extra if is_fallback_label(name)]
        extra = [name for name in extra if name not in labels]
    return pixels, labels, ids, extra


def ignoring(path, columns: list[str]) -> str:
    """The warning for columns skipped with --ignore-extra-columns."""
    shown = ", ".join(repr(name) for name in columns[:5])
    return f"{path}: ignoring column(s) {shown}{' ...' if len(columns) > 5 else ''}"


def _unexpected(name: str, labels: list[str], number: int, kind: str = "csv") -> str:
    skip = "--ignore-extra-columns skips it"
    # pandas' to_csv() writes the frame's index first, unnamed; read back and written again, `Unnamed: 0`.
    # to_parquet() keeps an index other than 0..N-1 (a shuffled or filtered frame's) as `__index_level_0__`.
    if (number == 1 and not name.strip()) or name.startswith(("Unnamed: ", "__index_level_")):
        writer = "to_parquet" if kind == "parquet" else "to_csv"
        return f"a data frame's index saved as a column? ({writer}(..., index=False) leaves it out); {skip}"
    if not name.strip():
        # Excel and hand-made exporters end every line with a comma: say so, not "unexpected column ''"
        return f"a column without a name (a comma at the end of the header line?); {skip}"
    as_label = f"--label-column {name} if it holds the labels; " if not labels else ""
    return f"unexpected column {name!r}; expected {describe_conventions()} ({as_label}{skip})"


def _pixel_range(path, where, pixels: dict[int, str], expected: int | None, naming: PixelNaming) -> tuple[int, int]:
    """(first index, count) of the pixel columns: all of them, numbered from 0 or 1 without gaps."""
    pixel_name, bases = naming.name_of, naming.bases
    if not pixels:
        raise BadInput(f"{path}: {where}: no pixel columns; expected {describe_conventions()}")
    indices = sorted(pixels)
    low, high, found = indices[0], indices[-1], len(indices)
    base = low if expected is None else min(low, max(bases))
    if base not in bases:
        raise BadInput(f"{path}: {where}: the first pixel column is {pixels[low]}; expected "
                       f"{' or '.join(map(pixel_name, bases))}")
    if expected is None and naming.grid:  # 1x1..6x10: every cell of the 6 by 10 grid
        expected = naming.grid[0] * naming.grid[1]
    count = high - base + 1 if expected is None else expected
    fits = (lambda n: square_shape(n) is not None) if expected is None else (lambda n: n == expected)
    if low == 0 and found == high + 1 and not fits(found) and fits(found - 1):
        raise BadInput(f"{path}: {where}: both {pixels[0]} and {pixels[high]}: pixel columns numbered from 0 and "
                       f"from 1 are mixed; expected {pixel_name(0)}..{pixel_name(high - 1)} or "
                       f"{pixel_name(1)}..{pixel_name(high)}")
    if high >= base + count:
        raise BadInput(f"{path}: {where}: {found} pixel columns ({pixels[low]}..{pixels[high]}); expected {count} "
                       f"({pixel_name(base)}..{pixel_name(base + count - 1)})")
    if found < count:
        gap = next((base + k for k, index in enumerate(indices) if index != base + k), high + 1)
        more = count - found - 1
        raise BadInput(f"{path}: {where}: missing column {pixel_name(gap)}{f' (and {more} more)' if more else ''}; "
                       f"expected {pixel_name(base)}..{pixel_name(base + count - 1)}")
    return base, count


def read_failure(exc: BaseException) -> str:
    """Why reading (and decompressing) the file failed, in a few words."""
    if isinstance(exc, EOFError):
        return "compressed data ends early: a truncated .gz, .bz2, .xz or .zip file?"
    return first_line(exc)
