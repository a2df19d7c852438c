"""Training callbacks (core.train.callbacks): each step and epoch reaches them with the live model and
the epoch's row, what on_epoch_end returns lands in the history, and a run watched by callbacks
trains the very weights of one that is not."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.base.errors import BadInput
from core.base.log import Log
from core.model.checkpoint import beside, load_checkpoint
from core.train.callbacks import Callbacks
from core.train.config import config_for
from core.train.data import load_training_data
from core.train.history import COLUMNS, read_history
from core.train.loop import evaluate, train_model
from core.train.pipeline import train_to_checkpoint

ROWS = 400  # 300 train after the 25% split: ceil(300 / 64) = 5 steps an epoch


@pytest.fixture(scope="module")
def small(demo_dir):
    images, targets, classes = load_training_data(demo_dir / "train.csv")
    return images[:ROWS], targets[:ROWS], classes


@pytest.fixture(scope="module")
def small_csv(demo_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("callbacks") / "train.csv"
    with open(demo_dir / "train.csv", encoding="utf-8") as source:
        path.write_text("".join(next(source) for _ in range(ROWS + 1)), encoding="utf-8")
    return path


def quick(**overrides):
    base = dict(arch="baseline", epochs=2, batch_size=64, lr=3e-3, val_fraction=0.25, device="cpu", keep_last=True)
    return config_for("demo", **{**base, **overrides})


def _weights(model: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_each_step_and_epoch_reach_the_callbacks_with_the_live_model(small):
    images, targets, classes = small
    held_x, held_y = images[-50:], targets[-50:]  # rows the callbacks score as their own holdout
    started, steps, epochs, models = [], [], [], set()

    def on_start(model, spec):
        started.append(spec)
        models.add(id(model))

    def on_step(step, model):
        steps.append(step)
        models.add(id(model))
        assert model.training

    def on_epoch(epoch, model, metrics):
        models.add(id(model))
        epochs.append((epoch, dict(metrics), _weights(model)))
        metrics["val_acc"] = -1.0  # a copy: the run's own row is not the callback's to edit
        _, accuracy = evaluate(model, held_x, held_y, started[0], torch.device("cpu"))
        return {"holdout_acc": accuracy}

    result = train_model(images, targets, classes, quick(), Log(quiet=True),
                         callbacks=Callbacks(on_train_start=on_start, on_step_end=on_step, on_epoch_end=on_epoch))
    assert started == [result.spec]  # once, with the run's spec (its normalisation)
    assert steps == list(range(1, 11))  # 5 steps an epoch, counted across epochs
    assert len(models) == 1  # one live model, the same at the start, every step and every epoch end
    assert [epoch for epoch, _, _ in epochs] == [1, 2]
    for (epoch, metrics, _), row in zip(epochs, result.history, strict=True):
        assert list(metrics) == list(COLUMNS) and metrics["epoch"] == epoch
        assert row == {**metrics, "holdout_acc": row["holdout_acc"]} and row["val_acc"] >= 0
        assert 0.0 <= row["holdout_acc"] <= 1.0
    last = epochs[-1][2]  # keep_last: the kept weights are those the last epoch's callback saw
    assert all(torch.equal(last[k], v) for k, v in result.model.state_dict().items())


def test_callbacks_change_no_weight_and_their_metrics_land_in_the_history(small_csv, tmp_path):
    plain = train_to_checkpoint(small_csv, tmp_path / "plain.pt", quick(seed=3), Log(quiet=True))
    seen = []
    watched = train_to_checkpoint(
        small_csv, tmp_path / "watched.pt", quick(seed=3), Log(quiet=True),
        callbacks=Callbacks(on_step_end=lambda step, model: seen.append(step),
                            on_epoch_end=lambda epoch, model, metrics: {"ten_times_epoch": 10 * epoch}))
    assert seen == list(range(1, 11))
    assert all(torch.equal(plain.model.state_dict()[k], v) for k, v in watched.model.state_dict().items())
    assert [row["ten_times_epoch"] for row in watched.history] == [10, 20]
    saved = load_checkpoint(tmp_path / "watched.pt").meta["history"]
    assert [row["ten_times_epoch"] for row in saved] == [10, 20]  # in the checkpoint's meta history
    assert list(read_history(beside(tmp_path / "watched.pt").history)[0]) == list(COLUMNS)  # the CSV keeps its own


def test_an_epoch_metric_is_in_the_resume_state(small_csv, tmp_path):
    checkpoint = tmp_path / "stopped.pt"

    def stop_after_the_first_epoch(epoch, model, metrics):
        if epoch == 2:
            raise KeyboardInterrupt  # as a user's Ctrl-C: the first epoch's resume state stays
        return {"seen": 1}

    with pytest.raises(KeyboardInterrupt):
        train_to_checkpoint(small_csv, checkpoint, quick(), Log(quiet=True),
                            callbacks=Callbacks(on_epoch_end=stop_after_the_first_epoch))
    state = torch.load(beside(checkpoint).state, weights_only=True)
    assert [row.get("seen") for row in state["history"]] == [1]


def test_a_callback_may_not_rename_the_rows_own_columns(small):
    images, targets, classes = small
    with pytest.raises(BadInput, match="'val_acc', one of the epoch's own history columns"):
        train_model(images, targets, classes, quick(epochs=1), Log(quiet=True),
                    callbacks=Callbacks(on_epoch_end=lambda epoch, model, metrics: {"val_acc": 1.0}))
    result = train_model(images, targets, classes, quick(epochs=1), Log(quiet=True),
                         callbacks=Callbacks(on_epoch_end=lambda epoch, model, metrics: None))
    assert set(result.history[0]) == set(COLUMNS)  # None adds nothing


def test_each_ensemble_member_calls_the_callbacks(small_csv, tmp_path):
    epochs = []
    result = train_to_checkpoint(small_csv, tmp_path / "ens.pt", quick(epochs=2, members=2), Log(quiet=True),
                                 callbacks=Callbacks(on_epoch_end=lambda epoch, model, metrics: epochs.append(epoch)))
    assert epochs == [1, 2, 1, 2]  # one member after the other, each counting from 1
    assert [row["member"] for row in result.history] == [1, 1, 2, 2]
