"""The installed `kaggle-job` binary, as cron runs it, against the loopback emulator: download, run --submit,
submissions. Nothing in this process is patched; the child's kaggle client reaches the emulator through
its LOCALHOST environment (tests/kaggle_emulator.py, `process_env`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.kaggle_emulator import KEY, USERNAME, demo_emulator

BIN = Path(sys.executable).parent / "kaggle-job"


@pytest.fixture
def served():
    emulator = demo_emulator()
    emulator.polls_to_score = 0  # scored when first listed
    emulator.add_past_submission("digit-recognizer", datetime(2024, 1, 2))
    emulator.start()
    yield emulator
    emulator.stop()


def kaggle_job(served, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE")}
    env.update(served.process_env(), KAGGLE_USERNAME=USERNAME, KAGGLE_KEY=KEY, KAGGLE_JOB_THREADS="2",
               KAGGLE_JOB_RETRY_SCALE="0.001")
    return subprocess.run([str(BIN), *args, "--log-format", "json"], env=env, capture_output=True, text=True,
                          timeout=300)


def events(result: subprocess.CompletedProcess) -> dict[str, dict]:
    lines = (json.loads(line) for line in (result.stdout + result.stderr).splitlines() if line.startswith("{"))
    return {record.get("event"): record for record in lines}


def test_binary_downloads_runs_submits_and_lists(served, tmp_path, tiny_checkpoint):
    home = tmp_path / "home"
    got = kaggle_job(served, home, "download", "--home", str(home))
    assert got.returncode == 0, got.stderr
    assert (home / "data" / "digit-recognizer" / "train.csv").is_file()
    assert [r["path"].rsplit("/", 1)[-1] for r in served.requests] == \
        ["ListDataFiles", "DownloadDataFiles", "digit-recognizer.zip"]

    got = kaggle_job(served, home, "run", "--home", str(home), "--checkpoint", str(tiny_checkpoint), "--submit",
                     "-m", "cron")
    assert got.returncode == 0, got.stderr
    submission = served.submissions[-1]
    assert len(served.submissions) == 2 and submission.description != "earlier"
    assert submission.description.endswith("] cron")
    (folder,) = (home / "submissions" / "digit-recognizer").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["submitted"] is True and manifest["submission_ref"] == str(submission.ref)
    assert submission.content == (folder / "submission.csv").read_bytes()
    assert KEY not in got.stdout + got.stderr

    got = kaggle_job(served, home, "submissions", "--limit", "1")
    assert got.returncode == 0, got.stderr
    (listed,) = [json.loads(line) for line in got.stdout.splitlines()]  # --limit 1: the newest only
    assert listed["ref"] == str(submission.ref) and listed["status"] == "COMPLETE"
    assert float(listed["public_score"]) > 0.5  # a trained model, scored against the demo's true labels
