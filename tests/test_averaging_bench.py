"""bench.averaging: the averages ride along on the run's callbacks without changing it, and the tail
average of one epoch is the run's own last epoch."""

from __future__ import annotations

import json

import torch

from bench import accuracy, averaging
from bench.holdout import write_rows


def test_averages_ride_along_without_changing_the_run(demo_dir, tmp_path, capsys):
    train_csv = tmp_path / "train.csv"
    write_rows(demo_dir / "train.csv", train_csv, range(1500))
    common = ["--preset", "demo", "--set", "epochs=3", "--train-csv", str(train_csv), "--holdout", "500",
              "--probs-dir", str(tmp_path / "probs")]
    assert accuracy.main([*common, "--output", str(tmp_path / "plain.jsonl")]) == 0
    assert averaging.main([*common, "--output", str(tmp_path / "avg.jsonl"), "--decays", "0.9", "0.99",
                                 "--last", "1", "2", "5"]) == 0
    capsys.readouterr()
    plain = json.loads((tmp_path / "plain.jsonl").read_text())
    averaged = json.loads((tmp_path / "avg.jsonl").read_text())
    assert averaged["errors"]["raw"] == plain["errors"]  # the hooks drew nothing and changed no step
    assert set(averaged["errors"]) == {"raw", "ema0.9", "ema0.99", "swa1", "swa1-bn", "swa2", "swa2-bn"}  # 5 > 3 epochs
    assert averaged["errors"]["swa1"] == averaged["errors"]["raw"]  # the average of the last epoch alone is it
    assert averaged["epochs_run"] == 3 and averaged["variants"]["raw"]["plain"]["rows"] == 500


def test_a_tail_average_means_floats_and_keeps_the_last_counts():
    averages = averaging.Averages([], last=3)
    for value in (1.0, 2.0, 6.0):
        averages.epochs.append({"w": torch.full((2,), value), "n": torch.tensor(int(value))})
    assert averages.swa_state(2)["w"].tolist() == [4.0, 4.0]
    assert averages.swa_state(3)["w"].tolist() == [3.0, 3.0]
    assert averages.swa_state(2)["n"].item() == 6  # an integer buffer (BatchNorm's batch count): the last's
