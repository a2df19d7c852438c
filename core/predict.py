"""Batch prediction over a pixel CSV: the work behind `predict`, `score`, `submit` and `run`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.inference import Predictor
from core.log import Log
from core.pixelcsv import read_pixel_csv
from core.submissions import default_ids


@dataclass
class Predictions:
    ids: np.ndarray
    labels: np.ndarray  # predicted class labels
    confidence: np.ndarray  # probability of the predicted class
    probs: np.ndarray  # (rows, classes)
    true_labels: np.ndarray | None  # present when the input had a label column

    @property
    def accuracy(self) -> float | None:
        if self.true_labels is None:
            return None
        return float(np.mean(self.labels.astype(str) == self.true_labels.astype(str)))


def predict_csv(path: Path, predictor: Predictor, log: Log) -> Predictions:
    table = read_pixel_csv(path, predictor.spec.num_pixels)
    chunks = []
    with log.progress(f"predict {Path(path).name}", total=len(table.pixels), unit="rows",
                      event="predict.progress") as bar:
        for probs in predictor.predict_batches([table.pixels]):
            chunks.append(probs)
            bar.advance(len(probs))
    probs = np.concatenate(chunks) if chunks else np.zeros((0, predictor.spec.num_classes), np.float32)
    return Predictions(ids=default_ids(len(probs)), labels=predictor.labels_for(probs),
                       confidence=probs.max(axis=1) if len(probs) else np.zeros(0, np.float32),
                       probs=probs, true_labels=table.labels)
