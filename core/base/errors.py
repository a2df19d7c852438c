"""Errors a user can act on, each with the exit code the CLI ends with.

Every command ends with one of these codes, so scripts and schedulers can branch on them.
"""

from __future__ import annotations

import difflib
import errno
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # an unexpected internal error (a bug): rerun with KAGGLE_JOB_DEBUG=1
    BAD_INPUT = 2  # bad input file, option or configuration
    AUTH = 3  # Kaggle credentials missing or rejected (401)
    FORBIDDEN = 4  # competition rules not accepted, or no access (403)
    NOT_FOUND = 5  # unknown competition or file (404)
    NETWORK = 6  # network or Kaggle server errors that outlasted the retries (429, 5xx, timeouts)
    LOCKED = 7  # another run holds the lock on this home directory
    SUBMISSION_FAILED = 8  # the upload failed or Kaggle scored the submission as an error
    LIMIT = 9  # the daily submission limit is reached
    PEERS = 10  # under torchrun: another rank died, or did not answer within KAGGLE_JOB_DIST_TIMEOUT
    STORAGE = 11  # an output could not be written: the disk is full, over quota or read-only
    INTERRUPTED = 130  # Ctrl-C / SIGINT, SIGTERM, SIGHUP (core.base.signals)


class JobError(Exception):
    """An error with a one-line message meant for the user, not a traceback."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class BadInput(JobError):
    exit_code = ExitCode.BAD_INPUT


def require_file(path, what: str = "") -> None:
    """BadInput unless `path` is a regular file, saying what it is instead. Pipes and devices are
    refused too: inputs are read more than once (the header is checked before the rows stream)."""
    path = Path(path)
    named = f"{what} {path}" if what else str(path)
    if path.is_file():
        return
    if path.is_dir():
        raise BadInput(f"{named}: is a folder, expected a file")
    if path.exists():
        raise BadInput(f"{named}: not a regular file (a pipe or device cannot be read twice); save it to a file first")
    raise BadInput(f"{named}: no such file")


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's text (libraries' messages can run to a page), or its type."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__


# Words that mark text which may quote a request header or a credential (requests' InvalidHeader
# quotes the whole `Authorization: Bearer <token>` value, for instance).
_SECRET_MARKERS = ("authorization", "bearer", "basic ", "header", "token", "password", "secret", "key=", "api_key")
# Exceptions from HTTP libraries may carry headers or signed URLs in their text.
_HTTP_MODULES = ("requests", "urllib3", "http.client", "kaggle", "kagglesdk")


def safe_description(exc: BaseException) -> str:
    """The exception's type and first line, or only its type when the text could carry a secret."""
    text = first_line(exc)
    module = type(exc).__module__ or ""
    if module.split(".")[0] in _HTTP_MODULES or module.startswith("http.") or \
            any(marker in text.lower() for marker in _SECRET_MARKERS):
        return f"{type(exc).__name__} (details not shown: they may hold credentials)"
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


def internal_error(exc: BaseException) -> str:
    """The one line for an unexpected exception (a bug), in a single process or from any rank."""
    return f"internal error: {safe_description(exc)} (rerun with KAGGLE_JOB_DEBUG=1 for a traceback)"


# Why the machine, not the job, failed a write. EFBIG: a file past the file system's or the
# process's size limit (ulimit -f), which a scheduler's sandbox may set.
_STORAGE_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                   errno.EROFS: "the file system is read-only", errno.EFBIG: "file too large for this file system or limit"}


def storage_error(exc: BaseException) -> JobError | None:
    """A full, over-quota or read-only disk as one line naming the file (exit 11), not as a bug."""
    if not isinstance(exc, OSError) or exc.errno not in _STORAGE_ERRNOS:
        return None
    where = f" writing {exc.filename}" if exc.filename else ""
    return JobError(f"{_STORAGE_ERRNOS[exc.errno]}{where}: free space there (or point the output elsewhere) and "
                    "rerun; files written before are whole, nothing half-written was left", ExitCode.STORAGE)


def did_you_mean(name: str, choices, cutoff: float = 0.6) -> str:
    """` (did you mean 'x'?)` naming the choice nearest `name`, or "" when none is near: the hint every
    refusal of an unknown name (an option, an architecture, a setting) ends with."""
    near = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=cutoff)
    return f" (did you mean {near[0]!r}?)" if near else ""
