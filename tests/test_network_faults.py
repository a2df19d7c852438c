"""A Kaggle server that accepts the connection and never answers: every call and transfer times out,
is retried like any transient failure, and the command ends with exit 6 and one line saying so.

The real client runs against the loopback emulator in hang mode. A command that hangs would hang
the suite, so each runs in a thread with a deadline: a hang fails the test instead.
"""

from __future__ import annotations

import threading
import time

import pytest

from core.base.errors import BadInput
from jobs.cli import app
from tests.cli_output import one_error, records

# KAGGLE_JOB_HTTP_TIMEOUT for these tests (production waits 30 s per read). It applies to every call, the ones
# meant to succeed too, so it leaves a loaded machine's slow answer room: only the faulted call hangs.
READ_TIMEOUT_S = 2.0
ATTEMPTS = 6  # core.base.retry.RetryPolicy's, the first included
# Every attempt of a hung call waiting out its connect and read timeouts, plus a loaded machine's slack.
DEADLINE_S = ATTEMPTS * 2 * READ_TIMEOUT_S + 60


@pytest.fixture
def short_timeouts(monkeypatch):
    monkeypatch.setenv("KAGGLE_JOB_HTTP_TIMEOUT", str(READ_TIMEOUT_S))


def invoke_with_deadline(runner, args, deadline_s=DEADLINE_S):
    """runner.invoke in a thread; a command still running after `deadline_s` fails the test."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("result", runner.invoke(app, args)), daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(deadline_s)
    assert not thread.is_alive(), f"`kaggle-job {' '.join(args)}` still hangs after {deadline_s}s"
    return outcome["result"], time.monotonic() - started


def test_hung_api_call_times_out_is_retried_and_exits_6(runner, emu, creds, short_timeouts, isolated):
    emu.hang("ListDataFiles", times=100)
    got, elapsed = invoke_with_deadline(runner, ["download", "--data-dir", "data/dr"])
    assert got.exit_code == 6, got.output
    message = one_error(got)
    assert "timed out" in message and "gave up after 6 attempts" in message
    assert len(emu.calls("ListDataFiles")) == ATTEMPTS  # retried like a 503
    assert [r["retry"] for r in records(got) if r.get("event") == "kaggle.retry"] == [1, 2, 3, 4, 5]
    assert elapsed >= ATTEMPTS * READ_TIMEOUT_S  # each attempt waited out its whole read timeout
    assert not (isolated / "data" / "dr").exists()


def test_hang_then_answer_recovers(runner, emu, creds, short_timeouts, isolated):
    emu.hang("ListDataFiles", times=2)
    got, _ = invoke_with_deadline(runner, ["download", "--data-dir", "data/dr"])
    assert got.exit_code == 0, got.output
    assert 3 <= len(emu.calls("ListDataFiles")) <= ATTEMPTS  # both hangs retried; a slow answer may add one
    assert (isolated / "data" / "dr" / "train.csv").is_file()


def test_hung_download_transfer_times_out(runner, emu, creds, short_timeouts, isolated):
    emu.hang("GET", times=100)  # the signed blob URL the zip comes from
    got, elapsed = invoke_with_deadline(runner, ["download", "--data-dir", "data/dr"])
    assert got.exit_code == 6, got.output
    assert "timed out" in one_error(got)
    assert len(emu.calls("GET")) == ATTEMPTS and elapsed >= ATTEMPTS * READ_TIMEOUT_S
    assert not (isolated / "data" / "dr").exists()


@pytest.fixture
def ones(runner, emu, creds, short_timeouts, isolated):
    """Downloaded data and a valid submission file to upload."""
    got, _ = invoke_with_deadline(runner, ["download", "--data-dir", "data/dr"])
    assert got.exit_code == 0, got.output
    path = isolated / "ones.csv"
    path.write_text("ImageId,Label\n" + "".join(f"{i},1\n" for i in range(1, 1001)))
    return path


def test_hung_upload_times_out_and_nothing_is_submitted(runner, emu, ones):
    emu.hang("PUT", times=100)
    got, _ = invoke_with_deadline(runner, ["submit", "--file", str(ones), "--data-dir", "data/dr"])
    assert got.exit_code == 6, got.output
    assert "timed out" in one_error(got)
    assert len(emu.calls("PUT")) == ATTEMPTS and emu.submissions == []


def test_hung_create_submission_is_not_retried(runner, emu, ones):
    emu.hang("CreateSubmission", times=100)
    got, _ = invoke_with_deadline(runner, ["submit", "--file", str(ones), "--data-dir", "data/dr"])
    assert got.exit_code == 6, got.output
    message = one_error(got)
    assert "timed out" in message and "may or may not have recorded" in message
    assert len(emu.calls("CreateSubmission")) == 1  # it may have landed: a blind retry could submit twice


def test_production_timeouts_end_a_hung_command_within_5_minutes():
    from core.base.retry import RetryPolicy
    from core.kaggle.transport import Timeouts

    timeouts, policy = Timeouts(), RetryPolicy()
    worst = policy.attempts * (timeouts.connect_s + timeouts.read_s) + sum(policy.worst_case_waits())
    assert timeouts.connect_s > 0 and timeouts.read_s > 0
    assert worst < 300, worst


def test_timeouts_come_from_the_environment(monkeypatch):
    from core.kaggle.transport import Timeouts

    assert Timeouts.from_env() == Timeouts()
    monkeypatch.setenv("KAGGLE_JOB_HTTP_TIMEOUT", "2.5")
    assert Timeouts.from_env().read_s == 2.5 and Timeouts.from_env().connect_s == 2.5
    monkeypatch.setenv("KAGGLE_JOB_HTTP_TIMEOUT", "")
    assert Timeouts.from_env() == Timeouts()
    for bad in ("0", "-1", "abc", "nan", "inf"):
        monkeypatch.setenv("KAGGLE_JOB_HTTP_TIMEOUT", bad)
        with pytest.raises(BadInput, match=f"KAGGLE_JOB_HTTP_TIMEOUT='{bad}': expected a positive number of seconds"):
            Timeouts.from_env()
