"""A loopback stand-in for Kaggle's competitions API, for driving the REAL `kaggle` client in tests.

It answers the calls kagglesdk makes (POST http://<host>/api/v1/<Service>/<Method> with a JSON
body, see kagglesdk/kaggle_http_client.py) for what kaggle-job uses:

  security.OAuthService/IntrospectToken            (KAGGLE_API_TOKEN sign-in)
  competitions.CompetitionApiService/ListDataFiles
  competitions.CompetitionApiService/DownloadDataFiles  -> 302 to /blobs/<file>.zip (honours Range/If-Range)
  competitions.CompetitionApiService/StartSubmissionUpload -> createUrl for a PUT to /upload/<token>
  competitions.CompetitionApiService/CreateSubmission
  competitions.CompetitionApiService/ListSubmissions, GetSubmission

Submissions are scored for real: the uploaded CSV must have the header of the competition's
sample_submission.csv (found by name in its zip) and is compared with the competition's answers.
Any competition zip can be served: `emu.add_competition(slug, zip_bytes, answers)`.
Faults are queued per method ("*" matches any): `emu.fail("DownloadDataFiles", 503, times=2)` answers
503 instead of doing the work; `emu.fail("CreateSubmission", 503, after=True)` does the work (records
the submission) and then answers 503, as a reply lost on the way back; `emu.hang("ListDataFiles")`
accepts the request and never answers (until the emulator stops); `emu.truncate_downloads = 1`.

Another process (the installed `kaggle-job` binary) reaches a started emulator through
`emu.process_env()`: the client's LOCALHOST environment (http://localhost) with the emulator as its
HTTP proxy, which it can be since it reads only the path of each request.

Run it by hand (the client's LOCALHOST environment is http://localhost, port 80):
    python -m tests.kaggle_emulator --port 80
    KAGGLE_API_ENVIRONMENT=LOCALHOST KAGGLE_USERNAME=alice KAGGLE_KEY=secret-key kaggle-job download
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

API = "/api/v1/"
COMPETITIONS = "competitions.CompetitionApiService/"
USERNAME, KEY, TOKEN = "alice", "secret-key", "KGAT_emulator_token"


@dataclass
class Competition:
    slug: str
    zip_bytes: bytes
    answers: dict[str, str]  # id -> label, what submissions are scored against
    header: tuple[str, str] = ("ImageId", "Label")  # a submission's header: the sample's
    rules_accepted: bool = True
    created: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=timezone.utc))
    file_sizes: dict[str, int] = field(default_factory=dict)  # as listed by ListDataFiles

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.zip_bytes).hexdigest()[:32] + '"'


@dataclass
class Fault:
    method: str  # e.g. "DownloadDataFiles", "PUT", "*"
    status: int  # what to answer; 0 with `hang`
    times: int
    retry_after: str | None = None
    after: bool = False  # do the work first, then answer `status` (the reply is lost, the effect is not)
    hang: bool = False  # accept the request and never answer


@dataclass
class SubmissionRecord:
    ref: int
    competition: str
    description: str
    file_name: str
    content: bytes
    date: datetime
    polls_left: int  # ListSubmissions/GetSubmission calls before it is scored
    status: str = "PENDING"
    public_score: str | None = None
    error: str | None = None


class KaggleEmulator:
    def __init__(self) -> None:
        self.competitions: dict[str, Competition] = {}
        self.submissions: list[SubmissionRecord] = []
        self.faults: list[Fault] = []
        self.truncate_downloads = 0  # the next N zip responses stop halfway
        self.polls_to_score = 1
        self.score_error: str | None = None  # when set, the next scored submission fails with this
        self.requests: list[dict] = []  # method, path, range: what the client really sent
        self.uploads: dict[str, bytes | None] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # releases hung requests
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up ------------------------------------------------------------------------------
    def add_competition(self, slug: str, zip_bytes: bytes, answers: dict[str, str], **kwargs) -> Competition:
        import zipfile

        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist() if not info.is_dir()}
            samples = [name for name in sizes
                       if name.rsplit("/", 1)[-1].lower().replace("_", "") == "samplesubmission.csv"]
            if samples and "header" not in kwargs:  # submissions are held to the sample's header
                text = archive.read(min(samples, key=lambda n: n.count("/"))).decode("utf-8-sig")
                kwargs["header"] = tuple(name.strip() for name in text.splitlines()[0].split(","))
        self.competitions[slug] = Competition(slug, zip_bytes, answers, file_sizes=sizes, **kwargs)
        return self.competitions[slug]

    def fail(self, method: str, status: int, times: int = 1, retry_after: str | None = None,
             after: bool = False) -> None:
        self.faults.append(Fault(method, status, times, retry_after, after=after))

    def hang(self, method: str, times: int = 1) -> None:
        self.faults.append(Fault(method, 0, times, hang=True))

    def add_past_submission(self, competition: str, date: datetime, score: str = "0.5") -> None:
        with self._lock:
            ref = 1000 + len(self.submissions)
            self.submissions.append(SubmissionRecord(ref, competition, "earlier", "old.csv", b"", date, 0,
                                                     "COMPLETE", score))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> "KaggleEmulator":
        emulator = self

        class Handler(_Handler):
            emu = emulator

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def process_env(self) -> dict[str, str]:
        """Environment for a child process whose kaggle client should talk to this emulator."""
        return {"KAGGLE_API_ENVIRONMENT": "LOCALHOST", "HTTP_PROXY": self.url, "http_proxy": self.url,
                "NO_PROXY": "", "no_proxy": ""}

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def calls(self, name: str) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/" + name) or r["method"] == name]

    # -- behaviour ---------------------------------------------------------------------------
    def take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method in (method, "*"):
                    fault.times -= 1
                    return fault
        return None

    def score(self, record: SubmissionRecord) -> None:
        competition = self.competitions[record.competition]
        if self.score_error is not None:
            record.status, record.error, self.score_error = "ERROR", self.score_error, None
            return
        try:
            rows = list(csv.reader(io.StringIO(record.content.decode("utf-8"))))
        except UnicodeDecodeError:
            rows = []
        if not rows or tuple(c.strip() for c in rows[0]) != competition.header:
            record.status, record.error = "ERROR", f"Submission must have the header {','.join(competition.header)}"
            return
        got = {row[0]: row[1] for row in rows[1:] if len(row) == 2}
        if set(got) != set(competition.answers):
            record.status = "ERROR"
            record.error = (f"Submission must have {len(competition.answers)} rows with the ids of "
                            f"sample_submission.csv; found {len(rows) - 1}")
            return
        correct = sum(got[i] == label for i, label in competition.answers.items())
        record.status, record.public_score = "COMPLETE", f"{correct / len(competition.answers):.5f}"


class _Handler(BaseHTTPRequestHandler):
    emu: KaggleEmulator
    protocol_version = "HTTP/1.0"  # one request per connection: a truncated body ends with the socket

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass

    # -- plumbing ----------------------------------------------------------------------------
    def _record(self) -> None:
        with self.emu._lock:
            self.emu.requests.append({"method": self.command, "path": urlsplit(self.path).path,
                                      "range": self.headers.get("Range"), "if_range": self.headers.get("If-Range")})

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, retry_after: str | None = None) -> None:
        if status >= 500 or status == 200:  # real front ends answer 5xx with an HTML page; a proxy's sign-in page, 200
            body = f"<html><body><h1>{status}</h1>{message}</body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        body = json.dumps({"code": status, "message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _fault(self, method: str, work=None) -> bool:
        """Answer a queued fault for `method` instead of (or, with `after`, once `work()` has done) the work."""
        fault = self.emu.take_fault(method)
        if fault is None:
            return False
        if fault.hang:
            self.emu._stopping.wait()
            self.close_connection = True
            return True
        if fault.after and work is not None:
            real, self.wfile = self.wfile, io.BytesIO()  # the real answer is dropped on the floor
            try:
                work()
            finally:
                self.wfile = real
        message = {401: "Unauthenticated", 403: "You must accept this competition's rules before you can continue",
                   404: "Not found", 429: "Too many requests"}.get(fault.status, "The service is unavailable")
        self._error(fault.status, message, fault.retry_after)
        return True

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer "):] == TOKEN
        if header.startswith("Basic "):
            try:
                user, _, key = base64.b64decode(header[len("Basic "):]).decode().partition(":")
            except ValueError:
                return False
            return (user, key) == (USERNAME, KEY)
        return False

    def _competition(self, payload: dict) -> Competition | None:
        slug = payload.get("competitionName") or ""
        competition = self.emu.competitions.get(slug)
        if competition is None:
            self._error(404, f"Competition '{slug}' not found")
            return None
        if not competition.rules_accepted:
            self._error(403, "You must accept this competition's rules before you can continue")
            return None
        return competition

    # -- HTTP verbs --------------------------------------------------------------------------
    def do_POST(self) -> None:
        self._record()
        path = urlsplit(self.path).path
        body = self._body()
        if not path.startswith(API):
            return self._error(404, "no such endpoint")
        name = path[len(API):]
        method = name.rsplit("/", 1)[-1]
        payload = json.loads(body or b"{}")
        if self._fault(method, lambda: self._answer(name, method, payload)):
            return
        self._answer(name, method, payload)

    def _answer(self, name: str, method: str, payload: dict) -> None:
        if name == "security.OAuthService/IntrospectToken":
            active = payload.get("token") == TOKEN
            return self._json(200, {"active": active, "username": USERNAME if active else ""})
        if not self._authorized():
            return self._error(401, "Unauthenticated")
        handler = getattr(self, "api_" + method, None) if name.startswith(COMPETITIONS) else None
        if handler is None:
            return self._error(404, f"no such endpoint {name}")
        handler(payload)

    def do_GET(self) -> None:
        self._record()
        path = urlsplit(self.path).path
        if not path.startswith("/blobs/"):
            return self._error(404, "no such blob")
        if self._fault("GET"):
            return
        slug = path[len("/blobs/"):].removesuffix(".zip")
        competition = self.emu.competitions.get(slug)
        if competition is None:
            return self._error(404, "no such blob")
        self._send_blob(competition)

    def do_PUT(self) -> None:
        self._record()
        path = urlsplit(self.path).path
        body = self._body()
        if self._fault("PUT", lambda: self._store_upload(path, body)):
            return
        self._store_upload(path, body)

    def _store_upload(self, path: str, body: bytes) -> None:
        token = path.rsplit("/", 1)[-1]
        if not path.startswith("/upload/") or token not in self.emu.uploads:
            return self._error(404, "unknown upload")
        self.emu.uploads[token] = body
        self._json(200, {})

    # -- competitions API --------------------------------------------------------------------
    def api_ListDataFiles(self, payload: dict) -> None:
        competition = self._competition(payload)
        if competition is None:
            return
        created = competition.created.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
        files = [{"ref": name, "name": name, "totalBytes": size, "creationDate": created}
                 for name, size in sorted(competition.file_sizes.items())]
        self._json(200, {"files": files})

    def api_DownloadDataFiles(self, payload: dict) -> None:
        competition = self._competition(payload)
        if competition is None:
            return
        host, port = self.server.server_address[:2]
        self.send_response(302)
        self.send_header("Location", f"http://{host}:{port}/blobs/{competition.slug}.zip?signature=emulated")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_blob(self, competition: Competition) -> None:
        data, etag = competition.zip_bytes, competition.etag
        start = 0
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if wanted and wanted.startswith("bytes=") and (if_range is None or if_range == etag):
            first = wanted[len("bytes="):].split("-", 1)[0]
            start = int(first) if first.isdigit() else 0
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(competition.created.timestamp(), usegmt=True))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        with self.emu._lock:
            truncate = self.emu.truncate_downloads > 0
            if truncate:
                self.emu.truncate_downloads -= 1
        if truncate:  # announce everything, send most of it (the client keeps whole 1 MiB chunks), hang up
            self.wfile.write(body[: max(len(body) // 2, len(body) - 65536)])
            self.wfile.flush()
            self.close_connection = True
            return
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client resumed with a Range request instead
            pass

    def api_StartSubmissionUpload(self, payload: dict) -> None:
        competition = self._competition(payload)
        if competition is None:
            return
        token = hashlib.sha256(f"{payload}{len(self.emu.uploads)}".encode()).hexdigest()[:16]
        self.emu.uploads[token] = None
        host, port = self.server.server_address[:2]
        self._json(200, {"token": token, "createUrl": f"http://{host}:{port}/upload/{token}"})

    def api_CreateSubmission(self, payload: dict) -> None:
        competition = self._competition(payload)
        if competition is None:
            return
        content = self.emu.uploads.get(payload.get("blobFileTokens", ""))
        if content is None:
            return self._error(400, "Blob file token is not valid or the upload is incomplete")
        with self.emu._lock:
            ref = 50000 + len(self.emu.submissions)
            record = SubmissionRecord(ref, competition.slug, payload.get("submissionDescription", ""),
                                      "submission.csv", content, datetime.now(timezone.utc).replace(tzinfo=None),
                                      self.emu.polls_to_score)
            self.emu.submissions.append(record)
        self._json(200, {"ref": ref, "message": "Successfully submitted to " + competition.slug})

    def api_ListSubmissions(self, payload: dict) -> None:
        competition = self._competition(payload)
        if competition is None:
            return
        mine = [r for r in self.emu.submissions if r.competition == competition.slug]
        for record in mine:
            self._advance(record)
        mine.sort(key=lambda r: r.date, reverse=True)
        size = int(payload.get("pageSize") or 20)
        self._json(200, {"submissions": [_submission_json(r) for r in mine[:size]]})

    def api_GetSubmission(self, payload: dict) -> None:
        record = next((r for r in self.emu.submissions if r.ref == int(payload.get("ref", 0))), None)
        if record is None:
            return self._error(404, "Submission not found")
        self._advance(record)
        self._json(200, _submission_json(record))

    def _advance(self, record: SubmissionRecord) -> None:
        with self.emu._lock:
            if record.status != "PENDING":
                return
            if record.polls_left > 0:
                record.polls_left -= 1
                return
            self.emu.score(record)


def _submission_json(record: SubmissionRecord) -> dict:
    out = {"ref": record.ref, "date": record.date.isoformat(timespec="milliseconds") + "Z",
           "description": record.description, "fileName": record.file_name, "status": record.status,
           "submittedBy": USERNAME, "totalBytes": len(record.content)}
    if record.public_score is not None:
        out["publicScore"] = record.public_score
    if record.error is not None:
        out["errorDescription"] = record.error
    return out


def demo_emulator() -> KaggleEmulator:
    """An emulator serving the embedded demo as `digit-recognizer`, scored against its true labels."""
    from core.data.demo import DEMO_LABELS, DEMO_ZIP

    with open(DEMO_LABELS, newline="") as handle:
        answers = {row["ImageId"]: row["Label"] for row in csv.DictReader(handle)}
    emu = KaggleEmulator()
    emu.add_competition("digit-recognizer", DEMO_ZIP.read_bytes(), answers)
    return emu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--fail", action="append", default=[], metavar="METHOD:STATUS:TIMES[:after]",
                        help="e.g. DownloadDataFiles:503:2, ListDataFiles:429:100, CreateSubmission:503:1:after "
                             "(record the submission, then answer 503) (repeatable)")
    parser.add_argument("--hang", action="append", default=[], metavar="METHOD:TIMES",
                        help="accept the request and never answer, e.g. ListDataFiles:100 or *:1000 (repeatable)")
    parser.add_argument("--truncate", type=int, default=0, help="cut the next N zip downloads short")
    parser.add_argument("--rules-not-accepted", action="store_true")
    args = parser.parse_args()
    emu = demo_emulator()
    for spec in args.fail:
        method, status, times, *after = spec.split(":")
        emu.fail(method, int(status), int(times), after=after == ["after"])
    for spec in args.hang:
        method, times = spec.split(":")
        emu.hang(method, int(times))
    emu.truncate_downloads = args.truncate
    emu.competitions["digit-recognizer"].rules_accepted = not args.rules_not_accepted
    emu.start(args.host, args.port)
    print(f"Kaggle emulator on {emu.url} (user {USERNAME!r}, key {KEY!r}, token {TOKEN!r}); Ctrl-C stops it",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emu.stop()


if __name__ == "__main__":
    main()
