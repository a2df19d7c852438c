"""Reading pixel CSVs (`label?, pixel0..pixelN-1`) into uint8 arrays."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import BadInput

PIXEL_COLUMN = re.compile(r"^pixel(\d+)$")
LABEL_COLUMN = "label"


@dataclass
class PixelTable:
    pixels: np.ndarray  # uint8, (rows, num_pixels), pixel columns in pixel0.. order
    labels: np.ndarray | None  # one label per row when the file has a label column


def read_pixel_csv(path: str | Path, num_pixels: int | None = None) -> PixelTable:
    """Read a whole pixel CSV. `num_pixels` (from a checkpoint) fixes how many pixel columns to expect."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    try:
        table = pacsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInput(f"{path}: cannot parse as CSV ({str(exc).splitlines()[0]})") from None
    names = table.column_names
    pixel_cols = {int(m.group(1)): name for name in names if (m := PIXEL_COLUMN.match(name))}
    count = num_pixels if num_pixels is not None else len(pixel_cols)
    missing = [f"pixel{i}" for i in range(count) if i not in pixel_cols]
    if count == 0 or missing:
        raise BadInput(f"{path}: line 1: missing pixel columns {', '.join(missing[:5]) or 'pixel0..'}")
    extra = [n for n in names if n != LABEL_COLUMN and n not in {pixel_cols[i] for i in range(count)}]
    if extra:
        raise BadInput(f"{path}: line 1: unexpected column {extra[0]!r}")
    pixels = np.empty((table.num_rows, count), dtype=np.uint8)
    for i in range(count):
        column = table.column(pixel_cols[i]).to_numpy(zero_copy_only=False)
        if column.size and (column.min() < 0 or column.max() > 255):
            raise BadInput(f"{path}: column {pixel_cols[i]}: values must be integers 0..255")
        pixels[:, i] = column
    labels = table.column(LABEL_COLUMN).to_numpy(zero_copy_only=False) if LABEL_COLUMN in names else None
    return PixelTable(pixels=pixels, labels=labels)
