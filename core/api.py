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
from core.base.workspace import DEFAULT_COMPETITION
from core.kaggle.allowance import DEFAULT_MAX_PER_DAY
from core.kaggle.api import SCORE_WAIT_S

if TYPE_CHECKING:
    from core.predict.batch import Model
    from core.run.job import RunOutcome
    from core.run.submit import SubmitOutcome

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


# -- files: predict, score, pictures -----------------------------------------------------------------


# -- data and training: download, inspect, train, submissions ----------------------------------------


# -- the scheduled job and submitting: run, submit ----------------------------------------------------

DEFAULT_MESSAGE = "kaggle-job"  # a submission's description on Kaggle when none is given


def run(*, competition: str = DEFAULT_COMPETITION, demo: bool = False, checkpoint: PathLike | None = None,
        retrain: bool = False, preset: str | None = None, submit: bool = False, force_submit: bool = False,
        message: str | None = None, wait_lock: float = 0.0, max_per_day: int = DEFAULT_MAX_PER_DAY,
        label_column: str | None = None, ignore_extra_columns: bool = False, input_shape: str | None = None,
        device: str = "auto", home: PathLike | None = None, log: Log | None = None) -> RunOutcome:
    """The scheduled job, as `kaggle-job run`: lock the home, download (the offline demo without
    credentials), train or load, predict, publish submissions/<competition>/<UTC time>/ and, with
    `submit`, upload when the model beats the last submission. Returns the submission's path and its
    manifest. `input_shape`: "CxHxW" or "HxWxC" as --input-shape takes it; `wait_lock`: seconds to wait
    for another command on this home; SIGTERM ends it like Ctrl-C (KeyboardInterrupt)."""
    from core.base.workspace import resolve_home
    from core.data.layout import parse_shape
    from core.run.job import RunConfig, run_job

    shape, pixel_order = parse_shape(input_shape)
    config = RunConfig(home=resolve_home(home), competition=competition, demo=demo, device=device, preset=preset,
                       checkpoint=Path(checkpoint) if checkpoint is not None else None, retrain=retrain,
                       submit=submit, force_submit=force_submit, message=message, wait_lock_s=wait_lock,
                       max_per_day=max_per_day, label_column=label_column, ignore_extra=ignore_extra_columns,
                       input_shape=shape, pixel_order=pixel_order)
    return run_job(config, quiet_log(log))


def submit(checkpoint: Paths | None = None, *, file: PathLike | None = None, data_dir: PathLike | None = None,
           message: str = DEFAULT_MESSAGE, competition: str = DEFAULT_COMPETITION, dry_run: bool = False,
           wait: bool = False, wait_timeout: float = SCORE_WAIT_S, max_per_day: int = DEFAULT_MAX_PER_DAY,
           device: str = "auto", home: PathLike | None = None, wait_lock: float = 0.0,
           log: Log | None = None) -> SubmitOutcome:
    """Submit test.csv predicted with `checkpoint` (one, or several averaged), or a ready `file`, as
    `kaggle-job submit`: checked against sample_submission.csv, recorded under
    submissions/<competition>/<UTC time>/ and uploaded exactly once. `dry_run` checks without uploading
    (and needs no credentials); `wait` waits up to `wait_timeout` seconds for the public score."""
    from core.base.workspace import Workspace, resolve_home
    from core.data.competition import CompetitionFiles
    from core.run.lock import exclusive
    from core.run.submit import SubmitConfig, submit_recorded

    log = quiet_log(log)
    workspace = Workspace(resolve_home(home), competition)
    files = CompetitionFiles(Path(data_dir) if data_dir else workspace.data_dir)
    config = SubmitConfig(
        competition=competition, message=message, files=files,
        checkpoints=checkpoint_paths(checkpoint) if checkpoint is not None else [],
        file=Path(file) if file is not None else None, dry_run=dry_run, wait=wait, wait_timeout_s=wait_timeout,
        max_per_day=max_per_day, device=device)
    with exclusive(workspace.home, wait_lock, "submit", log):
        return submit_recorded(config, workspace, log)
