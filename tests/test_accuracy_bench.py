"""bench.accuracy and bench.holdout: the fixed holdout, the interval, and one real (tiny) run end to end
on the demo's train.csv; the real competition zip is never needed here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.accuracy import MAX_SUBSET_MODELS, main, subsets
from bench.holdout import HOLDOUT_SEED, holdout_half, holdout_split, score, training_subset, wilson, write_rows
from core.train.data import load_training_data


@pytest.fixture(scope="module")
def demo_labels(demo_dir) -> torch.Tensor:
    return load_training_data(demo_dir / "train.csv")[1]


def test_holdout_is_disjoint_complete_stratified_and_fixed(demo_labels):
    train, holdout = holdout_split(demo_labels, 1000)
    assert len(holdout) == 1000 and len(train) == len(demo_labels) - 1000
    assert not set(train) & set(holdout)
    assert np.array_equal(np.sort(np.concatenate([train, holdout])), np.arange(len(demo_labels)))
    counts = np.bincount(demo_labels.numpy(), minlength=10)
    held = np.bincount(demo_labels.numpy()[holdout], minlength=10)
    assert np.abs(held - counts * 1000 / len(demo_labels)).max() <= 1  # each class in proportion, to a row
    again_train, again = holdout_split(demo_labels, 1000)
    assert np.array_equal(again, holdout) and np.array_equal(again_train, train)
    assert not np.array_equal(holdout_split(demo_labels, 1000, HOLDOUT_SEED + 1)[1], holdout)


def test_training_subset_is_stratified_fixed_inside_the_training_rows(demo_labels):
    train, holdout = holdout_split(demo_labels, 1000)
    assert np.array_equal(training_subset(train, demo_labels, None), train)
    assert np.array_equal(training_subset(train, demo_labels, len(train)), train)  # all of them: unchanged
    subset = training_subset(train, demo_labels, 2000)
    assert len(subset) == 2000 and set(subset) <= set(train) and not set(subset) & set(holdout)
    counts = np.bincount(demo_labels.numpy()[train], minlength=10)
    kept = np.bincount(demo_labels.numpy()[subset], minlength=10)
    assert np.abs(kept - counts * 2000 / len(train)).max() <= 1
    assert np.array_equal(training_subset(train, demo_labels, 2000), subset)
    assert len(training_subset(train, demo_labels, len(train) - 1)) == len(train) - 1


def test_holdout_halves_score_every_holdout_row_once_and_train_on_the_other_half(demo_labels):
    train, holdout = holdout_split(demo_labels, 1000)
    unchanged = holdout_half(train, holdout, demo_labels, None)
    assert unchanged[0] is train and unchanged[1] is holdout
    (train1, scored1), (train2, scored2) = (holdout_half(train, holdout, demo_labels, h) for h in (1, 2))
    assert len(scored1) == len(scored2) == 500 and not set(scored1) & set(scored2)
    assert np.array_equal(np.sort(np.concatenate([scored1, scored2])), holdout)
    assert np.array_equal(train1, np.sort(np.concatenate([train, scored2])))  # the other half trains too
    assert not set(train2) & set(scored2) and len(train2) == len(train) + 500
    held = np.bincount(demo_labels.numpy()[scored1], minlength=10)
    assert np.abs(held - np.bincount(demo_labels.numpy()[holdout], minlength=10) / 2).max() <= 1


def test_wilson_interval_brackets_the_rate_and_pins_the_edges():
    low, high = wilson(9965, 10000)
    assert low < 0.9965 < high and high - low < 0.0025
    # Reference values: scipy.stats.binomtest(k, n).proportion_ci(0.95, "wilson").
    assert wilson(9965, 10000) == pytest.approx((0.9951364681, 0.9974822215), abs=1e-8)
    assert wilson(100, 100) == pytest.approx((0.9630065018, 1.0), abs=1e-8)  # a perfect score is still uncertain
    assert wilson(0, 100)[0] == 0.0 and wilson(0, 100)[1] > 0.0
    assert wilson(0, 0) == (0.0, 1.0)


def test_score_counts_errors():
    probs = np.eye(3)[[0, 1, 2, 2]]
    result = score(probs, np.array([0, 1, 2, 0]))
    assert result["errors"] == 1 and result["accuracy"] == 0.75 and result["rows"] == 4


def _probs(predicted: list[int], confidence: list[float]) -> np.ndarray:
    """Three classes: each row's predicted class at its confidence, the rest shared by the other two."""
    probs = np.repeat(((1 - np.array(confidence, np.float32)) / 2)[:, None], 3, axis=1)
    probs[np.arange(len(predicted)), predicted] = confidence
    return probs


def test_subsets_count_each_size_and_whether_the_average_beats_its_best_member():
    labels = np.array([0, 1, 2, 0])
    models = {"a": _probs([0, 1, 2, 1], [.9, .9, .9, .4]),   # one unsure mistake (row 4)
              "b": _probs([0, 1, 1, 0], [.9, .9, .95, .9]),  # one sure mistake (row 3)
              "c": _probs([0, 0, 2, 0], [.9, .4, .9, .9])}   # one unsure mistake (row 2)
    rows = subsets(models, labels)
    assert [r["size"] for r in rows] == [2, 3] and [r["subsets"] for r in rows] == [3, 1]
    # a+b and b+c keep b's sure mistake (1 error each: a tie with their best member); a+c outvotes
    # both unsure mistakes (0 errors: beats it); all three outvote b's too (2 to 1 on row 3).
    assert (rows[0]["min_errors"], rows[0]["max_errors"], rows[0]["mean_errors"]) == (0, 1, round(2 / 3, 2))
    assert rows[0]["beats_best_member"] == round(1 / 3, 3) and rows[0]["ties_best_member"] == round(2 / 3, 3)
    assert rows[1] == {"size": 3, "subsets": 1, "mean_errors": 0.0, "min_errors": 0, "max_errors": 0,
                       "beats_best_member": 1.0, "ties_best_member": 0.0}


def test_subsets_refuse_more_models_than_the_limit():
    labels = np.array([0])
    few = {str(i): _probs([0], [.9]) for i in range(MAX_SUBSET_MODELS)}
    assert len(subsets(few, labels)) == MAX_SUBSET_MODELS - 1
    with pytest.raises(SystemExit, match="at most"):
        subsets({**few, "one more": _probs([0], [.9])}, labels)


def test_write_rows_copies_only_the_chosen_lines(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(b"label,pixel0\r\n1,0\r\n2,5\r\n3,9")
    write_rows(source, tmp_path / "out.csv", [2, 0])
    assert (tmp_path / "out.csv").read_bytes() == b"label,pixel0\r\n1,0\r\n3,9"


def test_one_run_trains_on_the_rest_and_scores_the_holdout(demo_dir, tmp_path, capsys):
    out, probs, train_csv = tmp_path / "runs.jsonl", tmp_path / "probs", tmp_path / "train.csv"
    write_rows(demo_dir / "train.csv", train_csv, range(1500))
    argv = ["--preset", "demo", "--set", "arch=baseline", "--set", "epochs=1", "--train-csv", str(train_csv),
            "--holdout", "500", "--output", str(out), "--probs-dir", str(probs), "--label", "tiny"]
    assert main(argv) == 0
    line = json.loads(out.read_text().splitlines()[-1])
    assert json.loads(capsys.readouterr().out) == line
    assert line["holdout"]["rows"] == line["rows"] == 500
    assert line["train_rows"] + line["val_rows"] == 1000  # the holdout never reached training
    assert line["errors"] == round((1 - line["accuracy"]) * 500) and line["ci95"][0] < line["accuracy"]
    assert line["config"]["time_budget_min"] is None and line["overrides"] == {"arch": "baseline", "epochs": 1}
    assert line["cpu_s"] > 0 and line["epochs_run"] == 1 and "mean" in line["loadavg"]
    assert line["device"] == line["config"]["device"] == "cpu"  # --device: where it trained (gpu_check.sh: cuda)
    assert set(line["variants"]) == {"plain", "tta"}
    saved = np.load(probs / f"{line['run_id']}.npz")
    assert saved["model.pt"].shape == (5, 500, 10)  # five shifted views of the holdout
    combine = ["--combine", line["run_id"], "--probs-dir", str(probs), "--output", str(out), "--train-csv",
               str(train_csv), "--holdout", "500"]
    assert main([*combine, "--misses", str(tmp_path / "misses.png")]) == 0
    combined = json.loads(out.read_text().splitlines()[-1])
    assert combined["accuracy"] == line["accuracy"]  # one run averaged with nothing is itself
    assert combined["misses_png"] == str(tmp_path / "misses.png")
    assert (tmp_path / "misses.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(SystemExit, match="other holdout rows"):  # pictures of the wrong rows are refused
        main([*combine[:-1], "499", "--misses", str(tmp_path / "other.png")])
    assert not (tmp_path / "other.png").exists()
    capsys.readouterr()
    assert main(["--table", "--output", str(out)]) == 0
    rows = capsys.readouterr().out.splitlines()
    setting = f"demo ({line['commit']}) arch=\"baseline\" epochs=1 seed=0"
    assert len(rows) == 4 and rows[2].startswith(f"| tiny | `{setting}` | 1 |")
