"""Scoring one in-memory batch: the entry point for code that already spreads work over machines.

A Ray task or actor, a Spark `mapInPandas` / pandas UDF, a Dask partition: each worker loads the
checkpoint once (`Predictor.load`) and calls `score_pixels` on every batch it is handed, leaving
the distribution to the framework it already runs. It applies exactly what `predict` and `score`
apply to a file's rows, so results match theirs row for row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.base.errors import BadInput
from core.predict.predictor import Predictor


@dataclass
class BatchScores:
    labels: np.ndarray  # predicted class labels, one per row
    confidence: np.ndarray  # float32: probability of the predicted class
    probs: np.ndarray  # float32 (rows, classes), in the checkpoint's class order


def score_pixels(predictor: Predictor, pixels: np.ndarray) -> BatchScores:
    """Score uint8 pixels shaped (rows, num_pixels) in pixel0.. order, or (rows, C, H, W).

    Predictor.predict_proba runs it in slices of the predictor's batch size, so a big batch does
    not grow memory with it.
    """
    pixels = np.asarray(pixels)
    spec = predictor.spec
    if pixels.dtype != np.uint8:
        raise BadInput(f"pixels: dtype {pixels.dtype}; expected uint8 (0..255, as in the pixel files)")
    rows = pixels.ndim == 2 and pixels.shape[1] == spec.num_pixels
    if not rows and not (pixels.ndim == 4 and tuple(pixels.shape[1:]) == tuple(spec.input_shape)):
        raise BadInput(f"pixels: shape {pixels.shape}; expected (rows, {spec.num_pixels}) or "
                       f"(rows, {', '.join(map(str, spec.input_shape))})")
    probs = predictor.predict_proba(pixels)
    return BatchScores(labels=predictor.labels_for(probs), confidence=probs.max(axis=1) if len(probs) else
                       np.zeros(0, np.float32), probs=probs)
