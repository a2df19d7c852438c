"""The one upload flow of `run` and `submit`, in the order their guarantees need:

    publish_submission   stage a hidden folder -> write the checked submission.csv -> its manifest
                         (core.run.manifest) -> publish the folder whole (core.run.publish)
    before_predicting    `submit`'s checks before any prediction: credentials, earlier uploads whose
                         reply was lost settled (core.run.ledger), today's allowance
    upload_published     the allowance (unless checked before predicting) -> the exactly-once upload;
                         a refusal before the upload is recorded in the manifest

`run` settles lost replies itself before publishing, since its submit decision (in the manifest) must
know whether this very file already landed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.base.atomic import atomic_write
from core.base.errors import JobError
from core.base.hashing import sha256_file
from core.base.log import Log
from core.base.workspace import Workspace
from core.kaggle.allowance import check_daily_limit
from core.kaggle.credentials import announce, require_credentials
from core.run.ledger import settle, upload
from core.run.manifest import SUBMISSION, build_manifest, utc_now, write_manifest
from core.run.publish import publish, staged_submission

if TYPE_CHECKING:
    from core.data.sample import SampleFormat


@dataclass(frozen=True)
class Predicted:
    """test.csv predicted, and what the written file needs from that."""

    predictions: object  # core.predict.stream.Predictions
    classes: list
    checkpoints: list  # the Checkpoints it was predicted with
    sample: SampleFormat


@dataclass(frozen=True)
class ReadyFile:
    """A submission made elsewhere, already checked against sample_submission.csv where it is."""

    path: Path
    rows: int


@dataclass(frozen=True)
class Published:
    folder: Path
    manifest: dict

    @property
    def file(self) -> Path:
        return self.folder / SUBMISSION

    @property
    def rows(self) -> int:
        return self.manifest["rows"]


def publish_submission(workspace: Workspace, source: Predicted | ReadyFile, fields: Callable[[str], dict], log: Log,
                       command: str | None = None) -> Published:
    """submissions/<competition>/<UTC time>/ with the checked submission.csv and its manifest, published
    whole. `fields(submission_sha256)`: the command's own manifest fields (core.run.manifest)."""
    with staged_submission(workspace) as staging:
        file, rows = _write(staging / SUBMISSION, source, log)
        sha = sha256_file(file)
        manifest = build_manifest(competition=workspace.competition, demo=workspace.demo, rows=rows,
                                  submission_sha256=sha, command=command, **fields(sha))
        write_manifest(staging, manifest)
        folder = publish(staging, workspace)
    return Published(folder, manifest)


def _write(target: Path, source: Predicted | ReadyFile, log: Log) -> tuple[Path, int]:
    if isinstance(source, ReadyFile):
        with atomic_write(target, "wb") as out, open(source.path, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        return target, source.rows
    from core.predict.outputs import write_checked_submission

    path = write_checked_submission(target, source.predictions, source.classes, log, sample=source.sample,
                                    required=True)
    return path, len(source.predictions.labels)


def before_predicting(workspace: Workspace, max_per_day: int, log: Log) -> list[dict]:
    """Credentials, earlier uploads settled (the manifests found to have landed), today's allowance:
    a submit that could not upload anyway spends no time predicting."""
    announce(require_credentials(), log)
    landed = settle(workspace.submissions_root, workspace.competition, log)
    check_daily_limit(workspace.competition, max_per_day, log)
    return landed


def upload_published(published: Published, max_per_day: int, message: str, log: Log,
                     check_allowance: bool = True) -> str:
    """Upload the published file to its competition exactly once (core.run.ledger); returns Kaggle's ref.
    `check_allowance`: today's allowance (`max_per_day`) first, unless it was checked before predicting."""
    manifest = published.manifest
    competition = manifest["competition"]
    manifest["message"] = message
    try:
        if check_allowance:
            check_daily_limit(competition, max_per_day, log)
        return upload(published.folder, manifest, competition, message, log)
    except JobError as exc:
        if "upload" not in manifest:  # refused before uploading; an upload's own failure is in manifest["upload"]
            manifest["submission_error"] = {"message": exc.message, "exit_code": int(exc.exit_code), "at": utc_now()}
            write_manifest(published.folder, manifest)
        raise
