"""Ensembles with test-time augmentation travel as one checkpoint that every consumer can use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.base.log import Log
from core.model.checkpoint import beside, load_checkpoint, save_checkpoint
from core.model.ensemble import TTA_SHIFTS, bundle_state_dict, ensemble_kwargs, shift_views
from core.model.spec import ModelSpec
from core.predict.predictor import Predictor
from core.train.config import config_for
from core.train.pipeline import train_to_checkpoint
from jobs.cli import app


@pytest.fixture(scope="module")
def small_dir(demo_dir, tmp_path_factory) -> Path:
    """The first 600 demo rows as train.csv beside the demo's test.csv: quick to train on."""
    folder = tmp_path_factory.mktemp("small-ens")
    with open(demo_dir / "train.csv", encoding="utf-8") as source:
        (folder / "train.csv").write_text("".join(next(source) for _ in range(601)), encoding="utf-8")
    return folder


def _members():
    torch.manual_seed(0)
    specs = [ModelSpec(arch="baseline", input_shape=(1, 28, 28), classes=list(range(10)), mean=0.13, std=0.31),
             ModelSpec(arch="bncnn", input_shape=(1, 28, 28), classes=list(range(10)),
                       arch_kwargs={"width_mult": 0.25}, mean=0.12, std=0.30)]
    return specs, [s.build().eval() for s in specs]


def test_bundle_round_trips_and_averages_members_over_shifted_views(tmp_path):
    specs, models = _members()
    spec = ModelSpec(arch="ensemble", input_shape=(1, 28, 28), classes=list(range(10)),
                     arch_kwargs=ensemble_kwargs(specs, TTA_SHIFTS, 0.13, 0.31), mean=0.13, std=0.31)
    bundle = spec.build()
    bundle.load_state_dict(bundle_state_dict(models))
    path = save_checkpoint(tmp_path / "ens.pt", bundle, spec, {"val_accuracy": 0.5})

    loaded = load_checkpoint(path)  # weights_only=True inside
    assert loaded.spec.arch == "ensemble" and len(loaded.spec.arch_kwargs["members"]) == 2
    pixels = np.random.default_rng(0).integers(0, 256, size=(6, 784), dtype=np.uint8)
    probs = Predictor.from_checkpoints([loaded], "cpu").predict_proba(pixels)

    raw = torch.from_numpy(pixels).view(-1, 1, 28, 28).float() / 255
    expected = torch.zeros(6, 10)
    with torch.no_grad():
        for view in shift_views(raw, [tuple(s) for s in TTA_SHIFTS]):
            for member_spec, model in zip(specs, models):
                expected += torch.softmax(model((view - member_spec.mean) / member_spec.std), dim=1)
    expected /= len(TTA_SHIFTS) * len(models)
    assert np.allclose(probs, expected.numpy(), atol=1e-5)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_best_preset_trains_members_and_bundles_them(small_dir, demo_dir, tmp_path, runner, capsys):
    checkpoint = tmp_path / "best.pt"
    config = config_for("best", arch="baseline", epochs=2, members=2, batch_size=64, device="cpu", tta=True)
    result = train_to_checkpoint(small_dir / "train.csv", checkpoint, config, Log(fmt="json"))
    # Before the hours go, the CPU user hears what the holdout says members buy there.
    notes = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "members_on_cpu" in line]
    assert [(n["members"], "about 2x" in n["msg"], "docs/training.md" in n["msg"]) for n in notes] == [(2, True, True)]

    assert beside(checkpoint).member(0).is_file() and beside(checkpoint).member(1).is_file()
    loaded = load_checkpoint(checkpoint)
    assert loaded.spec.arch == "ensemble"
    assert loaded.metrics["members"] == 2 and loaded.metrics["tta_views"] == len(TTA_SHIFTS)
    members = [load_checkpoint(beside(checkpoint).member(i)) for i in range(2)]
    assert [m.meta["train_config"]["seed"] for m in members] == [0, 1]
    assert loaded.metrics["member_val_accuracy"] == [m.metrics["val_accuracy"] for m in members]
    # Members differ (different seeds) yet share one validation split, so the ensemble's score is comparable.
    assert not torch.equal(members[0].state_dict["classifier.1.weight"], members[1].state_dict["classifier.1.weight"])
    assert members[0].metrics["val_rows"] == members[1].metrics["val_rows"] == loaded.metrics["val_rows"]
    assert loaded.metrics["val_accuracy"] > 0.3  # 540 rows, 2 epochs: well above chance
    assert {row["member"] for row in result.history} == {1, 2}

    # One path is the whole ensemble for predict, and several paths average further.
    out = tmp_path / "pred.csv"
    invoked = runner.invoke(app, ["predict", "--checkpoint", str(checkpoint), "--checkpoint",
                                  str(beside(checkpoint).member(0)), "--input", str(demo_dir / "test.csv"),
                                  "--output", str(out), "--device", "cpu", "--log-format", "json"])
    assert invoked.exit_code == 0, invoked.output
    assert out.read_text().splitlines()[0] == "ImageId,Label"
    assert len(out.read_text().splitlines()) == 1001

    # --resume after a finished member reuses it instead of training it again.
    mtime = beside(checkpoint).member(0).stat().st_mtime_ns
    again = train_to_checkpoint(small_dir / "train.csv", checkpoint, config_for(
        "best", arch="baseline", epochs=2, members=2, batch_size=64, device="cpu", tta=True, resume=True),
        Log(fmt="json"))
    assert beside(checkpoint).member(0).stat().st_mtime_ns == mtime
    assert again.metrics["val_accuracy"] == loaded.metrics["val_accuracy"]


def test_member_variants_cycle_over_the_members_and_bundle_together(small_dir, tmp_path):
    checkpoint = tmp_path / "mixed.pt"
    variants = ({}, {"arch_kwargs": {"stages": [8, 16], "first_kernel": 3}})
    config = config_for("best", arch="leannet", arch_kwargs={"stages": [8, 16]}, epochs=1, members=3, batch_size=64,
                        device="cpu", tta=False, member_variants=variants)
    train_to_checkpoint(small_dir / "train.csv", checkpoint, config, Log(fmt="json"))

    members = [load_checkpoint(beside(checkpoint).member(i)) for i in range(3)]
    assert [m.spec.arch_kwargs for m in members] == [{"stages": [8, 16]}, variants[1]["arch_kwargs"],
                                                     {"stages": [8, 16]}]
    assert [m.meta["train_config"]["seed"] for m in members] == [0, 1, 2]
    assert [m.meta["train_config"]["member_variants"] for m in members] == [(), (), ()]
    bundle = load_checkpoint(checkpoint)
    assert [m["arch_kwargs"] for m in bundle.spec.arch_kwargs["members"]] == [m.spec.arch_kwargs for m in members]
    assert members[1].state_dict["features.0.weight"].shape[-1] == 3  # the variant's 3x3 first layer
    assert members[0].state_dict["features.0.weight"].shape[-1] == 5


@pytest.mark.parametrize("variant, name", [({"epoch": 3}, "epoch"), ({"member_variants": ()}, "member_variants")])
def test_a_member_variant_with_an_unknown_option_is_refused(variant, name):
    from core.base.errors import BadInput

    with pytest.raises(BadInput, match=f"unknown training option '{name}'"):
        config_for("best", member_variants=(variant,))


def test_a_one_member_bundle_says_nothing_of_members_on_the_cpu(small_dir, tmp_path, capsys):
    config = config_for("default", arch="baseline", epochs=1, members=1, batch_size=64, device="cpu", tta=True)
    train_to_checkpoint(small_dir / "train.csv", tmp_path / "tta.pt", config, Log(fmt="json"))
    assert load_checkpoint(tmp_path / "tta.pt").spec.arch == "ensemble"  # the bundle path, with one member
    assert "members_on_cpu" not in capsys.readouterr().err
