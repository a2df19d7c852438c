"""Reading a whole pixel file (.csv, .csv.gz or .parquet) into uint8 arrays, for training and `inspect`.

Built on the streaming reader in core.data.reader, so training gets the same validation and
messages as prediction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.layout import headerless, read_layout
from core.data.reader import iter_batches


@dataclass
class PixelTable:
    pixels: np.ndarray  # uint8, (rows, num_pixels), pixel columns in pixel0.. order
    labels: np.ndarray | None  # one label per row when the file has a label column
    ignored: list[str]  # columns skipped with ignore_extra
    label_column: str | None = None
    headerless: str | None = None  # the warning to give when the file had no header (core.data.layout)
    grid: tuple[int, int] | None = None  # (height, width) the column names give (PixelLayout.grid)


def read_pixel_table(path: str | Path, num_pixels: int | None = None, *, ignore_extra: bool = False,
                     label_names: Iterable[str] = ()) -> PixelTable:
    """Read a whole pixel file. `num_pixels` (from a checkpoint) fixes how many pixel columns to expect;
    `label_names` are label column names besides `label`."""
    layout = read_layout(path, num_pixels, ignore_extra=ignore_extra, label_names=label_names)
    batches = list(iter_batches(layout))
    pixels = np.concatenate([b.pixels for b in batches])
    labels = None
    if batches[0].labels is not None:
        labels = np.concatenate([b.labels for b in batches])
    return PixelTable(pixels=pixels, labels=labels, ignored=layout.ignored, label_column=layout.label_column,
                      headerless=None if layout.header else headerless(layout), grid=layout.grid)
