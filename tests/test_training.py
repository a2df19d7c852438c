"""Training: the recipe's parts (augmentation, schedule, history, early stop, time budget, resume)
on a small slice of the demo data, with real torch and real files."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.base.errors import BadInput
from core.base.log import Log
from core.model.checkpoint import beside, load_checkpoint
from core.model.ensemble import shift_views
from core.train.augment import AugmentConfig, _cubic_rows, augment, elastic_field, random_thetas
from core.train.config import PRESETS, config_for
from core.train.data import load_training_data, split_stratified
from core.train.history import COLUMNS, read_history
from core.train.loop import evaluate
from core.train.pipeline import train_to_checkpoint
from core.train.schedule import OneCycle, progress
from jobs.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def small_csv(demo_dir, tmp_path_factory) -> Path:
    """The first 400 demo rows: enough for every class, quick to train on."""
    path = tmp_path_factory.mktemp("small") / "train.csv"
    with open(demo_dir / "train.csv", encoding="utf-8") as source:
        lines = [next(source) for _ in range(401)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def quick(**overrides):
    base = dict(arch="baseline", epochs=2, batch_size=64, lr=3e-3, val_fraction=0.25, device="cpu")
    return config_for("demo", **{**base, **overrides})


# -- augmentation ---------------------------------------------------------------------------------

def test_augmentation_moves_ink_within_bounds_and_keeps_background():
    images = torch.zeros(64, 1, 28, 28)
    images[:, :, 10:18, 12:16] = 1.0
    out = augment(images, AugmentConfig(shift_px=2, rotate_deg=0, zoom=0), torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    mass = out.sum(dim=(1, 2, 3))
    cy = (out[:, 0] * ys).sum(dim=(1, 2)) / mass
    cx = (out[:, 0] * xs).sum(dim=(1, 2)) / mass
    assert (cy - 13.5).abs().max() <= 2.01 and (cx - 13.5).abs().max() <= 2.01
    assert (cy - 13.5).abs().max() > 0.5  # it does move things
    assert torch.allclose(mass, torch.full_like(mass, 32.0), atol=0.5)  # shifts keep the ink
    assert out[:, :, :5, :].abs().max() == 0  # the border stays background


def test_augmentation_is_seeded_and_off_when_disabled():
    images = torch.rand(8, 1, 28, 28)
    a = augment(images, AugmentConfig(), torch.Generator().manual_seed(3))
    b = augment(images, AugmentConfig(), torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.allclose(a, images)
    off = AugmentConfig(shift_px=0, rotate_deg=0, zoom=0)
    assert augment(images, off, torch.Generator()) is images


def test_cutout_blanks_one_square_in_about_half_the_images():
    from core.train.augment import erase

    images = torch.ones(400, 1, 28, 28)
    out = erase(images, 8, torch.Generator().manual_seed(0))
    blank = (out == 0).sum(dim=(1, 2, 3))
    assert 0.4 < (blank > 0).float().mean() < 0.6  # half the images, drawn per image
    assert blank.max() == 64 and blank[blank > 0].min() >= 4 * 4  # at most the square; at the edge, a corner of it
    assert torch.equal(out[blank == 0], images[blank == 0])
    on = AugmentConfig(shift_px=0, rotate_deg=0, zoom=0, erase_px=1)
    assert on.active and augment(images, on, torch.Generator()).sum() < images.sum()


def test_mixup_blends_images_and_losses_alike_and_is_seeded():
    import numpy as np
    from torch import nn

    from core.train.loop import _mixed

    x, y = torch.rand(16, 1, 4, 4), torch.arange(16) % 3
    assert _mixed(x, y, 0.0, torch.Generator())[0] is x  # off: the batch as it was, the plain loss
    (a, loss_a), (b, _) = (_mixed(x, y, 0.4, torch.Generator().manual_seed(7)) for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, x)
    replay = torch.Generator().manual_seed(7)  # the same draws: lam, then the partner order
    lam = np.random.default_rng(int(torch.randint(2**62, (1,), generator=replay))).beta(0.4, 0.4)
    order = torch.randperm(16, generator=replay)
    assert torch.allclose(a, lam * x + (1 - lam) * x[order])
    logits, criterion = torch.randn(16, 3), nn.CrossEntropyLoss()
    expected = lam * criterion(logits, y) + (1 - lam) * criterion(logits, y[order])
    assert torch.allclose(loss_a(criterion, logits), expected.float())


def test_elastic_distortion_bends_ink_but_keeps_shape_range_and_background():
    images = torch.zeros(64, 1, 28, 28)
    images[:, :, 10:18, 12:16] = 1.0
    elastic_only = AugmentConfig(shift_px=0, rotate_deg=0, zoom=0, elastic_px=1.5)
    out = augment(images, elastic_only, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 1 + 1e-6  # bilinear sampling cannot leave [0, 1]
    assert out[:, :, :3, :].abs().max() == 0 and out[:, :, :, -3:].abs().max() == 0  # the page stays blank
    changed = (out - images).abs().flatten(1).amax(1)
    assert changed.min() > 0.1  # every image is bent, not just a few
    mass = out.sum(dim=(1, 2, 3)) / 32.0  # a local stretch or squeeze, as Simard's field makes; no erasure
    assert 0.9 < mass.mean() < 1.15 and mass.min() > 0.4 and mass.max() < 2.5
    blank = augment(torch.zeros(4, 1, 28, 28), elastic_only, torch.Generator().manual_seed(0))
    assert blank.abs().max() == 0


def test_elastic_field_is_smooth_with_the_asked_strength_and_seeded():
    config = AugmentConfig(elastic_px=2.0)
    field = elastic_field(256, 28, 28, config, torch.Generator().manual_seed(1))
    assert field.shape == (256, 28, 28, 2)
    pixels = field * 14.0  # normalised units -> pixels on a 28-px side
    assert 1.0 < pixels.std() < 2.0  # about elastic_px; between control points the cubic averages a little
    step = (pixels[:, 1:] - pixels[:, :-1]).abs().mean()
    assert step < 0.2 * pixels.abs().mean()  # neighbours move together: a bend, not noise
    again = elastic_field(256, 28, 28, config, torch.Generator().manual_seed(1))
    assert torch.equal(field, again)


def test_separable_cubic_rows_equal_torch_bicubic_upsampling():
    coarse = torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    ours = torch.einsum("hi,bcij,wj->bchw", _cubic_rows(4, 28), coarse, _cubic_rows(4, 20))
    theirs = torch.nn.functional.interpolate(coarse, size=(28, 20), mode="bicubic", align_corners=True)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_elastic_off_leaves_the_affine_draws_untouched():
    images = torch.rand(8, 1, 28, 28)
    plain = augment(images, AugmentConfig(), torch.Generator().manual_seed(3))
    zero = augment(images, AugmentConfig(elastic_px=0.0), torch.Generator().manual_seed(3))
    bent = augment(images, AugmentConfig(elastic_px=1.0), torch.Generator().manual_seed(3))
    assert torch.equal(plain, zero) and not torch.allclose(plain, bent)
    assert AugmentConfig(shift_px=0, rotate_deg=0, zoom=0, elastic_px=1.0).active


def test_random_thetas_respect_rotation_and_zoom_limits():
    theta = random_thetas(500, 28, 28, AugmentConfig(shift_px=0, rotate_deg=10, zoom=0.1),
                          torch.Generator().manual_seed(0))
    scale = 1 / theta[:, 0, :2].norm(dim=1)
    angle = torch.atan2(theta[:, 1, 0], theta[:, 0, 0]).rad2deg()
    assert scale.min() >= 0.9 - 1e-5 and scale.max() <= 1.1 + 1e-5
    assert angle.abs().max() <= 10 + 1e-4 and angle.abs().max() > 8


def test_shift_views_are_exact_pixel_shifts_with_background_fill():
    image = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    same, down, left = shift_views(image, [(0, 0), (1, 0), (0, -1)])
    assert torch.equal(same, image)
    assert torch.equal(down[0, 0, 1:], image[0, 0, :3]) and down[0, 0, 0].abs().sum() == 0
    assert torch.equal(left[0, 0, :, :3], image[0, 0, :, 1:]) and left[0, 0, :, 3].abs().sum() == 0


# -- schedule -------------------------------------------------------------------------------------

def test_one_cycle_warms_up_then_anneals_to_the_floor():
    cycle = OneCycle(max_lr=1e-2, warmup=0.25)
    assert cycle.lr_at(0.0) == pytest.approx(1e-2 / 25)
    assert cycle.lr_at(0.25) == pytest.approx(1e-2)
    assert cycle.lr_at(1.0) == pytest.approx(1e-2 / 25 / 1e4)
    values = [cycle.lr_at(p / 100) for p in range(101)]
    peak = values.index(max(values))
    assert all(a <= b for a, b in zip(values[:peak], values[1:peak + 1]))
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1:]))


def test_progress_follows_the_slower_of_steps_and_time():
    assert progress(10, 100, elapsed_s=5, budget_s=None) == 0.1
    assert progress(10, 100, elapsed_s=50, budget_s=100) == 0.5  # time binds
    assert progress(90, 100, elapsed_s=50, budget_s=100) == 0.9  # steps bind


# -- training runs --------------------------------------------------------------------------------

def test_training_writes_checkpoint_history_and_metrics(small_csv, tmp_path):
    checkpoint = tmp_path / "m.pt"
    result = train_to_checkpoint(small_csv, checkpoint, quick(epochs=3), Log(fmt="json"))
    rows = read_history(beside(checkpoint).history)
    assert beside(checkpoint).history == tmp_path / "m.history.csv"
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert set(COLUMNS) <= set(rows[0])
    loaded = load_checkpoint(checkpoint)
    assert loaded.meta["history"] == result.history
    assert len(loaded.meta["data_sha256"]) == 64
    best = max(rows, key=lambda r: r["val_acc"])
    assert loaded.metrics["val_accuracy"] == pytest.approx(best["val_acc"], abs=1e-6)
    assert loaded.metrics["epochs_run"] == 3 and loaded.metrics["stop_reason"] == "completed"
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert not beside(checkpoint).state.exists()  # the resume file goes once the checkpoint is safe


def test_same_seed_same_weights(small_csv, tmp_path):
    runs = [train_to_checkpoint(small_csv, tmp_path / f"{i}.pt", quick(epochs=1, seed=5), Log(fmt="json"))
            for i in range(2)]
    for key, value in runs[0].model.state_dict().items():
        assert torch.equal(value, runs[1].model.state_dict()[key]), key


def test_sgd_optimizer_is_built_and_named_optimizers_only(small_csv, tmp_path):
    from core.train.loop import _optimizer

    net = torch.nn.Linear(2, 2)
    sgd = _optimizer(net, config_for("demo", optimizer="sgd", lr=0.05))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"] and sgd.defaults["momentum"] == 0.9
    assert isinstance(_optimizer(net, config_for("demo")), torch.optim.AdamW)
    with pytest.raises(BadInput, match="optimizer: expected one of adamw, sgd, got 'adam'"):
        config_for("demo", optimizer="adam")
    result = train_to_checkpoint(small_csv, tmp_path / "s.pt", quick(epochs=2, optimizer="sgd", lr=0.05),
                                 Log(fmt="json"))
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_time_budget_stops_in_time_and_still_anneals(small_csv, tmp_path):
    config = quick(epochs=10_000, time_budget_min=0.15)  # 9 s for everything
    started = time.monotonic()
    result = train_to_checkpoint(small_csv, tmp_path / "b.pt", config, Log(fmt="json"))
    wall = time.monotonic() - started
    # The budget, not the 10,000 planned epochs, ended the run: the schedule was fitted to the clock.
    assert result.metrics["stop_reason"] == "time_budget"
    assert 1 <= result.metrics["epochs_run"] == len(result.history) < 10_000
    # It trained until its schedule's window was spent (at least 1 s, core.train.loop._schedule_window) and
    # left the rest for the save. A bound for a machine loaded many times over: an ignored budget takes hours.
    assert 1.0 <= result.metrics["train_seconds"] <= wall < 9 * 10
    # Ended near the bottom of the cycle, not mid-climb: the rate annealed as the clock ran out, whatever
    # the machine's speed (a step would have to take over a sixth of the window to end above this).
    assert result.history[-1]["lr"] < config.lr / 5


def test_early_stopping_stops_when_validation_stalls(small_csv, tmp_path):
    # lr=0 means nothing is learnt: validation accuracy can never improve after epoch 1.
    result = train_to_checkpoint(small_csv, tmp_path / "e.pt", quick(epochs=8, lr=0.0, patience=2),
                                 Log(fmt="json"))
    assert result.metrics["stop_reason"] == "early_stopping"
    assert result.metrics["epochs_run"] == 3


def test_keep_last_saves_the_final_epoch_not_the_best_by_validation(small_csv, tmp_path):
    # lr=0: every epoch scores the same, so keep-best would stay on epoch 1 (see the early-stopping test).
    flat = train_to_checkpoint(small_csv, tmp_path / "b.pt", quick(epochs=3, lr=0.0, keep_last=True), Log(fmt="json"))
    assert flat.metrics["best_epoch"] == flat.metrics["epochs_run"] == 3
    trained = train_to_checkpoint(small_csv, tmp_path / "c.pt", quick(epochs=2, keep_last=True), Log(fmt="json"))
    loaded = load_checkpoint(tmp_path / "c.pt")
    images, targets, _ = load_training_data(small_csv)
    _, val = split_stratified(targets, 0.25, 0)
    loss, acc = evaluate(loaded.model(), images[val], targets[val], loaded.spec, torch.device("cpu"))
    last = trained.history[-1]
    assert loss == pytest.approx(last["val_loss"], rel=1e-5) and acc == last["val_acc"]
    assert loaded.metrics["val_accuracy"] == last["val_acc"] and loaded.metrics["best_epoch"] == 2


def test_bf16_training_keeps_fp32_weights_and_changes_the_arithmetic(small_csv, tmp_path):
    half = train_to_checkpoint(small_csv, tmp_path / "h.pt", quick(epochs=1, precision="bf16"), Log(fmt="json"))
    full = train_to_checkpoint(small_csv, tmp_path / "f.pt", quick(epochs=1, precision="fp32"), Log(fmt="json"))
    weights = load_checkpoint(tmp_path / "h.pt").model().state_dict()
    assert all(w.dtype in (torch.float32, torch.int64) for w in weights.values())  # autocast, not a bf16 model
    assert (half.metrics["precision"], full.metrics["precision"]) == ("bf16", "fp32")
    # Same seed, same batches: only the precision of the convolutions differs, and it shows in the loss.
    assert half.history[0]["train_loss"] != full.history[0]["train_loss"]
    assert abs(half.history[0]["train_loss"] - full.history[0]["train_loss"]) < 0.05


def test_resume_with_other_recipe_is_refused(small_csv, tmp_path):
    checkpoint = tmp_path / "r.pt"
    _run_killed(small_csv, checkpoint, epochs=3, kill_at="state")
    with pytest.raises(BadInput, match="saved with epochs=3"):
        train_to_checkpoint(small_csv, checkpoint, quick(epochs=4, resume=True), Log(fmt="json"))


def test_config_for_rejects_unknown_presets_and_options():
    with pytest.raises(BadInput, match="--preset"):
        config_for("huge")
    with pytest.raises(BadInput, match="unknown training option"):
        config_for("fast", colour="blue")
    assert config_for("default", arch="baseline").arch_kwargs == {}
    assert set(PRESETS) == {"demo", "fast", "default", "best"}
    # What the README's training table measured: fixed epochs that fit their budgets on a quiet 2-core machine,
    # the last (annealed) epoch kept, and `best` as independent default members (no test-time shifts: they
    # cost the chosen members errors on the holdout).
    fast, default, best = PRESETS["fast"], PRESETS["default"], PRESETS["best"]
    assert fast.time_budget_min <= 3 and default.time_budget_min <= 15 and best.time_budget_min <= 120
    assert default.keep_last and fast.keep_last and best.keep_last
    assert best.members >= 5 and not best.tta and not default.tta and best.epochs == default.epochs
    assert best.arch_kwargs == default.arch_kwargs == {"stages": [48, 96, 192]}
    assert default.elastic_px == 0  # measured: no better on the holdout (README, variants that lost)
    # default refits on every row (the holdout chose the schedule; the last epoch needs no validation);
    # best's members keep one shared 10% split: on every row they made no better average (README, Training)
    assert default.val_fraction == 0 and fast.val_fraction == best.val_fraction == 0.1


# -- kill -9 and resume ---------------------------------------------------------------------------

KILLABLE = """
import os, sys, time
sys.path.insert(0, {root!r})
import core.base.atomic, core.train.config, core.train.loop, core.train.pipeline
from core.base.log import Log
kill_at = {kill_at!r}
if kill_at == "state":
    original = core.train.loop.save_state
    def save_state(*args, **kwargs):
        original(*args, **kwargs)
        print("READY", flush=True)
        time.sleep(60)
    core.train.loop.save_state = save_state
else:
    real_replace = os.replace
    def replace(src, dst):
        if str(dst).endswith("model.pt"):
            print("READY", flush=True)  # the new checkpoint is written to its temp file, not yet renamed
            time.sleep(60)
        real_replace(src, dst)
    core.base.atomic.os.replace = replace
config = core.train.config.config_for("demo", arch="baseline", epochs={epochs}, batch_size=64, lr=3e-3,
                                  val_fraction=0.25, device="cpu")
core.train.pipeline.train_to_checkpoint({csv!r}, {checkpoint!r}, config, Log(fmt="json"))
"""


def _run_killed(csv: Path, checkpoint: Path, epochs: int, kill_at: str) -> None:
    code = KILLABLE.format(root=str(ROOT), kill_at=kill_at, epochs=epochs, csv=str(csv), checkpoint=str(checkpoint))
    env = {**os.environ, "KAGGLE_JOB_THREADS": "2"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "READY"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("kill_at", ["state", "final_save"])
def test_kill_9_never_damages_the_previous_checkpoint(small_csv, tmp_path, kill_at):
    checkpoint = tmp_path / "model.pt"
    train_to_checkpoint(small_csv, checkpoint, quick(epochs=1), Log(fmt="json"))
    before = checkpoint.read_bytes()
    _run_killed(small_csv, checkpoint, epochs=2, kill_at=kill_at)
    assert checkpoint.read_bytes() == before
    assert load_checkpoint(checkpoint).metrics["epochs_run"] == 1


def test_resume_after_kill_matches_an_uninterrupted_run(small_csv, tmp_path):
    straight = train_to_checkpoint(small_csv, tmp_path / "straight.pt", quick(epochs=3), Log(fmt="json"))
    checkpoint = tmp_path / "model.pt"
    _run_killed(small_csv, checkpoint, epochs=3, kill_at="state")  # dies right after epoch 1's state
    assert beside(checkpoint).state.is_file() and not checkpoint.exists()
    resumed = train_to_checkpoint(small_csv, checkpoint, quick(epochs=3, resume=True), Log(fmt="json"))
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    for a, b in zip(straight.history, resumed.history):
        assert a["val_acc"] == b["val_acc"] and math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-6)
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(value.float(), resumed.model.state_dict()[key].float(), atol=1e-6), key
    assert not beside(checkpoint).state.exists()


# -- CLI ------------------------------------------------------------------------------------------

def test_cli_train_with_options_and_history(runner, small_csv, tmp_path):
    data = small_csv.parent
    checkpoint = tmp_path / "cli.pt"
    result = runner.invoke(app, ["train", "--data-dir", str(data), "--checkpoint", str(checkpoint),
                                 "--preset", "demo", "--arch", "baseline", "--epochs", "2", "--batch-size", "32",
                                 "--lr", "0.002", "--val-fraction", "0.2", "--seed", "1", "--time-budget", "5",
                                 "--patience", "3", "--elastic", "0.5", "--keep-last", "--tta", "--device", "cpu",
                                 "--log-format", "json"])
    assert result.exit_code == 0, result.output
    assert "val_accuracy=" in result.output
    config = load_checkpoint(checkpoint).meta["train_config"]
    assert (config["batch_size"], config["lr"], config["val_fraction"], config["seed"]) == (32, 0.002, 0.2, 1)
    assert config["time_budget_min"] == 5 and config["patience"] == 3
    assert config["elastic_px"] == 0.5 and config["keep_last"] is True and config["tta"] is True
    spec = load_checkpoint(checkpoint).spec  # --tta: one model bundled with its shifted views
    assert spec.arch == "ensemble" and len(spec.arch_kwargs["members"]) == 1 and len(spec.arch_kwargs["tta_shifts"]) == 5
    assert len(read_history(beside(checkpoint).history)) == 2


def test_cli_train_on_every_row_logs_strict_json_and_says_there_is_no_validation(runner, small_csv, tmp_path):
    """--val-fraction 0 (a refit on all rows): no NaN may reach the JSON lines, which strict parsers reject."""
    checkpoint = tmp_path / "all.pt"
    result = runner.invoke(app, ["train", "--data-dir", str(small_csv.parent), "--checkpoint", str(checkpoint),
                                 "--preset", "demo", "--arch", "baseline", "--epochs", "2", "--val-fraction", "0",
                                 "--members", "2", "--device", "cpu", "--log-format", "json"])
    assert result.exit_code == 0, result.output

    def refuse(constant):
        raise AssertionError(f"{constant} in a JSON line")
    lines = [json.loads(line, parse_constant=refuse) for line in result.output.splitlines() if line.startswith("{")]
    final = [r for r in lines if r["event"] == "train.result"][-1]
    rows = len(small_csv.read_text().splitlines()) - 1
    assert final["val_accuracy"] is None and final["val_rows"] == 0 and final["train_rows"] == rows
    assert f"no validation (trained on all {rows} rows)" in final["msg"]
    assert [r["val_acc"] for r in lines if r.get("phase") == "advance"] == [None] * 4  # 2 members x 2 epochs
    assert load_checkpoint(checkpoint).metrics["member_val_accuracy"] == [None, None]
    # demo keeps the best epoch by validation: with none to judge by, the last is kept, and said so
    assert any(r["event"] == "train.no_validation" and r["level"] == "warning" for r in lines), result.output


def test_cli_train_bad_preset_is_one_line_exit_2(runner, small_csv, tmp_path):
    result = runner.invoke(app, ["train", "--data-dir", str(small_csv.parent), "--preset", "huge",
                                 "--checkpoint", str(tmp_path / "x.pt")])
    assert result.exit_code == 2
    assert "--preset" in result.output and "Traceback" not in result.output


def test_cli_train_arch_kwargs_shape_the_model(runner, small_csv, tmp_path):
    checkpoint = tmp_path / "deep.pt"
    result = runner.invoke(app, ["train", "--data-dir", str(small_csv.parent), "--checkpoint", str(checkpoint),
                                 "--preset", "demo", "--epochs", "1", "--device", "cpu", "--log-format", "json",
                                 "--arch-kwargs", '{"stages": [8, [16, 16]], "dropout": 0.1}'])
    assert result.exit_code == 0, result.output
    spec = load_checkpoint(checkpoint).spec
    assert spec.arch == "leannet" and spec.arch_kwargs == {"stages": [8, [16, 16]], "dropout": 0.1}


@pytest.mark.parametrize("text, expected", [("{stages: 1}", "not valid JSON"), ("[8, 16]", "expected a JSON object"),
                                            ('{"widths": [8]}', "--arch-kwargs: leannet takes no setting 'widths'; its settings are ")])
def test_cli_train_bad_arch_kwargs_is_one_line_exit_2(runner, small_csv, tmp_path, text, expected):
    checkpoint = tmp_path / "x.pt"
    result = runner.invoke(app, ["train", "--data-dir", str(small_csv.parent), "--checkpoint", str(checkpoint),
                                 "--preset", "demo", "--epochs", "1", "--device", "cpu", "--arch-kwargs", text])
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert not checkpoint.exists()
