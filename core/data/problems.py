"""The error path of the CSV reader: find the exact line, column and value that pyarrow refused.

pyarrow says "invalid value" somewhere in a multi-megabyte block; people need `line 5012, column
pixel17: '256'`. Rows that pyarrow already converted are known to be good, so they are only
counted, not checked.
"""

from __future__ import annotations

from core.data.layout import MAX_LINE_BYTES, READ_ERRORS, PixelLayout, line_too_long, read_failure, read_line

EXPECTED_PIXEL = "expected an integer 0..255"
MAX_SHOWN = 30


def locate_csv_problem(layout: PixelLayout, from_byte: int = 0) -> str | None:
    """One line naming the first bad line/column/value in the lines starting at or after byte
    `from_byte` of the (uncompressed) text, or None. Earlier lines are only counted."""
    width = (len(layout.names), "the header" if layout.header else "line 1")  # fields, and what says so
    position = {name: i for i, name in enumerate(layout.names)}
    pixel_at = [position[name] for name in layout.pixel_columns]
    packed = (position[layout.packed], layout.num_pixels) if layout.packed else None
    texts_at = [(position[name], what) for name, what in ((layout.label_column, "a label"), (layout.id_column, "an id"))
                if name]
    line_number, consumed = 0, 0  # consumed: bytes of text read so far
    try:
        with layout.open() as handle:
            # readline with a limit: iterating the file would hold a whole enormous line in memory.
            while raw := read_line(handle):
                line_number += 1
                consumed += len(raw)
                if len(raw) > MAX_LINE_BYTES:
                    return line_too_long(layout.path, line_number, f"rows of {width[0]} fields")
                if (line_number == 1 and layout.header) or consumed <= from_byte:
                    continue
                line = raw.rstrip(b"\r\n")
                if not line.strip():
                    continue  # pyarrow skips blank lines too
                problem = _row_problem(line.split(layout.delimiter.encode()), width, pixel_at, packed, texts_at,
                                       layout.names)
                if problem:
                    return f"{layout.path}: line {line_number}{problem}"
    except READ_ERRORS as exc:
        return f"{layout.path}: line {line_number + 1}: cannot read ({read_failure(exc)})"
    return None


def line_at(layout: PixelLayout, offset: int) -> int:
    """The 1-based number of the line that starts at byte `offset` of the (uncompressed) text."""
    lines, position = 1, 0
    try:
        with layout.open() as handle:
            while position < offset and (block := handle.read(min(1 << 20, offset - position))):
                lines += block.count(b"\n")
                position += len(block)
    except READ_ERRORS:
        pass
    return lines


def _row_problem(fields: list[bytes], width: tuple[int, str], pixel_at: list[int], packed: tuple[int, int] | None,
                 texts_at: list[tuple[int, str]], names: list[str]) -> str | None:
    if any(b"\x00" in field for field in fields):
        return ": binary data, not CSV text"
    if len(fields) != width[0]:
        return f": {len(fields)} field{'s' if len(fields) != 1 else ''}; expected {width[0]} as in {width[1]}"
    for index in pixel_at:
        value = fields[index].strip(b'"')
        if _is_pixel(value):
            continue
        return f", column {index + 1} ({names[index]}): {pixel_problem(value)}"
    if packed and (problem := packed_problem(fields[packed[0]].strip(b'"'), packed[1])):
        return f", column {packed[0] + 1} ({names[packed[0]]}): {problem}"
    for index, what in texts_at:  # the label and the id: text, never empty
        if not fields[index].strip().strip(b'"').strip():
            return f", column {index + 1} ({names[index]}): empty cell; expected {what}"
    return None


def packed_problem(cell: bytes | str | None, count: int) -> str | None:
    """What is wrong with one packed cell (`count` space-separated pixel values), or None."""
    values = (cell.encode("utf-8", "replace") if isinstance(cell, str) else cell or b"").split()
    if not values:
        return f"empty cell; expected {count} pixel values separated by spaces"
    if len(values) != count:
        return f"{len(values)} pixel values; expected {count} (as in the first row)"
    bad = next((k for k, value in enumerate(values) if not _is_pixel(value)), None)
    return None if bad is None else f"pixel {bad + 1} of {count}: {pixel_problem(values[bad])}"


def pixel_problem(value: bytes | str) -> str:
    """What is wrong with one pixel value (a file's cell, an array's element written out) and what was
    expected: the wording every reader of pixels gives."""
    return f"{_describe(value.encode() if isinstance(value, str) else value)}; {EXPECTED_PIXEL}"


def _is_pixel(value: bytes) -> bool:
    """A whole number 0..255, as the reader takes it: `7`, or `7.0` written by a float frame."""
    if value.isdigit():
        return int(value) <= 255
    number = _number(value.decode("utf-8", "replace"))
    return number is not None and number.is_integer() and 0 <= number <= 255


def _number(text: str) -> float | None:
    if "_" in text:  # Python reads "1_0" as 10; pyarrow does not
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _describe(value: bytes) -> str:
    if not value:
        return "empty cell"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return f"bytes {value[:MAX_SHOWN]!r} are not UTF-8 text"
    shown = repr(text[:MAX_SHOWN] + ("..." if len(text) > MAX_SHOWN else ""))
    number = _number(text)  # "-3", "256", "256.0": whole numbers out of range; "12.5", "abc": not integers
    if number is not None and number.is_integer():
        return f"value {shown} is out of range"
    if number is not None and 0 < number < 1:  # a file scaled to 0..1 before it was written
        return f"value {shown} is not an integer (pixels scaled to 0..1? write them times 255, rounded)"
    return f"value {shown} is not an integer"
