"""Turning what the Kaggle client raises into retries and one-line errors with distinct exit codes.

429, 408, 5xx and dropped connections are transient: retried with bounded backoff (core.base.retry).
What outlasts the retries, and every other failure, becomes a JobError whose exit code says what
to do (core.base.errors.ExitCode): 3 credentials, 4 rules, 5 not found, 6 network, 8 upload.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import TypeVar

from core.base.errors import ExitCode, JobError, safe_description
from core.base.retry import Attempt, GaveUp, RetryPolicy, call_with_retry
from core.kaggle.credentials import HOW_TO

T = TypeVar("T")

RULES_URL = "https://www.kaggle.com/competitions/{competition}/rules"


class UploadFailed(Exception):
    """competition_submit reports a failed upload in its response instead of raising."""


def call(fn: Callable[[], T], what: str, competition: str | None, policy: RetryPolicy | None = None,
          log=None, transient: Callable[[BaseException], bool] | None = None, hint: str = "") -> T:
    """Run one client call with bounded retries; turn what escapes into a JobError."""
    policy = policy or RetryPolicy.from_env()
    transient = transient or is_transient

    def note(attempt: Attempt) -> None:
        if log is not None:
            log.warn(f"{what}: {describe(attempt.error)}; retry {attempt.retry} in {attempt.wait_s:.1f}s",
                     event="kaggle.retry", retry=attempt.retry, wait_s=attempt.wait_s)

    try:
        return call_with_retry(fn, policy, is_transient=transient, retry_after=_retry_after, on_retry=note)
    except GaveUp as gave_up:
        # An upload the client reports as failed is a failed submission, however often it was tried.
        code = ExitCode.SUBMISSION_FAILED if isinstance(gave_up.last, UploadFailed) else ExitCode.NETWORK
        raise JobError(f"could not {what}: {describe(gave_up.last)} (gave up after {gave_up.attempts} "
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
    if is_header_error(exc):
        return JobError(f"could not {what}: a request header was refused ({safe_description(exc)}); the "
                        f"credentials hold a character that a header cannot carry: {HOW_TO}", ExitCode.AUTH)
    mapped = (_translate_status(exc, what, competition) or _translate_network(exc, what)
              or _translate_not_json(exc, what))
    if mapped is not None and mapped.exit_code == ExitCode.NETWORK and _may_have_submitted(exc, what):
        mapped = JobError(mapped.message + "; Kaggle may or may not have recorded the submission: the next "
                          "`run --submit` or `submit` finds out before uploading again (or see `kaggle-job "
                          "submissions`)", ExitCode.NETWORK)
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
    return JobError(f"could not {what}: {describe(exc)}", ExitCode.NETWORK) if _is_network(exc) else None


def _translate_not_json(exc: BaseException, what: str) -> JobError | None:
    """A 200 answer that is not the API's JSON: a proxy's or a hotel network's sign-in page answers every
    URL so. The network is not usable from here; the next scheduled run tries again."""
    if not isinstance(exc, json.JSONDecodeError):
        return None
    return JobError(f"could not {what}: the answer was not Kaggle's JSON (a web page from a proxy or a network's "
                    "sign-in page?)", ExitCode.NETWORK)


def is_header_error(exc: BaseException) -> bool:
    """A header value refused before sending: requests' InvalidHeader, or http.client's ValueError
    ("Invalid header value b'Bearer <token>\\r'"). Both quote the value, so their text is never shown."""
    import requests

    return isinstance(exc, requests.exceptions.InvalidHeader) or (
        isinstance(exc, ValueError) and "header" in str(exc).lower())


def is_transient(exc: BaseException) -> bool:
    status = _status(exc)
    if status is not None:
        return status in (408, 429) or status >= 500
    return _is_network(exc)


def download_transient(exc: BaseException) -> bool:
    # The client raises ValueError when fewer bytes arrived than announced.
    return is_transient(exc) or (isinstance(exc, ValueError) and "does not match expected size" in str(exc))


def submit_transient(exc: BaseException) -> bool:
    """Retry what cannot have created a submission; a blind retry of CreateSubmission could submit twice."""
    if isinstance(exc, UploadFailed):
        return True
    if _status(exc) == 429:
        return True
    return is_transient(exc) and not _is_create_submission(exc)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) if response is not None else None


def is_timeout(exc: BaseException) -> bool:
    """A connect or read timeout, however requests wrapped it (a read timeout mid-stream arrives as a
    ConnectionError around urllib3's ReadTimeoutError)."""
    import socket

    import requests
    import urllib3

    kinds = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, socket.timeout, TimeoutError)
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            return False  # a refused connection; urllib3 derives it from ConnectTimeoutError for history's sake
        if isinstance(current, kinds):
            return True
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError keeps the cause here
        pending += [current.__cause__, current.__context__, reason if isinstance(reason, BaseException) else None,
                    *(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))]
    return False


def _is_network(exc: BaseException) -> bool:
    import requests
    import urllib3

    return isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                            requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError,
                            ConnectionError, TimeoutError))


def _is_create_submission(exc: BaseException) -> bool:
    request = getattr(exc, "request", None)
    return bool(request is not None and str(getattr(request, "url", "")).endswith("/CreateSubmission"))


def _may_have_submitted(exc: BaseException, what: str) -> bool:
    """CreateSubmission's reply was lost; an answer that is not JSON carries no request, so during an
    upload it may have been that call's."""
    return _is_create_submission(exc) or (isinstance(exc, json.JSONDecodeError) and what.startswith("submit"))


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


def describe(exc: BaseException) -> str:
    if isinstance(exc, UploadFailed):
        return f"the upload failed ({exc})"
    status = _status(exc)
    if status is not None:
        return f"Kaggle answered {status}{_server_message(exc)}"
    import requests

    if is_timeout(exc):
        from core.kaggle.transport import Timeouts

        return f"timed out (no answer within {Timeouts.from_env().read_s:g}s)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection dropped mid-transfer"
    if _is_network(exc):
        return f"network error ({type(exc).__name__})"
    return safe_description(exc)
