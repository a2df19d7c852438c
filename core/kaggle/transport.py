"""Connect and read timeouts on every request the Kaggle client makes, set on its sessions.

kagglesdk sends each API call through its client's own requests.Session (`session.send` with no
timeout), the client's upload PUTs through a bare Session of its own, and a download it resumes
uses `requests.request(timeout=...)`. A server that accepts the connection and never answers
would hang all three forever, and a hung scheduled run holds the home lock, so every later run
exits 7 ("skipped") and nobody is told. Here a default timeout is mounted on the client's session
(no global: other sessions in the process are untouched) and the upload runs on such a session.

A timed-out request is a transient failure like a 503: retried by core.base.retry, then exit 6.
The read timeout bounds each wait for bytes, not a whole transfer, so a slow download that keeps
moving never times out. With 6 attempts, 10 s to connect, 30 s per read and at most 31 s of
backoff, a server that never answers ends a command in at most 6 x 40 + 31 = 271 s, under the
5 minutes a scheduled run can afford to lose (tests/test_network_faults.py checks the sum).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from core.base.env import positive_seconds

# Seconds to wait for each read; tests shorten it so a hang drill takes seconds. Never needed in production.
TIMEOUT_ENV = "KAGGLE_JOB_HTTP_TIMEOUT"


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 10.0  # a TCP handshake to a live server takes milliseconds
    read_s: float = 30.0  # Kaggle answers API calls in seconds; downloads send bytes continuously

    @classmethod
    def from_env(cls) -> "Timeouts":
        """$KAGGLE_JOB_HTTP_TIMEOUT (seconds, positive) as the read timeout, else the defaults."""
        read_s = positive_seconds(TIMEOUT_ENV, cls.read_s)
        return cls(connect_s=min(cls.connect_s, read_s), read_s=read_s)

    def pair(self) -> tuple[float, float]:
        """What requests takes as `timeout=`."""
        return (self.connect_s, self.read_s)


@functools.cache
def _adapter_class():
    """TimeoutAdapter, defined on first use: requests is imported only by commands that talk to Kaggle."""
    from requests.adapters import HTTPAdapter

    class TimeoutAdapter(HTTPAdapter):
        """Applies `timeouts` to every request sent without a timeout of its own."""

        def __init__(self, timeouts: Timeouts, **kwargs):
            self.timeouts = timeouts
            super().__init__(**kwargs)

        def send(self, request, stream=False, timeout=None, **kwargs):
            chosen = timeout if timeout is not None else self.timeouts.pair()
            return super().send(request, stream=stream, timeout=chosen, **kwargs)

    return TimeoutAdapter


def with_timeouts(session, timeouts: Timeouts):
    """Mount the timeout adapter on a requests.Session for both schemes; returns the session."""
    adapter = _adapter_class()(timeouts)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@functools.cache
def timed_api_class():
    """A KaggleApi whose every session carries its `timeouts`; made on first use, like the client's import."""
    import requests
    from kaggle.api.kaggle_api_extended import KaggleApi, ResumableUploadResult

    class TimedKaggleApi(KaggleApi):
        timeouts = Timeouts()

        def build_kaggle_client(self):
            kaggle = super().build_kaggle_client()
            http = kaggle.http_client()
            # The session is made lazily on first use; make it now so the adapter is there before any call.
            http._init_session()
            with_timeouts(http._session, self.timeouts)
            return kaggle

        def upload_complete(self, path, url, quiet, resume=False):
            """The client's upload, on a timed session; a timeout or dropped connection is raised
            (and retried by us) instead of being printed and reported as an incomplete upload."""
            with with_timeouts(requests.Session(), self.timeouts) as session, open(path, "rb") as body:
                response = session.put(url, data=body)
            if self._is_upload_successful(response):
                return ResumableUploadResult.COMPLETE
            return ResumableUploadResult.INCOMPLETE if response.status_code == 503 else ResumableUploadResult.FAILED

    return TimedKaggleApi
