"""A competition's files in data/<competition>/: what must be there, and unpacking an archive into it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.base.atomic import atomic_write_text
from core.base.errors import BadInput
from core.base.hashing import sha256_file
from core.base.log import Log
from core.data.archive import extracted

RECORD = "files.json"  # sha256 of the archive and of each file, written after a complete unpack
TRAIN_NAME, TEST_NAME, SAMPLE_NAME = "train.csv", "test.csv", "sample_submission.csv"
EXPECTED = (TRAIN_NAME, TEST_NAME, SAMPLE_NAME)


@dataclass(frozen=True)
class CompetitionFiles:
    directory: Path

    @property
    def train(self) -> Path:
        return self.directory / TRAIN_NAME

    @property
    def test(self) -> Path:
        return self.directory / TEST_NAME

    @property
    def sample(self) -> Path:
        return self.directory / SAMPLE_NAME

    def record(self) -> dict:
        path = self.directory / RECORD
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def check(self) -> "CompetitionFiles":
        missing = [name for name in EXPECTED if not (self.directory / name).is_file()]
        if missing:
            raise BadInput(f"{self.directory}: missing {', '.join(missing)}; run `kaggle-job download` first")
        return self


def install(archive: Path, files: CompetitionFiles, extra: dict, force: bool, log: Log) -> CompetitionFiles:
    """Unpack `archive` into a staging folder, check it, then swap it into place whole.

    `extra` is recorded in files.json beside the sha256s (e.g. Kaggle's file listing). An archive
    whose sha256 matches the last unpacked one, with every file intact, is not unpacked again.
    """
    target = files.directory
    digest = sha256_file(archive)
    record = files.record()
    if not force and record.get("archive_sha256") == digest and intact(files, record):
        if extra.get("remote_files") != record.get("remote_files"):
            atomic_write_text(target / RECORD, json.dumps({**record, **extra}, indent=2) + "\n")
        log.info(f"{target}: unchanged (archive sha256 {digest[:12]}), skipping unpack",
                 event="download.skip", data_dir=target)
        return files
    with extracted(archive, target) as (staging, written):  # refuses hostile members
        CompetitionFiles(staging).check()
        new_record = {**extra, "archive_sha256": digest,
                      "files": {rel.as_posix(): sha256_file(staging / rel) for rel in sorted(written)}}
        atomic_write_text(staging / RECORD, json.dumps(new_record, indent=2) + "\n")
    log.info(f"unpacked {len(written)} files into {target}", event="download.done", data_dir=target,
             archive_sha256=digest)
    return files


def intact(files: CompetitionFiles, record: dict) -> bool:
    """Every expected file is there and every recorded file still has its recorded sha256."""
    recorded = record.get("files") or {}
    if not all((files.directory / name).is_file() for name in EXPECTED) or not recorded:
        return False
    for name, digest in recorded.items():
        path = files.directory / name
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True
