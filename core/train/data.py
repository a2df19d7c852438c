"""The training data in memory: a labelled pixel file as uint8 image tensors, and the stratified split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.base.errors import BadInput
from core.data.layout import square_shape
from core.data.table import read_pixel_table


def load_training_data(csv_path: Path, input_shape: tuple[int, int, int] | None = None):
    """(images uint8 (N, C, H, W), class indices int64 (N,), classes in index order)."""
    table = read_pixel_table(csv_path, None if input_shape is None else int(np.prod(input_shape)))
    if table.labels is None:
        raise BadInput(f"{csv_path}: line 1: a training file needs a 'label' column")
    shape = input_shape or square_shape(table.pixels.shape[1])
    if shape is None:
        raise BadInput(f"{csv_path}: {table.pixels.shape[1]} pixel columns do not form a square image")
    classes, targets = np.unique(table.labels, return_inverse=True)
    images = torch.from_numpy(table.pixels).view(-1, *shape)
    return images, torch.from_numpy(targets.astype(np.int64)), [c.item() if hasattr(c, "item") else c for c in classes]


def split_stratified(targets: torch.Tensor, val_fraction: float, seed: int):
    """(train indices, validation indices), each class in proportion; the same seed, the same split."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(targets))
    if val_fraction <= 0:
        return index, index[:0]
    return train_test_split(index, test_size=val_fraction, stratify=targets.numpy(), random_state=seed)
