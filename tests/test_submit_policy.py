"""Submit only when asked, and only when the model beats the last submission on validation.

The real kaggle client talks to the loopback emulator (tests/kaggle_emulator.py), whose fault flags
do the failing: under test are the decision, the manifests that record it, and that a failed upload
loses nothing.
"""

import json
from datetime import datetime, timezone

import pytest

from core.base.errors import ExitCode
from core.kaggle import allowance
from core.model.checkpoint import save_checkpoint
from core.model.spec import ModelSpec
from core.run.manifest import read_manifest, submitted_manifests
from core.run.submit_policy import decide
from jobs.cli import app
from tests.kaggle_emulator import KEY


def test_decide_covers_every_branch():
    assert not decide(requested=False, force=False, demo=False, val_accuracy=0.9, last_submitted=None).submit
    demo = decide(requested=True, force=True, demo=True, val_accuracy=0.9, last_submitted=None)
    assert not demo.submit and "demo" in demo.reason
    assert decide(requested=True, force=False, demo=False, val_accuracy=0.9, last_submitted=None).submit
    last = {"val_accuracy": 0.95, "submitted_at": "2026-01-01T00:00:00Z"}
    worse = decide(requested=True, force=False, demo=False, val_accuracy=0.95, last_submitted=last)
    assert not worse.submit and "does not beat 0.9500" in worse.reason and "--force-submit" in worse.reason
    assert decide(requested=True, force=False, demo=False, val_accuracy=0.951, last_submitted=last).submit
    assert decide(requested=True, force=True, demo=False, val_accuracy=0.5, last_submitted=last).submit
    assert not decide(requested=True, force=False, demo=False, val_accuracy=None, last_submitted=last).submit
    for odd in ("0.99", float("nan"), True, 1.01, -0.01, None):  # a hand-edited or broken manifest
        unknown = decide(requested=True, force=False, demo=False, val_accuracy=0.5,
                         last_submitted={"val_accuracy": odd})
        assert unknown.submit and "recorded no validation accuracy" in unknown.reason, odd
    edge = decide(requested=True, force=False, demo=False, val_accuracy=1.0, last_submitted={"val_accuracy": 1})
    assert not edge.submit and "does not beat 1.0000" in edge.reason


@pytest.fixture
def kaggle(emu, creds):
    """The emulator serving the demo as digit-recognizer: the real client downloads, lists and uploads."""
    return emu


def checkpoint_with(tmp_path, name, val_accuracy):
    spec = ModelSpec(arch="baseline", input_shape=(1, 28, 28), classes=list(range(10)), mean=0.13, std=0.31)
    return save_checkpoint(tmp_path / name, spec.build(), spec, {"val_accuracy": val_accuracy})


def folders(home):
    return sorted(p for p in (home / "submissions" / "digit-recognizer").iterdir())


def test_submits_only_a_better_model_unless_forced(runner, isolated, tmp_path, kaggle):
    first, same, better = (checkpoint_with(tmp_path, n, v) for n, v in (("a.pt", 0.90), ("b.pt", 0.90), ("c.pt", 0.93)))

    result = runner.invoke(app, ["run", "--checkpoint", str(first), "--submit", "-m", "first"])
    assert result.exit_code == 0, result.output
    assert len(kaggle.submissions) == 1 and kaggle.submissions[0].description.endswith("] first")
    manifest = read_manifest(folders(isolated)[0])
    assert manifest["submitted"] is True and manifest["submission_ref"] == str(kaggle.submissions[0].ref)
    assert manifest["demo"] is False and manifest["val_accuracy"] == 0.90

    result = runner.invoke(app, ["run", "--checkpoint", str(same), "--submit"])
    assert result.exit_code == 0, result.output
    assert len(kaggle.submissions) == 1
    assert "does not beat 0.9000" in result.output
    assert read_manifest(folders(isolated)[1])["submitted"] is False

    result = runner.invoke(app, ["run", "--checkpoint", str(better), "--submit"])
    assert result.exit_code == 0, result.output
    assert len(kaggle.submissions) == 2 and "beats 0.9000" in result.output
    # the uploaded bytes are the published file's
    assert kaggle.submissions[1].content == (folders(isolated)[2] / "submission.csv").read_bytes()

    result = runner.invoke(app, ["run", "--checkpoint", str(first), "--force-submit"])
    assert result.exit_code == 0, result.output
    assert len(kaggle.submissions) == 3
    assert [m["submission_ref"] for m in submitted_manifests(isolated / "submissions" / "digit-recognizer")] == \
        [str(s.ref) for s in kaggle.submissions]
    assert len(folders(isolated)) == 4


def test_a_model_trained_on_every_row_is_uploaded_first_then_only_when_forced(runner, isolated, tmp_path, kaggle):
    """The default preset keeps no validation split: nothing to compare, so only the first upload is automatic."""
    first, later = checkpoint_with(tmp_path, "a.pt", None), checkpoint_with(tmp_path, "b.pt", None)

    result = runner.invoke(app, ["run", "--checkpoint", str(first), "--submit"])
    assert result.exit_code == 0, result.output
    assert len(kaggle.submissions) == 1 and "no earlier submission recorded" in result.output
    message = kaggle.submissions[0].description
    assert "kaggle-job baseline ckpt=" in message and "val_acc" not in message
    assert read_manifest(folders(isolated)[0])["val_accuracy"] is None

    result = runner.invoke(app, ["run", "--checkpoint", str(later), "--submit"])
    assert result.exit_code == 0, result.output
    assert len(kaggle.submissions) == 1 and "it trained on every row" in result.output

    result = runner.invoke(app, ["run", "--checkpoint", str(later), "--force-submit"])
    assert result.exit_code == 0, result.output
    assert len(kaggle.submissions) == 2


def test_failed_upload_keeps_the_folder_and_records_why(runner, isolated, tmp_path, kaggle):
    kaggle.fail("PUT", 500, times=100)  # the file never reaches Kaggle's storage, however often it is tried
    result = runner.invoke(app, ["run", "--checkpoint", str(checkpoint_with(tmp_path, "a.pt", 0.9)), "--submit"])
    assert result.exit_code == ExitCode.SUBMISSION_FAILED == 8, result.output
    assert "upload failed" in result.output and "Traceback" not in result.output
    assert kaggle.calls("PUT") and kaggle.submissions == []
    (folder,) = folders(isolated)
    manifest = read_manifest(folder)
    assert manifest["submitted"] is False and manifest["upload"]["state"] == "failed"
    assert manifest["upload"]["error"]["exit_code"] == 8 and "submission_error" not in manifest  # recorded once
    assert (folder / "submission.csv").is_file()
    assert submitted_manifests(isolated / "submissions" / "digit-recognizer") == []


def test_daily_limit_refusal_keeps_the_folder_and_records_why(runner, isolated, tmp_path, kaggle, monkeypatch):
    now = datetime.now(timezone.utc)
    monkeypatch.setattr(allowance, "utc_now", lambda: now)  # the same day, even if the test spans midnight
    for _ in range(2):
        kaggle.add_past_submission("digit-recognizer", now.replace(tzinfo=None))
    result = runner.invoke(app, ["run", "--checkpoint", str(checkpoint_with(tmp_path, "a.pt", 0.9)), "--submit",
                                 "--max-per-day", "2"])
    assert result.exit_code == ExitCode.LIMIT == 9, result.output
    assert "daily submission limit reached for digit-recognizer: 2 of 2" in result.output
    assert not kaggle.calls("StartSubmissionUpload")
    manifest = read_manifest(folders(isolated)[0])
    assert manifest["submitted"] is False and manifest["submission_error"]["exit_code"] == 9


def test_credentials_never_reach_the_logs(runner, isolated, tmp_path, kaggle):
    log_file = tmp_path / "run.jsonl"
    result = runner.invoke(app, ["run", "--checkpoint", str(checkpoint_with(tmp_path, "a.pt", 0.9)), "--submit",
                                 "--log-format", "json", "--log-file", str(log_file)])
    assert result.exit_code == 0, result.output
    assert len(kaggle.submissions) == 1
    lines = log_file.read_text().splitlines()
    wanted = {"run.lock", "predict.progress", "run.published", "run.submit"}
    assert {json.loads(line)["event"] for line in lines} >= wanted
    for text in (result.output, log_file.read_text(), *(p.read_text() for p in folders(isolated)[0].iterdir())):
        assert KEY not in text


def test_demo_never_submits(runner, isolated, tmp_path):
    checkpoint = checkpoint_with(tmp_path, "a.pt", 0.9)
    result = runner.invoke(app, ["run", "--demo", "--checkpoint", str(checkpoint), "--submit"])
    assert result.exit_code == 0, result.output
    assert "not submitted: the demo is not a real competition" in result.output
    assert read_manifest(folders(isolated)[0])["submitted"] is False


def test_submit_without_credentials_fails_instead_of_running_the_demo(runner, isolated, tmp_path):
    result = runner.invoke(app, ["run", "--checkpoint", str(checkpoint_with(tmp_path, "a.pt", 0.9)), "--submit"])
    assert result.exit_code == ExitCode.AUTH == 3
    assert "--submit needs Kaggle credentials" in result.output
    assert not (isolated / "submissions" / "digit-recognizer").exists()


def test_checkpoint_and_retrain_together_is_bad_input(runner, isolated, tmp_path):
    result = runner.invoke(app, ["run", "--demo", "--checkpoint", str(tmp_path / "x.pt"), "--retrain"])
    assert result.exit_code == 2
    assert "--checkpoint or --retrain, not both" in result.output
