"""Errors a user can act on, each with the exit code the CLI ends with.

Every command ends with one of these codes, so scripts and schedulers can branch on them.
"""

from __future__ import annotations

from enum import IntEnum


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
    INTERRUPTED = 130  # Ctrl-C / SIGINT


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


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's text (libraries' messages can run to a page), or its type."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__
