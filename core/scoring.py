"""Per-row score files: id, predicted label, confidence, and the true label when known."""

from __future__ import annotations

import csv
from pathlib import Path

from core.atomic import atomic_write
from core.predict import Predictions


def write_scores(path: Path, predictions: Predictions) -> Path:
    with atomic_write(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        has_truth = predictions.true_labels is not None
        writer.writerow(["ImageId", "Label", "Confidence"] + (["TrueLabel"] if has_truth else []))
        for i in range(len(predictions.labels)):
            row = [predictions.ids[i], predictions.labels[i], f"{predictions.confidence[i]:.6f}"]
            writer.writerow(row + ([predictions.true_labels[i]] if has_truth else []))
    return path
