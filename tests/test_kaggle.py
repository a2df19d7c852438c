"""Kaggle access end to end: the CLI drives the REAL `kaggle` client against a loopback emulator.

The emulator (tests/kaggle_emulator.py) answers what kagglesdk sends over HTTP, serves the demo
competition as `digit-recognizer` and scores submissions against the demo's true labels.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from core.data.demo import demo_test_labels
from jobs.cli import app
from tests.cli_output import one_error, records
from tests.kaggle_emulator import KEY, TOKEN, USERNAME

COMP = "digit-recognizer"
API = "competitions.CompetitionApiService/"


def download(runner, *extra):
    return runner.invoke(app, ["download", "--data-dir", "data/dr", *extra])


# -- the happy path, as a new user runs it ----------------------------------------------------

def test_download_then_submit_checkpoint_lands_a_scored_submission(runner, emu, creds, isolated, tiny_checkpoint):
    got = download(runner)
    assert got.exit_code == 0, got.output
    data = isolated / "data" / "dr"
    assert sorted(p.name for p in data.iterdir()) == ["files.json", "sample_submission.csv", "test.csv", "train.csv"]
    record = json.loads((data / "files.json").read_text())
    assert record["demo"] is False and len(record["files"]) == 3 and len(record["remote_files"]) == 3

    sent = runner.invoke(app, ["submit", "--checkpoint", str(tiny_checkpoint), "--data-dir", str(data),
                               "--message", "first try", "--wait"])
    assert sent.exit_code == 0, sent.output
    results = {r["event"]: r for r in records(sent) if r["level"] == "result"}
    ref = results["submit.result"]["ref"]
    assert ref == str(emu.submissions[-1].ref)
    # The score Kaggle (the emulator) reports is the accuracy of the file we wrote against the true labels.
    with open(results["submit.result"]["file"], newline="") as handle:
        labels = [int(row["Label"]) for row in csv.DictReader(handle)]
    accuracy = sum(a == b for a, b in zip(labels, demo_test_labels())) / len(labels)
    assert results["submit.scored"]["public_score"] == f"{accuracy:.5f}"
    assert accuracy > 0.8
    assert re.fullmatch(r"\[kj-[0-9a-f]{10}\] first try", emu.submissions[-1].description)  # tagged: see ledger
    assert emu.uploads and any(body == open(results["submit.result"]["file"], "rb").read()
                               for body in emu.uploads.values())

    listed = runner.invoke(app, ["submissions"])
    assert listed.exit_code == 0, listed.output
    rows = [r for r in records(listed) if "status" in r]
    assert rows[0]["ref"] == ref and rows[0]["status"] == "COMPLETE" and rows[0]["public_score"] == f"{accuracy:.5f}"


def test_unchanged_competition_is_not_downloaded_again(runner, emu, creds, isolated):
    assert download(runner).exit_code == 0
    assert len(emu.calls("DownloadDataFiles")) == 1
    again = download(runner)
    assert again.exit_code == 0, again.output
    assert "unchanged on Kaggle" in again.output
    assert len(emu.calls("DownloadDataFiles")) == 1  # only the listing was asked for
    forced = download(runner, "--force")
    assert forced.exit_code == 0, forced.output
    assert len(emu.calls("DownloadDataFiles")) == 2


def test_a_data_dir_holding_other_files_is_refused_before_the_download(runner, emu, creds, isolated):
    """The data folder is replaced whole: `--data-dir ~/work` deleted the rest of ~/work. Now files no
    download put there are named before any download, and kept; the competition's own names (a folder
    unzipped by hand) are not in the way, nor is a file added while the data stays unchanged."""
    mine = isolated / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    (mine / "test.csv").write_text("pixel0\n1\n")  # unzipped by hand, replaced by the download
    refused = download(runner, "--data-dir", str(mine))
    assert refused.exit_code == 2
    assert one_error(refused) == (f"{mine}: holds notes.txt, which no download put there; unpacking replaces the "
                                  "folder whole, so move them (or unpack elsewhere: --data-dir)")
    assert emu.calls("DownloadDataFiles") == [] and (mine / "notes.txt").read_text() == "keep me\n"
    (mine / "notes.txt").unlink()
    assert download(runner, "--data-dir", str(mine)).exit_code == 0
    assert (mine / "test.csv").stat().st_size > 1_000_000
    assert not (isolated / ".downloads").exists()  # the partial-download folder beside it goes once empty
    (mine / "notes.txt").write_text("keep me\n")
    unchanged = download(runner, "--data-dir", str(mine))
    assert unchanged.exit_code == 0 and "unchanged on Kaggle" in unchanged.output
    forced = download(runner, "--data-dir", str(mine), "--force")
    assert forced.exit_code == 2 and "holds notes.txt, which no download put there" in one_error(forced)
    assert len(emu.calls("DownloadDataFiles")) == 1 and (mine / "notes.txt").read_text() == "keep me\n"
    here = download(runner, "--data-dir", ".", "--force")  # the current folder (empty or not): an internal error
    assert here.exit_code == 2 and one_error(here) == (
        ".: is the current folder or holds it; unpacking replaces the folder whole, so give a folder inside it "
        "(--data-dir data)")


def test_damaged_local_file_is_downloaded_again(runner, emu, creds, isolated):
    assert download(runner).exit_code == 0
    (isolated / "data" / "dr" / "test.csv").write_text("pixel0\n1\n")
    again = download(runner)
    assert again.exit_code == 0, again.output
    assert len(emu.calls("DownloadDataFiles")) == 2
    assert (isolated / "data" / "dr" / "test.csv").stat().st_size > 1_000_000


def test_kaggle_json_credentials_and_permission_warning(runner, emu, isolated):
    config = isolated.parent / "userhome" / ".kaggle"
    config.mkdir(parents=True)
    (config / "kaggle.json").write_text(json.dumps({"username": USERNAME, "key": KEY}))
    os.chmod(config / "kaggle.json", 0o644)
    got = download(runner)
    assert got.exit_code == 0, got.output
    warnings = [r["msg"] for r in records(got) if r["level"] == "warning"]
    assert any("readable by other users" in w and "chmod 600" in w for w in warnings), got.output
    assert KEY not in got.output


def test_api_token_credentials(runner, emu, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    got = download(runner)
    assert got.exit_code == 0, got.output
    assert emu.calls("IntrospectToken")


# -- every fault: one line, its exit code ------------------------------------------------------

def test_no_credentials_is_one_line_exit_3(runner, emu):
    got = download(runner)
    assert got.exit_code == 3
    message = one_error(got)
    assert "KAGGLE_API_TOKEN" in message and "KAGGLE_USERNAME" in message and "kaggle.json" in message
    assert "Authentication required" not in got.output  # the client's banner stays out
    assert emu.requests == []


def test_rejected_key_is_exit_3_and_never_printed(runner, emu, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", USERNAME)
    monkeypatch.setenv("KAGGLE_KEY", "wrong-key-123")
    got = download(runner)
    assert got.exit_code == 3
    assert "401" in one_error(got)
    assert "wrong-key-123" not in got.output


def test_rejected_token_is_exit_3(runner, emu, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_not_valid")
    got = download(runner)
    assert got.exit_code == 3
    one_error(got)
    assert "KGAT_not_valid" not in got.output


def test_rules_not_accepted_is_exit_4_with_rules_url(runner, emu, creds):
    emu.competitions[COMP].rules_accepted = False
    got = download(runner)
    assert got.exit_code == 4
    assert f"https://www.kaggle.com/competitions/{COMP}/rules" in one_error(got)


def test_unknown_competition_is_exit_5(runner, emu, creds):
    got = runner.invoke(app, ["download", "--competition", "no-such-thing", "--data-dir", "data/x"])
    assert got.exit_code == 5
    assert "no-such-thing" in one_error(got)


def test_503s_then_success_is_retried(runner, emu, creds):
    emu.fail("DownloadDataFiles", 503, times=2)
    got = download(runner)
    assert got.exit_code == 0, got.output
    assert len(emu.calls("DownloadDataFiles")) == 3
    retries = [r for r in records(got) if r.get("event") == "kaggle.retry"]
    assert [r["retry"] for r in retries] == [1, 2]
    assert "503" in retries[0]["msg"]


def test_persistent_429_gives_up_with_exit_6(runner, emu, creds, isolated):
    emu.fail("ListDataFiles", 429, times=100, retry_after="0")
    got = download(runner)
    assert got.exit_code == 6
    message = one_error(got)
    assert "429" in message and "gave up after 6 attempts" in message
    assert len(emu.calls("ListDataFiles")) == 6
    assert not (isolated / "data" / "dr").exists()


def test_server_down_is_exit_6(runner, emu, creds):
    emu.stop()
    got = download(runner)
    assert got.exit_code == 6
    assert "network error" in one_error(got)


def test_a_sign_in_page_instead_of_the_api_is_exit_6_in_one_line(runner, emu, creds, isolated):
    """A proxy's (or a hotel network's) sign-in page answers every URL with 200 and HTML: it was an internal
    error (JSONDecodeError, exit 1)."""
    emu.fail("*", 200, times=100)
    got = download(runner)
    assert got.exit_code == 6, got.output
    assert "could not list the files of digit-recognizer: the answer was not Kaggle's JSON" in one_error(got)
    assert len(emu.calls("ListDataFiles")) == 1  # not retried: such a page does not go away in seconds
    assert not (isolated / "data" / "dr").exists()


def test_a_web_page_instead_of_the_zip_is_exit_6_and_the_next_run_gets_the_zip(runner, emu, creds, isolated):
    emu.fail("GET", 200)  # the transfer itself answered by a sign-in page (it was exit 2, "not a zip archive")
    got = download(runner)
    assert got.exit_code == 6, got.output
    assert one_error(got).startswith("could not download digit-recognizer: what arrived is a web page (")
    assert not (isolated / "data" / "dr").exists() and not (isolated / "data" / ".downloads").exists()
    again = download(runner)
    assert again.exit_code == 0, again.output
    assert (isolated / "data" / "dr" / "train.csv").is_file()


def test_truncated_download_resumes_with_range(runner, emu, creds, isolated):
    emu.truncate_downloads = 1
    got = download(runner)
    assert got.exit_code == 0, got.output
    ranges = [r["range"] for r in emu.calls("GET") if r["range"]]
    assert ranges and ranges[0].startswith("bytes=") and ranges[0] != "bytes=0-"
    record = json.loads((isolated / "data" / "dr" / "files.json").read_text())
    with zipfile.ZipFile(io.BytesIO(emu.competitions[COMP].zip_bytes)) as archive:
        assert set(record["files"]) == set(archive.namelist())
    assert not (isolated / "data" / ".downloads").exists()  # archive removed once unpacked, then its folder


def test_always_truncated_download_is_exit_6_and_keeps_old_data(runner, emu, creds, isolated):
    assert download(runner).exit_code == 0
    before = (isolated / "data" / "dr" / "train.csv").read_bytes()
    emu.truncate_downloads = 100
    got = download(runner, "--force")
    assert got.exit_code == 6
    assert "download" in one_error(got)
    assert (isolated / "data" / "dr" / "train.csv").read_bytes() == before


def test_hostile_zip_is_refused_and_nothing_escapes(runner, emu, creds, isolated):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.csv", "label,pixel0\n1,0\n")
        archive.writestr("../../evil.txt", "owned")
    emu.add_competition(COMP, buffer.getvalue(), {})
    got = download(runner)
    assert got.exit_code == 2
    assert "../../evil.txt" in one_error(got)
    assert not list(isolated.parent.rglob("evil.txt"))
    assert not (isolated / "data" / "dr").exists()


def test_archive_without_expected_files_keeps_old_data(runner, emu, creds, isolated):
    assert download(runner).exit_code == 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.csv", "label,pixel0\n1,0\n")
    emu.add_competition(COMP, buffer.getvalue(), {})
    got = download(runner)
    assert got.exit_code == 2
    assert "test.csv" in one_error(got)
    assert (isolated / "data" / "dr" / "test.csv").stat().st_size > 1_000_000


# -- submitting -------------------------------------------------------------------------------

@pytest.fixture
def ready(runner, emu, creds, isolated, demo_dir):
    """Downloaded data plus a valid submission file (every digit guessed as 1)."""
    assert download(runner).exit_code == 0
    path = isolated / "ones.csv"
    path.write_text("ImageId,Label\n" + "".join(f"{i},1\n" for i in range(1, 1001)))
    return path


def submit_file(runner, path, *extra):
    return runner.invoke(app, ["submit", "--file", str(path), "--data-dir", "data/dr", *extra])


def test_submit_file_and_wait_prints_score(runner, emu, ready):
    emu.polls_to_score = 3
    got = submit_file(runner, ready, "--wait")
    assert got.exit_code == 0, got.output
    expected = f"{sum(label == 1 for label in demo_test_labels()) / 1000:.5f}"
    assert f"public score {expected}" in got.output
    assert len([r for r in records(got) if r.get("event") == "submit.poll"]) >= 3


def test_upload_503s_are_retried(runner, emu, ready):
    emu.fail("PUT", 503, times=2)
    got = submit_file(runner, ready)
    assert got.exit_code == 0, got.output
    assert len(emu.calls("StartSubmissionUpload")) == 3
    assert len(emu.submissions) == 1


def test_failed_upload_is_exit_8(runner, emu, ready):
    emu.fail("PUT", 500, times=100)
    got = submit_file(runner, ready)
    assert got.exit_code == 8
    assert "upload failed" in one_error(got)
    assert emu.submissions == []


def test_create_submission_5xx_is_not_retried(runner, emu, ready):
    emu.fail("CreateSubmission", 503, times=100)
    got = submit_file(runner, ready)
    assert got.exit_code == 6
    assert "kaggle-job submissions" in one_error(got)
    assert len(emu.calls("CreateSubmission")) == 1  # a blind retry could submit twice


def test_a_page_instead_of_create_submissions_answer_may_have_submitted(runner, emu, ready):
    emu.fail("CreateSubmission", 200, after=True)  # recorded, then answered with a web page
    got = submit_file(runner, ready)
    assert got.exit_code == 6, got.output
    assert "not Kaggle's JSON" in one_error(got) and "kaggle-job submissions" in one_error(got)
    assert len(emu.calls("CreateSubmission")) == 1 and len(emu.submissions) == 1


def test_submission_scored_as_error_is_exit_8(runner, emu, ready):
    emu.score_error = "Evaluation metric raised an unexpected error"
    got = submit_file(runner, ready, "--wait")
    assert got.exit_code == 8
    assert "Evaluation metric raised an unexpected error" in one_error(got)
    assert any(r.get("event") == "submit.result" for r in records(got))  # the ref was printed first


def test_wait_timeout_is_exit_6_and_keeps_ref(runner, emu, ready):
    emu.polls_to_score = 10**6
    got = submit_file(runner, ready, "--wait", "--wait-timeout", "1")
    assert got.exit_code == 6
    ref = emu.submissions[-1].ref  # the upload happened; the message keeps its ref for a later look
    assert one_error(got) == (f"submission {ref} to {COMP} was not scored within 1s (status PENDING); "
                              "check later with `kaggle-job submissions`")
    listed = runner.invoke(app, ["submissions", "--log-format", "json"])
    assert listed.exit_code == 0, listed.output
    assert str(ref) in listed.output


def test_daily_limit_guard_is_exit_9(runner, emu, ready, monkeypatch):
    from core.kaggle import allowance

    now = datetime.now(timezone.utc)
    # The command's day is the test's, even if the test spans midnight (the emulator dates the new upload
    # later than `now`: still that day, as far as the allowance's clock is concerned).
    monkeypatch.setattr(allowance, "utc_now", lambda: now)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    for minutes in range(3):
        emu.add_past_submission(COMP, midnight + timedelta(seconds=minutes))  # today, UTC
    emu.add_past_submission(COMP, midnight - timedelta(seconds=1))  # yesterday: not counted
    assert submit_file(runner, ready, "--max-per-day", "4").exit_code == 0
    got = submit_file(runner, ready, "--max-per-day", "4")
    assert got.exit_code == 9
    assert "4 of 4" in one_error(got)
    assert len(emu.calls("CreateSubmission")) == 1


def test_the_allowance_day_starts_at_midnight_utc_of_the_clocks_day(emu, creds):
    from core.base.errors import JobError
    from core.base.log import Log
    from core.kaggle.allowance import check_daily_limit, submissions_today

    midnight = datetime(2026, 3, 2)
    emu.add_past_submission(COMP, midnight - timedelta(microseconds=1000))  # 23:59:59.999 the day before
    emu.add_past_submission(COMP, midnight)  # 00:00:00.000: the new day's first
    emu.add_past_submission(COMP, midnight + timedelta(hours=23, minutes=59))
    at = midnight.replace(tzinfo=timezone.utc)
    assert len(submissions_today(COMP, now=at)) == 2
    assert len(submissions_today(COMP, now=at - timedelta(microseconds=1))) == 3  # the day before: all three
    assert len(submissions_today(COMP, now=at + timedelta(days=1))) == 0
    log = Log(fmt="json")
    assert check_daily_limit(COMP, 3, log, now=at) == 2
    with pytest.raises(JobError, match=f"^daily submission limit reached for {COMP}: 2 of 2 used today"):
        check_daily_limit(COMP, 2, log, now=at)


def test_dry_run_needs_no_credentials_and_uploads_nothing(runner, emu, ready, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    got = submit_file(runner, ready, "--dry-run")
    assert got.exit_code == 0, got.output
    assert "nothing uploaded" in got.output
    assert not emu.calls("StartSubmissionUpload")


def test_invalid_file_is_refused_before_upload(runner, emu, ready):
    ready.write_text("ImageId,Label\n1,1\n")
    got = submit_file(runner, ready)
    assert got.exit_code == 2
    one_error(got)
    assert not emu.calls("StartSubmissionUpload")


@pytest.mark.parametrize("body, problem", [
    (b"\xef\xbb\xbfid,Label\n1,3\n2,4\n", None),  # a byte order mark (Excel's)
    (b"id,Label\r\n1,3\r\n2,4", None),  # CRLF, no line end after the last row
    (b"id,Label\n1,3\n2,4\n\n\n", None),  # blank lines at the end
    (b"id,Label\n1,3\n\n2,4\n", "line 3: a blank line before more rows"),
    (b"id,Label\n1,3\n2,4\n3,5\n", "more than the sample submission's 2 rows (line 4)"),
    (b"id,Label\n1,3\n", "1 rows, sample submission has 2"),
    (b"id,Label\n1,3,9\n2,4\n", "line 2: 3 columns; expected 2"),
    (b"id,Label\n2,3\n1,4\n", "line 2: id '2', sample expects '1'"),
    (b"id, Label\n1,3\n2,4\n", "line 1: header ['id', ' Label'] differs from sample ['id', 'Label']"),
    (b"id,Label\n1,\xff\n2,4\n", "not UTF-8 text (invalid start byte at byte b'\\xff'); expected a CSV submission "
                                  "saved as UTF-8"),
    (b"", "line 1: header [] differs from sample ['id', 'Label']"),
])
def test_a_ready_submission_is_checked_as_a_stream(tmp_path, body, problem):
    from core.base.errors import BadInput
    from core.data.sample import SampleFormat, check_submission

    path = tmp_path / "ready.csv"
    path.write_bytes(body)
    sample = SampleFormat(header=["id", "Label"], ids=["1", "2"])
    if problem is None:
        assert check_submission(path, sample) == 2
    else:
        with pytest.raises(BadInput) as raised:
            check_submission(path, sample)
        assert str(raised.value) == f"{path}: {problem}"


def test_submissions_table_on_a_terminal(runner, emu, ready):
    assert submit_file(runner, ready, "--message", "tabled").exit_code == 0
    got = runner.invoke(app, ["submissions", "--log-format", "rich"])
    assert got.exit_code == 0, got.output
    assert "tabled" in got.output and "ref" in got.output and "status" in got.output


def test_submissions_help_does_not_import_the_client():
    """In a fresh interpreter: this one has imported the client for other tests."""
    probe = ("import sys\nfrom jobs.cli import main\nsys.argv = ['kaggle-job', 'submissions', '--help']\n"
             "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\n"
             "print('CODE', code, 'KAGGLE',\n"
             "      sorted(m for m in sys.modules if m.split('.')[0] in ('kaggle', 'kagglesdk')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert "Usage" in done.stdout, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("CODE 0 KAGGLE []"), done.stdout[-500:]


def test_download_reports_progress_as_json_and_rich(runner, emu, creds):
    got = download(runner)
    assert got.exit_code == 0, got.output
    phases = [r["phase"] for r in records(got) if r.get("event") == "download.progress"]
    assert phases[0] == "start" and phases[-1] == "done"
    rich = runner.invoke(app, ["download", "--data-dir", "data/other", "--log-format", "rich"])
    assert rich.exit_code == 0, rich.output
    assert "download digit-recognizer" in rich.output and "data ready" in rich.output


def _encrypted(name: str, data: bytes) -> bytes:
    """A zip whose one member is flagged encrypted (general-purpose bit 0), as a password-protected
    archive is: zipfile refuses to read it without a password."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    raw = bytearray(buffer.getvalue())
    raw[6] |= 1  # the local header's flags
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 8] |= 1  # the central directory's flags
    return bytes(raw)


@pytest.mark.parametrize("case", ["file-and-folder", "encrypted"])
def test_an_archive_that_cannot_be_unpacked_is_one_line_and_keeps_old_data(runner, emu, creds, isolated, case):
    assert download(runner).exit_code == 0
    before = (isolated / "data" / "dr" / "train.csv").read_bytes()
    if case == "encrypted":
        payload, member = _encrypted("train.csv", b"label,pixel0\n1,0\n"), "train.csv"
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("data", "a file named like the folder below")
            archive.writestr("data/train.csv", "label,pixel0\n1,0\n")
        payload, member = buffer.getvalue(), "data/train.csv"
    emu.add_competition(COMP, payload, {})
    got = download(runner, "--force")
    assert got.exit_code == 2, got.output
    assert f"cannot unpack member '{member}'" in one_error(got)
    assert "internal error" not in got.output
    assert (isolated / "data" / "dr" / "train.csv").read_bytes() == before
    assert not [p for p in (isolated / "data").iterdir() if p.name.startswith(".dr.")]  # no staging left


def test_a_ready_file_needs_only_the_sample_beside_it(runner, emu, ready, monkeypatch, isolated):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    (isolated / "data" / "dr" / "train.csv").unlink()
    (isolated / "data" / "dr" / "test.csv").unlink()
    got = submit_file(runner, ready, "--dry-run")
    assert got.exit_code == 0 and "nothing uploaded" in got.output, got.output
    huge = isolated / "huge.csv"  # a cell past csv's 128 KiB field limit
    huge.write_text("ImageId,Label\n1," + "7" * 200_000 + "\n")
    got = submit_file(runner, huge, "--dry-run")
    assert got.exit_code == 2 and one_error(got) == f"{huge}: line 2: not CSV (field larger than field limit (131072))"
    (isolated / "data" / "dr" / "sample_submission.csv").write_text("ImageId,Label\n" + "x" * 200_000 + ",0\n")
    got = submit_file(runner, ready, "--dry-run")
    assert got.exit_code == 2 and one_error(got).endswith("sample_submission.csv: line 2: not CSV (field larger than "
                                                          "field limit (131072)); expected a sample submission such "
                                                          "as ImageId,Label")


def test_without_the_emulator_the_client_reaches_only_a_dead_local_port(runner, monkeypatch, dead_endpoint):
    """The suite's guard (conftest.no_real_kaggle): a test that forgets the emulator gets a refused
    connection on localhost, never kaggle.com."""
    from kagglesdk import kaggle_env

    monkeypatch.setenv("KAGGLE_USERNAME", USERNAME)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    monkeypatch.setenv("KAGGLE_JOB_RETRY_SCALE", "0.001")
    assert kaggle_env.get_endpoint(kaggle_env.get_env()) == dead_endpoint
    got = runner.invoke(app, ["submissions", "--log-format", "json"])
    assert got.exit_code == 6, got.output
    assert one_error(got).startswith(f"could not list submissions of {COMP}: network error (ConnectionError) "
                                     "(gave up after 6 attempts")
