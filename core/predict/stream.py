"""Batch prediction over a pixel file: the work behind `predict`, `score`, `submit` and `run`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.log import Log
from core.base.memory import keep_heap_for_reuse
from core.data.layout import read_layout
from core.data.sample import default_ids
from core.predict.loader import batch_loader
from core.predict.predictor import Predictor
from core.predict.rowstore import RowStore


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


def predict_file(path: Path, predictor: Predictor, log: Log, *, ignore_extra: bool = False) -> Predictions:
    """Stream `path` (.csv, .csv.gz or .parquet) through the model; rows keep their input order.

    The header is validated before any row is parsed; any bad row raises BadInput naming it.
    """
    layout = read_layout(path, predictor.spec.num_pixels, ignore_extra=ignore_extra)
    keep_heap_for_reuse()
    if layout.ignored:
        log.warn(f"{path}: ignoring column(s) {', '.join(layout.ignored[:5])}"
                 f"{' ...' if len(layout.ignored) > 5 else ''}", event="predict.ignored_columns",
                 columns=layout.ignored)
    loader = batch_loader(layout, predictor.spec.input_shape, predictor.batch_size,
                          pin_memory=predictor.device.type == "cuda")
    probs, truth, ids = RowStore(), RowStore(), RowStore()
    with log.progress(f"predict {Path(path).name}", total=None, unit="rows", event="predict.progress") as bar:
        for batch in loader:
            probs.append(predictor.predict_proba(batch.images))
            if layout.label_column:
                truth.append(batch.labels)
            if layout.id_column:
                ids.append(batch.ids)
            bar.advance(len(batch.images))
    all_probs = probs.array((0, predictor.spec.num_classes))
    rows = len(all_probs)
    return Predictions(ids=ids.array() if layout.id_column else default_ids(rows),
                       labels=predictor.labels_for(all_probs),
                       confidence=all_probs.max(axis=1) if rows else np.zeros(0, np.float32),
                       probs=all_probs,
                       true_labels=truth.array(dtype=object) if layout.label_column else None)
