"""The training data in memory: a labelled pixel file as uint8 image tensors, and the stratified split."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from core.base.errors import BadInput
from core.base.log import Log
from core.base.pixel_order import images_from_rows
from core.data.classes import class_indices, classes_of
from core.data.columns import FALLBACK_LABEL_NAMES, LABEL_NAMES
from core.data.layout import ignoring, image_shape, unshaped
from core.data.table import read_pixel_table
from core.model.spec import MAX_CLASSES, checked_input_shape


def load_training_data(csv_path: Path, input_shape: tuple[int, int, int] | None = None, log: Log | None = None,
                       label_names: Iterable[str] = (), ignore_extra: bool = False, pixel_order: str = "chw"):
    """(images uint8 (N, C, H, W), class indices int64 (N,), classes in index order).

    The classes are whatever labels the file holds (core.data.classes orders them); the image
    shape is `input_shape` (--input-shape) or, without it, the grid the column names give (1x1..HxW)
    or the square the pixel count makes.
    """
    label_names = tuple(label_names)
    table = read_pixel_table(csv_path, None if input_shape is None else int(np.prod(input_shape)),
                             label_names=label_names, ignore_extra=ignore_extra)
    if table.ignored and log is not None:
        log.warn(ignoring(csv_path, table.ignored), event="train.ignored_columns", columns=table.ignored)
    if table.headerless and log is not None:
        log.warn(table.headerless, event="train.headerless")
    if table.labels is None:
        named = {name.casefold(): name for name in (*LABEL_NAMES, *label_names, *FALLBACK_LABEL_NAMES)}
        raise BadInput(f"{csv_path}: line 1: no label column; a training file needs one "
                       f"(named {' or '.join(named.values())}, in any case; --label-column names another)")
    shape = input_shape or image_shape(table.pixels.shape[1], table.grid)
    if shape is None:
        raise unshaped(csv_path, table.pixels.shape[1])
    try:
        checked_input_shape(shape)
    except BadInput as exc:
        raise BadInput(f"{csv_path}: {exc.message}") from None
    classes = classes_of(table.labels)
    if len(classes) > MAX_CLASSES:  # an id column taken for the label, most likely; refused before training
        raise BadInput(f"{csv_path}: {len(classes):,} different values in {table.label_column}; a model takes at most "
                       f"{MAX_CLASSES:,} classes (--label-column names another column)")
    if len(classes) < 2:  # a model that can only answer one thing; most likely the wrong column
        raise BadInput(f"{csv_path}: every row's {table.label_column} is {classes[0]!r}; training needs at least 2 "
                       "classes (--label-column names another column)")
    targets = class_indices(table.labels, classes)
    single = [classes[i] for i in np.flatnonzero(np.bincount(targets, minlength=len(classes)) == 1)]
    if single and log is not None:
        log.warn(f"{csv_path}: {len(single)} class(es) have a single row ({', '.join(map(str, single[:10]))}"
                 f"{' ...' if len(single) > 10 else ''}): trained on, not validated", event="train.rare_classes",
                 classes=[str(c) for c in single])
    images = images_from_rows(torch.from_numpy(table.pixels), shape, pixel_order)
    return images, torch.from_numpy(targets), classes


def split_stratified(targets: torch.Tensor, val_fraction: float | int, seed: int, log: Log | None = None):
    """(train indices, validation indices), each class in proportion; the same seed, the same split.

    `val_fraction` is a fraction of the rows, or (an int >= 1) a number of rows, as bench's holdout.
    A class with a single row cannot be in both halves: its row trains and is not validated. When
    the validation share is smaller than the number of classes, no split can hold every class and
    a plain random split is used (said through `log`).
    """
    from sklearn.model_selection import train_test_split

    index = np.arange(len(targets))
    if val_fraction <= 0:
        return index, index[:0]
    labels = targets.numpy()
    counts = np.bincount(labels)
    single = index[counts[labels] == 1]  # the rows of one-row classes: they train, never validate
    splittable = index[counts[labels] > 1]
    try:
        train, val = train_test_split(splittable, test_size=val_fraction, stratify=labels[splittable],
                                      random_state=seed)
    except ValueError as exc:  # fewer validation (or training) rows than classes
        if len(splittable) < 2 or (isinstance(val_fraction, int) and val_fraction >= len(splittable)):
            # Nothing to split (a one- or two-row file, every class a single row): train on every row.
            if log is not None:
                log.warn(f"too few rows to validate ({len(index)} rows, {len(splittable)} in classes with "
                         "more than one): training on every row", event="train.split")
            return index, index[:0]
        if log is not None:
            log.warn(f"validation split not stratified ({exc}); a random split instead", event="train.split")
        train, val = train_test_split(splittable, test_size=val_fraction, random_state=seed)
    return (np.sort(np.concatenate([train, single])) if len(single) else train), val



def split_fold(targets: torch.Tensor, folds: int, fold: int, seed: int):
    """(train indices, validation indices) of stratified k-fold cross-validation: fold `fold` of `folds`
    validates, the others train. The folds of one seed are disjoint and cover every row, so members
    that take folds 0..folds-1 leave each row out exactly once. A class with fewer rows than folds
    is missing from some folds (its rows are still dealt out)."""
    import warnings

    from sklearn.model_selection import StratifiedKFold

    if folds > len(targets):
        raise BadInput(f"folds: {folds} folds of {len(targets)} rows; at most one fold per row")
    labels = targets.numpy()
    with warnings.catch_warnings():  # "the least populated class has only N members": dealt out anyway
        warnings.simplefilter("ignore", UserWarning)
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(labels, labels)
        try:
            train, val = next(itertools.islice(splits, fold, None))
        except ValueError:  # every class has fewer rows than folds
            raise BadInput(f"folds: {folds} folds, but no class has {folds} rows") from None
    return np.sort(train), np.sort(val)
