"""Pseudo-labelling (`train --pseudo-label`): the unlabelled rows a first round is sure of train a second
round, never the validation split; driven through the CLI on small demo files, one epoch a round."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.accuracy import main as accuracy_main
from bench.holdout import write_rows
from core.base.errors import BadInput
from core.model.checkpoint import beside, load_checkpoint
from core.train.pseudo import confident, load_unlabelled
from jobs.cli import app
from tests.cli_output import one_error, records

TRAIN = ["--preset", "demo", "--arch", "baseline", "--epochs", "1", "--val-fraction", "0.25", "--device", "cpu",
         "--log-format", "json"]


@pytest.fixture
def small(isolated, demo_dir) -> Path:
    """A folder with the first 400 demo train rows and the first 200 test rows."""
    folder = isolated / "small"
    folder.mkdir()
    for name, rows in (("train.csv", 401), ("test.csv", 201)):
        with open(demo_dir / name, encoding="utf-8") as source:
            (folder / name).write_text("".join(line for _, line in zip(range(rows), source)), encoding="utf-8")
    return folder


def train(runner, small, checkpoint, *extra):
    return runner.invoke(app, ["train", "--data-dir", str(small), "--checkpoint", str(checkpoint), *TRAIN, *extra])


# -- which rows are taken ------------------------------------------------------------------------

def test_a_row_at_the_threshold_is_taken_and_one_just_below_is_not():
    below = float(np.nextafter(np.float32(0.75), np.float32(0)))
    probs = torch.tensor([[0.75, 0.25, 0.0], [0.0, below, 1 - below], [0.1, 0.1, 0.8]], dtype=torch.float32)
    images = torch.arange(3, dtype=torch.uint8).reshape(3, 1, 1, 1)
    taken = confident(images, probs, 0.75)
    assert taken.targets.tolist() == [0, 2] and taken.images.flatten().tolist() == [0, 2] and taken.of == 3
    assert taken.fields() == {"rows": 2, "of": 3, "threshold": 0.75, "per_class": [1, 0, 1]}
    none = confident(images[:0], probs[:0], 0.75)
    assert len(none.targets) == 0 and none.of == 0 and "0 of 0 unlabelled rows" in none.describe()
    assert none.fields()["per_class"] == [0, 0, 0]  # every class counted, none taken included


def test_unlabelled_rows_of_another_shape_or_none_are_refused(tmp_path, demo_dir):
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(BadInput, match="wide.csv"):
        load_unlabelled(wide, (1, 28, 28), "chw")
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(f"pixel{i}" for i in range(784)) + "\n", encoding="utf-8")
    with pytest.raises(BadInput, match="empty.csv: line 1: header only"):
        load_unlabelled(empty, (1, 28, 28), "chw")
    with pytest.raises(BadInput, match="missing.csv: no such file"):
        load_unlabelled(tmp_path / "missing.csv", (1, 28, 28), "chw")
    assert load_unlabelled(demo_dir / "test.csv", (1, 28, 28), "chw").shape == (1000, 1, 28, 28)


# -- through the CLI ----------------------------------------------------------------------------

def test_two_rounds_train_on_the_taken_rows_and_validate_on_labelled_rows_only(runner, small, isolated):
    result = train(runner, small, isolated / "m.pt", "--pseudo-label", "--pseudo-threshold", "0")
    assert result.exit_code == 0, result.output
    rounds = [r for r in records(result) if r.get("event") == "train.round"]
    assert [r["round"] for r in rounds] == [1, 2]
    first = load_checkpoint(isolated / "m.round1.pt")  # round 1 kept: the model that gave the labels
    second = load_checkpoint(isolated / "m.pt")
    assert first.metrics["train_rows"] == 300 and first.metrics["val_rows"] == 100
    # Threshold 0 takes every unlabelled row; the validation rows are the same 100 labelled ones.
    assert second.meta["pseudo_label"] == {"rows": 200, "of": 200, "threshold": 0.0,
                                           "per_class": second.meta["pseudo_label"]["per_class"],
                                           "unlabelled": "test.csv", "teacher": "m.round1.pt"}
    per_class = second.meta["pseudo_label"]["per_class"]
    assert len(per_class) == 10 and sum(per_class) == 200
    assert second.metrics["train_rows"] == 300 + 200 and second.metrics["val_rows"] == 100
    assert second.meta["train_config"]["pseudo_label"] is True and second.metrics["pseudo_rows"] == 200
    saved = next(r for r in records(result) if r.get("event") == "train.result")
    assert saved["rows"] == 400
    assert "(400 rows of 1x28x28, 10 classes 0..9, and 200 pseudo-labelled rows)" in saved["msg"]


def test_a_teacher_replaces_round_one_and_a_threshold_of_one_takes_only_sure_rows(runner, small, isolated,
                                                                                  tiny_checkpoint):
    result = train(runner, small, isolated / "m.pt", "--teacher", str(tiny_checkpoint), "--pseudo-threshold", "1")
    assert result.exit_code == 0, result.output
    assert not beside(isolated / "m.pt").round1.exists()
    used = load_checkpoint(isolated / "m.pt").meta["pseudo_label"]
    assert used["teacher"] == tiny_checkpoint.name and used["of"] == 200 and used["threshold"] == 1.0
    # A label-smoothed model is never sure to probability 1: nothing joins.
    assert used["rows"] == 0 and load_checkpoint(isolated / "m.pt").metrics["train_rows"] == 300


def test_pseudo_labelling_without_unlabelled_rows_or_with_a_wrong_teacher_is_one_line(runner, small, isolated,
                                                                                      tmp_path):
    (small / "test.csv").unlink()
    missing = train(runner, small, isolated / "m.pt", "--pseudo-label")
    assert missing.exit_code == 2 and "no test.csv" in one_error(missing)
    assert not (isolated / "m.pt").exists() and not beside(isolated / "m.pt").round1.exists()

    two_classes = tmp_path / "two" / "train.csv"
    two_classes.parent.mkdir()
    lines = (small / "train.csv").read_text().splitlines()
    two_classes.write_text("\n".join([lines[0], *[x for x in lines[1:] if x[0] in "01"]]) + "\n")
    made = runner.invoke(app, ["train", "--data-dir", str(two_classes.parent), "--checkpoint",
                               str(tmp_path / "two.pt"), *TRAIN])
    assert made.exit_code == 0, made.output
    wrong = train(runner, small, isolated / "m.pt", "--teacher", str(tmp_path / "two.pt"), "--unlabelled",
                  str(two_classes))
    assert wrong.exit_code == 2 and "the teacher's classes (0, 1) are not the training data's" in one_error(wrong)

    off = train(runner, small, isolated / "m.pt", "--no-pseudo-label", "--teacher", str(tmp_path / "two.pt"))
    assert off.exit_code == 2 and "--teacher" in one_error(off) and "--pseudo-label" in one_error(off)


def test_unlabelled_rows_of_another_width_are_one_line_naming_the_file(runner, small, isolated):
    other = isolated / "other.csv"
    other.write_text("pixel0,pixel1\n1,2\n", encoding="utf-8")
    result = train(runner, small, isolated / "m.pt", "--pseudo-label", "--unlabelled", str(other))
    assert result.exit_code == 2 and "other.csv" in one_error(result)
    assert not (isolated / "m.pt").exists()


# -- the bench: the holdout's pixels play test.csv ------------------------------------------------

def test_the_bench_pseudo_labels_the_holdout_pixels_and_says_how_right_the_labels_were(demo_dir, tmp_path, capsys):
    out, train_csv = tmp_path / "runs.jsonl", tmp_path / "train.csv"
    write_rows(demo_dir / "train.csv", train_csv, range(900))
    argv = ["--preset", "demo", "--set", "arch=baseline", "--set", "epochs=1", "--set", "pseudo_label=true",
            "--set", "pseudo_threshold=0.5", "--train-csv", str(train_csv), "--holdout", "300", "--output", str(out),
            "--probs-dir", str(tmp_path / "probs"), "--label", "pseudo"]
    assert accuracy_main(argv) == 0
    line = json.loads(out.read_text().splitlines()[-1])
    pseudo = line["pseudo"]
    assert pseudo["teacher"] == "model.round1.pt" and pseudo["teacher_holdout"]["rows"] == 300
    at_half = next(s for s in pseudo["sweep"] if s["threshold"] == 0.5)
    assert pseudo["used"]["rows"] == at_half["taken"] and pseudo["used"]["of"] == 300
    taken = [s["taken"] for s in pseudo["sweep"]]
    assert taken == sorted(taken, reverse=True) and all(s["wrong"] <= s["taken"] for s in pseudo["sweep"])
    assert line["train_rows"] == 600 * 9 // 10 + at_half["taken"] and line["val_rows"] == 60
    capsys.readouterr()


def test_resume_reuses_a_finished_round_one(runner, small, isolated):
    assert train(runner, small, isolated / "m.pt", "--pseudo-label", "--pseudo-threshold", "0.5").exit_code == 0
    first = beside(isolated / "m.pt").round1
    before = first.stat().st_mtime_ns, load_checkpoint(first).meta["created"]
    again = train(runner, small, isolated / "m.pt", "--pseudo-label", "--pseudo-threshold", "0.5", "--resume")
    assert again.exit_code == 0, again.output
    round1 = next(r for r in records(again) if r.get("event") == "train.round" and r["round"] == 1)
    assert round1["reused"] is True and "reusing" in round1["msg"]
    assert (first.stat().st_mtime_ns, load_checkpoint(first).meta["created"]) == before
    # Another recipe (more epochs) is not the run that was interrupted: round 1 trains again.
    other = train(runner, small, isolated / "m.pt", "--pseudo-label", "--resume", "--epochs", "2")
    assert other.exit_code == 0 and first.stat().st_mtime_ns != before[0]
