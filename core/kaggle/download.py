"""Getting a competition's files into data/<competition>/: from Kaggle, or the embedded demo."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from pathlib import Path

from core.base.errors import ExitCode, JobError
from core.base.log import Log
from core.base.workspace import Workspace
from core.data import demo
from core.data.competition import CompetitionFiles, check_replaceable, install, intact
from core.kaggle import api
from core.kaggle.credentials import announce


def fetch(workspace: Workspace, log: Log, force: bool = False, data_dir: Path | None = None) -> CompetitionFiles:
    """Download (or unpack the demo) into the data dir; skip what is unchanged unless `force`."""
    target = Path(data_dir) if data_dir else workspace.data_dir
    files = CompetitionFiles(target)
    if workspace.demo:
        demo.require_demo_for(workspace.competition)
        return install(demo.DEMO_ZIP, files, {"competition": workspace.competition, "demo": True}, force, log)
    return _fetch_from_kaggle(workspace.competition, files, force, log)


def _fetch_from_kaggle(competition: str, files: CompetitionFiles, force: bool, log: Log) -> CompetitionFiles:
    creds = api.require_credentials()
    announce(creds, log)
    # Kaggle's file listing is cheap; when it matches what we unpacked last time and the files on
    # disk still hash as recorded, there is nothing to download.
    listing = [asdict(f) for f in api.list_files(competition, log=log)]
    record = files.record()
    if not force and record.get("remote_files") == listing and intact(files, record):
        log.info(f"{files.directory}: unchanged on Kaggle, skipping download", event="download.skip",
                 data_dir=files.directory)
        return files
    check_replaceable(files)  # before the download, not after it
    # A partial archive stays here between runs so the next one resumes it (HTTP Range).
    downloads = files.directory.parent / ".downloads"
    log.info(f"downloading {competition} from Kaggle", event="download.start", competition=competition)
    archive = api.download_competition_zip(competition, downloads, log=log)
    log.info(f"downloaded {archive.stat().st_size} bytes", event="download.fetched", bytes=archive.stat().st_size)
    try:
        _refuse_a_page(archive, competition)
        return install(archive, files, {"competition": competition, "demo": False, "remote_files": listing},
                       force, log)
    finally:
        archive.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # gone once empty: it sits beside a --data-dir of the user's
            downloads.rmdir()


def _refuse_a_page(archive: Path, competition: str) -> None:
    """Kaggle sends every competition as a zip: anything else came from something in between (a proxy's
    or a network's sign-in page), a network fault for the next run to retry, not a bad archive."""
    with open(archive, "rb") as handle:
        head = handle.read(512)
    if head.startswith(b"PK"):
        return
    what = "a web page" if head.lstrip().startswith(b"<") else "not a zip archive"
    raise JobError(f"could not download {competition}: what arrived is {what} ({archive.stat().st_size} bytes), "
                   "not Kaggle's zip (a proxy or a network's sign-in page?)", ExitCode.NETWORK)
