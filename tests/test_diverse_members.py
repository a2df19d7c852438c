"""Members that differ by construction: each on its own folds, with its own kernels and augmentation,
bundled into one checkpoint that loads and predicts; and the bench's figures of how their errors overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.accuracy import figures
from bench.overlap import overlap, phi
from core.base.errors import BadInput
from core.base.log import Log
from core.model.checkpoint import beside, load_checkpoint
from core.predict.predictor import Predictor
from core.train.config import config_for
from core.train.data import load_training_data, split_fold
from core.train.pipeline import train_to_checkpoint
from tests.cli_output import records


@pytest.fixture(scope="module")
def rows300(demo_dir, tmp_path_factory) -> Path:
    """The first 300 demo rows: ten classes, quick to train on."""
    path = tmp_path_factory.mktemp("diverse") / "train.csv"
    with open(demo_dir / "train.csv", encoding="utf-8") as source:
        path.write_text("".join(next(source) for _ in range(301)), encoding="utf-8")
    return path


# -- folds ---------------------------------------------------------------------------------------

def test_folds_leave_every_row_out_exactly_once_stratified_and_fixed(rows300):
    targets = load_training_data(rows300)[1]
    splits = [split_fold(targets, 5, k, seed=7) for k in range(5)]
    held_out = np.concatenate([val for _, val in splits])
    assert sorted(held_out.tolist()) == list(range(300))  # each row once: none twice, none missing
    for train, val in splits:
        assert sorted(np.concatenate([train, val]).tolist()) == list(range(300)) and not set(train) & set(val)
        per_class = np.bincount(targets[val].numpy(), minlength=10)
        expected = np.bincount(targets.numpy(), minlength=10) / 5
        assert np.all(np.abs(per_class - expected) < 1)  # stratified: each class within one row of its share
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, [split_fold(targets, 5, k, 7) for k in range(5)]))
    assert not np.array_equal(splits[0][1], split_fold(targets, 5, 0, seed=8)[1])


def test_folds_are_bounded_by_the_rows_and_the_classes():
    assert len(split_fold(torch.zeros(5, dtype=torch.long), 5, 4, seed=0)[1]) == 1  # one row a fold: the most
    with pytest.raises(BadInput, match="folds: 6 folds of 5 rows"):
        split_fold(torch.zeros(5, dtype=torch.long), 6, 0, seed=0)
    assert len(split_fold(torch.tensor([0, 1, 0, 1]), 2, 1, seed=0)[1]) == 2  # two rows a class: two folds
    with pytest.raises(BadInput, match="3 folds, but no class has 3 rows"):
        split_fold(torch.tensor([0, 1, 0, 1]), 3, 0, seed=0)


@pytest.mark.parametrize("folds, fold, ok", [(0, 0, True), (1, 0, False), (2, 0, True), (2, 1, True), (2, 2, False),
                                             (0, 1, False), (3, -1, False)])
def test_fold_settings_are_checked(folds, fold, ok):
    if ok:
        assert config_for("best", folds=folds, fold=fold).folds == folds
    else:
        with pytest.raises(BadInput, match="folds: expected 0 .off. or at least 2|fold: expected"):
            config_for("best", folds=folds, fold=fold)


def test_members_take_the_folds_in_turn_and_presets_keep_their_split():
    config = config_for("best", folds=3)
    assert [config.for_member(i).fold for i in range(8)] == [0, 1, 2, 0, 1, 2, 0, 1]
    assert all(config_for(p).folds == 0 for p in ("demo", "fast", "default", "best"))


def test_members_on_their_own_folds_kernels_and_inputs_bundle_into_one_model(rows300, tmp_path):
    checkpoint = tmp_path / "diverse.pt"
    variants = ({}, {"arch_kwargs": {"stages": [8, 16], "first_kernel": 3}},
                {"elastic_px": 1.5, "arch_kwargs": {"stages": [8, 16], "input_width": 20}})
    config = config_for("best", arch_kwargs={"stages": [8, 16]}, epochs=1, members=3, folds=3, batch_size=64,
                        device="cpu", time_budget_min=None, member_variants=variants)
    result = train_to_checkpoint(rows300, checkpoint, config, Log(fmt="json"))

    members = [load_checkpoint(beside(checkpoint).member(i)) for i in range(3)]
    assert [m.meta["train_config"]["fold"] for m in members] == [0, 1, 2]
    assert [m.metrics["val_rows"] for m in members] == [100, 100, 100]  # every row out-of-bag once
    assert [m.metrics["train_rows"] for m in members] == [200, 200, 200]
    assert [m.state_dict["features.0.weight"].shape[-1] for m in members] == [5, 3, 5]
    assert [m.meta["train_config"]["elastic_px"] for m in members] == [0.0, 0.0, 1.5]
    assert [m.spec.arch_kwargs.get("input_width") for m in members] == [None, None, 20]
    # No row is unseen by every member: the bundle has no validation figure, the members' pooled one instead.
    assert result.metrics["val_accuracy"] is None and result.metrics["val_rows"] == 0
    pooled = sum(m.metrics["val_accuracy"] for m in members) / 3
    assert result.metrics["oob_accuracy"] == pytest.approx(pooled)

    bundle = load_checkpoint(checkpoint)  # weights_only, members of two shapes
    assert [m["arch_kwargs"].get("first_kernel", 5) for m in bundle.spec.arch_kwargs["members"]] == [5, 3, 5]
    pixels = np.loadtxt(rows300, delimiter=",", skiprows=1, dtype=np.uint8, max_rows=20)[:, 1:]
    probs = Predictor.from_checkpoints([bundle], "cpu").predict_proba(pixels)
    assert probs.shape == (20, 10) and np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_the_cli_trains_members_on_their_own_folds_with_their_own_kernels(runner, rows300, tmp_path):
    from jobs.cli import app

    checkpoint = tmp_path / "cli.pt"
    variants = '[{}, {"arch_kwargs": {"stages": [8, 16], "first_kernel": 3}}]'
    result = runner.invoke(app, ["train", "--data-dir", str(rows300.parent), "--checkpoint", str(checkpoint),
                                 "--preset", "demo", "--epochs", "1", "--arch-kwargs", '{"stages": [8, 16]}',
                                 "--members", "2", "--folds", "2", "--member-variants", variants,
                                 "--device", "cpu", "--log-format", "json"])
    assert result.exit_code == 0, result.output
    members = [load_checkpoint(beside(checkpoint).member(i)) for i in range(2)]
    assert [m.meta["train_config"]["fold"] for m in members] == [0, 1]
    assert [m.metrics["val_rows"] for m in members] == [150, 150]
    assert [m.state_dict["features.0.weight"].shape[-1] for m in members] == [5, 3]
    (final,) = [r for r in records(result) if r["event"] == "train.result"]
    assert final["rows"] == 300 and final["train_rows"] == 300  # every row trained one member, not 150
    assert final["msg"].startswith(f"saved {checkpoint} (300 rows of 1x28x28, 10 classes 0..9): out-of-bag "
                                   f"accuracy={final['oob_accuracy']:.4f} (each member on the fold it left out)")


# -- width-normalised input ----------------------------------------------------------------------

def _bar(left: int, right: int, background: float = 0.0) -> torch.Tensor:
    """A 28x28 image: ink 1.0 above `background` in columns left..right of rows 10..17."""
    image = torch.full((1, 1, 28, 28), background)
    image[..., 10:18, left:right + 1] += 1.0
    return image


@pytest.mark.parametrize("background", [0.0, -0.42])  # raw pixels, and normalised ones (background below 0)
def test_width_norm_spans_the_ink_over_its_width_centred_and_keeps_its_height(background):
    from core.model.networks import WidthNorm

    out = WidthNorm(12)(_bar(3, 6, background))[0, 0] - background  # 4 px wide, left of centre
    inked = torch.nonzero((out > 0.6).any(0)).flatten()
    assert inked.tolist() == list(range(8, 20))  # 12 columns, centred on 13.5
    assert torch.nonzero((out > 0.6).any(1)).flatten().tolist() == list(range(10, 18))
    assert out.min() > -1e-6  # the fill is the background, not 0
    wide = WidthNorm(12)(_bar(0, 27, background))[0, 0] - background  # squeezed from 28 to 12
    assert torch.nonzero((wide > 0.6).any(0)).flatten().tolist() == list(range(8, 20))


def test_width_norm_passes_a_blank_image_and_leaves_old_checkpoints_names_alone():
    from core.model.networks import LeanNet, WidthNorm

    blank = torch.full((2, 1, 28, 28), -0.42)
    assert torch.equal(WidthNorm(12)(blank), blank)
    plain, normed = LeanNet(1, 28, 28, 10), LeanNet(1, 28, 28, 10, input_width=20)
    assert plain.state_dict().keys() == normed.state_dict().keys()
    with pytest.raises(ValueError, match="at least 1 pixel"):
        WidthNorm(0)


# -- overlap -------------------------------------------------------------------------------------

def _probs(predicted: list[int]) -> np.ndarray:
    """Three classes, each row's prediction at 0.6."""
    probs = np.full((len(predicted), 3), 0.2, np.float32)
    probs[np.arange(len(predicted)), predicted] = 0.6
    return probs


def test_phi_is_one_for_the_same_errors_minus_for_opposite_and_none_when_constant():
    a = np.array([1, 1, 0, 0, 0, 0])
    assert phi(a, a) == pytest.approx(1.0)
    assert phi(a, 1 - a) == pytest.approx(-1.0)
    # one shared error of two each in six rows: (1*3 - 1*1) / sqrt(2*4*2*4) = 0.25
    assert phi(a, np.array([1, 0, 1, 0, 0, 0])) == pytest.approx(0.25)
    assert phi(a, np.zeros(6)) is None and phi(a, np.ones(6)) is None


def test_overlap_counts_shared_and_any_errors_and_the_average_against_its_best_member():
    labels = np.array([0, 1, 2, 0, 1, 2])
    plain = {"a": _probs([1, 1, 2, 1, 1, 2]),   # misses rows 0, 3
             "b": _probs([1, 1, 0, 0, 1, 2]),   # misses rows 0, 2
             "c": _probs([1, 1, 2, 0, 1, 2])}   # misses row 0
    found = overlap(plain, labels)
    assert found["member_errors"] == {"a": 2, "b": 2, "c": 1}
    assert (found["all_miss"], found["any_miss"]) == (1, 3)
    assert found["phi"]["a | b"] == pytest.approx(0.25, abs=1e-4)
    assert found["phi"]["a | c"] == pytest.approx(4 / np.sqrt(40), abs=1e-4)  # (1*4 - 1*0) / sqrt(2*4*1*5)
    assert found["pair_shared_errors_mean"] == 1.0
    # the average misses only row 0 (rows 2 and 3 outvoted 2 to 1): as many as its best member, c
    assert (found["ensemble_errors"], found["best_member"], found["best_member_errors"]) == (1, "c", 1)
    assert found["ensemble_minus_best"] == 0


def test_figures_carry_the_overlap_only_for_several_models():
    labels = np.array([0, 1, 2])
    one = {"m": np.stack([_probs([0, 1, 1])])}
    assert "overlap" not in figures(one, labels)
    two = {"m": np.stack([_probs([0, 1, 1])]), "n": np.stack([_probs([0, 0, 2])])}
    assert figures(two, labels)["overlap"]["any_miss"] == 2


# -- recipes recorded before folds existed -------------------------------------------------------

def test_a_resume_state_recorded_without_the_fold_settings_is_the_shared_split_recipe(tmp_path):
    from dataclasses import asdict

    from core.train.resume import load_state, save_state

    checkpoint = tmp_path / "m.pt"
    config = asdict(config_for("fast"))
    save_state(checkpoint, {"config": {k: v for k, v in config.items() if k not in ("folds", "fold")}})
    assert load_state(checkpoint, config) is not None  # folds=0, fold=0: what it ran
    with pytest.raises(BadInput, match="saved with folds=0 but this run has folds=3"):
        load_state(checkpoint, {**config, "folds": 3})
