"""core.api's models in memory: `load` and the Model it returns, on real checkpoints and real torch.

Every form of the same pixels must give the same probabilities, and the same labels as `kaggle-job
predict` on those rows written to a file; every bad value is refused with the CLI's one line.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from core.api import Model, PixelRangeWarning, Scores, load
from core.base.errors import BadInput
from core.model.checkpoint import save_checkpoint
from core.model.spec import ModelSpec
from jobs.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"
P = 784
OUT_OF_RANGE = "is out of range; expected an integer 0..255"


def untrained(path: Path, classes: list, shape=(1, 28, 28), order="chw", seed=0) -> Path:
    torch.manual_seed(seed)
    spec = ModelSpec(arch="bncnn", input_shape=shape, classes=classes, pixel_order=order)
    return save_checkpoint(path, spec.build(), spec, {"val_accuracy": 0.1})


@pytest.fixture(scope="module")
def rows(demo_dir) -> np.ndarray:
    """40 real digits, uint8 (40, 784)."""
    return pd.read_csv(demo_dir / "test.csv", nrows=40).to_numpy().astype(np.uint8)


@pytest.fixture(scope="module")
def model(tiny_checkpoint) -> Model:
    return load(tiny_checkpoint, device="cpu")


def write_csv(path: Path, pixels: np.ndarray) -> Path:
    pd.DataFrame(pixels, columns=[f"pixel{i}" for i in range(pixels.shape[1])]).to_csv(path, index=False)
    return path


def refusal(model: Model, pixels) -> str:
    with pytest.raises(BadInput) as caught:
        model.predict(pixels)
    assert type(caught.value) is BadInput and caught.value.exit_code == 2
    return str(caught.value)


# -- load ----------------------------------------------------------------------------------------------

def test_load_takes_a_str_a_path_or_a_list_of_them(tiny_checkpoint, rows, model):
    expected = model.score(rows).probs
    for given in (str(tiny_checkpoint), Path(tiny_checkpoint), [Path(tiny_checkpoint)], [str(tiny_checkpoint)]):
        loaded = load(given, device="cpu")
        assert isinstance(loaded, Model) and len(loaded.predictor.checkpoints) == 1
        assert np.array_equal(loaded.score(rows).probs, expected)
    assert model.classes == list(range(10)) and model.input_shape == (1, 28, 28)
    assert all(type(size) is int for size in model.input_shape)
    assert repr(model) == f"Model({tiny_checkpoint}: 10 classes [0, 1, 2, 3, 4, 5, ...], input 1x28x28, cpu)"


def test_a_list_of_checkpoints_averages_their_probabilities(tmp_path, rows):
    first, second = (untrained(tmp_path / f"m{seed}.pt", list(range(10)), seed=seed) for seed in (1, 2))
    both = load([first, second], device="cpu").score(rows).probs
    alone = [load(path, device="cpu").score(rows).probs for path in (first, second)]
    assert not np.allclose(alone[0], alone[1])
    assert np.allclose(both, (alone[0] + alone[1]) / 2, atol=1e-6)


def test_a_missing_checkpoint_is_one_line(tmp_path):
    with pytest.raises(BadInput, match=re.escape(f"checkpoint {tmp_path / 'none.pt'}: no such file")):
        load(tmp_path / "none.pt")


# -- predict and score ------------------------------------------------------------------------------

def test_every_form_of_the_same_rows_predicts_as_the_cli_does(runner, tmp_path, tiny_checkpoint, model, rows):
    scores = model.score(rows)
    assert len(set(scores.labels.tolist())) > 3  # a trained model: the rows' order matters
    frame = pd.DataFrame(rows, columns=[f"pixel{i}" for i in range(P)])
    forms = {
        "float64": rows.astype(np.float64), "int32": rows.astype(np.int32), "uint16": rows.astype(np.uint16),
        "(N, H, W)": rows.reshape(-1, 28, 28), "(N, 1, H, W)": rows.reshape(-1, 1, 28, 28).astype(np.int64),
        "DataFrame": frame, "DataFrame with label and id": frame.assign(label=7, ImageId=range(len(rows))),
        "DataFrame in another column order": frame[sorted(frame.columns)],
        "DataFrame of bare numbers": pd.DataFrame(rows), "tensor": torch.from_numpy(rows),
    }
    for name, pixels in forms.items():
        assert np.array_equal(model.score(pixels).probs, scores.probs), name
    got = runner.invoke(app, ["predict", "--checkpoint", str(tiny_checkpoint), "--input",
                              str(write_csv(tmp_path / "rows.csv", rows)), "--output", str(tmp_path / "out.csv")])
    assert got.exit_code == 0, got.output
    assert pd.read_csv(tmp_path / "out.csv")["Label"].tolist() == model.predict(rows).tolist()


def test_one_row_gives_one_label(model, rows):
    one = model.predict(rows[3])
    assert one.shape == (1,) and one[0] == model.predict(rows)[3]


def test_score_gives_confidence_and_probabilities_of_every_class(model, rows):
    scores = model.score(rows)
    assert isinstance(scores, Scores) and scores.classes == list(range(10))
    assert scores.probs.dtype == np.float32 and scores.probs.shape == (40, 10)
    assert scores.confidence.dtype == np.float32 and np.array_equal(scores.confidence, scores.probs.max(axis=1))
    assert np.allclose(scores.probs.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(scores.labels, np.array(scores.classes)[scores.probs.argmax(axis=1)])


def test_labels_keep_the_class_type_of_the_checkpoint(tmp_path, model, rows):
    assert model.predict(rows).dtype == np.int64
    text = load(untrained(tmp_path / "text.pt", ["cat", "dog", "eel"]), device="cpu")
    labels = text.predict(rows)
    assert labels.dtype.kind == "U" and set(labels.tolist()) <= {"cat", "dog", "eel"}
    empty = text.score(rows[:0])
    assert empty.labels.dtype.kind == "U" and empty.probs.shape == (0, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_no_rows_give_empty_results(model, dtype):
    scores = model.score(np.zeros((0, P), dtype))
    assert scores.labels.shape == (0,) and scores.labels.dtype == np.int64
    assert scores.confidence.shape == (0,) and scores.confidence.dtype == np.float32
    assert scores.probs.shape == (0, 10) and scores.probs.dtype == np.float32


def test_channels_last_rows_are_read_as_their_files_are(runner, tmp_path):
    path = untrained(tmp_path / "hwc.pt", list(range(4)), shape=(3, 4, 4), order="hwc")
    colour = load(path, device="cpu")
    pixels = np.random.default_rng(0).integers(0, 256, (20, 48), dtype=np.uint8)
    planes = pixels.reshape(-1, 4, 4, 3).transpose(0, 3, 1, 2)  # each pixel's channels side by side
    assert np.array_equal(colour.score(pixels).probs, colour.score(planes).probs)
    assert not np.array_equal(colour.score(pixels).probs, colour.score(pixels.reshape(-1, 3, 4, 4)).probs)
    got = runner.invoke(app, ["predict", "--checkpoint", str(path), "--input",
                              str(write_csv(tmp_path / "hwc.csv", pixels)), "--output", str(tmp_path / "out.csv")])
    assert got.exit_code == 0, got.output
    assert pd.read_csv(tmp_path / "out.csv")["Label"].tolist() == colour.predict(pixels).tolist()


def test_whole_numbers_stored_as_floats_are_pixels(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits().data  # float64 (1797, 64), whole numbers 0..16
    small = load(untrained(tmp_path / "8x8.pt", list(range(10)), shape=(1, 8, 8)), device="cpu")
    with pytest.warns(PixelRangeWarning, match="no value is above 16"):  # a 0..255 model: another scale
        assert np.array_equal(small.score(digits).probs, small.score(digits.astype(np.uint8)).probs)


# -- what is refused -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, 255, 0.0, 255.0, -0.0])
def test_0_and_255_are_pixels(model, rows, value):
    pixels = rows.astype(np.asarray(value).dtype)
    pixels[1, 5] = value
    assert model.predict(pixels).shape == (40,)


@pytest.mark.parametrize("value, problem", [
    (256, f"value '256' {OUT_OF_RANGE}"),
    (-1, f"value '-1' {OUT_OF_RANGE}"),
    (256.0, f"value '256.0' {OUT_OF_RANGE}"),
    (0.5, "value '0.5' is not an integer (pixels scaled to 0..1? write them times 255, rounded); "
          "expected an integer 0..255"),
    (254.5, "value '254.5' is not an integer; expected an integer 0..255"),
    (np.nan, "value 'nan' is not an integer; expected an integer 0..255"),
    (np.inf, "value 'inf' is not an integer; expected an integer 0..255"),
])
def test_a_value_that_is_no_pixel_is_refused_where_it_is(model, rows, value, problem):
    pixels = rows.astype(np.asarray(value).dtype if isinstance(value, float) else np.int64)
    pixels[2, 17] = value
    assert refusal(model, pixels) == f"pixels: row 2, column 17: {problem}"
    assert refusal(model, pixels[2]) == f"pixels: row 0, column 17: {problem}"
    assert refusal(model, pixels.reshape(-1, 28, 28)) == f"pixels: row 2, pixel (0, 17): {problem}"
    frame = pd.DataFrame(pixels, columns=[f"pixel{i}" for i in range(P)])
    assert refusal(model, frame) == f"pixels: row 2, column 'pixel17': {problem}"


def test_a_bad_value_past_the_first_slice_is_found(model, monkeypatch):
    monkeypatch.setattr("core.data.arrays.CHECK_VALUES", 3 * P)  # three rows at a time
    pixels = np.zeros((10, P), np.int16)
    pixels[7, 783] = 300
    assert refusal(model, pixels) == f"pixels: row 7, column 783: value '300' {OUT_OF_RANGE}"


EXPECTED_SHAPES = "expected (rows, 784), (784,) for one row, (rows, 28, 28), or (rows, 1, 28, 28)"


@pytest.mark.parametrize("shape", [(3, P - 1), (3, P + 1), (P - 1,), (0,), (3, 28, 27), (3, 3, 28, 28), (3,),
                                   (1, 1, 1, 28, 28)])
def test_a_wrong_pixel_count_or_shape_is_refused(model, shape):
    assert refusal(model, np.zeros(shape, np.uint8)) == f"pixels: shape {shape}; {EXPECTED_SHAPES}"


@pytest.mark.parametrize("pixels, dtype", [
    (np.zeros((2, P), bool), "bool"), (np.zeros((2, P), object), "object"),
    (np.zeros((2, P), complex), "complex128"), (np.full((2, P), "1"), "<U1"),
])
def test_what_holds_no_numbers_is_refused(model, pixels, dtype):
    assert refusal(model, pixels) == f"pixels: dtype {dtype}; expected integers 0..255 (or floats holding them)"


def test_a_dataframe_without_its_pixel_columns_is_refused(model, rows):
    frame = pd.DataFrame(rows, columns=[f"pixel{i}" for i in range(P)]).assign(label=1)
    assert refusal(model, frame.drop(columns=["pixel783"])) == \
        "pixels (DataFrame): columns: missing column pixel783; expected pixel0..pixel783"
    assert refusal(model, pd.DataFrame(rows[:, :10], columns=list("abcdefghij"))) == \
        "pixels (DataFrame): 10 columns; expected 784 pixel columns, in order or named pixel0..pixel783"
    named_otherwise = pd.DataFrame(rows, columns=[f"c{i}" for i in range(P)])
    assert np.array_equal(model.predict(named_otherwise), model.predict(rows))


# -- docs/api.md ----------------------------------------------------------------------------------------

def doc_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)


def test_every_public_name_is_documented_and_served():
    from core import api

    text = DOCS.read_text(encoding="utf-8")
    assert [name for name in api.__all__ if f"`{name}" not in text and f"{name}(" not in text] == []
    assert all(getattr(api, name) is not None for name in api.__all__)  # the lazy ones import too


def test_the_documented_examples_run_as_written(isolated, tiny_checkpoint, model, rows):
    ray_class, pandas_line, *_ = doc_examples()
    shutil.copy(tiny_checkpoint, isolated / "model.pt")
    expected = model.predict(rows)

    ray = {}
    exec(ray_class, ray)
    batch = {"image": rows.reshape(-1, 28, 28), "path": np.array([f"{i}.png" for i in range(len(rows))])}
    out = ray["Classify"]()(batch)  # as Ray calls it: constructed once, then called with a numpy batch
    assert np.array_equal(out["label"], expected) and out["confidence"].dtype == np.float32
    assert out["path"] is batch["path"]

    frame = pd.DataFrame(rows, columns=[f"pixel{i}" for i in range(P)]).assign(ImageId=range(1, 41), label=3)
    frame.to_csv(isolated / "test.csv", index=False)
    namespace = {}
    exec(pandas_line, namespace)
    assert namespace["labels"].tolist() == expected.tolist()


def test_the_documented_training_example_runs_as_written(isolated, demo_dir):
    *_, training = doc_examples()
    namespace = {"data_dir": demo_dir}
    exec(training, namespace)
    trained, seen = namespace["trained"], namespace["seen"]
    assert len(seen) == 2 and all(0 <= acc <= 1 for acc in seen)  # one call per epoch
    assert trained.checkpoint == Path("model.pt") and (isolated / "model.pt").is_file()
    assert round(trained.metrics["val_accuracy"], 4) == max(seen)  # the demo preset keeps its best epoch


def test_version_is_the_package_metadata_the_cli_prints(runner):
    from importlib.metadata import version

    from core import api
    from jobs.cli import app

    assert api.version() == version("kaggle-job")
    assert runner.invoke(app, ["--version"]).output == f"kaggle-job {api.version()}\n"
