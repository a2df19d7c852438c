"""Finding Kaggle credentials before any call, without ever printing or logging a key.

The official client looks in the same places (KAGGLE_API_TOKEN, KAGGLE_USERNAME + KAGGLE_KEY,
kaggle.json), but when it finds nothing it prints a page of help and calls exit(1). Looking first
lets the job say what is missing in one line and decide on its own (e.g. fall back to the demo).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from core.base.errors import ExitCode, JobError

HOW_TO = ("set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY, "
          "or put kaggle.json in $KAGGLE_CONFIG_DIR or ~/.kaggle")


@dataclass(frozen=True)
class Credentials:
    source: str  # where they came from, safe to print; never the key itself
    kind: str = "token"  # "token" (KAGGLE_API_TOKEN / access_token) or "key" (username + key)
    config_dir: Path | None = None  # the folder the client must read kaggle.json from, when used
    warning: str | None = None  # e.g. kaggle.json readable by other users

    def __repr__(self) -> str:  # dataclass repr is safe already; this keeps it so if fields are added
        return f"Credentials(source={self.source!r}, kind={self.kind!r})"


def config_dir() -> Path:
    """$KAGGLE_CONFIG_DIR, else ~/.kaggle (the client's XDG fallback when ~/.kaggle does not exist)."""
    explicit = os.environ.get("KAGGLE_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    home = Path.home() / ".kaggle"
    if home.exists() or not sys.platform.startswith("linux"):
        return home
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kaggle"
    return xdg if xdg.exists() else home


def find_credentials() -> Credentials | None:
    """The first usable credentials, in the client's order of preference, or None."""
    if os.environ.get("KAGGLE_API_TOKEN"):
        return Credentials("KAGGLE_API_TOKEN", "token")
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return Credentials("KAGGLE_USERNAME/KAGGLE_KEY", "key")
    folder = config_dir()
    path = folder / "kaggle.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and data.get("username") and data.get("key"):
            return Credentials(str(path), "key", folder, _permission_warning(path))
    token_file = folder / "access_token"
    if token_file.is_file() and token_file.read_text(encoding="utf-8").strip():
        return Credentials(str(token_file), "token", folder, _permission_warning(token_file))
    return None


def require_credentials() -> Credentials:
    creds = find_credentials()
    if creds is None:
        raise JobError(f"no Kaggle credentials: {HOW_TO}", ExitCode.AUTH)
    return creds


def _permission_warning(path: Path) -> str | None:
    if os.name == "nt":
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"{path} is readable by other users; run: chmod 600 {path}"
    return None
