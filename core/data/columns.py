"""The column-naming conventions of pixel files, in one place: which names are pixels, labels and ids.

Kaggle's pixel CSVs agree on little beyond "one column per pixel": Digit Recognizer and
Kannada-MNIST number pixels from 0 (`pixel0..pixel783`), the Fashion-MNIST and Sign Language MNIST
datasets from 1 (`pixel1..pixel784`); the label is `label` (or `Label`); the test file's row id is
`ImageId`, `id` or whatever the competition's sample_submission.csv calls it.
"""

from __future__ import annotations

from collections.abc import Iterable

PIXEL_PREFIX = "pixel"
PIXEL_BASES = (0, 1)  # pixel0..pixelN-1 or pixel1..pixelN
MAX_PIXELS = 1 << 22  # 4M pixels (a 2048x2048 image): any index beyond is a broken header, not an image
DEFAULT_ID, DEFAULT_LABEL = "ImageId", "Label"  # Digit Recognizer's, used when no sample says otherwise
ID_NAMES = (DEFAULT_ID, "id")  # recognised in any case, besides the sample's own id column
LABEL_NAMES = ("label",)  # recognised in any case


class BadColumnName(ValueError):
    """A name that claims to be a pixel column but whose index cannot be one."""


def pixel_index(name: str) -> int | None:
    """The index of a pixel column name, None for a name that is not one.

    `pixel` followed by digits must be ASCII decimal without leading zeros, below MAX_PIXELS:
    `pixel007`, `pixel٣` (an Arabic-Indic three) or `pixel99999999999` raise BadColumnName rather
    than being read as some other column or sending a reader after billions of columns.
    """
    if not name.startswith(PIXEL_PREFIX):
        return None
    digits = name[len(PIXEL_PREFIX):]
    if not digits or not digits.isdigit():
        return None
    if not digits.isascii():
        raise BadColumnName("a pixel index must be ASCII digits 0-9")
    if len(digits) > 1 and digits[0] == "0":
        raise BadColumnName("a pixel index has no leading zeros")
    if len(digits) > len(str(MAX_PIXELS)) or int(digits) >= MAX_PIXELS:
        raise BadColumnName(f"index beyond the largest image read ({MAX_PIXELS:,} pixels)")
    return int(digits)


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


def describe_conventions() -> str:
    """For error messages: what this reads."""
    return (f"{pixel_name(0)}..{pixel_name('N-1')} or {pixel_name(1)}..{pixel_name('N')}, "
            f"an optional {'/'.join(LABEL_NAMES)} and an optional {'/'.join(ID_NAMES)} column")
