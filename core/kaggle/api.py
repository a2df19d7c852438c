"""Kaggle access through the official `kaggle` client (never raw HTTP to Kaggle).

The client prints a banner and may call exit(1) when imported without credentials, prints
instead of raising in places, and retries some calls for minutes on its own. So: it is imported
lazily, only after credentials were found; everything it prints is kept out of our output; its own
retries are switched off where we can, and ours (core/base/retry.py, bounded) wrap each call; every
failure becomes one line with a distinct exit code (core/base/errors.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.base.errors import ExitCode, JobError
from core.base.retry import RetryPolicy, delay_scale
from core.kaggle.credentials import HOW_TO, Credentials, config_dir, require_credentials, strip_environment
from core.kaggle.failures import UploadFailed, call, download_transient, is_header_error, submit_transient
from core.kaggle.transport import Timeouts, timed_api_class

SCORE_WAIT_S = 1800  # how long `submit --wait` waits for Kaggle's score by default


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


# -- the client -------------------------------------------------------------------------------

def client(creds: Credentials | None = None):
    """An authenticated KaggleApi, with the import-time banner kept out of our output."""
    creds = creds or require_credentials()
    strip_environment()  # the client reads the variables itself: a stray '\r' would end up in a header
    with _quiet():
        try:
            api = timed_api_class()()  # every request it makes has a connect and a read timeout
        except SystemExit:  # older clients exit(1) at import when they find no credentials
            raise JobError(f"Kaggle credentials were not accepted: {HOW_TO}", ExitCode.AUTH) from None
        api.timeouts = Timeouts.from_env()
        # The client fixes its config folder when first imported; follow the environment of this call.
        api.config_dir = str(creds.config_dir or config_dir())
        api.config = os.path.join(api.config_dir, "kaggle.json")
    call(lambda: _authenticate(api, creds), "sign in to Kaggle", competition=None)
    return api


def _authenticate(api, creds: Credentials) -> None:
    with _quiet():
        try:
            api.authenticate()
        except SystemExit:  # the client prints help and exits when it rejects what it found
            raise JobError(f"Kaggle did not accept the credentials from {creds.source}: {HOW_TO}",
                           ExitCode.AUTH) from None
        except ValueError as exc:
            if not is_header_error(exc):
                raise
            raise JobError(f"the credentials from {creds.source} hold a character that an HTTP header cannot "
                           "carry (a control character inside the value); copy them again", ExitCode.AUTH) from None
    # kaggle.json is read by the client itself; a key saved with a trailing newline is stripped here.
    for name in (api.CONFIG_NAME_USER, api.CONFIG_NAME_KEY, api.CONFIG_NAME_TOKEN):
        if isinstance(api.config_values.get(name), str):
            api.config_values[name] = api.config_values[name].strip()


# -- calls ------------------------------------------------------------------------------------

def list_files(competition: str, *, policy: RetryPolicy | None = None, log=None) -> list[RemoteFile]:
    api = client()

    def attempt() -> list[RemoteFile]:
        with _quiet():
            response = api.competition_list_files(competition, page_size=200)
        return [RemoteFile(f.name, int(f.total_bytes or 0), f.creation_date.isoformat() if f.creation_date else "")
                for f in response.files]

    return call(attempt, f"list the files of {competition}", competition, policy, log)


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
                                  max_retries=0, timeout=api.timeouts.pair())
            finally:
                response.close()
        return outfile

    with _watch_size(outfile, f"download {competition}", log):
        return call(attempt, f"download {competition}", competition, policy, log, transient=download_transient,
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

    return call(attempt, f"submit {path} to {competition}", competition, policy, log, transient=submit_transient)


def list_submissions(competition: str, limit: int = 20, *, policy: RetryPolicy | None = None,
                     log=None) -> list[Submission]:
    api = client()

    def attempt() -> list[Submission]:
        with _quiet():
            items = api.competition_submissions(competition, page_size=limit) or []
        return [_submission(item) for item in items if item is not None][:limit]

    return call(attempt, f"list submissions of {competition}", competition, policy, log)


def wait_for_score(competition: str, ref: str, timeout_s: float = SCORE_WAIT_S, *, first_poll_s: float = 5.0,
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
