"""The main job end to end on the embedded demo, as a new user runs it."""

import csv
import json
from pathlib import Path

import numpy as np

from core.base.hashing import sha256_file
from core.data.demo import demo_test_labels
from core.model.checkpoint import load_checkpoint
from jobs.cli import app
from tests.cli_output import records


def test_run_without_credentials_runs_the_demo(runner, isolated, monkeypatch):
    # A model.pt that no longer loads (a truncated copy, say) is set aside and retrained, not a daily failure.
    broken = isolated / "checkpoints" / "digit-recognizer-demo" / "model.pt"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"PK\x03\x04 truncated")
    hashed = []  # the placed train.csv is hashed once: to decide whether to train, then the same digest is saved
    for module in ("core.base.hashing", "core.train.pipeline"):
        monkeypatch.setattr(f"{module}.sha256_file", lambda path, real=sha256_file: hashed.append(Path(path)) or real(path))
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    assert hashed.count(isolated / "data" / "digit-recognizer-demo" / "train.csv") == 1, hashed
    assert "running the embedded demo" in result.output
    (retrain,) = [r for r in records(result) if r.get("event") == "run.retrain"]
    assert str(broken) in retrain["msg"] and "training a new model" in retrain["msg"]
    assert (broken.parent / "model.broken.pt").read_bytes() == b"PK\x03\x04 truncated"
    assert load_checkpoint(broken).metrics["val_accuracy"] > 0.9

    folders = list((isolated / "submissions" / "digit-recognizer").iterdir())
    assert len(folders) == 1
    submission = folders[0] / "submission.csv"
    with open(submission, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["ImageId", "Label"]
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 1001))
    predicted = np.array([int(r[1]) for r in rows[1:]])

    manifest = json.loads((folders[0] / "manifest.json").read_text())
    accuracy = float(np.mean(predicted == demo_test_labels()))
    assert manifest["demo_accuracy"] == accuracy
    assert f"demo accuracy: {accuracy:.4f}" in result.output
    assert accuracy > 0.9


def test_second_run_reuses_data_and_checkpoint(runner, isolated, tiny_checkpoint):
    first = runner.invoke(app, ["run", "--demo", "--checkpoint", str(tiny_checkpoint)])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["run", "--demo", "--checkpoint", str(tiny_checkpoint)])
    assert second.exit_code == 0, second.output
    assert "unchanged" in second.output
    assert len(list((isolated / "submissions" / "digit-recognizer").iterdir())) == 2


def test_home_option_and_env(runner, tmp_path, tiny_checkpoint, monkeypatch):
    home = tmp_path / "elsewhere"
    result = runner.invoke(app, ["run", "--demo", "--home", str(home), "--checkpoint", str(tiny_checkpoint)])
    assert result.exit_code == 0, result.output
    assert list((home / "submissions" / "digit-recognizer").glob("*/submission.csv"))

    other = tmp_path / "from-env"
    monkeypatch.setenv("KAGGLE_JOB_HOME", str(other))
    result = runner.invoke(app, ["download", "--demo"])
    assert result.exit_code == 0, result.output
    assert (other / "data" / "digit-recognizer-demo" / "train.csv").is_file()
