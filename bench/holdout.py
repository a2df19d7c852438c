"""The fixed holdout the accuracy benches measure on, and scoring models on it.

HOLDOUT_ROWS rows of train.csv drawn stratified with HOLDOUT_SEED: the same rows on every run and
every machine, never trained on nor used to choose a model. The benches that score on it (accuracy,
averaging, posthoc) take the same data options (`add_data_arguments`) and split alike
(`split_to_files`), so their figures are paired: the same holdout rows, the same training rows.
"""

from __future__ import annotations

import argparse
import math
import zipfile
from pathlib import Path

import numpy as np

from bench.common import DEFAULT_ZIP, RESULTS_DIR

HOLDOUT_ROWS = 10_000
HOLDOUT_SEED = 20261129
PROBS = RESULTS_DIR / "probs"  # each run's holdout probabilities (float16 .npz), for accuracy's --combine


# -- which rows (tested in tests/test_accuracy_bench.py) -----------------------------------------

def holdout_split(targets, rows: int = HOLDOUT_ROWS, seed: int = HOLDOUT_SEED):
    """(training indices, holdout indices), sorted, stratified by class; fixed by `seed`."""
    from core.train.data import split_stratified

    train_idx, holdout_idx = split_stratified(targets, int(rows), seed)
    return np.sort(train_idx), np.sort(holdout_idx)


def training_subset(train_idx: np.ndarray, targets, rows: int | None, seed: int = HOLDOUT_SEED) -> np.ndarray:
    """`rows` of the training indices, stratified and fixed by `seed` (all of them without `rows`):
    the smaller training sets of a learning curve, which says what more rows are worth."""
    if rows is None or rows >= len(train_idx):
        return train_idx
    from core.train.data import split_stratified

    _, kept = split_stratified(targets[train_idx], int(rows), seed)
    return np.sort(train_idx[kept])


def holdout_half(train_idx: np.ndarray, holdout_idx: np.ndarray, targets, half: int | None,
                 seed: int = HOLDOUT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(training, scored) indices for --holdout-half: half 1 or 2 of the holdout (stratified, fixed) is
    scored and the other half trains too. The two runs score every holdout row with a model that saw
    37,000 rows, near the product's 42,000, where the plain holdout's models see 32,000."""
    if half is None:
        return train_idx, holdout_idx
    from core.train.data import split_stratified

    first, second = split_stratified(targets[holdout_idx], len(holdout_idx) // 2, seed)
    if half == 2:
        first, second = second, first
    scored, moved = holdout_idx[first], holdout_idx[second]
    return np.sort(np.concatenate([train_idx, moved])), np.sort(scored)


def split_to_files(args, tmp: Path):
    """(images, labels, training indices, holdout indices) of the source train.csv, with the training
    rows (all, or --train-rows of them) written to tmp/train.csv for the product to train on."""
    source, images, labels, train_idx, holdout_idx = split_rows(args, tmp)
    write_rows(source, tmp / "train.csv", train_idx)
    return images, labels, train_idx, holdout_idx


def split_rows(args, tmp: Path):
    """(source CSV, images, labels, training indices, scored indices) as the data options choose them:
    the one place that says which rows train and which are scored."""
    from core.train.data import load_training_data

    source = _train_csv(args, tmp)
    images, labels, _ = load_training_data(source)
    train_idx, holdout_idx = holdout_split(labels, args.holdout, args.holdout_seed)
    train_idx = training_subset(train_idx, labels, args.train_rows, args.holdout_seed)
    train_idx, holdout_idx = holdout_half(train_idx, holdout_idx, labels, args.holdout_half, args.holdout_seed)
    return source, images, labels, train_idx, holdout_idx


def _train_csv(args, tmp: Path) -> Path:
    if args.train_csv:
        return args.train_csv
    with zipfile.ZipFile(args.zip) as archive:
        archive.extract("train.csv", tmp / "source")
    return tmp / "source" / "train.csv"


def write_rows(source: Path, target: Path, rows) -> None:
    """Copy the header and the given 0-based data rows of a CSV, byte for byte."""
    with open(source, "rb") as handle:
        lines = handle.readlines()
    wanted = set(int(r) + 1 for r in rows)
    with open(target, "wb") as out:
        out.write(lines[0])
        out.writelines(line for i, line in enumerate(lines) if i in wanted)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Which rows train and which are scored (split_to_files reads them): shared by the benches that
    measure on this holdout."""
    parser.add_argument("--holdout", type=int, default=HOLDOUT_ROWS)
    parser.add_argument("--train-rows", type=int, help="train on this many of the other rows (a learning curve)")
    parser.add_argument("--holdout-seed", type=int, default=HOLDOUT_SEED)
    parser.add_argument("--holdout-half", type=int, choices=(1, 2),
                        help="score this half of the holdout, training on the other half too (37,000 rows)")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--train-csv", type=Path, help="use this labelled CSV instead of the zip's train.csv")


# -- scoring on it ------------------------------------------------------------------------------

def wilson(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (sound near 1, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def score(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, its interval and the error count of (rows, classes) probabilities."""
    correct = int((probs.argmax(1) == labels).sum())
    low, high = wilson(correct, len(labels))
    return {"accuracy": round(correct / max(1, len(labels)), 5), "ci95": [round(low, 5), round(high, 5)],
            "errors": len(labels) - correct, "rows": len(labels)}


def model_views(model, spec, images, shifts: bool = True) -> np.ndarray:
    """(views, rows, classes) probabilities of one model in eval mode: the plain image, then each shift
    (only the plain image without `shifts`)."""
    import torch

    from core.model.ensemble import TTA_SHIFTS, shift_views
    from core.model.spec import to_input

    model.eval()
    views = []
    for shift in TTA_SHIFTS if shifts else TTA_SHIFTS[:1]:
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(images), 1000):
                shifted = shift_views(images[start:start + 1000], [tuple(shift)])[0]
                chunks.append(torch.softmax(model(to_input(shifted, spec, torch.device("cpu"))).float(), 1))
        views.append(torch.cat(chunks).numpy())
    return np.stack(views)


def recompute_bn(model, spec, images, batch_size: int = 500) -> None:
    """BatchNorm statistics of `model` re-estimated over `images` (uint8), as swa_utils.update_bn."""
    import torch
    from torch.optim.swa_utils import update_bn

    from core.model.spec import to_input

    batches = [to_input(images[i:i + batch_size], spec, torch.device("cpu")) for i in range(0, len(images), batch_size)]
    with torch.no_grad():
        update_bn(batches, model)
