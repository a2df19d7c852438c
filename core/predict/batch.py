"""Models in memory: `Model`, what core.api.load returns, scoring the pixels a caller holds.

A notebook, a Ray actor, a Spark pandas UDF, a Dask partition: each loads the model once and calls
`predict` or `score` on every batch it is handed, leaving the distribution to the framework it already
runs. It is the Predictor that `kaggle-job predict` and `score` run over a file's rows, so the results
match theirs row for row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.log import Log
from core.data.arrays import SOURCE, pixel_array
from core.data.classes import class_array
from core.predict.pixel_range import check_policy, check_range
from core.predict.predictor import Predictor

SHOWN_CLASSES = 6  # a repr lists this many classes at most


@dataclass(frozen=True)
class Scores:
    """What `Model.score` returns: one entry per input row, as `kaggle-job score` writes them."""

    labels: np.ndarray  # (N,) the predicted class: int64 for integer classes, str for text ones
    confidence: np.ndarray  # (N,) float32: the probability of the predicted class
    probs: np.ndarray  # (N, classes) float32, each row summing to 1, columns in `classes` order
    classes: list  # the class of each column of `probs`


class Model:
    """One checkpoint, or several averaged (an ensemble), ready to score pixels in memory."""

    def __init__(self, predictor: Predictor):
        self.predictor = predictor
        self._labels = class_array(predictor.spec.classes)

    @classmethod
    def load(cls, paths: Sequence[str | Path], device: str = "auto", batch_size: int | None = None) -> Model:
        """The checkpoints at `paths` on `device`, run `batch_size` rows at a time (None: the device's default)."""
        return cls(Predictor.load(paths, device, batch_size))

    @property
    def classes(self) -> list:
        """The classes the model tells apart, in the order of `Scores.probs`' columns."""
        return list(self.predictor.spec.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the images the model takes."""
        return tuple(int(size) for size in self.predictor.spec.input_shape)

    @property
    def value_range(self) -> tuple[int, int]:
        """(lowest, highest) pixel value of the rows the model was trained on, e.g. (0, 255) or (0, 16)."""
        return self.predictor.value_range

    def predict(self, pixels, log: Log | None = None, out_of_range: str = "warn") -> np.ndarray:
        """The predicted class of each row of `pixels` (see core.data.arrays for the forms taken)."""
        return self.score(pixels, log, out_of_range).labels

    def score(self, pixels, log: Log | None = None, out_of_range: str = "warn") -> Scores:
        """Labels, confidence and every class's probability for each row of `pixels`. `log` hears of
        a batch halved after running out of CUDA memory. Values outside `value_range` (or all far below
        its top) give one PixelRangeWarning per call, or a log line when `log` speaks; with
        `out_of_range="error"`, values outside it raise BadInput instead."""
        check_policy(out_of_range)
        seen = self.predictor.tally()
        probs = self.predictor.predict_proba(pixel_array(pixels, self.input_shape), log, seen)
        check_range(seen, SOURCE, log if log is not None else Log(quiet=True), out_of_range)
        return Scores(labels=self._labels[probs.argmax(axis=1)], confidence=probs.max(axis=1), probs=probs,
                      classes=self.classes)

    def __repr__(self) -> str:
        classes = self.classes
        shown = ", ".join(map(repr, classes[:SHOWN_CLASSES])) + (", ..." if len(classes) > SHOWN_CLASSES else "")
        files = ", ".join(str(ckpt.path) for ckpt in self.predictor.checkpoints)
        return (f"Model({files}: {len(classes)} classes [{shown}], input {'x'.join(map(str, self.input_shape))}, "
                f"{self.predictor.device})")
