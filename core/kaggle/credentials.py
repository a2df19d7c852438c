"""Finding Kaggle credentials before any call, without ever printing or logging a key.

The official client looks in the same places (KAGGLE_API_TOKEN, KAGGLE_USERNAME + KAGGLE_KEY,
kaggle.json), but when it finds nothing it prints a page of help and calls exit(1). Looking first
lets the job say what is missing in one line and decide on its own (e.g. fall back to the demo).

Values are stripped of surrounding whitespace: an env file saved with CRLF line ends gives every
value a trailing '\r', which requests refuses in an `Authorization` header with an error that
quotes the header, secret and all. The warning names the variable, never its value.
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
VARIABLES = ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY")  # what the client reads from the environment


@dataclass(frozen=True)
class Credentials:
    source: str  # where they came from, safe to print; never the key itself
    kind: str = "token"  # "token" (KAGGLE_API_TOKEN / access_token) or "key" (username + key)
    config_dir: Path | None = None  # the folder the client must read kaggle.json from, when used
    warnings: tuple[str, ...] = ()  # e.g. kaggle.json readable by other users; never holds a value

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
    if _env("KAGGLE_API_TOKEN"):
        return Credentials("KAGGLE_API_TOKEN", "token", warnings=_padded("KAGGLE_API_TOKEN"))
    if _env("KAGGLE_USERNAME") and _env("KAGGLE_KEY"):
        return Credentials("KAGGLE_USERNAME/KAGGLE_KEY", "key", warnings=_padded("KAGGLE_USERNAME", "KAGGLE_KEY"))
    folder = config_dir()
    path = folder / "kaggle.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and _text(data.get("username")).strip() and _text(data.get("key")).strip():
            padded = tuple(f"{path}: the {field} has surrounding whitespace; it was removed"
                           for field in ("username", "key") if _text(data[field]) != _text(data[field]).strip())
            return Credentials(str(path), "key", folder, _permission_warning(path) + padded)
    token_file = folder / "access_token"
    if token_file.is_file() and token_file.read_text(encoding="utf-8").strip():
        return Credentials(str(token_file), "token", folder, _permission_warning(token_file))
    return None


def strip_environment() -> None:
    """Hand the client (which reads these variables itself) the values without stray whitespace."""
    for name in VARIABLES:
        value = os.environ.get(name)
        if value is not None and value != value.strip():
            if value.strip():
                os.environ[name] = value.strip()
            else:
                del os.environ[name]


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _padded(*names: str) -> tuple[str, ...]:
    return tuple(f"{name} has surrounding whitespace (an env file with CRLF line ends?); it was removed"
                 for name in names if os.environ.get(name, "") != _env(name))


def require_credentials() -> Credentials:
    creds = find_credentials()
    if creds is None:
        raise JobError(f"no Kaggle credentials: {HOW_TO}", ExitCode.AUTH)
    return creds


def _permission_warning(path: Path) -> tuple[str, ...]:
    if os.name == "nt":
        return ()
    try:
        mode = path.stat().st_mode
    except OSError:
        return ()
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return (f"{path} is readable by other users; run: chmod 600 {path}",)
    return ()


def announce(creds: Credentials, log) -> None:
    """Log what is worth fixing about the credentials (never their values)."""
    for warning in creds.warnings:
        log.warn(warning, event="kaggle.credentials")
