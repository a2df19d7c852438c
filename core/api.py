"""kaggle-job's public Python API: the calls the `kaggle-job` CLI makes, for notebooks, scripts and
the workers of Ray, Spark or Dask. Names here stay stable; everything else in core/ may move.

    from core.api import load
    model = load("model.pt")                  # a str, a Path, or a list of them (an ensemble)
    labels = model.predict(df[pixel_columns])  # (N, P), (N, H, W), (N, C, H, W), (P,) or a DataFrame

Every call raises a `JobError` subclass (core.base.errors) with the CLI's one-line message, never
SystemExit, and reports through an optional `Log` (core.base.log), silent by default. See docs/api.md.

This module is the top of core/: it may import any subpackage, and nothing in core imports it. Its
imports are lazy so that `kaggle-job --help` stays instant.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.base.log import Log

if TYPE_CHECKING:
    from core.predict.batch import Model, Scores  # noqa: F401 (type checkers see what __getattr__ serves)

PathLike = str | os.PathLike
Paths = PathLike | Sequence[PathLike]


def quiet_log(log: Log | None) -> Log:
    """The caller's Log, or one that says nothing: a library call reports through results and exceptions."""
    return log if log is not None else Log(quiet=True)


def checkpoint_paths(path_or_paths: Paths) -> list[Path]:
    """One checkpoint or several (an ensemble) as a list of Paths: a str or Path is one file, never
    a sequence of characters."""
    if isinstance(path_or_paths, (str, os.PathLike)):
        return [Path(path_or_paths)]
    return [Path(path) for path in path_or_paths]


# -- models in memory ---------------------------------------------------------------------------------


def load(path_or_paths: Paths, device: str = "auto", batch_size: int | None = None) -> Model:
    """A model from one checkpoint, or the average of several (an ensemble), on `device`
    (auto: CUDA, then MPS, then CPU)."""
    from core.predict.batch import Model

    return Model.load(checkpoint_paths(path_or_paths), device, batch_size)


_LAZY = {"Model": "core.predict.batch", "Scores": "core.predict.batch"}  # imported when first asked for


def __getattr__(name: str):
    """`from core.api import Model, Scores` (for type annotations) without importing torch up front."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


# -- files: predict, score, pictures -----------------------------------------------------------------


# -- data and training: download, inspect, train, submissions ----------------------------------------


# -- the scheduled job and submitting: run, submit ----------------------------------------------------
