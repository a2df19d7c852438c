"""Pixels on another scale than the model was trained on: a checkpoint records its training range, and
prediction says so once (or refuses, with --out-of-range error) instead of answering wrongly in silence.

Two real models: one trained quickly on scikit-learn's 8x8 digits (values 0..16), the session's tiny
demo model (MNIST rows, 0..255).
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.api import BadInput, PixelRangeWarning, load
from core.api import predict_images as api_predict_images
from core.api import score_file as api_score_file
from core.model.checkpoint import load_checkpoint, save_checkpoint
from core.model.spec import ModelSpec
from core.predict.pixel_range import under_used
from core.report import plots
from jobs.cli import app
from tests.cli_output import one_error, records

HEADER = ",".join(f"pixel{i}" for i in range(64))
HELD = 397  # held-out rows of the 1,797 digits
DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _write(path: Path, pixels: np.ndarray, labels: np.ndarray | None = None) -> Path:
    lines = [("label," if labels is not None else "") + HEADER]
    lines += [(f"{labels[i]}," if labels is not None else "") + ",".join(map(str, row)) for i, row in enumerate(pixels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _to_255(pixels: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pixels, np.int64) * 255 / 16).astype(np.int64)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """scikit-learn's digits as a competition folder (train.csv, test.csv, sample) and held-out rows."""
    from sklearn.datasets import load_digits

    data = load_digits()
    pixels, labels = data.data.astype(np.int64), data.target
    order = np.random.default_rng(0).permutation(len(pixels))
    train, held = order[:-HELD], order[-HELD:]
    root = tmp_path_factory.mktemp("sk-digits")
    folder = root / "data"
    folder.mkdir()
    _write(folder / "train.csv", pixels[train], labels[train])
    _write(folder / "test.csv", pixels[held])
    (folder / "sample_submission.csv").write_text("ImageId,Label\n" + "".join(f"{i + 1},0\n" for i in range(HELD)))
    return {"folder": folder, "root": root, "held": pixels[held], "labels": labels[held]}


@pytest.fixture(scope="module")
def digits_model(digits) -> Path:
    from core.api import train

    path = digits["root"] / "digits.pt"
    train(digits["folder"], "demo", path, epochs=5, val_fraction=0.1, seed=0)
    return path


@pytest.fixture(scope="module")
def mnist_model(demo_dir, tmp_path_factory) -> Path:
    """A small model trained on a slice of the demo's MNIST rows (values 0..255)."""
    from core.api import train

    folder = tmp_path_factory.mktemp("mnist-slice")
    with open(demo_dir / "train.csv") as source, open(folder / "train.csv", "w") as target:
        target.writelines(line for _, line in zip(range(801), source))  # the header and 800 rows
    path = folder / "mnist.pt"
    train(folder, "demo", path, arch="baseline", epochs=1, val_fraction=0.1, seed=0)
    return path


@pytest.fixture
def scanned(digits, tmp_path) -> Path:
    """The held-out digits as 0..255 rows, with labels."""
    return _write(tmp_path / "held255.csv", _to_255(digits["held"]), digits["labels"])


def _events(result, prefix="pixels.") -> list[dict]:
    return [r for r in records(result) if str(r.get("event", "")).startswith(prefix)]


# -- the checkpoint ------------------------------------------------------------------------------------

def test_training_records_the_range_of_its_pixels(digits_model, mnist_model):
    assert load_checkpoint(digits_model).spec.value_range == (0, 16)
    assert load_checkpoint(mnist_model).spec.value_range == (0, 255)
    assert load(digits_model, device="cpu").value_range == (0, 16)


def test_a_checkpoint_without_a_range_loads_as_0_to_255(tmp_path):
    spec = ModelSpec(arch="baseline", input_shape=(1, 8, 8), classes=list(range(10)), value_range=(0, 16))
    path = save_checkpoint(tmp_path / "m.pt", spec.build(), spec)
    assert load_checkpoint(path).spec.value_range == (0, 16)
    payload = torch.load(path, weights_only=True)
    del payload["spec"]["value_range"]  # as checkpoints were saved before the range was recorded
    torch.save(payload, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt").spec.value_range == (0, 255)
    payload["spec"]["value_range"] = [0, 256]
    torch.save(payload, tmp_path / "odd.pt")
    with pytest.raises(BadInput, match=r"odd.pt: value range \[0, 256\]: expected \[low, high\]"):
        load_checkpoint(tmp_path / "odd.pt")


def test_an_ensemble_keeps_the_range_and_refuses_mixed_scales(tmp_path):
    from core.model.ensemble import ensemble_kwargs

    member = ModelSpec(arch="baseline", input_shape=(1, 8, 8), classes=list(range(10)))
    bundle = ModelSpec(arch="ensemble", input_shape=(1, 8, 8), classes=list(range(10)), value_range=(0, 16),
                       arch_kwargs=ensemble_kwargs([member, member], None, 0.0, 1.0))
    small = save_checkpoint(tmp_path / "bundle.pt", bundle.build(), bundle)
    assert load(small, device="cpu").value_range == (0, 16)
    wide = save_checkpoint(tmp_path / "wide.pt", member.build(), member)
    with pytest.raises(BadInput, match=r"different scales \(0\.\.16, 0\.\.255\)"):
        load([small, wide], device="cpu")


# -- the CLI: warned once, or refused with nothing written -------------------------------------------------

def test_0_to_255_rows_on_a_0_to_16_model_warn_once(runner, digits_model, scanned):
    result = runner.invoke(app, ["score", str(scanned), "--checkpoint", str(digits_model)])
    assert result.exit_code == 0, result.output
    [warning] = _events(result)
    assert warning["event"] == "pixels.out_of_range" and warning["level"] == "warning"
    assert warning["msg"] == (f"{scanned}: {HELD} of {HELD} rows have values up to 255, beyond the 0..16 the model "
                              "was trained on; rescale the input or retrain (--out-of-range error makes this an error)")
    assert (warning["rows"], warning["seen"], warning["trained"]) == (HELD, [0, 255], [0, 16])
    # Still answered, and still wrongly (measured: 0.826 against 0.977 on the 0..16 rows): now it is said.
    accuracy = next(r for r in records(result) if r["event"] == "score.result")["accuracy"]
    assert accuracy < 0.95


def test_in_range_rows_say_nothing(runner, digits_model, digits, tmp_path):
    held = _write(tmp_path / "held.csv", digits["held"], digits["labels"])
    result = runner.invoke(app, ["score", str(held), "--checkpoint", str(digits_model), "--out-of-range", "error"])
    assert result.exit_code == 0, result.output
    assert _events(result) == []
    assert next(r for r in records(result) if r["event"] == "score.result")["accuracy"] > 0.9


@pytest.mark.parametrize("command", ["predict", "score"])
def test_out_of_range_error_writes_nothing(runner, digits_model, digits, tmp_path, command):
    folder = tmp_path / "files"
    folder.mkdir()
    rows = _write(folder / "test.csv", _to_255(digits["held"]))
    out = folder / "out.csv"
    args = (["predict", "--input", str(rows), "--output", str(out)] if command == "predict"
            else ["score", str(rows), "--output", str(out), "--probs", str(folder / "p.parquet")])
    result = runner.invoke(app, [*args, "--checkpoint", str(digits_model), "--out-of-range", "error"])
    assert result.exit_code == 2
    assert one_error(result).startswith(f"{rows}: {HELD} of {HELD} rows have values up to 255, beyond the 0..16 ")
    assert sorted(p.name for p in folder.iterdir()) == ["test.csv"]


def test_submit_dry_run_refuses_before_recording(runner, digits_model, digits, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(digits["folder"], folder)
    _write(folder / "test.csv", _to_255(digits["held"]))
    result = runner.invoke(app, ["submit", "--checkpoint", str(digits_model), "--data-dir", str(folder), "--dry-run",
                                 "--home", str(tmp_path / "home"), "--out-of-range", "error"])
    assert result.exit_code == 2, result.output
    assert "beyond the 0..16 the model was trained on" in one_error(result)
    assert not (tmp_path / "home" / "submissions").exists()


@pytest.mark.parametrize("command", [["predict", "--input", "x.csv", "--output", "o.csv"], ["score", "x.csv"],
                                     ["submit", "--dry-run"], ["run"], ["predict-image", "x.png"]])
def test_an_unknown_choice_is_refused_before_any_work(runner, command, mnist_model):
    checkpoint = [] if command == ["run"] else ["--checkpoint", str(mnist_model)]
    result = runner.invoke(app, [*command, *checkpoint, "--out-of-range", "ignore"])
    assert result.exit_code == 2, result.output
    assert one_error(result) == "--out-of-range: expected warn or error, got 'ignore'"


def test_0_to_16_rows_on_a_0_to_255_model_warn(runner, mnist_model, demo_dir, tmp_path):
    import pandas as pd

    frame = pd.read_csv(demo_dir / "test.csv").head(50)
    small = tmp_path / "small.csv"
    (frame // 16).to_csv(small, index=False)  # 0..15
    result = runner.invoke(app, ["predict", "--input", str(small), "--output", str(tmp_path / "out.csv"),
                                 "--checkpoint", str(mnist_model), "--out-of-range", "error"])
    assert result.exit_code == 0, result.output  # far inside the range only ever warns
    [warning] = _events(result)
    assert warning["event"] == "pixels.under_range"
    assert warning["msg"] == (f"{small}: no value is above 15, a quarter or less of the 0..255 the model was "
                              "trained on; if the input is on a smaller scale, rescale it or retrain")
    assert (warning["rows"], warning["seen"], warning["trained"]) == (50, [0, 15], [0, 255])


# -- the API: one PixelRangeWarning per call, at the edges ----------------------------------------------------

def _warnings_of(call) -> list[PixelRangeWarning]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w.message for w in caught if issubclass(w.category, PixelRangeWarning)]


@pytest.mark.parametrize("top, warned", [(16, False), (17, True), (0, True), (4, True), (5, False)])
def test_the_edges_of_a_0_to_16_model(digits_model, digits, top, warned):
    model = load(digits_model, device="cpu")
    rows = np.minimum(digits["held"][:10], top)
    rows[3, 20] = top  # one row reaches `top` exactly
    found = _warnings_of(lambda: model.predict(rows))
    assert len(found) == int(warned)
    if top > 16:
        assert str(found[0]) == ("pixels: 1 of 10 rows have values up to 17, beyond the 0..16 the model was trained "
                                 "on; rescale the input or retrain (--out-of-range error makes this an error)")
        assert (found[0].rows, found[0].seen, found[0].trained) == (1, (0, 17), (0, 16))
        with pytest.raises(BadInput, match="^pixels: 1 of 10 rows have values up to 17"):
            model.predict(rows, out_of_range="error")
    elif warned:
        assert str(found[0]).startswith(f"pixels: no value is above {top}, a quarter or less of the 0..16")


@pytest.mark.parametrize("top, warned", [(255, False), (64, False), (63, True)])
def test_the_edges_of_a_0_to_255_model(mnist_model, top, warned):
    model = load(mnist_model, device="cpu")
    rows = np.zeros((3, 784), np.uint8)
    rows[:, 400] = top
    assert len(_warnings_of(lambda: model.score(rows))) == int(warned)
    assert len(_warnings_of(lambda: model.predict(rows, out_of_range="error"))) == int(warned)  # never an error


def test_the_quarter_rule():
    assert under_used(63, 255) and not under_used(64, 255)
    assert under_used(4, 16) and not under_used(5, 16)
    assert not under_used(0, 0)  # a model trained on black images is told nothing


def test_file_calls_warn_through_python_and_refuse_odd_choices(digits_model, scanned, tmp_path):
    with pytest.warns(PixelRangeWarning, match=f"^{re.escape(str(scanned))}: {HELD} of {HELD} rows"):
        scored = api_score_file(scanned, digits_model, device="cpu")
    assert scored.rows == HELD
    with pytest.raises(BadInput, match="^--out-of-range: expected warn or error, got 'never'$"):
        api_score_file(tmp_path / "absent.csv", digits_model, out_of_range="never")
    with pytest.raises(BadInput, match="rows have values up to 255"):
        api_score_file(scanned, digits_model, output=tmp_path / "scores.csv", out_of_range="error")
    assert not (tmp_path / "scores.csv").exists()


def test_the_documented_example_runs_as_written(isolated, digits_model, digits, capsys):
    examples = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)
    example = next(code for code in examples if "PixelRangeWarning" in code)
    shutil.copy(digits_model, isolated / "digits.pt")
    namespace = {"scanned": _to_255(digits["held"][:20])}
    exec(example, namespace)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("pixels: 20 of 20 rows have values up to 255, beyond the 0..16 the model")
    assert printed[1] == "2"


# -- predict-image: image files are 0..255, mapped onto the model's range ---------------------------------

def test_images_are_mapped_onto_the_trained_range(runner, digits_model, digits, tmp_path):
    paths = []
    for i in range(20):
        paths.append(tmp_path / f"d{i:02d}-{digits['labels'][i]}.png")
        Image.fromarray(_to_255(digits["held"][i]).reshape(8, 8).astype(np.uint8), mode="L").save(paths[-1])
    grid = tmp_path / "grid.png"
    result = runner.invoke(app, ["predict-image", *map(str, paths), "--checkpoint", str(digits_model),
                                 "--grid", str(grid), "--out-of-range", "error"])
    assert result.exit_code == 0, result.output
    [said] = [r for r in records(result) if r["event"] == "predict_image.rescaled"]
    assert said["msg"] == "image pixels 0..255 mapped onto 0..16, the range the model was trained on"
    assert _events(result) == []
    predicted = api_predict_images(paths, digits_model, device="cpu")
    assert all(item.pixels.max() == 16 for item in predicted.images)  # the brightest ink is the model's 16
    # Measured on these 20: 12 right (5 of the wrong ones at confidence 1.00) fed as 0..255, 15 mapped.
    right = sum(item.label == item.path.stem.rsplit("-", 1)[1] for item in predicted.images)
    assert right >= 13
    assert _spread(grid) > 0.5 * _spread(_reference_grid(predicted, tmp_path))


# -- pictures: black to white over the data's range, not always 0..255 ------------------------------------------

def _spread(png: Path) -> float:
    """Intensity spread of a rendered picture: near-black digits on a 0..255 scale have next to none."""
    gray = np.asarray(Image.open(png).convert("L"), dtype=np.float32)
    return float(np.count_nonzero((gray > 40) & (gray < 250)) / gray.size)


def _reference_grid(predicted, tmp_path) -> Path:
    """The same prepared images at 0..255, drawn on 0..255: what a bright grid looks like."""
    images = np.stack([np.round(item.pixels * 255 / 16).astype(np.uint8) for item in predicted.images])
    return plots.digit_grid(images, [""] * len(images), tmp_path / "reference.png")


def test_a_0_to_16_grid_is_as_bright_as_a_0_to_255_one(digits, tmp_path):
    small = digits["held"][:12].reshape(-1, 1, 8, 8).astype(np.uint8)
    wide = _to_255(small).astype(np.uint8)
    captions = [""] * len(small)
    bright = _spread(plots.digit_grid(wide, captions, tmp_path / "wide.png"))
    assert _spread(plots.digit_grid(small, captions, tmp_path / "small.png", value_range=(0, 16))) > 0.8 * bright
    assert _spread(plots.digit_grid(small, captions, tmp_path / "dark.png")) < 0.2 * bright  # as it was drawn


def test_inspect_and_the_report_draw_0_to_16_digits_brightly(runner, digits, digits_model, tmp_path):
    from core.api import inspect

    folder = tmp_path / "wide"
    folder.mkdir()
    _write(folder / "train.csv", _to_255(digits["held"]), digits["labels"])
    bright = _spread(inspect(folder, tmp_path / "wide-report").grid)
    assert _spread(inspect(digits["folder"], tmp_path / "small-report").grid) > 0.8 * bright

    report = tmp_path / "report"
    result = runner.invoke(app, ["score", str(digits["folder"] / "test.csv"), "--checkpoint", str(digits_model),
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert _spread(report / "least_confident.png") > 0.5 * bright
