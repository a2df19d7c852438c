"""`kaggle-job submit` with the run's guarantees: its folder and manifest, exactly-once uploads.

Like a scheduled run's, each submission lands in submissions/<competition>/<UTC time>/ with a
manifest.json (core.run.flow, the upload flow they share), so `run --submit` sees it as the last
submission ("better than" compares with it) and an upload whose reply was lost is settled instead of
repeated (core.run.ledger). The allowance is checked first, so a submit that could not upload anyway
spends no time predicting; the file is checked against sample_submission.csv before upload, so Kaggle
never scores a malformed file against the day's allowance. Under torchrun every rank predicts its
share of test.csv (`predict_test`); rank 0 alone does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.base.errors import BadInput, require_file
from core.base.hashing import sha256_file
from core.base.log import Log
from core.base.workspace import Workspace
from core.data.competition import CompetitionFiles
from core.data.sample import check_submission, read_sample
from core.dist.world import current_world
from core.kaggle import api
from core.kaggle.allowance import DEFAULT_MAX_PER_DAY, check_max_per_day
from core.run.flow import (
    Predicted,
    Published,
    ReadyFile,
    before_predicting,
    publish_submission,
    upload_published,
)
from core.run.ledger import same_file
from core.run.submit_policy import already_landed


@dataclass(frozen=True)
class SubmitConfig:
    competition: str
    message: str
    files: CompetitionFiles  # test.csv and sample_submission.csv
    checkpoints: list[Path] = field(default_factory=list)  # predict with these ...
    file: Path | None = None  # ... or upload this ready CSV
    dry_run: bool = False
    wait: bool = False
    wait_timeout_s: float = api.SCORE_WAIT_S
    max_per_day: int = DEFAULT_MAX_PER_DAY
    device: str = "auto"
    out_of_range: str = "warn"  # test.csv's pixels beyond the model's trained range: warn or error


@dataclass(frozen=True)
class SubmitOutcome:
    file: Path
    rows: int
    ref: str | None = None  # None on a dry run
    scored: api.Submission | None = None  # with --wait


def check_config(config: SubmitConfig) -> None:
    if bool(config.checkpoints) == (config.file is not None):
        raise BadInput("give exactly one of --checkpoint or --file")
    check_max_per_day(config.max_per_day)


def submit_recorded(config: SubmitConfig, workspace: Workspace, log: Log) -> SubmitOutcome:
    check_config(config)
    world = current_world()
    if config.dry_run and config.file is not None:  # nothing to record: check the file where it is
        return world.from_rank0(lambda: SubmitOutcome(config.file, check_ready_file(config)))
    landed = world.from_rank0(lambda: [] if config.dry_run else before_predicting(workspace, config.max_per_day, log))
    predicted = predict_test(config, log) if config.file is None else None
    return world.from_rank0(lambda: _record_and_upload(config, workspace, landed, predicted, log))


def predict_test(config: SubmitConfig, log: Log) -> Predicted | None:
    """Predict test.csv with the checkpoints. Under torchrun every rank calls this and predicts its
    share; rank 0 gets the whole file's predictions, the other ranks None."""
    from core.predict.outputs import id_names
    from core.predict.predictor import Predictor
    from core.predict.stream import predict_file

    sample = read_sample(config.files.check("test", "sample").sample)
    predictor = Predictor.load(config.checkpoints, config.device)
    predictions = predict_file(config.files.test, predictor, log, id_names=id_names(sample), labels=False,
                               out_of_range=config.out_of_range)
    if predictions is None:
        return None
    return Predicted(predictions, list(predictor.spec.classes), list(predictor.checkpoints), sample)


def check_ready_file(config: SubmitConfig) -> int:
    """--file checked where it is against sample_submission.csv (so errors name it); returns its rows."""
    sample = read_sample(config.files.check("sample").sample)
    require_file(config.file)
    return check_submission(config.file, sample)


def _record_and_upload(config: SubmitConfig, workspace: Workspace, landed: list, predicted: Predicted | None,
                       log: Log) -> SubmitOutcome:
    source = predicted if config.file is None else ReadyFile(config.file, check_ready_file(config))
    published = publish_submission(workspace, source, lambda _: _fields(config, predicted), log,
                                   command="submit")
    if config.dry_run:
        return SubmitOutcome(published.file, published.rows)
    again = same_file(landed, published.manifest["submission_sha256"])
    if again is not None:
        ref = str(again["submission_ref"])
        log.result(f"{published.file}: {already_landed(again)}", event="submit.result", ref=ref, file=published.file)
        return SubmitOutcome(published.file, published.rows, ref)
    return _upload(config, published, log)


def _upload(config: SubmitConfig, published: Published, log: Log) -> SubmitOutcome:
    path = published.file
    log.info(f"uploading {path} ({published.rows} rows) to {config.competition}", event="submit.upload", file=path)
    ref = upload_published(published, config.max_per_day, config.message, log, check_allowance=False)
    # Printed now, not after --wait: a wait that times out or fails still leaves the ref on stdout.
    log.result(f"submitted {path} to {config.competition}: ref {ref}", event="submit.result", ref=ref, file=path)
    scored = api.wait_for_score(config.competition, ref, config.wait_timeout_s, log=log) if config.wait else None
    return SubmitOutcome(path, published.rows, ref, scored)


def _fields(config: SubmitConfig, predicted: Predicted | None) -> dict:
    """The manifest's fields of a `kaggle-job submit`: what produced the file, as far as known."""
    checkpoints = [ckpt.path for ckpt in predicted.checkpoints] if predicted else []
    one = len(checkpoints) == 1
    # One model has a validation accuracy to compare with; an average of several or a ready file has none.
    return {"source_file": str(config.file) if config.file else None, "checkpoints": [str(p) for p in checkpoints],
            "checkpoint_sha256": sha256_file(checkpoints[0]) if one else None,
            "val_accuracy": predicted.checkpoints[0].metrics.get("val_accuracy") if one else None,
            "message": config.message}
