"""Getting a competition's files into data/<competition>/: from Kaggle, or the embedded demo."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from core import demo, kaggle_api
from core.archive import _swap_into_place as swap_into_place, safe_extract
from core.atomic import atomic_write_text
from core.errors import BadInput
from core.hashing import sha256_file
from core.log import Log
from core.workspace import Workspace

RECORD = "files.json"  # sha256 of the archive and of each file, written after a complete unpack
EXPECTED = ("train.csv", "test.csv", "sample_submission.csv")


@dataclass(frozen=True)
class CompetitionFiles:
    directory: Path

    @property
    def train(self) -> Path:
        return self.directory / "train.csv"

    @property
    def test(self) -> Path:
        return self.directory / "test.csv"

    @property
    def sample(self) -> Path:
        return self.directory / "sample_submission.csv"

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


def fetch(workspace: Workspace, log: Log, force: bool = False, data_dir: Path | None = None) -> CompetitionFiles:
    """Download (or unpack the demo) into the data dir; skip what is unchanged unless `force`."""
    target = Path(data_dir) if data_dir else workspace.data_dir
    files = CompetitionFiles(target)
    if workspace.demo:
        return _install(demo.DEMO_ZIP, files, {"competition": workspace.competition, "demo": True}, force, log)
    return _fetch_from_kaggle(workspace.competition, files, force, log)


def _fetch_from_kaggle(competition: str, files: CompetitionFiles, force: bool, log: Log) -> CompetitionFiles:
    creds = kaggle_api.require_credentials()
    if creds.warning:
        log.warn(creds.warning, event="kaggle.credentials")
    # Kaggle's file listing is cheap; when it matches what we unpacked last time and the files on
    # disk still hash as recorded, there is nothing to download.
    listing = [asdict(f) for f in kaggle_api.list_files(competition, log=log)]
    record = files.record()
    if not force and record.get("remote_files") == listing and _intact(files, record):
        log.info(f"{files.directory}: unchanged on Kaggle, skipping download", event="download.skip",
                 data_dir=files.directory)
        return files
    # A partial archive stays here between runs so the next one resumes it (HTTP Range).
    downloads = _ensure(files.directory.parent / ".downloads")
    log.info(f"downloading {competition} from Kaggle", event="download.start", competition=competition)
    archive = kaggle_api.download_competition_zip(competition, downloads, log=log)
    log.info(f"downloaded {archive.stat().st_size} bytes", event="download.fetched", bytes=archive.stat().st_size)
    try:
        return _install(archive, files, {"competition": competition, "demo": False, "remote_files": listing},
                        force, log)
    finally:
        archive.unlink(missing_ok=True)


def _install(archive: Path, files: CompetitionFiles, extra: dict, force: bool, log: Log) -> CompetitionFiles:
    """Unpack `archive` into a staging folder, check it, then swap it into place whole."""
    target = files.directory
    digest = sha256_file(archive)
    record = files.record()
    if not force and record.get("archive_sha256") == digest and _intact(files, record):
        if extra.get("remote_files") != record.get("remote_files"):
            atomic_write_text(target / RECORD, json.dumps({**record, **extra}, indent=2) + "\n")
        log.info(f"{target}: unchanged (archive sha256 {digest[:12]}), skipping unpack",
                 event="download.skip", data_dir=target)
        return files
    staging = target.with_name(f".{target.name}.new")
    extracted = safe_extract(archive, staging)  # refuses hostile members; replaces any stale staging dir
    try:
        CompetitionFiles(staging).check()
        new_record = {**extra, "archive_sha256": digest,
                      "files": {p.relative_to(staging).as_posix(): sha256_file(p) for p in sorted(extracted)}}
        atomic_write_text(staging / RECORD, json.dumps(new_record, indent=2) + "\n")
        swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info(f"unpacked {len(extracted)} files into {target}", event="download.done", data_dir=target,
             archive_sha256=digest)
    return files


def _intact(files: CompetitionFiles, record: dict) -> bool:
    """Every expected file is there and every recorded file still has its recorded sha256."""
    recorded = record.get("files") or {}
    if not all((files.directory / name).is_file() for name in EXPECTED) or not recorded:
        return False
    for name, digest in recorded.items():
        path = files.directory / name
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
