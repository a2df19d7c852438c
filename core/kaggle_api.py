"""Kaggle access through the official `kaggle` client (never raw HTTP to Kaggle).

The client prints a banner and may call exit(1) when imported without credentials, prints
instead of raising in places, and retries some calls for minutes on its own. So: it is imported
lazily, only after credentials were found; everything it prints is kept out of our output; its own
retries are switched off where we can, and ours (core/retry.py, bounded) wrap each call; every
failure becomes one line with a distinct exit code (core/errors.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from core.errors import ExitCode, JobError
from core.kaggle_credentials import (HOW_TO, Credentials, config_dir, find_credentials,  # noqa: F401 (re-exported)
                                     require_credentials)
from core.retry import Attempt, GaveUp, RetryPolicy, call_with_retry, delay_scale

T = TypeVar("T")

RULES_URL = "https://www.kaggle.com/competitions/{competition}/rules"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    created: str  # ISO timestamp as Kaggle reports it ("" when unknown)


@dataclass(frozen=True)
class Submission:
    ref: str
    date: datetime | None  # UTC
    description: str
    file_name: str
    status: str  # PENDING | COMPLETE | ERROR
    public_score: str | None
    private_score: str | None
    error: str | None

    def to_dict(self) -> dict:
        return {"ref": self.ref, "date": self.date.isoformat() + "Z" if self.date else None,
                "description": self.description, "file_name": self.file_name, "status": self.status,
                "public_score": self.public_score, "private_score": self.private_score, "error": self.error}


class UploadFailed(Exception):
    """competition_submit reports a failed upload in its response instead of raising."""


# -- the client -------------------------------------------------------------------------------

def client(creds: Credentials | None = None):
    """An authenticated KaggleApi, with the import-time banner kept out of our output."""
    creds = creds or require_credentials()
    with _quiet():
        try:
            from kaggle.api.kaggle_api_extended import KaggleApi
        except SystemExit:  # older clients exit(1) at import when they find no credentials
            raise JobError(f"Kaggle credentials were not accepted: {HOW_TO}", ExitCode.AUTH) from None
        api = KaggleApi()
        # The client fixes its config folder when first imported; follow the environment of this call.
        api.config_dir = str(creds.config_dir or config_dir())
        api.config = os.path.join(api.config_dir, "kaggle.json")
    _call(lambda: _authenticate(api, creds), "sign in to Kaggle", competition=None)
    return api


def _authenticate(api, creds: Credentials) -> None:
    with _quiet():
        try:
            api.authenticate()
        except SystemExit:  # the client prints help and exits when it rejects what it found
            raise JobError(f"Kaggle did not accept the credentials from {creds.source}: {HOW_TO}",
                           ExitCode.AUTH) from None


# -- calls ------------------------------------------------------------------------------------

def list_files(competition: str, *, policy: RetryPolicy | None = None, log=None) -> list[RemoteFile]:
    api = client()

    def attempt() -> list[RemoteFile]:
        with _quiet():
            response = api.competition_list_files(competition, page_size=200)
        return [RemoteFile(f.name, int(f.total_bytes or 0), f.creation_date.isoformat() if f.creation_date else "")
                for f in response.files]

    return _call(attempt, f"list the files of {competition}", competition, policy, log)


def download_competition_zip(competition: str, dest_dir: Path, *, policy: RetryPolicy | None = None,
                             log=None) -> Path:
    """Download the competition's zip into dest_dir, resuming a partial file left by an earlier try.

    Each attempt asks Kaggle for a fresh (signed, expiring) download URL; the client then
    continues the partial file with an HTTP Range request when the server's ETag proves it is
    the same archive. The client's own download retries (up to ~60 s sleeps) are switched off so
    that ours, bounded and configurable, are the only ones.
    """
    from kagglesdk.competitions.types.competition_api_service import ApiDownloadDataFilesRequest

    api = client()
    dest_dir.mkdir(parents=True, exist_ok=True)
    outfile = dest_dir / f"{competition}.zip"

    def attempt() -> Path:
        # stdout only: the client's download path prints there, and our progress lines use stderr.
        with _quiet(stderr=False), api.build_kaggle_client() as kaggle:
            request = ApiDownloadDataFilesRequest()
            request.competition_name = competition
            response = kaggle.competitions.competition_api_client.download_data_files(request)
            try:
                api.download_file(response, str(outfile), kaggle.http_client(), quiet=True, resume=True,
                                  max_retries=0)
            finally:
                response.close()
        return outfile

    with _watch_size(outfile, f"download {competition}", log):
        return _call(attempt, f"download {competition}", competition, policy, log, transient=_download_transient,
                     hint=f"; the partial download in {dest_dir} is resumed by the next run")


@contextlib.contextmanager
def _watch_size(path: Path, description: str, log) -> Iterator[None]:
    """Progress for a download the client writes in its own loop: watch the file grow."""
    if log is None:
        yield
        return
    stop = threading.Event()
    with log.progress(description, total=None, unit="bytes", event="download.progress") as bar:
        def watch() -> None:
            shown = 0
            while not stop.wait(0.5):
                with contextlib.suppress(OSError):
                    size = path.stat().st_size
                    if size != shown:
                        bar.advance(size - shown, mib=round(size / 2**20, 1))
                        shown = size

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()


def submit_file(competition: str, path: Path, message: str, *, policy: RetryPolicy | None = None,
                log=None) -> str:
    """Upload `path` as a submission; returns Kaggle's submission ref."""
    api = client()

    def attempt() -> str:
        with _quiet():
            response = api.competition_submit(str(path), message, competition, quiet=True)
        if not getattr(response, "ref", None):
            raise UploadFailed(getattr(response, "message", "") or "no reason given")
        return str(response.ref)

    return _call(attempt, f"submit {path} to {competition}", competition, policy, log, transient=_submit_transient)


def list_submissions(competition: str, limit: int = 20, *, policy: RetryPolicy | None = None,
                     log=None) -> list[Submission]:
    api = client()

    def attempt() -> list[Submission]:
        with _quiet():
            items = api.competition_submissions(competition, page_size=limit) or []
        return [_submission(item) for item in items if item is not None][:limit]

    return _call(attempt, f"list submissions of {competition}", competition, policy, log)


def submissions_today(competition: str, now: datetime | None = None, **kwargs) -> list[Submission]:
    """Submissions made since 00:00 UTC, when Kaggle's daily allowance resets."""
    now = now or datetime.now(timezone.utc)
    midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    return [s for s in list_submissions(competition, limit=100, **kwargs) if s.date and s.date >= midnight]


def wait_for_score(competition: str, ref: str, timeout_s: float = 1800.0, *, first_poll_s: float = 5.0,
                   max_poll_s: float = 60.0, log=None, sleep: Callable[[float], None] = time.sleep,
                   clock: Callable[[], float] = time.monotonic) -> Submission:
    """Poll the submissions list until `ref` is scored (returned) or fails to score (SUBMISSION_FAILED).

    Polls start every few seconds and slow down to once a minute: scoring Digit Recognizer
    takes seconds, bigger competitions minutes. Gives up after `timeout_s` (NETWORK), leaving
    the submission in Kaggle's queue.
    """
    scale = delay_scale()
    interval, cap = first_poll_s * scale, max_poll_s * scale
    deadline = clock() + timeout_s
    while True:
        found = next((s for s in list_submissions(competition, limit=50, log=log) if s.ref == str(ref)), None)
        status = found.status if found else "PENDING"  # a fresh submission may not be listed yet
        if status == "COMPLETE":
            return found
        if status == "ERROR":
            raise JobError(f"submission {ref} to {competition} failed to score: "
                           f"{found.error or 'Kaggle gave no reason'}", ExitCode.SUBMISSION_FAILED)
        remaining = deadline - clock()
        if remaining <= 0:
            raise JobError(f"submission {ref} to {competition} was not scored within {timeout_s:g}s "
                           f"(status {status}); check later with `kaggle-job submissions`", ExitCode.NETWORK)
        wait = min(interval, remaining)
        if log is not None:
            log.info(f"submission {ref}: {status}, checking again in {wait:.1f}s", event="submit.poll",
                     ref=str(ref), status=status, wait_s=wait)
        sleep(wait)
        interval = min(interval * 1.5, cap)


# -- errors -----------------------------------------------------------------------------------

def _call(fn: Callable[[], T], what: str, competition: str | None, policy: RetryPolicy | None = None,
          log=None, transient: Callable[[BaseException], bool] | None = None, hint: str = "") -> T:
    """Run one client call with bounded retries; turn what escapes into a JobError."""
    policy = policy or RetryPolicy.from_env()
    transient = transient or _is_transient

    def note(attempt: Attempt) -> None:
        if log is not None:
            log.warn(f"{what}: {_describe(attempt.error)}; retry {attempt.retry} in {attempt.wait_s:.1f}s",
                     event="kaggle.retry", retry=attempt.retry, wait_s=attempt.wait_s)

    try:
        return call_with_retry(fn, policy, is_transient=transient, retry_after=_retry_after, on_retry=note)
    except GaveUp as gave_up:
        # An upload the client reports as failed is a failed submission, however often it was tried.
        code = ExitCode.SUBMISSION_FAILED if isinstance(gave_up.last, UploadFailed) else ExitCode.NETWORK
        raise JobError(f"could not {what}: {_describe(gave_up.last)} (gave up after {gave_up.attempts} "
                       f"attempts, {gave_up.waited_s:.1f}s of waiting){hint}", code) from None
    except JobError:
        raise
    except UploadFailed as exc:
        raise JobError(f"could not {what}: {exc}", ExitCode.SUBMISSION_FAILED) from None
    except Exception as exc:
        mapped = _translate(exc, what, competition)
        if mapped is None:
            raise
        raise mapped from None


def _translate(exc: BaseException, what: str, competition: str | None) -> JobError | None:
    mapped = _translate_status(exc, what, competition) or _translate_network(exc, what)
    if mapped is not None and mapped.exit_code == ExitCode.NETWORK and _is_create_submission(exc):
        mapped = JobError(mapped.message + "; Kaggle may or may not have recorded the submission: check "
                          "`kaggle-job submissions` before submitting again", ExitCode.NETWORK)
    return mapped


def _translate_status(exc: BaseException, what: str, competition: str | None) -> JobError | None:
    status = _status(exc)
    if status is None:
        return None
    detail = _server_message(exc)
    if status == 401:
        return JobError(f"could not {what}: Kaggle rejected the credentials (401){detail}; {HOW_TO}", ExitCode.AUTH)
    if status == 403:
        where = RULES_URL.format(competition=competition) if competition else "https://www.kaggle.com"
        return JobError(f"could not {what}: access denied (403){detail}; accept the competition rules at {where}",
                        ExitCode.FORBIDDEN)
    if status == 404:
        subject = f"unknown competition {competition!r}" if competition else "not found"
        return JobError(f"could not {what}: {subject} (404){detail}", ExitCode.NOT_FOUND)
    if status in (408, 429) or status >= 500:
        return JobError(f"could not {what}: Kaggle answered {status}{detail}", ExitCode.NETWORK)
    code = ExitCode.SUBMISSION_FAILED if what.startswith("submit") else ExitCode.FAILURE
    return JobError(f"could not {what}: Kaggle answered {status}{detail}", code)


def _translate_network(exc: BaseException, what: str) -> JobError | None:
    return JobError(f"could not {what}: {_describe(exc)}", ExitCode.NETWORK) if _is_network(exc) else None


def _is_transient(exc: BaseException) -> bool:
    status = _status(exc)
    if status is not None:
        return status in (408, 429) or status >= 500
    return _is_network(exc)


def _download_transient(exc: BaseException) -> bool:
    # The client raises ValueError when fewer bytes arrived than announced.
    return _is_transient(exc) or (isinstance(exc, ValueError) and "does not match expected size" in str(exc))


def _submit_transient(exc: BaseException) -> bool:
    """Retry what cannot have created a submission; a blind retry of CreateSubmission could submit twice."""
    if isinstance(exc, UploadFailed):
        return True
    if _status(exc) == 429:
        return True
    return _is_transient(exc) and not _is_create_submission(exc)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) if response is not None else None


def _is_network(exc: BaseException) -> bool:
    import requests
    import urllib3

    return isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                            requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError,
                            ConnectionError, TimeoutError))


def _is_create_submission(exc: BaseException) -> bool:
    request = getattr(exc, "request", None)
    return bool(request is not None and str(getattr(request, "url", "")).endswith("/CreateSubmission"))


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _server_message(exc: BaseException) -> str:
    """Kaggle's own words when it sent some (a short JSON message), never a page of HTML."""
    response = getattr(exc, "response", None)
    message = ""
    if response is not None and "json" in response.headers.get("Content-Type", ""):
        with contextlib.suppress(Exception):
            message = str(response.json().get("message") or "")
    message = " ".join(message.split())[:200]
    return f": {message}" if message else ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UploadFailed):
        return f"the upload failed ({exc})"
    status = _status(exc)
    if status is not None:
        return f"Kaggle answered {status}{_server_message(exc)}"
    import requests

    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection dropped mid-transfer"
    if _is_network(exc):
        return f"network error ({type(exc).__name__})"
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _submission(item) -> Submission:
    status = getattr(item.status, "name", str(item.status))
    return Submission(ref=str(item.ref), date=item.date, description=item.description or "",
                      file_name=item.file_name or "", status=status, public_score=item.public_score or None,
                      private_score=item.private_score or None, error=item.error_description or None)


@contextlib.contextmanager
def _quiet(stderr: bool = True) -> Iterator[None]:
    """Keep the client's prints (banners, retry chatter, version nags) out of our output."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), (contextlib.redirect_stderr(sink) if stderr else contextlib.nullcontext()):
        yield
