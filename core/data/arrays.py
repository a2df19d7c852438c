"""Pixels handed over in memory (a numpy array, a pandas DataFrame, a torch tensor) as the uint8 rows or
images a model takes, checked as a file's cells are and refused with the same one-line messages.

Accepted forms, for an input shape (C, H, W) of P = C*H*W pixels: rows (N, P) in a pixel file's order,
one row (P,), images (N, H, W) when C is 1, images (N, C, H, W), or a DataFrame whose pixel columns are
named as a file's header names them (other columns passed over), else exactly P columns taken in order.
Any integer dtype, or floats holding whole numbers (scikit-learn's `load_digits().data`), 0..255.
"""

from __future__ import annotations

import math

import numpy as np

from core.base.errors import BadInput
from core.data.columns import BadColumnName, pixel_name, pixel_naming
from core.data.layout import named_pixel_columns
from core.data.problems import pixel_problem

SOURCE = "pixels"  # what messages call the caller's input
# Values checked at a time when the input is not uint8 already: the check's temporaries stay this size
# however big the batch, and the uint8 result is the only copy as large as the input.
CHECK_VALUES = 1 << 20
_NUMERIC = "uif"  # numpy dtype kinds taken: unsigned, signed integers and floats


def pixel_array(pixels, shape: tuple[int, int, int]) -> np.ndarray:
    """uint8 rows (N, P) or images (N, C, H, W) from any accepted form; BadInput naming the row and column
    (or pixel) of the first bad value otherwise."""
    names = None
    if hasattr(pixels, "columns") and hasattr(pixels, "to_numpy"):  # a DataFrame, without importing pandas
        pixels, names = _frame_pixels(pixels, shape)
    elif hasattr(pixels, "detach") and hasattr(pixels, "numpy"):  # a torch tensor, on any device
        pixels = pixels.detach().cpu().numpy()
    array = np.asarray(pixels)
    if array.dtype.kind not in _NUMERIC:
        raise BadInput(f"{SOURCE}: dtype {array.dtype}; expected integers 0..255 (or floats holding them)")
    form = _form(array.shape, shape)
    checked = array if array.dtype == np.uint8 else _as_uint8(array, names)
    return checked.reshape(form)


def _form(given: tuple[int, ...], shape: tuple[int, int, int]) -> tuple[int, ...]:
    """The shape the input is read as: rows (N, P) or images (N, C, H, W)."""
    channels, height, width = shape
    count = channels * height * width
    if given == (count,):
        return 1, count
    if len(given) == 2 and given[1] == count:
        return given
    if (len(given) == 3 and channels == 1 and given[1:] == (height, width)) or (len(given) == 4 and given[1:] == shape):
        return given[0], *shape
    images = f"(rows, {height}, {width}), " if channels == 1 else ""
    raise BadInput(f"{SOURCE}: shape {given}; expected (rows, {count}), ({count},) for one row, "
                   f"{images}or (rows, {channels}, {height}, {width})")


def _frame_pixels(frame, shape: tuple[int, int, int]) -> tuple[np.ndarray, list[str]]:
    """A DataFrame's pixel values and the names of their columns, in pixel order."""
    columns = list(frame.columns)
    names = [str(column) for column in columns]
    count, source = shape[0] * shape[1] * shape[2], f"{SOURCE} (DataFrame)"
    try:
        pixel_named = bool(pixel_naming(names).indices)
    except BadColumnName:
        pixel_named = True  # a pixel name that cannot be one: named_pixel_columns says which
    if not pixel_named:
        if len(names) != count:
            raise BadInput(f"{source}: {len(names)} columns; expected {count} pixel columns, in order or named "
                           f"{pixel_name(0)}..{pixel_name(count - 1)}")
        return frame.to_numpy(), names
    picked = named_pixel_columns(source, names, count)
    if picked != names:
        column_of = dict(zip(names, columns))
        frame = frame[[column_of[name] for name in picked]]
    return frame.to_numpy(), picked


def _as_uint8(array: np.ndarray, names: list[str] | None) -> np.ndarray:
    """The one uint8 copy of `array`, checked a slice of rows at a time: a value that does not come
    back unchanged from uint8 (below 0, above 255, a fraction, NaN, infinity) is refused."""
    out = np.empty(array.shape, np.uint8)
    rows = array.reshape(1, -1) if array.ndim == 1 else array  # one row: a view
    row_values = max(1, math.prod(rows.shape[1:]))
    step = max(1, CHECK_VALUES // row_values)
    for start in range(0, len(rows), step):
        chunk, target = rows[start:start + step], out.reshape(rows.shape)[start:start + step]
        with np.errstate(invalid="ignore"):  # NaN and out-of-range floats: caught by the comparison below
            np.copyto(target, chunk, casting="unsafe")
        bad = np.argwhere(target != chunk)
        if len(bad):
            first = tuple(bad[0])
            raise BadInput(f"{_where(start + first[0], first[1:], names)}: {pixel_problem(str(chunk[first]))}")
    return out


def _where(row: int, pixel: tuple, names: list[str] | None) -> str:
    """`pixels: row 3, column 17`, 0-based as the input is indexed; a DataFrame's column by its name, an
    image's pixel by its position."""
    if names is not None:
        return f"{SOURCE}: row {row}, column {names[pixel[0]]!r}"
    if len(pixel) == 1:
        return f"{SOURCE}: row {row}, column {pixel[0]}"
    return f"{SOURCE}: row {row}, pixel {tuple(int(i) for i in pixel)}"
