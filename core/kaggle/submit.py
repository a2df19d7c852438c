"""Submitting to Kaggle: check the daily allowance -> predict -> validate -> upload -> (wait for the score).

The allowance is checked first, so a run that could not submit anyway spends no time predicting;
the file is validated against sample_submission.csv before upload, so Kaggle never scores a
malformed file against the day's allowance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.base.errors import BadInput
from core.base.log import Log
from core.base.workspace import Workspace
from core.data.competition import CompetitionFiles
from core.data.sample import SampleFormat, check_submission, read_sample
from core.kaggle import api
from core.kaggle.allowance import DEFAULT_MAX_PER_DAY, check_daily_limit
from core.kaggle.credentials import announce, require_credentials


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


def submit(config: SubmitConfig, workspace: Workspace, log: Log) -> SubmitOutcome:
    if bool(config.checkpoints) == (config.file is not None):
        raise BadInput("give exactly one of --checkpoint or --file")
    if config.max_per_day < 1:
        raise BadInput(f"--max-per-day: expected at least 1, got {config.max_per_day}")
    if not config.dry_run:
        creds = require_credentials()
        announce(creds, log)
        check_daily_limit(config.competition, config.max_per_day, log)
    sample = read_sample(config.files.check().sample)
    path = config.file if config.file is not None else _predict(config, workspace, sample, log)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    rows = check_submission(path, sample)
    if config.dry_run:
        return SubmitOutcome(path, rows)
    log.info(f"uploading {path} ({rows} rows) to {config.competition}", event="submit.upload", file=path)
    ref = api.submit_file(config.competition, path, config.message, log=log)
    # Printed now, not after --wait: a wait that times out or fails still leaves the ref on stdout.
    log.result(f"submitted {path} to {config.competition}: ref {ref}", event="submit.result", ref=ref, file=path)
    scored = None
    if config.wait:
        scored = api.wait_for_score(config.competition, ref, config.wait_timeout_s, log=log)
    return SubmitOutcome(path, rows, ref, scored)


def _predict(config: SubmitConfig, workspace: Workspace, sample: SampleFormat, log: Log) -> Path:
    from core.predict.outputs import id_names, write_checked_submission
    from core.predict.predictor import Predictor
    from core.predict.stream import predict_file

    predictor = Predictor.load(config.checkpoints, config.device)
    predictions = predict_file(config.files.test, predictor, log, id_names=id_names(sample))
    out = workspace.new_submission_dir() / "submission.csv"
    return write_checked_submission(out, predictions, predictor.spec.classes, log, sample=sample, required=True)
