"""Submitting to Kaggle, the pieces: the options and the checked file to upload.

The allowance is checked first, so a run that could not submit anyway spends no time predicting;
the file is validated against sample_submission.csv before upload, so Kaggle never scores a
malformed file against the day's allowance. core.run.recorded_submit puts them in order, with the
home's lock and a pending record in the manifest around the upload. Under torchrun every rank
predicts its share of test.csv (`predict_test`) and rank 0 alone writes the file and uploads it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from core.base.atomic import atomic_write
from core.base.errors import BadInput, require_file
from core.base.log import Log
from core.data.competition import CompetitionFiles
from core.data.sample import SampleFormat, check_submission, read_sample
from core.kaggle import api
from core.kaggle.allowance import DEFAULT_MAX_PER_DAY


@dataclass(frozen=True)
class SubmitConfig:
    competition: str
    message: str
    files: CompetitionFiles  # test.csv and sample_submission.csv
    checkpoints: list[Path] = field(default_factory=list)  # predict with these ...
    file: Path | None = None  # ... or upload this ready CSV
    dry_run: bool = False
    wait: bool = False
    wait_timeout_s: float = 1800.0
    max_per_day: int = DEFAULT_MAX_PER_DAY
    device: str = "auto"


@dataclass(frozen=True)
class SubmitOutcome:
    file: Path
    rows: int
    ref: str | None = None  # None on a dry run
    scored: api.Submission | None = None  # with --wait


def check_config(config: SubmitConfig) -> None:
    if bool(config.checkpoints) == (config.file is not None):
        raise BadInput("give exactly one of --checkpoint or --file")
    if config.max_per_day < 1:
        raise BadInput(f"--max-per-day: expected at least 1, got {config.max_per_day}")


@dataclass(frozen=True)
class Prepared:
    file: Path  # the checked submission, in `folder`
    rows: int
    checkpoints: list = field(default_factory=list)  # the Checkpoints it was predicted with (none for --file)


@dataclass(frozen=True)
class Predicted:
    """test.csv predicted with the checkpoints, and what the written file needs from that."""

    predictions: object  # core.predict.stream.Predictions
    classes: list
    checkpoints: list
    sample: SampleFormat


def predict_test(config: SubmitConfig, log: Log) -> Predicted | None:
    """Predict test.csv with the checkpoints. Under torchrun every rank calls this and predicts its
    share; rank 0 gets the whole file's predictions, the other ranks None."""
    from core.predict.outputs import id_names
    from core.predict.predictor import Predictor
    from core.predict.stream import predict_file

    sample = read_sample(config.files.check("test", "sample").sample)
    predictor = Predictor.load(config.checkpoints, config.device)
    predictions = predict_file(config.files.test, predictor, log, id_names=id_names(sample), labels=False)
    if predictions is None:
        return None
    return Predicted(predictions, list(predictor.spec.classes), list(predictor.checkpoints), sample)


def prepare(config: SubmitConfig, folder: Path, log: Log, predicted: Predicted | None = None) -> Prepared:
    """The submission as `folder`/submission.csv, checked against sample_submission.csv: predicted
    with the checkpoints (or from `predicted`), or --file checked where it is (so errors name it)
    and then copied."""
    target = Path(folder) / "submission.csv"
    if config.file is None:
        return _write_predicted(target, predicted or predict_test(config, log), log)
    rows = check_ready_file(config)
    with atomic_write(target, "wb") as out, open(config.file, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    return Prepared(target, rows)


def check_ready_file(config: SubmitConfig) -> int:
    """--file checked where it is against sample_submission.csv (so errors name it); returns its rows."""
    sample = read_sample(config.files.check("sample").sample)
    require_file(config.file)
    return check_submission(config.file, sample)


def _write_predicted(target: Path, predicted: Predicted, log: Log) -> Prepared:
    from core.predict.outputs import write_checked_submission

    path = write_checked_submission(target, predicted.predictions, predicted.classes, log, sample=predicted.sample,
                                    required=True)
    return Prepared(path, len(predicted.predictions.labels), predicted.checkpoints)
