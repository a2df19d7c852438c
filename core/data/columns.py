"""The column-naming conventions of pixel files, in one place: which names are pixels, labels and ids.

Kaggle's pixel CSVs agree on little beyond "one column per pixel": Digit Recognizer and
Kannada-MNIST number pixels from 0 (`pixel0..pixel783`), the Fashion-MNIST and Sign Language MNIST
datasets from 1 (`pixel1..pixel784`), the Devanagari characters zero-padded (`pixel_0000..
pixel_1023`), Skin Cancer MNIST's hmnist files zero-padded without the underscore (`pixel0000..
pixel2351`), the "MNIST in CSV" dataset by row and column (`1x1..28x28`), scikit-learn's digits
(`load_digits(as_frame=True)`) by row and column from 0 (`pixel_0_0..pixel_7_7`), and a data frame written
from a numpy array by bare numbers (`0..783`, Bengali.AI's Parquet `0..32331`); FER-2013 (the
facial expression challenge) packs every pixel of a row into one `pixels` cell, space-separated
(`70 80 82 ...`); the label is `label`
(or `Label`), else `target` (scikit-learn's frames) when no column is named `label`; the test file's row
id is `ImageId`, `id`, `image_id` or whatever the competition's sample_submission.csv calls it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PIXEL_PREFIX = "pixel"
PIXEL_BASES = (0, 1)  # pixel0..pixelN-1 or pixel1..pixelN
MAX_PIXELS = 1 << 22  # 4M pixels (a 2048x2048 image): any index beyond is a broken header, not an image
DEFAULT_ID, DEFAULT_LABEL = "ImageId", "Label"  # Digit Recognizer's, used when no sample says otherwise
ID_NAMES = (DEFAULT_ID, "id", "image_id")  # recognised in any case, besides the sample's own id column
LABEL_NAMES = ("label",)  # recognised in any case
# The label when no column goes by a label name (LABEL_NAMES, --label-column, the sample's): scikit-learn's
# frames say `target`. Beside a `label` column it is one more column, refused unless ignored.
FALLBACK_LABEL_NAMES = ("target",)
# One column holding a row's pixels as space-separated values, in any case. Not `image`: competitions
# name file-name ids so.
PACKED_NAMES = ("pixels",)


PADDED_PREFIX = PIXEL_PREFIX + "_"  # pixel_0000: zero-padded to one width
_GRID = re.compile(r"([1-9][0-9]{0,3})x([1-9][0-9]{0,3})", re.ASCII)  # 1x1..28x28: row x column, from 1
_ROW_COLUMN = re.compile(r"pixel_(0|[1-9][0-9]{0,3})_(0|[1-9][0-9]{0,3})", re.ASCII)  # pixel_0_0..: from 0


class BadColumnName(ValueError):
    """A name that claims to be a pixel column but whose index cannot be one (`name`, once known)."""

    name = ""


def number_index(name: str) -> int | None:
    """The index of a column named by a bare number (`0`, `783`: a data frame's default names), None for
    other names. Checked as pixel_index checks its digits."""
    return _checked_index(name, zero_padded=False) if name.isdigit() else None


def pixel_index(name: str, padded_width: int | None = None) -> int | None:
    """The index of a `pixel<i>` or `pixel_<i>` column name, None for a name that is not one.

    `pixel` followed by digits must be ASCII decimal without leading zeros (`pixel_` takes
    zero-padded ones, and so does `pixel` when every such name of the header has `padded_width`
    digits, _padded_width), below MAX_PIXELS: `pixel007` among `pixel0..pixel783`, `pixel٣` (an
    Arabic-Indic three) or `pixel99999999999` raise BadColumnName rather than being read as some other
    column or sending a reader after billions of columns.
    """
    padded = name.startswith(PADDED_PREFIX)
    if not name.startswith(PIXEL_PREFIX):
        return None
    digits = name[len(PADDED_PREFIX if padded else PIXEL_PREFIX):]
    if not digits or not digits.isdigit():
        return None
    hint = "" if padded else f" (unless every pixel name has as many digits: pixel0000..; or {PADDED_PREFIX}0007)"
    return _checked_index(digits, zero_padded=padded or len(digits) == padded_width, hint=hint)


def _padded_width(names: list[str]) -> int | None:
    """The digit count of `pixel0000..pixel2351` names (Skin Cancer MNIST's): set when some `pixel<digits>`
    name starts with a zero and all of them have as many digits, so that no index can be read two ways."""
    digits = [name[len(PIXEL_PREFIX):] for name in names if name.startswith(PIXEL_PREFIX)]
    digits = [d for d in digits if d.isascii() and d.isdigit()]
    widths = {len(d) for d in digits}
    padded = any(len(d) > 1 and d[0] == "0" for d in digits)
    return widths.pop() if padded and len(widths) == 1 else None


def _checked_index(digits: str, zero_padded: bool, hint: str = "") -> int:
    """`digits` (str.isdigit) as an index: ASCII, without leading zeros unless `zero_padded`, below MAX_PIXELS."""
    if not digits.isascii():
        raise BadColumnName("a pixel index must be ASCII digits 0-9")
    if len(digits) > 1 and digits[0] == "0" and not zero_padded:
        raise BadColumnName(f"a pixel index has no leading zeros{hint}")
    if len(digits.lstrip("0")) > len(str(MAX_PIXELS)) or int(digits) >= MAX_PIXELS:
        raise BadColumnName(f"index beyond the largest image read ({MAX_PIXELS:,} pixels)")
    return int(digits)


@dataclass(frozen=True)
class PixelNaming:
    """The pixel columns of one header: {name: index}, the file's name for an index, and where its
    numbering may start."""

    indices: dict[str, int]
    name_of: Callable[[int], str]
    bases: tuple[int, ...] = PIXEL_BASES
    mixed: tuple[str, str] | None = None  # the first names of two schemes in one header: an error
    grid: tuple[int, int] | None = None  # (height, width) that RxC names give: the last row and column


def pixel_naming(names: list[str]) -> PixelNaming:
    """The pixel columns among `names`. `RxC` names are numbered row by row from 1 (1x1 is 1), the
    row width being the largest column seen, the height the largest row; `pixel_R_C` names likewise
    from 0 (pixel_0_0 is 0). Raises BadColumnName (with its `name`) for a pixel-like name that cannot
    be one (pixel_index)."""
    row_column = _row_column_naming(names)
    if row_column is not None:
        return row_column
    grid = {name: (int(m[1]), int(m[2])) for name in names if (m := _GRID.fullmatch(name))}
    width = max((column for _, column in grid.values()), default=0)
    padded_width = _padded_width(names)
    found: dict[str, int] = {}
    for name in names:
        try:
            index = ((grid[name][0] - 1) * width + grid[name][1] if name in grid else
                     number_index(name) if name.isdigit() else pixel_index(name, padded_width))
        except BadColumnName as exc:
            exc.name = name
            raise
        if index is not None:
            found[name] = index
    schemes: dict[str, str] = {}  # scheme -> its first name
    for name in found:
        schemes.setdefault("grid" if name in grid else "padded" if name.startswith(PADDED_PREFIX) else
                           "number" if name.isdigit() else "plain", name)
    mixed = tuple(schemes.values())[:2] if len(schemes) > 1 else None
    if grid:
        height = max(row for row, _ in grid.values())
        return PixelNaming(found, lambda i: f"{(i - 1) // width + 1}x{(i - 1) % width + 1}", (1,), mixed,
                           (height, width))
    if "padded" in schemes:
        digits = len(schemes["padded"]) - len(PADDED_PREFIX)
        return PixelNaming(found, lambda i: f"{PADDED_PREFIX}{i:0{digits}d}", PIXEL_BASES, mixed)
    if "number" in schemes:
        return PixelNaming(found, str, PIXEL_BASES, mixed)
    if padded_width:
        return PixelNaming(found, lambda i: f"{PIXEL_PREFIX}{i:0{padded_width}d}", PIXEL_BASES, mixed)
    return PixelNaming(found, pixel_name)


def _row_column_naming(names: list[str]) -> PixelNaming | None:
    """`pixel_R_C` names (row R, column C, both from 0, as scikit-learn's digits frame has them), numbered
    row by row: index R * width + C, the width and height one past the largest column and row seen, so a
    cell missing inside that grid is named as missing. None when no name is of that form. Beside other
    pixel names they are one more naming, said as mixed."""
    cells = {name: (int(m[1]), int(m[2])) for name in names if (m := _ROW_COLUMN.fullmatch(name))}
    if not cells:
        return None
    height, width = (max(cell[axis] for cell in cells.values()) + 1 for axis in (0, 1))
    found = {name: row * width + column for name, (row, column) in cells.items()}
    other = next((name for name in names if name not in cells and _names_a_pixel(name)), None)
    return PixelNaming(found, lambda i: f"{PADDED_PREFIX}{i // width}_{i % width}", (0,),
                       (next(iter(cells)), other) if other else None, (height, width))


def _names_a_pixel(name: str) -> bool:
    """A name some other naming takes for a pixel (or refuses as one)."""
    if _GRID.fullmatch(name) or name.isdigit():
        return True
    try:
        return pixel_index(name) is not None
    except BadColumnName:
        return True


def pixel_name(index: int | str) -> str:
    return f"{PIXEL_PREFIX}{index}"


def _matches(name: str, recognised: Iterable[str]) -> bool:
    folded = name.casefold()
    return any(folded == known.casefold() for known in recognised)


def is_label(name: str, extra: Iterable[str] = ()) -> bool:
    """`label` (any case), or one of `extra` (--label-column, or the sample submission's label column)."""
    return _matches(name, (*LABEL_NAMES, *extra))


def is_id(name: str, extra: Iterable[str] = ()) -> bool:
    """`ImageId`, `id` (any case), or one of `extra` (the sample submission's id column)."""
    return _matches(name, (*ID_NAMES, *extra))


def is_fallback_label(name: str) -> bool:
    """`target` (any case): the label column when no column goes by a label name (FALLBACK_LABEL_NAMES)."""
    return _matches(name, FALLBACK_LABEL_NAMES)


def is_packed(name: str) -> bool:
    """`pixels` (any case): one column holding every pixel of the row, space-separated."""
    return _matches(name, PACKED_NAMES)


def describe_conventions() -> str:
    """For error messages: what this reads."""
    return (f"{pixel_name(0)}..{pixel_name('N-1')} or {pixel_name(1)}..{pixel_name('N')} "
            f"(or {PADDED_PREFIX}0000.., {PIXEL_PREFIX}0000.., "
            f"1x1..HxW, {PADDED_PREFIX}0_0..{PADDED_PREFIX}H-1_W-1, 0..N-1, or one {PACKED_NAMES[0]} column of "
            f"space-separated values), an optional {'/'.join(LABEL_NAMES + FALLBACK_LABEL_NAMES)} and an optional "
            f"{'/'.join(ID_NAMES)} column")
