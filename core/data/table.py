"""Reading a whole pixel file (.csv, .csv.gz or .parquet) into uint8 arrays, for training and `inspect`,
or only some of its rows, for the pictures in a report.

Built on the streaming reader in core.data.reader, so training gets the same validation and
messages as prediction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.layout import headerless, read_layout
from core.data.reader import DEFAULT_BLOCK_BYTES, iter_batches, read_pixels


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


def read_rows(path: str | Path, num_pixels: int, rows: Iterable[int], *, ignore_extra: bool = False,
              block_bytes: int = DEFAULT_BLOCK_BYTES) -> np.ndarray:
    """The pixels (len(rows), num_pixels) of the 0-based data rows `rows`, in that order.

    A block at a time, keeping only the rows asked for, and stopping after the last of them: a
    report's 36 pictures from a file of millions of rows cost one block of memory, not the file.
    """
    rows = np.asarray(list(rows), dtype=np.int64)
    picked = np.zeros((len(rows), num_pixels), dtype=np.uint8)
    if len(rows) == 0:
        return picked
    start, last = 0, int(rows.max())
    with contextlib.closing(read_pixels(path, num_pixels, ignore_extra=ignore_extra,
                                        block_bytes=block_bytes)) as batches:
        for batch in batches:
            end = start + len(batch.pixels)
            here = (rows >= start) & (rows < end)
            picked[here] = batch.pixels[rows[here] - start]
            if end > last:
                return picked
            start = end
    raise IndexError(f"{path}: row {last} asked for; the file has {start} data rows")
