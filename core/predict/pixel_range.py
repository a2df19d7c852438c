"""Pixels on another scale than the model was trained on: counted as they pass, told once per call.

A model trained on 0..16 pixels (scikit-learn's 8x8 digits) fed the same digits as 0..255 answers
every row, most of them wrongly and with confidence 1.00; one trained on 0..255 fed 0..16 digits
sees near-black images. Nothing fails, so without a word here the answers are silently wrong.
Every batch a Predictor runs passes `PixelTally.observe` (a min and max per row, vectorised on the
uint8 array: nothing next to the forward pass); at the end of the command or call `check_range`
says what it saw, once: a warning, or with `out_of_range="error"` a BadInput before anything is
written. As scikit-learn does for data outside what an estimator was fitted on, a library caller
gets a `PixelRangeWarning` through Python's warnings (filterable, or made an error with a filter);
a command, whose Log speaks, gets one log line instead.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.errors import BadInput
from core.base.log import Log

POLICIES = ("warn", "error")  # --out-of-range / out_of_range=
BEYOND_EVENT, UNDER_EVENT = "pixels.out_of_range", "pixels.under_range"
# The input's maximum at most this fraction of the trained maximum reads as another scale (see `under_used`).
UNDER_FRACTION = 4


class PixelRangeWarning(UserWarning):
    """Pixels beyond the range the model was trained on, or far inside it; `rows`, `seen` and `trained`
    say how many rows and which ranges. Given once per call by every prediction call of core.api; their
    keyword `out_of_range="error"` (--out-of-range error) makes values beyond the range a BadInput instead,
    raised before anything is written. Values far inside the range only ever warn: faint images may be
    right."""

    def __init__(self, message: str, rows: int, seen: tuple[int, int], trained: tuple[int, int]):
        super().__init__(message)
        self.rows, self.seen, self.trained = rows, seen, trained


def check_policy(value: str) -> str:
    """The --out-of-range value, checked before any work; BadInput naming the choices."""
    if value not in POLICIES:
        raise BadInput(f"--out-of-range: expected {' or '.join(POLICIES)}, got {value!r}")
    return value


def trained_range(specs: Iterable) -> tuple[int, int]:
    """The range of values the models (ModelSpecs) were trained on, for checking their input.

    Averaged checkpoints must share a scale: one trained on 0..16 and one on 0..255 cannot both be fed
    right (BadInput). Close ranges (0..254 and 0..255) give what lies in both.
    """
    ranges = [tuple(spec.value_range) for spec in specs]
    low, high = max(r[0] for r in ranges), min(r[1] for r in ranges)
    widest = max(r[1] for r in ranges)
    if under_used(high, widest) or low > high:
        listed = ", ".join(f"{lo}..{hi}" for lo, hi in ranges)
        raise BadInput(f"the checkpoints were trained on pixel values of different scales ({listed}); "
                       "averaging them feeds at least one the wrong scale")
    return low, high


def under_used(seen_high: int, trained_high: int) -> bool:
    """Whether values that go up to `seen_high` use far less of the range than training's, which went up to
    `trained_high`: at most a quarter of it (a 0..255 model fed 0..16 or 0..63 values, a 0..16 model fed
    0..4 ones).

    Why a quarter: a scale mix-up is a factor of 16 (0..16 against 0..255) or more, while real images on
    the right scale reach well past a quarter of it (MNIST digits all reach 255, faint scans past 100);
    a stricter rule would warn about faint but right input, a looser one miss 0..16 against 0..63.
    Zero reaches a quarter of nothing: a model trained on all-black images is told nothing.
    """
    return trained_high > 0 and seen_high * UNDER_FRACTION <= trained_high


@dataclass
class PixelTally:
    """What one call's input held: rows in all, rows with a value outside `trained`, lowest and highest value."""

    trained: tuple[int, int]
    rows: int = 0
    beyond: int = 0
    low: int = 255
    high: int = 0

    def observe(self, images) -> None:
        """Count a batch: uint8 (N, ...) as a torch tensor or numpy array."""
        rows = len(images)
        if not rows:
            return
        flat = np.asarray(images.reshape(rows, -1))
        row_low, row_high = flat.min(axis=1), flat.max(axis=1)
        low, high = self.trained
        self.beyond += int(np.count_nonzero((row_low < low) | (row_high > high)))
        self.rows += rows
        self.low, self.high = min(self.low, int(row_low.min())), max(self.high, int(row_high.max()))

    @classmethod
    def merged(cls, tallies: list[PixelTally]) -> PixelTally:
        """The tallies of every rank's share as one (torchrun: rank 0 checks the whole file)."""
        whole = cls(trained=tallies[0].trained)
        for part in tallies:
            whole.rows, whole.beyond = whole.rows + part.rows, whole.beyond + part.beyond
            whole.low, whole.high = min(whole.low, part.low), max(whole.high, part.high)
        return whole


def check_range(tally: PixelTally, source: str, log: Log, policy: str = "warn") -> None:
    """Say once what `tally` found (`source` names the input: a file, "pixels", "images"): rows beyond the
    trained range warn, or raise BadInput when `policy` is "error"; an input far inside it warns."""
    low, high = tally.trained
    seen = (tally.low, tally.high)
    if tally.beyond:
        where = " and ".join(part for part, outside in ((f"up to {tally.high}", tally.high > high),
                                                        (f"down to {tally.low}", tally.low < low)) if outside)
        line = (f"{source}: {tally.beyond} of {tally.rows} rows have values {where}, beyond the {low}..{high} "
                "the model was trained on; rescale the input or retrain")
        if policy == "error":
            raise BadInput(line)
        _tell(f"{line} (--out-of-range error makes this an error)", BEYOND_EVENT, log, tally.beyond, seen,
              tally.trained)
    elif tally.rows and under_used(tally.high, high):
        _tell(f"{source}: no value is above {tally.high}, a quarter or less of the {low}..{high} the model was "
              "trained on; if the input is on a smaller scale, rescale it or retrain", UNDER_EVENT, log, tally.rows,
              seen, tally.trained)


def _tell(line: str, event: str, log: Log, rows: int, seen: tuple[int, int], trained: tuple[int, int]) -> None:
    """A command's Log speaks: one log line. A library call's is quiet by default: Python's warnings."""
    if log.quiet:
        warnings.warn(PixelRangeWarning(line, rows, seen, trained), stacklevel=_callers_level())
    else:  # ranks other than 0 stay silent, as for every warning
        log.warn(line, event=event, rows=rows, seen=list(seen), trained=list(trained))


_CORE = str(Path(__file__).resolve().parents[1])


def _callers_level() -> int:
    """The stacklevel of the first frame outside core/: the warning names the caller's line, not ours."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_CORE):
        frame, level = frame.f_back, level + 1
    return level
