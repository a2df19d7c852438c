"""`kaggle-job submit` with the run's guarantees: its folder and manifest, exactly-once uploads.

Like a scheduled run's, each submission lands in submissions/<competition>/<UTC time>/ with a
manifest.json, so `run --submit` sees it as the last submission ("better than" compares with it)
and an upload whose reply was lost is settled instead of repeated (core.run.ledger). Under
torchrun every rank predicts its share of test.csv; rank 0 alone does the rest.
"""

from __future__ import annotations

from core.base.hashing import sha256_file
from core.base.log import Log
from core.base.workspace import Workspace
from core.dist.world import current_world
from core.kaggle.allowance import check_daily_limit
from core.kaggle.api import wait_for_score
from core.kaggle.credentials import announce, require_credentials
from core.kaggle.submit import (
    Predicted,
    Prepared,
    SubmitConfig,
    SubmitOutcome,
    check_config,
    check_ready_file,
    predict_test,
    prepare,
)
from core.run.ledger import same_file, settle, upload
from core.run.manifest import build_submit_manifest, write_manifest
from core.run.publish import publish, staged_submission
from core.run.submit_policy import already_landed


def submit_recorded(config: SubmitConfig, workspace: Workspace, log: Log) -> SubmitOutcome:
    check_config(config)
    world = current_world()
    if config.dry_run and config.file is not None:  # nothing to record: check the file where it is
        return world.from_rank0(lambda: SubmitOutcome(config.file, check_ready_file(config)))
    landed = world.from_rank0(lambda: _allowed(config, workspace, log))
    predicted = predict_test(config, log) if config.file is None else None
    return world.from_rank0(lambda: _record_and_upload(config, workspace, landed, predicted, log))


def _allowed(config: SubmitConfig, workspace: Workspace, log: Log) -> list:
    """Before predicting: credentials, earlier uploads settled (returned), today's allowance."""
    if config.dry_run:
        return []
    announce(require_credentials(), log)
    landed = settle(workspace.submissions_root, config.competition, log)
    check_daily_limit(config.competition, config.max_per_day, log)
    return landed


def _record_and_upload(config: SubmitConfig, workspace: Workspace, landed: list, predicted: Predicted | None,
                       log: Log) -> SubmitOutcome:
    with staged_submission(workspace) as staging:
        prepared = prepare(config, staging, log, predicted)
        manifest = _manifest(config, prepared)
        write_manifest(staging, manifest)
        folder = publish(staging, workspace)
    path = folder / "submission.csv"
    if config.dry_run:
        return SubmitOutcome(path, prepared.rows)
    again = same_file(landed, manifest["submission_sha256"])
    if again is not None:
        ref = str(again["submission_ref"])
        log.result(f"{path}: {already_landed(again)}", event="submit.result", ref=ref, file=path)
        return SubmitOutcome(path, prepared.rows, ref)
    log.info(f"uploading {path} ({prepared.rows} rows) to {config.competition}", event="submit.upload", file=path)
    ref = upload(folder, manifest, config.competition, config.message, log)
    # Printed now, not after --wait: a wait that times out or fails still leaves the ref on stdout.
    log.result(f"submitted {path} to {config.competition}: ref {ref}", event="submit.result", ref=ref, file=path)
    scored = wait_for_score(config.competition, ref, config.wait_timeout_s, log=log) if config.wait else None
    return SubmitOutcome(path, prepared.rows, ref, scored)


def _manifest(config: SubmitConfig, prepared: Prepared) -> dict:
    checkpoints = [ckpt.path for ckpt in prepared.checkpoints]
    # One model has a validation accuracy to compare with; an average of several or a ready file has none.
    val_accuracy = prepared.checkpoints[0].metrics.get("val_accuracy") if len(checkpoints) == 1 else None
    return build_submit_manifest(
        competition=config.competition, rows=prepared.rows, submission_sha256=sha256_file(prepared.file),
        checkpoints=checkpoints, checkpoint_sha256=sha256_file(checkpoints[0]) if len(checkpoints) == 1 else None,
        val_accuracy=val_accuracy, source_file=config.file, message=config.message)
