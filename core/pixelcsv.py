"""Reading a whole pixel file (`label?, pixel0..pixelN-1`) into uint8 arrays, for training.

Built on the streaming reader in core.pixelreader, so training gets the same validation and
messages as prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.pixelreader import LABEL_COLUMN, PIXEL_COLUMN, read_pixels  # noqa: F401  (re-exported)


@dataclass
class PixelTable:
    pixels: np.ndarray  # uint8, (rows, num_pixels), pixel columns in pixel0.. order
    labels: np.ndarray | None  # one label per row when the file has a label column


def read_pixel_csv(path: str | Path, num_pixels: int | None = None, *, ignore_extra: bool = False) -> PixelTable:
    """Read a whole pixel file. `num_pixels` (from a checkpoint) fixes how many pixel columns to expect."""
    batches = list(read_pixels(path, num_pixels, ignore_extra=ignore_extra))
    pixels = np.concatenate([b.pixels for b in batches])
    labels = None
    if batches[0].labels is not None:
        labels = np.concatenate([b.labels for b in batches])
    return PixelTable(pixels=pixels, labels=labels)
