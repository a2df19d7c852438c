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
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.base.errors import BadInput, ExitCode, JobError
from core.base.log import Log
from core.base.workspace import DEFAULT_COMPETITION
from core.kaggle.allowance import DEFAULT_MAX_PER_DAY
from core.kaggle.api import SCORE_WAIT_S

# The stable names (docs/api.md documents each; tests/test_api.py checks that it does).
__all__ = [
    "load", "Model", "Scores",
    "predict_file", "PredictedFile", "score_file", "ScoredFile", "predict_images", "PredictedImages",
    "PixelRangeWarning",
    "download", "inspect", "train", "Trained", "Callbacks", "OPTION_FIELDS", "submissions", "show_submissions",
    "run", "RunOutcome", "submit", "SubmitOutcome",
    "version", "world", "session", "Log", "JobError", "BadInput", "ExitCode",
    "DEFAULT_COMPETITION", "DEFAULT_MAX_PER_DAY", "DEFAULT_MESSAGE", "SCORE_WAIT_S",
]

if TYPE_CHECKING:
    from core.data.competition import CompetitionFiles
    from core.dist.world import World
    from core.kaggle.api import Submission
    from core.predict.batch import Model, Scores  # noqa: F401 (type checkers see what __getattr__ serves)
    from core.predict.images import ImagePrediction
    from core.predict.pixel_range import PixelRangeWarning  # noqa: F401
    from core.predict.stream import Predictions
    from core.report.inspect import DataSummary
    from core.run.job import RunOutcome
    from core.run.submit import SubmitOutcome
    from core.train.callbacks import Callbacks

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


# -- ranks under torchrun -----------------------------------------------------------------------------


def version() -> str | None:
    """The installed kaggle-job's version, from the package metadata (`kaggle-job --version`); None
    when the code runs from a checkout that was never installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("kaggle-job")
    except PackageNotFoundError:
        return None


def world() -> World:
    """This process's place among torchrun's ranks (RANK, WORLD_SIZE, LOCAL_RANK); a single process
    outside torchrun. Raises BadInput for a half-set environment."""
    from core.dist.world import World

    return World.from_env()


def session(device: str = "auto") -> AbstractContextManager[World]:
    """Join torchrun's process group for the block, on every rank (a no-op outside torchrun): the
    file and training calls then share their work among the ranks, and rank 0 writes."""
    from core.dist.world import session as joined

    return joined(device)


# -- models in memory ---------------------------------------------------------------------------------


def load(path_or_paths: Paths, device: str = "auto", batch_size: int | None = None) -> Model:
    """A model from one checkpoint, or the average of several (an ensemble), on `device`
    (auto: CUDA, then MPS, then CPU)."""
    from core.predict.batch import Model

    return Model.load(checkpoint_paths(path_or_paths), device, batch_size)


# Classes served from their own modules when first asked for.
_LAZY = {"Model": "core.predict.batch", "Scores": "core.predict.batch", "Callbacks": "core.train.callbacks",
         "PixelRangeWarning": "core.predict.pixel_range",
         "RunOutcome": "core.run.job", "SubmitOutcome": "core.run.submit"}


def __getattr__(name: str):
    """`from core.api import Model, Scores, Callbacks, ...` without importing torch up front."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


# -- files: predict, score, pictures -----------------------------------------------------------------


@dataclass(frozen=True)
class PredictedFile:
    """The submission `predict_file` wrote, its rows, and the sample submission it was checked against."""

    output: Path
    rows: int
    sample: Path | None


def predict_file(input: PathLike, checkpoint: Paths, output: PathLike, *, sample: PathLike | None = None,
                 data_dir: PathLike | None = None, ignore_extra_columns: bool = False, label_column: str | None = None,
                 batch_size: int | None = None, device: str = "auto", out_of_range: str = "warn",
                 log: Log | None = None) -> PredictedFile:
    """`kaggle-job predict`: predict a pixel file and write a submission in the sample's format, ids and
    order (`sample`, else the one in `data_dir`, else beside `input`), else ImageId,Label in the file's
    order. Under torchrun every rank calls it inside `session()`; rank 0 writes, every rank gets the result.
    `out_of_range`: see PixelRangeWarning."""
    from core.base.atomic import prepare_target
    from core.data.sample import label_names
    from core.dist.world import current_world
    from core.predict.outputs import find_sample, id_names, write_checked_submission
    from core.predict.pixel_range import check_policy
    from core.predict.stream import predict_file as predict_rows

    check_policy(out_of_range)
    log, input, output, checkpoints = quiet_log(log), Path(input), Path(output), checkpoint_paths(checkpoint)
    sample_format, required = find_sample(_path(sample), input, _path(data_dir))
    # A bad path fails before the pass over the file, not after; so does one that would replace what is read.
    sample_path = sample_format.path if sample_format else None
    prepare_target(output, reads=[("the input file", input), ("the sample submission", sample_path),
                                  *(("a checkpoint", path) for path in checkpoints)])
    predictor = _predictor(checkpoints, device, batch_size)
    predictions = predict_rows(input, predictor, log, ignore_extra=ignore_extra_columns,
                               id_names=id_names(sample_format),
                               label_names=label_names(label_column, sample_format and sample_format.label_column),
                               labels=False, out_of_range=out_of_range)

    def write() -> PredictedFile:  # on rank 0, which holds every row under torchrun
        write_checked_submission(output, predictions, predictor.spec.classes, log, sample_format, required)
        return PredictedFile(output=output, rows=len(predictions.labels), sample=sample_path)

    return current_world().from_rank0(write)


@dataclass(frozen=True)
class ScoredFile:
    """What `score_file` found and wrote."""

    rows: int
    accuracy: float | None  # None when the file has no label column
    unknown_labels: int  # labelled rows whose label is none of the model's classes: counted as wrong
    output: Path | None = None  # per-row predictions
    probs: Path | None = None  # class probabilities (Parquet)
    report: Path | None = None  # the report's HTML page
    report_files: tuple[Path, ...] = ()  # every file of the report, the page included


def score_file(input: PathLike, checkpoint: Paths, *, output: PathLike | None = None, probs: PathLike | None = None,
               report: PathLike | None = None, ignore_extra_columns: bool = False, label_column: str | None = None,
               batch_size: int | None = None, device: str = "auto", out_of_range: str = "warn",
               log: Log | None = None) -> ScoredFile:
    """`kaggle-job score`: predict any pixel file, with or without labels; the accuracy when it has them.
    `output`: per-row predictions with confidence (CSV); `probs`: class probabilities (Parquet);
    `report`: a folder for the HTML evaluation report. Under torchrun as `predict_file`. `out_of_range`:
    see PixelRangeWarning."""
    from core.base.atomic import prepare_folder, prepare_target
    from core.data.sample import label_names
    from core.dist.world import current_world
    from core.predict.pixel_range import check_policy
    from core.predict.stream import predict_file as predict_rows

    check_policy(out_of_range)
    log, input, checkpoints = quiet_log(log), Path(input), checkpoint_paths(checkpoint)
    output, probs, report = _path(output), _path(probs), _path(report)
    for path in filter(None, (output, probs)):  # a bad path fails before the pass over the file, not after
        prepare_target(path, reads=[("the scored file", input), *(("a checkpoint", c) for c in checkpoints)])
    if report:
        prepare_folder(report)
    predictor = _predictor(checkpoints, device, batch_size)
    predictions = predict_rows(input, predictor, log, ignore_extra=ignore_extra_columns,
                               label_names=label_names(label_column), out_of_range=out_of_range)
    return current_world().from_rank0(lambda: _score_outputs(input, predictions, predictor, output, probs, report,
                                                             log))


def _score_outputs(input: Path, predictions: Predictions, predictor, output: Path | None, probs: Path | None,
                   report: Path | None, log: Log) -> ScoredFile:
    """What `score_file` writes once every row is predicted (on rank 0 under torchrun)."""
    from core.predict.outputs import write_probs, write_scores
    from core.predict.stream import unknown_labels_note

    unknown_rows = predictions.unknown_labels(predictor.spec.classes)  # found once, told three ways
    note = unknown_labels_note(input, predictions, unknown_rows, predictor.spec.classes)
    if note:
        log.warn(note, event="score.unknown_labels", rows=len(unknown_rows))
    if output:
        write_scores(output, predictions)
        log.info(f"wrote {len(predictions.labels)} rows to {output}", event="score.output", output=output)
    if probs:
        write_probs(probs, predictions, predictor.spec.classes)
        log.info(f"wrote class probabilities to {probs}", event="score.probs", output=probs)
    written = None
    if report:
        from core.report.score import model_info, write_score_report

        info = model_info(predictor.checkpoints, predictor.value_range)
        written = write_score_report(input, predictions, info, report, output)
    return ScoredFile(rows=len(predictions.labels), accuracy=predictions.accuracy, unknown_labels=len(unknown_rows),
                      output=output, probs=probs, report=written and written.html,
                      report_files=tuple(written.files) if written else ())


@dataclass(frozen=True)
class PredictedImages:
    """`predict_images`' answer for each image, in the order given, and the picture of them if asked for."""

    images: list[ImagePrediction]
    grid: Path | None = None


def predict_images(images: Sequence[PathLike], checkpoint: Paths, *, top: int = 3, grid: PathLike | None = None,
                   device: str = "auto", out_of_range: str = "warn", log: Log | None = None) -> PredictedImages:
    """`kaggle-job predict-image`: the digit in each PNG or JPEG (prepared the MNIST way) with the `top`
    probabilities; `grid`: also a PNG of the images as the model saw them. The prepared images, 0..255 as
    image files are, are mapped onto the model's trained range (said through `log` when it is not
    0..255). `out_of_range`: see PixelRangeWarning."""
    from core.base.atomic import prepare_target
    from core.predict.images import predict_images as predict_pictures
    from core.predict.pixel_range import check_policy
    from core.report.plots import prepared_images_png

    check_policy(out_of_range)
    images, checkpoints, grid = [Path(path) for path in images], checkpoint_paths(checkpoint), _path(grid)
    if grid:  # a bad path, or one of the pictures, fails before any work
        prepare_target(grid, reads=[*(("an image", path) for path in images),
                                    *(("a checkpoint", path) for path in checkpoints)])
    predictor = _predictor(checkpoints, device)
    results = predict_pictures(images, predictor, top_k=top, log=quiet_log(log), out_of_range=out_of_range)
    return PredictedImages(images=results,
                           grid=prepared_images_png(results, grid, predictor.value_range) if grid else None)


def _predictor(checkpoints: list[Path], device: str, batch_size: int | None = None):
    from core.predict.predictor import Predictor

    return Predictor.load(checkpoints, device, batch_size)


def _path(value: PathLike | None) -> Path | None:
    return Path(value) if value is not None else None


# -- data and training: download, inspect, train, submissions ----------------------------------------


def download(competition: str = DEFAULT_COMPETITION, *, data_dir: PathLike | None = None, demo: bool = False,
             force: bool = False, home: PathLike | None = None, wait_lock: float = 0.0,
             log: Log | None = None) -> CompetitionFiles:
    """`kaggle-job download`: the competition's files from Kaggle (or the embedded demo with `demo`) into
    `data_dir` [default: HOME/data/COMPETITION], skipped when unchanged unless `force`. Holds the home's
    lock, waiting up to `wait_lock` seconds for another command on it."""
    from core.base.workspace import Workspace, resolve_home
    from core.kaggle.download import fetch
    from core.run.lock import exclusive
    from core.run.publish import sweep_leftovers

    log, data_dir = quiet_log(log), _path(data_dir)
    workspace = Workspace(resolve_home(home), competition, demo=demo)
    with exclusive(workspace.home, wait_lock, "download", log, uses_torch=False):
        sweep_leftovers(workspace, log, extra=[data_dir.parent] if data_dir else [])
        return fetch(workspace, log, force=force, data_dir=data_dir)


def inspect(data_dir: PathLike | None = None, output: PathLike | None = None, *, seed: int = 0,
            input_shape: str | None = None, label_column: str | None = None, ignore_extra_columns: bool = False,
            competition: str = DEFAULT_COMPETITION, demo: bool = False, home: PathLike | None = None,
            log: Log | None = None) -> DataSummary:
    """`kaggle-job inspect`: shapes, class balance and a 5x5 grid of random images (`seed` picks them)
    from `data_dir`'s train.csv and test.csv, pictures into `output` [default: HOME/reports/<data folder>
    when a home is named (`home`, $KAGGLE_JOB_HOME), else ~/.cache/kaggle-job/reports/<data folder>].
    `input_shape`: CxHxW or HxWxC, as the CLI's --input-shape. Nothing is reported along the way: `log`
    is taken as every call takes one."""
    from core.base.workspace import Workspace, reports_dir, resolve_home
    from core.data.layout import parse_shape
    from core.report.inspect import inspect_data

    shape, pixel_order = parse_shape(input_shape)
    workspace = Workspace(resolve_home(home), competition, demo=demo)
    folder = _path(data_dir) or workspace.data_dir
    return inspect_data(folder, _path(output) or reports_dir(folder, home), seed=seed,
                        label_column=label_column, ignore_extra=ignore_extra_columns, input_shape=shape,
                        pixel_order=pixel_order)


# train()'s overrides are TrainConfig's fields (core.train.config); these two also go by the CLI's option names.
OPTION_FIELDS = {"time_budget": "time_budget_min", "elastic": "elastic_px"}


@dataclass(frozen=True)
class Trained:
    """The checkpoint `train` saved, its metrics (val_accuracy, epochs_run, train_seconds, ...) and the
    training curves beside it."""

    checkpoint: Path
    metrics: dict
    curves: Path
    rows: int = 0  # train.csv's rows, the validation rows included (pseudo-labelled rows are metrics["pseudo_rows"])
    input_shape: str = ""  # CxHxW, as --input-shape takes it: 1x28x28
    classes: tuple = ()  # the model's classes, in its order

    @property
    def data(self) -> str:
        """What the model was trained on, for a message: `1797 rows of 1x8x8, 10 classes 0..9`."""
        from core.train.outputs import describe_data

        described = describe_data(self.rows, tuple(int(side) for side in self.input_shape.split("x")),
                                  list(self.classes))
        pseudo = self.metrics.get("pseudo_rows")
        return described if pseudo is None else f"{described}, and {pseudo} pseudo-labelled rows"

    @property
    def validation(self) -> str:
        """The validation figure for a message; a model trained on every row has none."""
        from core.train.outputs import describe_validation

        return describe_validation(self.metrics)


def train(data_dir: PathLike | None = None, preset: str = "default", checkpoint: PathLike | None = None, *,
          input_shape: str | None = None, label_column: str | None = None, ignore_extra_columns: bool = False,
          resume: bool = False, device: str = "auto", competition: str = DEFAULT_COMPETITION, demo: bool = False,
          home: PathLike | None = None, wait_lock: float = 0.0, callbacks: Callbacks | None = None,
          unlabelled: PathLike | None = None, teacher: PathLike | None = None,
          log: Log | None = None, **overrides) -> Trained:
    """`kaggle-job train`: train on `data_dir`'s train.csv with `preset` (demo|fast|default|best) and save
    `checkpoint` [default: HOME/checkpoints/COMPETITION/model.pt for the competition's own data, else
    HOME/checkpoints/<data folder's name>/model.pt], its history and curves beside it; the checkpoint
    records the data's name (the slug or the folder's), so that `run` uses it for that data only.
    `overrides` change the preset's settings: any TrainConfig field (epochs=5, arch_kwargs={...}, mixup=0.2),
    or the CLI's option name where it differs (OPTION_FIELDS: time_budget in minutes, elastic); None keeps
    the preset's. `callbacks` (core.train.callbacks.Callbacks) run inside training, e.g. on_epoch_end.
    `resume` continues an interrupted run from the checkpoint's state file. `pseudo_label=True` adds a
    second round on the rows of `unlabelled` [default: the data's test.csv] that round 1 (or the `teacher`
    checkpoint) predicts surely, labelled by it (core.train.pseudo). Holds the home's lock as
    `download` does when the data or the checkpoint is in the home's folders (none is made otherwise);
    under torchrun every rank calls it."""
    from core.base.workspace import Workspace, resolve_home
    from core.data.competition import CompetitionFiles
    from core.data.layout import parse_shape, shape_text
    from core.data.sample import label_names, sample_label_column
    from core.model.checkpoint import beside
    from core.run.lock import exclusive
    from core.train.config import config_for
    from core.train.pipeline import train_to_checkpoint

    log = quiet_log(log)
    if teacher is not None:  # a teacher is only for pseudo-labelling
        if overrides.get("pseudo_label") is False:
            raise BadInput("--teacher labels the unlabelled rows of a pseudo-labelling run; it needs --pseudo-label")
        overrides["pseudo_label"] = True
    shape, pixel_order = parse_shape(input_shape)
    workspace = Workspace(resolve_home(home), competition, demo=demo)
    files = CompetitionFiles(_path(data_dir) or workspace.data_dir)
    target = _path(checkpoint) or workspace.default_checkpoint(files.directory)
    config = config_for(preset, **{OPTION_FIELDS.get(name, name): value for name, value in overrides.items()},
                        device=device, resume=resume or None, pixel_order=pixel_order)
    in_home = workspace.manages(files.directory) or workspace.manages(target)
    with exclusive(workspace.home if in_home else None, wait_lock, "train", log):
        if not files.train.is_file():
            raise BadInput(f"{files.train}: no such file; run `kaggle-job download` first")
        result = train_to_checkpoint(files.train, target, config, log, input_shape=shape,
                                     label_names=label_names(label_column, sample_label_column(files.sample)),
                                     ignore_extra=ignore_extra_columns, callbacks=callbacks,
                                     dataset=workspace.dataset_name(files.directory),
                                     unlabelled=_path(unlabelled) or (files.test if files.test.is_file() else None),
                                     teacher=_path(teacher))
    metrics = result.metrics
    labelled = metrics["train_rows"] + metrics["val_rows"] - metrics.get("pseudo_rows", 0)
    return Trained(checkpoint=target, metrics=metrics, curves=beside(target).curves, rows=labelled,
                   input_shape=shape_text(result.spec.input_shape), classes=tuple(result.spec.classes))


def submissions(competition: str = DEFAULT_COMPETITION, limit: int = 20, log: Log | None = None) -> list[Submission]:
    """`kaggle-job submissions`: the competition's `limit` most recent Kaggle submissions, newest first,
    with status and scores (needs Kaggle credentials)."""
    from core.kaggle.api import list_submissions

    return list_submissions(competition, limit, log=quiet_log(log))


def show_submissions(items: list[Submission], fmt: str = "auto", out=None) -> None:
    """Print submissions as `kaggle-job submissions` does: a table (fmt rich, or auto on a terminal),
    else one JSON object per line, to `out` [default: stdout]."""
    from core.kaggle.table import render

    render(items, fmt, out)


# -- the scheduled job and submitting: run, submit ----------------------------------------------------

DEFAULT_MESSAGE = "kaggle-job"  # a submission's description on Kaggle when none is given


def run(*, competition: str = DEFAULT_COMPETITION, demo: bool = False, checkpoint: PathLike | None = None,
        retrain: bool = False, preset: str | None = None, submit: bool = False, force_submit: bool = False,
        message: str | None = None, wait_lock: float = 0.0, max_per_day: int = DEFAULT_MAX_PER_DAY,
        label_column: str | None = None, ignore_extra_columns: bool = False, input_shape: str | None = None,
        device: str = "auto", out_of_range: str = "warn", home: PathLike | None = None,
        log: Log | None = None) -> RunOutcome:
    """The scheduled job, as `kaggle-job run`: lock the home, download (the offline demo without
    credentials), train or load, predict, publish submissions/<competition>/<UTC time>/ and, with
    `submit`, upload when the model beats the last submission. Returns the submission's path and its
    manifest. `input_shape`: "CxHxW" or "HxWxC" as --input-shape takes it; `wait_lock`: seconds to wait
    for another command on this home; SIGTERM ends it like Ctrl-C (KeyboardInterrupt). `out_of_range`:
    see PixelRangeWarning (test.csv against the model's range)."""
    from core.base.workspace import resolve_home
    from core.data.layout import parse_shape
    from core.predict.pixel_range import check_policy
    from core.run.job import RunConfig, run_job

    check_policy(out_of_range)
    shape, pixel_order = parse_shape(input_shape)
    config = RunConfig(home=resolve_home(home), competition=competition, demo=demo, device=device, preset=preset,
                       checkpoint=_path(checkpoint), retrain=retrain, submit=submit, force_submit=force_submit,
                       message=message, wait_lock_s=wait_lock, max_per_day=max_per_day, label_column=label_column,
                       ignore_extra=ignore_extra_columns, input_shape=shape, pixel_order=pixel_order,
                       out_of_range=out_of_range)
    return run_job(config, quiet_log(log))


def submit(checkpoint: Paths | None = None, *, file: PathLike | None = None, data_dir: PathLike | None = None,
           message: str = DEFAULT_MESSAGE, competition: str = DEFAULT_COMPETITION, dry_run: bool = False,
           wait: bool = False, wait_timeout: float = SCORE_WAIT_S, max_per_day: int = DEFAULT_MAX_PER_DAY,
           device: str = "auto", out_of_range: str = "warn", home: PathLike | None = None, wait_lock: float = 0.0,
           log: Log | None = None) -> SubmitOutcome:
    """Submit test.csv predicted with `checkpoint` (one, or several averaged), or a ready `file`, as
    `kaggle-job submit`: checked against sample_submission.csv, recorded under
    submissions/<competition>/<UTC time>/ and uploaded exactly once. `dry_run` checks without uploading
    (and needs no credentials); `wait` waits up to `wait_timeout` seconds for the public score.
    `out_of_range`: see PixelRangeWarning (test.csv against the model's range)."""
    from core.base.workspace import Workspace, resolve_home
    from core.data.competition import CompetitionFiles
    from core.predict.pixel_range import check_policy
    from core.run.lock import exclusive
    from core.run.submit import SubmitConfig, submit_recorded

    check_policy(out_of_range)
    log = quiet_log(log)
    workspace = Workspace(resolve_home(home), competition)
    files = CompetitionFiles(_path(data_dir) or workspace.data_dir)
    config = SubmitConfig(
        competition=competition, message=message, files=files,
        checkpoints=checkpoint_paths(checkpoint) if checkpoint is not None else [],
        file=_path(file), dry_run=dry_run, wait=wait, wait_timeout_s=wait_timeout,
        max_per_day=max_per_day, device=device, out_of_range=out_of_range)
    with exclusive(workspace.home, wait_lock, "submit", log):
        return submit_recorded(config, workspace, log)
