"""Kaggle access through the official `kaggle` client (never raw HTTP to Kaggle).

The client prints a banner and may call exit(1) when imported without credentials, so it is
imported lazily, only after credentials were found, with its output captured.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import ExitCode, JobError

HOW_TO = ("set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY, "
          "or put kaggle.json in $KAGGLE_CONFIG_DIR or ~/.kaggle")


@dataclass(frozen=True)
class Credentials:
    source: str  # where they came from, safe to print; never the key itself


def config_dir() -> Path:
    return Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle")


def find_credentials() -> Credentials | None:
    if os.environ.get("KAGGLE_API_TOKEN"):
        return Credentials("KAGGLE_API_TOKEN")
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return Credentials("KAGGLE_USERNAME/KAGGLE_KEY")
    path = config_dir() / "kaggle.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and data.get("username") and data.get("key"):
            return Credentials(str(path))
    if (config_dir() / "access_token").is_file():
        return Credentials(str(config_dir() / "access_token"))
    return None


def require_credentials() -> Credentials:
    creds = find_credentials()
    if creds is None:
        raise JobError(f"no Kaggle credentials: {HOW_TO}", ExitCode.AUTH)
    return creds


def client():
    """An authenticated KaggleApi, with the import-time banner kept out of our output."""
    require_credentials()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            from kaggle.api.kaggle_api_extended import KaggleApi

            api = KaggleApi()
            api.authenticate()
        except SystemExit:
            raise JobError(f"Kaggle credentials were not accepted: {HOW_TO}", ExitCode.AUTH) from None
    return api


def download_competition_zip(competition: str, dest_dir: Path) -> Path:
    api = client()
    dest_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):
        api.competition_download_files(competition, path=str(dest_dir), force=True, quiet=True)
    return dest_dir / f"{competition}.zip"


def submit_file(competition: str, path: Path, message: str) -> str:
    api = client()
    with contextlib.redirect_stdout(io.StringIO()):
        response = api.competition_submit(str(path), message, competition, quiet=True)
    if getattr(response, "ref", None) in (None, 0, ""):
        raise JobError(f"submission of {path} failed: {getattr(response, 'message', 'no reason given')}",
                       ExitCode.SUBMISSION_FAILED)
    return str(response.ref)
