"""Other competitions and datasets than Digit Recognizer, end to end through the real kaggle client and
the emulator: Kannada-MNIST's `id` column and `id,label` sample, 1-based pixel columns with gapped
labels in a nested folder, 14x14 images with named classes; and the bad cases, one line each."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from core.model.checkpoint import load_checkpoint
from jobs.cli import app
from tests.cli_output import one_error, records
from tests.competitions import build, kannada_like, one_based_gapped, pixel_csv, small_strings, target_named


def serve(emu, built):
    emu.add_competition(built.slug, built.zip_bytes, built.answers)
    return built


def rows_of(path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def invoke(runner, *args):
    return runner.invoke(app, [*args, "--log-format", "json"])


def published(result) -> Path:
    done = [r for r in records(result) if r.get("event") == "run.result"]
    assert done, result.output
    return Path(done[0]["submission"])


def accuracy(submission: Path, answers: dict[str, str]) -> float:
    body = rows_of(submission)[1:]
    return sum(answers[i] == label for i, label in body) / len(answers)


def trained_and_predicted(runner, folder: Path, *train_args, test_name="test.csv") -> Path:
    """`train --preset demo` on folder's train file, then `predict` its `test_name` into out.csv; the model."""
    model = folder / "m.pt"
    trained = invoke(runner, "train", "--data-dir", str(folder), "--checkpoint", str(model), "--preset", "demo",
                     *train_args)
    assert trained.exit_code == 0, trained.output
    predicted = invoke(runner, "predict", "--checkpoint", str(model), "-i", str(folder / test_name),
                       "-o", str(folder / "out.csv"))
    assert predicted.exit_code == 0, predicted.output
    return model


# -- whole competitions ---------------------------------------------------------------------------

def test_run_on_a_kannada_like_competition_submits_in_the_sample_format(runner, emu, creds, isolated):
    comp = serve(emu, kannada_like())
    result = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo", "--submit")
    assert result.exit_code == 0, result.output
    data = isolated / "data" / comp.slug
    assert (data / "Dig-MNIST.csv").is_file()  # extra files come along, untouched

    submission = published(result)
    rows = rows_of(submission)
    assert rows[0] == ["id", "label"]  # the sample's header, not ImageId,Label
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(60)]  # the test's own ids, from 0
    assert accuracy(submission, comp.answers) >= 0.9

    record = emu.submissions[-1]
    assert record.content == submission.read_bytes()
    emu.score(record)  # the emulator holds the file to the sample's header and ids, as Kaggle does
    assert record.status == "COMPLETE", record.error
    assert float(record.public_score) == pytest.approx(accuracy(submission, comp.answers))
    manifest = json.loads((submission.parent / "manifest.json").read_text())
    assert manifest["submitted"] is True and manifest["competition"] == comp.slug

    # `submit` follows the same sample.
    model = isolated / "checkpoints" / comp.slug / "model.pt"
    dry = invoke(runner, "submit", "--competition", comp.slug, "--checkpoint", str(model), "--dry-run")
    assert dry.exit_code == 0, dry.output
    checked = [r for r in records(dry) if r.get("event") == "submit.dry_run"][0]
    assert rows_of(checked["file"]) == rows

    # The extra labelled file scores with the same model, in the original label space.
    scored = invoke(runner, "score", str(data / "Dig-MNIST.csv"), "--checkpoint", str(model))
    assert scored.exit_code == 0, scored.output
    result_line = [r for r in records(scored) if r.get("event") == "score.result"][0]
    assert result_line["accuracy"] >= 0.9 and result_line["unknown_labels"] == 0


def test_one_based_gapped_labels_in_a_folder_train_predict_score(runner, emu, creds, isolated, tmp_path):
    comp = serve(emu, one_based_gapped())
    got = invoke(runner, "download", "--competition", comp.slug)
    assert got.exit_code == 0, got.output
    data = isolated / "data" / comp.slug
    assert (data / "gapped-like" / "train.csv").is_file()
    assert json.loads((data / "files.json").read_text())["paths"]["test"] == "gapped-like/test.csv"

    model = tmp_path / "gapped.pt"
    trained = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(model), "--preset", "demo")
    assert trained.exit_code == 0, trained.output
    # 19 validation rows cannot hold 24 classes: a plain random split, said in one warning.
    assert [r for r in records(trained) if r.get("event") == "train.split"]
    spec = load_checkpoint(model).spec
    assert spec.classes == comp.classes and len(spec.classes) == 24 and 9 not in spec.classes
    assert spec.input_shape == (1, 28, 28)

    out = tmp_path / "submission.csv"
    predicted = invoke(runner, "predict", "--checkpoint", str(model), "--input", str(data / "gapped-like" / "test.csv"),
                       "--data-dir", str(data), "--output", str(out))
    assert predicted.exit_code == 0, predicted.output
    rows = rows_of(out)
    assert rows[0] == ["ImageId", "Label"]
    assert {r[1] for r in rows[1:]} <= {str(c) for c in comp.classes}
    assert accuracy(out, comp.answers) >= 0.8

    # A labelled 1-based file: accuracy and probabilities in the original (gapped) labels.
    labelled = tmp_path / "labelled.csv"
    truth = [comp.answers[r[0]] for r in rows[1:]]
    test_rows = rows_of(data / "gapped-like" / "test.csv")
    labelled.write_text("label," + ",".join(test_rows[0]) + "\n"
                        + "".join(f"{t}," + ",".join(r) + "\n" for t, r in zip(truth, test_rows[1:])))
    scored = invoke(runner, "score", str(labelled), "--checkpoint", str(model), "--probs", str(tmp_path / "p.parquet"),
                    "--output", str(tmp_path / "scores.csv"), "--report", str(tmp_path / "report"))
    assert scored.exit_code == 0, scored.output
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "p.parquet").column_names == ["ImageId"] + [f"p_{c}" for c in comp.classes]
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["labels"][:24] == \
        [str(c) for c in comp.classes]

    inspected = invoke(runner, "inspect", "--data-dir", str(data), "--output", str(tmp_path / "look"))
    assert inspected.exit_code == 0, inspected.output
    assert "train.csv: 192 rows x 784 pixels (28x28 images, with labels)" in inspected.output


def test_run_on_14x14_images_with_named_classes(runner, emu, creds, isolated):
    comp = serve(emu, small_strings())
    result = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo")
    assert result.exit_code == 0, result.output
    submission = published(result)
    rows = rows_of(submission)
    assert rows[0] == ["Id", "Category"]  # the label column keeps the sample's spelling
    assert {r[1] for r in rows[1:]} <= {"cat", "dog", "owl"}
    assert accuracy(submission, comp.answers) >= 0.9
    spec = load_checkpoint(isolated / "checkpoints" / comp.slug / "model.pt").spec
    assert spec.classes == ["cat", "dog", "owl"] and spec.input_shape == (1, 14, 14)
    inspected = invoke(runner, "inspect", "--competition", comp.slug)
    assert inspected.exit_code == 0, inspected.output
    assert "class balance: cat: 40" in inspected.output


def test_a_label_named_as_in_the_sample_trains_and_scores(runner, emu, creds, isolated, tmp_path):
    comp = serve(emu, target_named())
    result = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo", "--submit")
    assert result.exit_code == 0, result.output
    submission = published(result)
    assert rows_of(submission)[0] == ["id", "target"] and accuracy(submission, comp.answers) >= 0.9

    data, model = isolated / "data" / comp.slug, isolated / "checkpoints" / comp.slug / "model.pt"
    assert load_checkpoint(model).spec.classes == comp.classes
    # Outside the competition folder `target` is the label too, as no column is named `label`.
    extra = tmp_path / "extra.csv"
    extra.write_bytes((data / "extra.csv").read_bytes())
    for named in ([], ["--label-column", "TARGET"]):
        scored = invoke(runner, "score", str(extra), "--checkpoint", str(model), *named)
        assert scored.exit_code == 0, scored.output
        result = [r for r in records(scored) if r.get("event") == "score.result"][0]
        assert result["accuracy"] >= 0.9 and result["rows"] == 60
    trained = invoke(runner, "train", "--data-dir", str(tmp_path), "--checkpoint", str(tmp_path / "m.pt"),
                     "--preset", "demo", "--epochs", "1", "--label-column", "target")
    assert trained.exit_code == 2 and one_error(trained) == f"{tmp_path / 'train.csv'}: no such file; run `kaggle-job download` first"
    (tmp_path / "train.csv").write_bytes((data / "train.csv").read_bytes())
    trained = invoke(runner, "train", "--data-dir", str(tmp_path), "--checkpoint", str(tmp_path / "m.pt"),
                     "--preset", "demo", "--epochs", "1")
    assert trained.exit_code == 0, trained.output
    assert load_checkpoint(tmp_path / "m.pt").spec.classes == comp.classes
    trained = invoke(runner, "train", "--data-dir", str(tmp_path), "--checkpoint", str(tmp_path / "m.pt"),
                     "--preset", "demo", "--epochs", "1", "--label-column", "target")
    assert trained.exit_code == 0, trained.output
    inspected = invoke(runner, "inspect", "--data-dir", str(data), "--output", str(tmp_path / "look"))
    assert inspected.exit_code == 0 and "train.csv: 160 rows x 256 pixels (16x16 images, with labels)" in inspected.output


def test_a_comma_ending_every_line_is_named_and_skipped_on_request(runner, emu, creds, isolated):
    built = build("trailing-commas", list(range(4)), 16, train_per_class=40)
    for name in ("train.csv", "test.csv"):  # as Excel and some exporters write them
        built.files[name] = b"".join(line + b",\n" for line in built.files[name].splitlines())
    comp = serve(emu, built)
    refused = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo")
    assert refused.exit_code == 2
    assert one_error(refused) == (f"{isolated / 'data' / comp.slug / 'train.csv'}: line 1, column 258: a column "
                                  "without a name (a comma at the end of the header line?); --ignore-extra-columns "
                                  "skips it")
    result = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo", "--ignore-extra-columns")
    assert result.exit_code == 0, result.output
    assert accuracy(published(result), comp.answers) >= 0.9
    warned = {r["event"]: r["columns"] for r in records(result) if r.get("event", "").endswith("ignored_columns")}
    assert warned == {"train.ignored_columns": [""], "predict.ignored_columns": [""]}
    data = isolated / "data" / comp.slug
    trained = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(isolated / "m.pt"),
                     "--preset", "demo", "--epochs", "1", "--ignore-extra-columns")
    assert trained.exit_code == 0 and "ignoring column(s) ''" in trained.output
    inspected = invoke(runner, "inspect", "--data-dir", str(data), "--output", str(isolated / "look"))
    assert inspected.exit_code == 2 and "a column without a name" in one_error(inspected)
    inspected = invoke(runner, "inspect", "--data-dir", str(data), "--output", str(isolated / "look"),
                       "--ignore-extra-columns")
    assert inspected.exit_code == 0 and "train.csv: 160 rows x 256 pixels" in inspected.output


def test_run_reads_a_label_column_named_on_the_command_line(runner, emu, creds, isolated):
    comp = serve(emu, build("digit-named", list(range(4)), 16, label_name="digit", train_per_class=40))
    unnamed = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo")
    assert unnamed.exit_code == 2 and "unexpected column 'digit'" in one_error(unnamed)
    assert "--label-column digit if it holds the labels" in one_error(unnamed)
    named = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo", "--label-column", "digit")
    assert named.exit_code == 0, named.output
    assert accuracy(published(named), comp.answers) >= 0.9


def test_input_shape_is_stored_and_a_file_of_another_size_is_refused(runner, tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "wide"
    data.mkdir()
    labels = np.repeat([0, 1], 40)
    pixels = np.zeros((80, 6, 10), np.uint8)
    pixels[labels == 0, :, :5] = 200  # left half bright, or right half
    pixels[labels == 1, :, 5:] = 200
    pixels += rng.integers(0, 20, size=pixels.shape, dtype=np.uint8)
    (data / "train.csv").write_bytes(pixel_csv(pixels.reshape(80, 60), labels=labels))
    model = tmp_path / "wide.pt"

    refused = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(model), "--preset", "demo")
    assert refused.exit_code == 2
    assert one_error(refused).endswith("60 pixel columns do not form a square image; give the shape with "
                                       "--input-shape CxHxW or HxWxC")
    (tmp_path / "colour").mkdir()
    (tmp_path / "colour" / "train.csv").write_bytes(pixel_csv(np.zeros((4, 48), np.uint8), labels=[0, 1, 0, 1]))
    colour = invoke(runner, "train", "--data-dir", str(tmp_path / "colour"), "--checkpoint", str(model))
    assert colour.exit_code == 2 and one_error(colour).endswith(
        "48 pixel columns do not form a square image; give the shape with --input-shape CxHxW or HxWxC (3x4x4 if "
        "they are three colour planes: all red, then green, then blue; 4x4x3 if each pixel's red, green and blue are "
        "side by side)")

    trained = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(model), "--preset", "demo",
                     "--epochs", "2", "--input-shape", "1x6x10")
    assert trained.exit_code == 0, trained.output
    assert load_checkpoint(model).spec.input_shape == (1, 6, 10)

    other = tmp_path / "other.csv"
    other.write_bytes(pixel_csv(np.zeros((3, 64), np.uint8)))
    wrong = invoke(runner, "predict", "--checkpoint", str(model), "--input", str(other), "--output",
                   str(tmp_path / "out.csv"))
    assert wrong.exit_code == 2
    assert f"{other}: line 1: 64 pixel columns (pixel0..pixel63); expected 60 (pixel0..pixel59)" in one_error(wrong)

    bad = invoke(runner, "train", "--data-dir", str(data), "--input-shape", "6by10")
    assert bad.exit_code == 2 and "--input-shape: expected CxHxW" in one_error(bad)


def hmnist_like(count: int, seed: int, labelled: bool = True) -> tuple[np.ndarray, np.ndarray, bytes]:
    """Skin Cancer MNIST's hmnist_8_8_RGB.csv: (H, W, C) images flattened, so each pixel's red, green and
    blue sit side by side, in `pixel0000..pixel0191` with the label last. The class is where red meets
    green: red left and green right, or the reverse."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = rng.integers(0, 30, size=(count, 8, 8, 3), dtype=np.uint8)
    images[labels == 0, :, :4, 0] = 220
    images[labels == 0, :, 4:, 1] = 220
    images[labels == 1, :, :4, 1] = 220
    images[labels == 1, :, 4:, 0] = 220
    rows = images.reshape(count, -1)
    label = ["label"] if labelled else []
    lines = [",".join([*(f"pixel{i:04d}" for i in range(rows.shape[1])), *label])]
    lines += [",".join([*map(str, row), *([str(y)] if labelled else [])]) for row, y in zip(rows, labels)]
    return images, labels, ("\n".join(lines) + "\n").encode()


def test_channels_last_pixels_train_predict_and_score_as_images(runner, tmp_path):
    from core.predict.predictor import Predictor
    from core.train.data import load_training_data

    data = tmp_path / "hmnist"
    data.mkdir()
    images, _, train_bytes = hmnist_like(240, seed=0)
    (data / "train.csv").write_bytes(train_bytes)
    test_images, test_labels, test_bytes = hmnist_like(60, seed=1)
    (data / "test.csv").write_bytes(test_bytes)

    loaded, _, _ = load_training_data(data / "train.csv", (3, 8, 8), pixel_order="hwc")
    assert np.array_equal(loaded.numpy(), images.transpose(0, 3, 1, 2))  # plane c holds channel c of every pixel

    model = trained_and_predicted(runner, data, "--input-shape", "8x8x3", "--epochs", "4")
    spec = load_checkpoint(model).spec
    assert (spec.input_shape, spec.pixel_order) == ((3, 8, 8), "hwc")
    predicted = [int(label) for _, label in rows_of(data / "out.csv")[1:]]
    assert np.mean(np.array(predicted) == test_labels) >= 0.9
    # The file's rows, read through the loader, are the images the model is given directly.
    planes = np.ascontiguousarray(test_images.transpose(0, 3, 1, 2))
    direct = Predictor.load([model], device="cpu").predict_proba(planes)
    assert predicted == [int(spec.classes[k]) for k in direct.argmax(axis=1)]

    scored = invoke(runner, "score", str(data / "test.csv"), "--checkpoint", str(model), "--report",
                    str(tmp_path / "report"))
    assert scored.exit_code == 0, scored.output
    assert (tmp_path / "report" / "misclassified.png").is_file()

    # predict-image: a colour picture is resized as it is (not made a grayscale digit), red left = class 0.
    from PIL import Image

    pictures = []
    red, green = (220, 0, 0), (0, 220, 0)
    for name, left, right in (("red-left.png", red, green), ("green-left.png", green, red)):
        picture = np.zeros((32, 32, 3), np.uint8)
        picture[:, :16], picture[:, 16:] = left, right
        pictures.append(tmp_path / name)
        Image.fromarray(picture).save(pictures[-1])
    named = invoke(runner, "predict-image", *map(str, pictures), "--checkpoint", str(model))
    assert named.exit_code == 0, named.output
    assert [r["label"] for r in records(named) if r.get("event") == "predict_image.result"] == ["0", "1"]

    unshaped = invoke(runner, "inspect", "--data-dir", str(data), "-o", str(tmp_path / "look"))
    assert unshaped.exit_code == 2 and one_error(unshaped).endswith(
        "192 pixel columns do not form a square image; give the shape with --input-shape CxHxW or HxWxC (3x8x8 if "
        "they are three colour planes: all red, then green, then blue; 8x8x3 if each pixel's red, green and blue are "
        "side by side)")
    looked = invoke(runner, "inspect", "--data-dir", str(data), "-o", str(tmp_path / "look"), "--input-shape", "8x8x3")
    assert looked.exit_code == 0, looked.output
    assert "train.csv: 240 rows x 192 pixels (8x8 images, 3 channels, with labels)" in looked.output
    assert (tmp_path / "look" / "first_look.png").is_file()


def test_run_trains_a_channels_last_competition_and_submits(runner, emu, creds, isolated):
    from tests.competitions import Built

    _, _, train_bytes = hmnist_like(240, seed=0)
    _, test_labels, test_bytes = hmnist_like(60, seed=1, labelled=False)
    ids = [str(i) for i in range(1, 61)]
    sample = ("ImageId,Label\n" + "".join(f"{i},0\n" for i in ids)).encode()
    comp = serve(emu, Built("hmnist-like", {"train.csv": train_bytes, "test.csv": test_bytes,
                                            "sample_submission.csv": sample},
                            dict(zip(ids, map(str, test_labels))), [0, 1], 8))
    result = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo", "--input-shape", "8x8x3",
                    "--submit")
    assert result.exit_code == 0, result.output
    model = isolated / "checkpoints" / comp.slug / "model.pt"
    spec = load_checkpoint(model).spec
    assert (spec.input_shape, spec.pixel_order) == ((3, 8, 8), "hwc")
    assert accuracy(published(result), comp.answers) >= 0.9

    trained = lambda result: any(r.get("event") == "train.start" for r in records(result))
    again = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo", "--input-shape", "8x8x3")
    assert again.exit_code == 0 and not trained(again)  # the same data and shape: the model is reused
    planes = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo", "--input-shape", "3x8x8")
    assert planes.exit_code == 0 and trained(planes), planes.output  # another pixel order: trained again
    assert load_checkpoint(model).spec.pixel_order == "chw"


def test_checkpoints_reading_pixels_in_other_orders_are_not_averaged(tmp_path):
    from core.base.errors import BadInput
    from core.model.checkpoint import save_checkpoint
    from core.model.spec import ModelSpec
    from core.predict.predictor import Predictor

    paths = []
    for order in ("chw", "hwc"):
        spec = ModelSpec(arch="baseline", input_shape=(3, 8, 8), classes=[0, 1], pixel_order=order)
        paths.append(save_checkpoint(tmp_path / f"{order}.pt", spec.build(), spec))
    with pytest.raises(BadInput, match="input shape, pixel order or classes differ"):
        Predictor.load(paths, device="cpu")
    assert Predictor.load([paths[1], paths[1]], device="cpu").spec.pixel_order == "hwc"


def test_more_classes_than_a_checkpoint_may_carry_are_refused_before_training(runner, tmp_path):
    """100,001 different labels (an id column taken for the label): one line before training, not at the save."""
    from core.model.spec import MAX_CLASSES

    data = tmp_path / "ids"
    data.mkdir()
    rows = "".join(f"{i},0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n" for i in range(MAX_CLASSES + 1))
    (data / "train.csv").write_text("label," + ",".join(f"pixel{i}" for i in range(16)) + "\n" + rows)
    result = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(tmp_path / "m.pt"),
                    "--preset", "demo")
    assert result.exit_code == 2 and not any(r.get("event") == "train.start" for r in records(result))
    assert one_error(result).endswith("100,001 different values in label; a model takes at most 100,000 classes "
                                      "(--label-column names another column)")


@pytest.mark.parametrize("height, refused", [(1024, False), (1025, True)])
def test_a_shape_no_checkpoint_may_carry_is_refused_before_training(runner, tmp_path, height, refused):
    """The checkpoint limits (sides up to 1024) hold for training too: before, 1025 trained every epoch and
    was refused only when the checkpoint was saved."""
    rng = np.random.default_rng(0)
    data = tmp_path / "tall"
    data.mkdir()
    (data / "train.csv").write_bytes(pixel_csv(rng.integers(0, 256, (20, height * 4), dtype=np.uint8),
                                               labels=[0, 1] * 10))
    result = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(tmp_path / "m.pt"), "--preset",
                    "demo", "--epochs", "1", "--input-shape", f"1x{height}x4")
    started = any(r.get("event") == "train.start" for r in records(result))
    if refused:
        assert result.exit_code == 2 and not started
        assert one_error(result).endswith(f"input shape [1, {height}, 4]: expected channels 1..16 and sides 1..1024")
    else:
        assert result.exit_code == 0, result.output
        assert load_checkpoint(tmp_path / "m.pt").spec.input_shape == (1, height, 4)


@pytest.mark.parametrize("text, shape", [
    ("3x28x28", ((3, 28, 28), "chw")), ("28x28x3", ((3, 28, 28), "hwc")), ("5x5x4", ((4, 5, 5), "hwc")),
    ("4x5x4", ((4, 5, 4), "chw")), ("5x5x5", ((5, 5, 5), "chw")), ("28x28x1", ((1, 28, 28), "chw")),
    ("6x10", ((1, 6, 10), "chw")), ("3x3x3", ((3, 3, 3), "chw")),
])
def test_input_shape_names_its_channels_first_or_last(text, shape):
    from core.data.layout import parse_shape

    assert parse_shape(text) == shape


def test_a_class_with_a_single_row_still_trains(runner, tmp_path):
    rng = np.random.default_rng(1)
    data = tmp_path / "rare"
    data.mkdir()
    labels = np.array(["a"] * 30 + ["b"] * 30 + ["lonely"])
    (data / "train.csv").write_bytes(pixel_csv(rng.integers(0, 255, (61, 16), dtype=np.uint8), labels=labels))
    model = tmp_path / "rare.pt"
    result = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(model), "--preset", "demo",
                    "--epochs", "1")
    assert result.exit_code == 0, result.output
    warned = [r for r in records(result) if r.get("event") == "train.rare_classes"]
    assert warned and "lonely" in warned[0]["msg"]
    assert load_checkpoint(model).spec.classes == ["a", "b", "lonely"]


@pytest.mark.parametrize("rows", [1, 2, 3])
def test_a_file_too_small_to_validate_trains_on_every_row_from_two(runner, tmp_path, rows):
    data = tmp_path / "tiny"
    data.mkdir()
    pixels = np.random.default_rng(2).integers(0, 255, (rows, 16), dtype=np.uint8)
    (data / "train.csv").write_bytes(pixel_csv(pixels, labels=np.arange(rows)))  # every class one row
    model = tmp_path / "tiny.pt"
    result = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(model), "--preset", "demo",
                    "--epochs", "1")
    if rows == 1:
        assert result.exit_code == 2
        assert one_error(result) == (f"{data / 'train.csv'}: every row's label is 0; training needs at least 2 "
                                     "classes (--label-column names another column)")
        assert not model.exists()
        return
    assert result.exit_code == 0, result.output
    assert any(r.get("event") == "train.split" and "training on every row" in r["msg"] for r in records(result))
    assert load_checkpoint(model).metrics["train_rows"] == rows


def test_a_last_batch_of_one_row_is_skipped_not_fatal(runner, tmp_path):
    """4x4 images end leannet at 1x1, where BatchNorm cannot train on one row: 65 rows in batches of
    64 leave one over."""
    data = tmp_path / "remainder"
    data.mkdir()
    pixels = np.random.default_rng(4).integers(0, 255, (65, 16), dtype=np.uint8)
    (data / "train.csv").write_bytes(pixel_csv(pixels, labels=np.arange(65) % 2))
    result = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(tmp_path / "r.pt"),
                    "--preset", "demo", "--epochs", "1", "--val-fraction", "0", "--batch-size", "64")
    assert result.exit_code == 0, result.output
    assert load_checkpoint(tmp_path / "r.pt").metrics["train_rows"] == 65
    history = list(csv.DictReader(open(tmp_path / "r.history.csv")))
    assert len(history) == 1 and math.isfinite(float(history[0]["train_loss"])), history  # one epoch, trained


@pytest.mark.parametrize("side, fits", [(1, False), (3, False), (4, True)])
def test_images_too_small_for_the_network_are_one_line(runner, tmp_path, side, fits):
    """leannet's demo stages pool twice: 4x4 is the smallest image it takes."""
    data = tmp_path / f"side{side}"
    data.mkdir()
    labels = np.repeat([0, 1], 10)
    pixels = np.random.default_rng(3).integers(0, 255, (20, side * side), dtype=np.uint8)
    (data / "train.csv").write_bytes(pixel_csv(pixels, labels=labels))
    result = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(tmp_path / "s.pt"),
                    "--preset", "demo", "--epochs", "1")
    if fits:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2
        assert one_error(result).startswith(f"images of 1x{side}x{side} (channels x height x width) are too small "
                                            "for leannet: ")


# -- one line for each bad case ---------------------------------------------------------------------

def _competition_with(emu, slug, **changes):
    base = build(slug, [0, 1, 2], 8, train_per_class=10, test_rows=12, test_id="id", first_id=0,
                 sample_header=("id", "label"))
    base.files.update({k: v for k, v in changes.items() if v is not None})
    for name in [k for k, v in changes.items() if v is None]:
        del base.files[name]
    return serve(emu, base)


def test_mixed_zero_and_one_based_pixel_columns_are_refused(runner, tmp_path):
    data = tmp_path / "mixed"
    data.mkdir()
    header = "label," + ",".join(f"pixel{i}" for i in range(785))  # pixel0 .. pixel784
    (data / "train.csv").write_text(header + "\n" + "1," + ",".join(["0"] * 785) + "\n")
    result = invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(tmp_path / "m.pt"))
    assert result.exit_code == 2
    assert one_error(result) == (f"{data / 'train.csv'}: line 1: both pixel0 and pixel784: pixel columns numbered "
                                 "from 0 and from 1 are mixed; expected pixel0..pixel783 or pixel1..pixel784")


def test_sample_ids_that_differ_from_the_test_ids_stop_the_run(runner, emu, creds, isolated):
    sample = b"id,label\n" + b"".join(f"{i},0\n".encode() for i in range(1, 13))  # 1..12; test has 0..11
    comp = _competition_with(emu, "ids-differ", **{"sample_submission.csv": sample})
    result = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo")
    assert result.exit_code == 2
    message = one_error(result)
    assert "test.csv: its ids differ from" in message and "sample_submission.csv's" in message
    assert "1 ('0') only in test.csv, 1 ('12') only in the sample" in message
    assert not list((isolated / "submissions").glob(f"{comp.slug}/*/submission.csv"))


def test_a_sample_with_three_columns_is_refused(runner, emu, creds, isolated):
    comp = _competition_with(emu, "three-columns", **{"sample_submission.csv": b"id,label,extra\n0,0,0\n"})
    result = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo")
    assert result.exit_code == 2
    assert "sample_submission.csv: line 1: 3 columns; expected a two-column header, id then label" in one_error(result)


def test_a_train_csv_without_a_label_column_is_refused(runner, emu, creds, isolated):
    no_label = pixel_csv(np.zeros((5, 64), np.uint8))
    comp = _competition_with(emu, "no-label", **{"train.csv": no_label})
    result = invoke(runner, "run", "--competition", comp.slug, "--preset", "demo")
    assert result.exit_code == 2
    assert "train.csv: line 1: no label column; a training file needs one (named label" in one_error(result)


def test_an_archive_without_a_test_file_lists_what_it_holds(runner, emu, creds, isolated):
    comp = _competition_with(emu, "no-test", **{"test.csv": None, "notes/readme.txt": b"hi"})
    result = invoke(runner, "download", "--competition", comp.slug)
    assert result.exit_code == 2
    assert ("no test.csv in the archive; it holds notes/readme.txt, sample_submission.csv, train.csv"
            in one_error(result))
    assert not (isolated / "data" / comp.slug).exists()


def test_other_competitions_have_no_offline_demo(runner, isolated):
    result = invoke(runner, "run", "--competition", "kannada-like")
    assert result.exit_code == 3
    assert "no Kaggle credentials found to download kannada-like" in one_error(result)
    demo = invoke(runner, "download", "--demo", "--competition", "kannada-like")
    assert demo.exit_code == 2 and "there is none for kannada-like" in one_error(demo)


def test_the_emulator_serves_a_built_zip_as_listed(emu, creds):
    comp = serve(emu, kannada_like())
    listed = emu.competitions[comp.slug]
    assert listed.header == ("id", "label")
    assert sorted(listed.file_sizes) == ["Dig-MNIST.csv", "sample_submission.csv", "test.csv", "train.csv"]


@pytest.mark.parametrize("paths", [["train.csv"], "train.csv", {"train": "../../etc/passwd"}, {"test": 7}])
def test_a_files_json_with_odd_paths_falls_back_to_the_names_in_the_folder(tmp_path, paths):
    from core.data.competition import CompetitionFiles

    for name in ("train.csv", "test.csv", "sampleSubmission.csv"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "files.json").write_text(json.dumps({"paths": paths}))
    files = CompetitionFiles(tmp_path).check()
    assert (files.train, files.test, files.sample) == (tmp_path / "train.csv", tmp_path / "test.csv",
                                                       tmp_path / "sampleSubmission.csv")


def test_labels_written_as_floats_are_the_integer_classes(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.base.errors import BadInput
    from core.data.classes import classes_of
    from core.data.table import read_pixel_table

    source = tmp_path / "floats.csv"  # what pandas writes for a frame made float by one NaN, dropped since
    source.write_text("label,pixel0,pixel1,pixel2,pixel3\n3.0,0.0,255.0,0.0,0.0\n10.00,1.0,0,0,0\n"
                      "0.0,0,0,0,0\n-1.0,0,0,0,0\n1.5,0,0,0,0\nv1.0,0,0,0,0\n")
    table = read_pixel_table(source)
    assert table.labels.tolist() == ["3", "10", "0", "-1", "1.5", "v1.0"]  # only whole numbers change
    assert table.pixels[:2].tolist() == [[0, 255, 0, 0], [1, 0, 0, 0]]
    (tmp_path / "whole.csv").write_text("label,pixel0\n3.0,0\n10.0,0\n0.0,0\n")
    assert classes_of(read_pixel_table(tmp_path / "whole.csv").labels) == [0, 3, 10]
    labels = np.array([1.0, 2.0, np.nan])
    pq.write_table(pa.table({"label": labels, "pixel0": np.zeros(3, np.uint8)}), tmp_path / "nan.parquet")
    with pytest.raises(BadInput, match="data row 3, column label: empty cell; expected a label"):
        read_pixel_table(tmp_path / "nan.parquet")
    pq.write_table(pa.table({"label": labels[:2], "pixel0": np.zeros(2, np.uint8)}), tmp_path / "ok.parquet")
    assert classes_of(read_pixel_table(tmp_path / "ok.parquet").labels) == [1, 2]


def _renamed(text: bytes, rename) -> str:
    lines = text.decode().splitlines()
    return "\n".join([",".join(rename(name) for name in lines[0].split(","))] + lines[1:]) + "\n"


@pytest.mark.parametrize("scheme,rename", [
    ("grid", lambda name: f"{int(name[5:]) // 16 + 1}x{int(name[5:]) % 16 + 1}" if name.startswith("pixel") else name),
    ("padded", lambda name: f"pixel_{int(name[5:]):04d}" if name.startswith("pixel") else name),
    ("padded-plain", lambda name: f"pixel{int(name[5:]):04d}" if name.startswith("pixel") else name),
])
def test_other_pixel_naming_schemes_train_and_predict(runner, tmp_path, scheme, rename):
    """'MNIST in CSV' names pixels by row and column (label,1x1,...,28x28); the Devanagari characters
    zero-pad them (pixel_0000,...), Skin Cancer MNIST without the underscore (pixel0000,...). All give
    the same pixels as pixel0..pixelN-1."""
    from core.data.table import read_pixel_table

    built = build(f"named-{scheme}", list(range(4)), 16, train_per_class=40)
    for name, text in built.files.items():
        (tmp_path / name).write_text(_renamed(text, rename))
    plain = tmp_path / "plain.csv"
    plain.write_bytes(built.files["train.csv"])
    table = read_pixel_table(tmp_path / "train.csv")
    np.testing.assert_array_equal(table.pixels, read_pixel_table(plain).pixels)
    model = trained_and_predicted(runner, tmp_path)
    assert accuracy(tmp_path / "out.csv", built.answers) >= 0.9
    header = (tmp_path / "test.csv").read_text().splitlines()[0].split(",")
    missing = rename("pixel17")
    header[header.index(missing)] = "something"
    (tmp_path / "gap.csv").write_text(",".join(header) + "\n" + ",".join(["0"] * len(header)) + "\n")
    refused = invoke(runner, "predict", "--checkpoint", str(model), "-i", str(tmp_path / "gap.csv"),
                     "-o", str(tmp_path / "gap_out.csv"), "--ignore-extra-columns")
    assert refused.exit_code == 2 and f"missing column {missing};" in one_error(refused)


def test_row_by_column_names_give_a_non_square_shape(runner, tmp_path):
    """1x1..8x32: the names say 8 rows of 32, which no square count could; trained without --input-shape."""
    built = build("grid-8x32", list(range(4)), 16, train_per_class=40)
    rename = lambda name: f"{int(name[5:]) // 32 + 1}x{int(name[5:]) % 32 + 1}" if name.startswith("pixel") else name
    for name, text in built.files.items():
        (tmp_path / name).write_text(_renamed(text, rename))
    assert load_checkpoint(trained_and_predicted(runner, tmp_path)).spec.input_shape == (1, 8, 32)
    assert accuracy(tmp_path / "out.csv", built.answers) >= 0.9
    inspected = invoke(runner, "inspect", "--data-dir", str(tmp_path), "--output", str(tmp_path / "look"))
    assert inspected.exit_code == 0, inspected.output
    lines = (tmp_path / "train.csv").read_text().splitlines()  # the last row short: 8x25..8x32 gone
    keep = [i for i, name in enumerate(lines[0].split(",")) if not (name.startswith("8x") and int(name[2:]) > 24)]
    (tmp_path / "short").mkdir()
    (tmp_path / "short" / "train.csv").write_text("\n".join(",".join(line.split(",")[i] for i in keep)
                                                           for line in lines))
    refused = invoke(runner, "train", "--data-dir", str(tmp_path / "short"), "--checkpoint", str(tmp_path / "s.pt"),
                     "--preset", "demo")
    assert refused.exit_code == 2 and "missing column 8x25 (and 7 more); expected 1x1..8x32" in one_error(refused)


def test_bare_number_names_from_a_data_frame_train_and_predict(runner, tmp_path):
    """`pd.DataFrame(array).to_csv()` names pixels 0..N-1; Bengali.AI's Parquet `image_id, 0, 1, ...`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.data.table import read_pixel_table

    built = build("frame-names", list(range(4)), 16, train_per_class=40)
    bare = lambda name: name[5:] if name.startswith("pixel") else name
    for name, text in built.files.items():
        (tmp_path / name).write_text(_renamed(text, bare))
    plain = tmp_path / "plain.csv"
    plain.write_bytes(built.files["train.csv"])
    np.testing.assert_array_equal(read_pixel_table(tmp_path / "train.csv").pixels, read_pixel_table(plain).pixels)
    test = read_pixel_table(tmp_path / "test.csv").pixels
    columns = {"image_id": [f"Test_{i}" for i in range(len(test))]}
    columns.update({str(k): test[:, k] for k in range(test.shape[1])})
    pq.write_table(pa.table(columns), tmp_path / "test.parquet")
    trained_and_predicted(runner, tmp_path, test_name="test.parquet")
    rows = rows_of(tmp_path / "out.csv")
    assert rows[1][0] == "Test_0" and len(rows) == len(test) + 1  # the image_id column is the id
    labels = dict(zip((str(i) for i in range(1, len(test) + 1)), (label for _, label in rows[1:])))
    assert sum(labels[i] == built.answers[i] for i in built.answers) / len(built.answers) >= 0.9


def test_numpy_savetxt_files_train_and_predict(runner, tmp_path):
    """`np.savetxt("train.csv", np.c_[labels, images])`: no header, single spaces, "%.18e" floats."""
    from core.data.table import read_pixel_table

    built = build("savetxt", list(range(4)), 16, train_per_class=40)
    for name in ("train.csv", "test.csv"):
        (tmp_path / "plain.csv").write_bytes(built.files[name])
        table = read_pixel_table(tmp_path / "plain.csv")
        rows = table.pixels if table.labels is None else np.c_[table.labels.astype(int), table.pixels]
        np.savetxt(tmp_path / name, rows)
    first = (tmp_path / "train.csv").read_text().split(" ", 1)[0]
    assert first.endswith("e+00") and "," not in first  # what savetxt wrote: "3.000000000000000000e+00 ..."
    model = trained_and_predicted(runner, tmp_path)
    assert load_checkpoint(model).spec.classes == [0, 1, 2, 3]
    assert accuracy(tmp_path / "out.csv", built.answers) >= 0.9


def test_pixel_names_that_cannot_be_one_image(tmp_path):
    from core.base.errors import BadInput
    from core.data.layout import read_layout

    cases = {
        "pixel0,pixel_0000,pixel1": "column 2: 'pixel_0000' and 'pixel0' (column 1) name pixels in two ways",
        "pixel_0,pixel_1,pixel_01,pixel_2,pixel_3": "column 3: 'pixel_01' names the same pixel as 'pixel_1' (column 2)",
        "label,1x2,2x1,2x2": "the first pixel column is 1x2; expected 1x1",
        "label,1x1,1x2,2x1,2x2,pixel0": "column 6: 'pixel0' and '1x1' (column 2) name pixels in two ways",
        "pixel_00000000000000007": "the first pixel column is pixel_00000000000000007; expected pixel_0000",
        "pixel_0000,pixel_99999999999": "column 2: 'pixel_99999999999' is not a pixel column name: index beyond",
        "0x1,1x1": "unexpected column '0x1'",
        # Zero-padded pixel<i> names must all have one width, or an index could be read two ways.
        "pixel0,pixel1,pixel02": "column 3: 'pixel02' is not a pixel column name: a pixel index has no leading zeros",
        "pixel00,pixel01,pixel002": "column 1: 'pixel00' is not a pixel column name: a pixel index has no leading",
        "pixel0000,pixel0001,pixel_0002": "column 3: 'pixel_0002' and 'pixel0000' (column 1) name pixels in two ways",
        "pixel0002,pixel0003": "the first pixel column is pixel0002; expected pixel0000",
    }
    for header, expected in cases.items():
        (tmp_path / "f.csv").write_text(header + "\n" + ",".join(["0"] * len(header.split(","))) + "\n")
        with pytest.raises(BadInput) as raised:
            read_layout(tmp_path / "f.csv")
        assert expected in str(raised.value), (header, str(raised.value))
    (tmp_path / "f.csv").write_text("label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n")
    with pytest.raises(BadInput, match="column 5: 'pixel3' is named as the label column but is a pixel column"):
        read_layout(tmp_path / "f.csv", label_names=["PIXEL3"])
    assert read_layout(tmp_path / "f.csv", label_names=["pixel4"]).num_pixels == 4  # a name not there: no matter
    (tmp_path / "f.csv").write_text("pixel00,pixel01,pixel02,pixel03\n0,0,0,0\n")
    assert read_layout(tmp_path / "f.csv").num_pixels == 4


@pytest.mark.parametrize("classes", [["cat"], ["cat", "dog"]])
def test_training_needs_two_classes(runner, tmp_path, classes):
    built = build("few-classes", classes, 8, train_per_class=20)
    (tmp_path / "train.csv").write_bytes(built.files["train.csv"])
    trained = invoke(runner, "train", "--data-dir", str(tmp_path), "--checkpoint", str(tmp_path / "m.pt"),
                     "--preset", "demo", "--epochs", "1")
    if len(classes) == 1:
        assert trained.exit_code == 2 and one_error(trained) == (
            f"{tmp_path / 'train.csv'}: every row's label is 'cat'; training needs at least 2 classes "
            "(--label-column names another column)")
        assert not (tmp_path / "m.pt").exists()
    else:
        assert trained.exit_code == 0, trained.output


def test_a_float_frame_trains_and_submits_integer_labels(runner, tmp_path):
    built = build("float-frame", list(range(4)), 16, train_per_class=40, test_id="id", sample_header=("id", "label"))
    for name, text in built.files.items():
        lines = text.decode().splitlines()
        if name != "sample_submission.csv":  # every cell as "7.0": labels, pixels and the test's ids
            lines = lines[:1] + [",".join(v + ".0" for v in line.split(",")) for line in lines[1:]]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    assert load_checkpoint(trained_and_predicted(runner, tmp_path)).spec.classes == [0, 1, 2, 3]
    body = rows_of(tmp_path / "out.csv")[1:]
    assert {label for _, label in body} <= {"0", "1", "2", "3"}
    assert [i for i, _ in body] == [str(i) for i in range(1, 61)]  # the test's ids "1.0".. are the sample's 1..
    assert accuracy(tmp_path / "out.csv", built.answers) >= 0.9


def test_spaces_around_labels_and_ids_are_not_part_of_them(tmp_path):
    from core.base.errors import BadInput
    from core.data.classes import classes_of
    from core.data.reader import read_pixels
    from core.data.table import read_pixel_table

    source = tmp_path / "spaced.csv"
    source.write_text("label,ImageId,pixel0,pixel1,pixel2,pixel3\n 3 ,1,0,0,0,0\n3, 2 ,0,0,0,0\n10,3,0,0,0,0\n")
    table = read_pixel_table(source)
    assert table.labels.tolist() == ["3", "3", "10"] and classes_of(table.labels) == [3, 10]
    batch = next(iter(read_pixels(source)))
    assert batch.ids.tolist() == ["1", "2", "3"]
    (tmp_path / "blank.csv").write_text("label,pixel0,pixel1,pixel2,pixel3\n3,0,0,0,0\n  ,0,0,0,0\n")
    with pytest.raises(BadInput, match="empty cell; expected a label"):
        read_pixel_table(tmp_path / "blank.csv")


def _packed(text: bytes, label_name: str | None = "emotion", extra: str = "") -> str:
    """A pixel CSV rewritten as FER-2013 writes its rows: [label,]pixels with the pixels space-separated."""
    lines = text.decode().splitlines()
    header = lines[0].split(",")
    first = header.index(next(name for name in header if name.startswith("pixel")))
    out = [",".join(([label_name] if first else []) + ["pixels"] + ([extra] if extra else []))]
    for line in lines[1:]:
        cells = line.split(",")
        out.append(",".join(cells[:first] + [" ".join(cells[first:])] + (["PublicTest"] if extra else [])))
    return "\n".join(out) + "\n"


def test_a_packed_pixels_column_trains_predicts_and_scores(runner, tmp_path):
    """FER-2013 (the facial expression challenge): train.csv is `emotion,pixels`, test.csv `pixels`,
    every pixel of a row in one space-separated cell; the same images as one column per pixel."""
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.data.table import read_pixel_table

    built = build("packed", list(range(4)), 16, train_per_class=40)
    (tmp_path / "train.csv").write_text(_packed(built.files["train.csv"]))
    (tmp_path / "test.csv").write_text(_packed(built.files["test.csv"]))
    (tmp_path / "plain.csv").write_bytes(built.files["train.csv"])
    packed = read_pixel_table(tmp_path / "train.csv", label_names=["emotion"])
    plain = read_pixel_table(tmp_path / "plain.csv")
    np.testing.assert_array_equal(packed.pixels, plain.pixels)
    assert packed.labels.tolist() == plain.labels.tolist() and packed.label_column == "emotion"
    (tmp_path / "train.csv.gz").write_bytes(gzip.compress((tmp_path / "train.csv").read_bytes()))
    cells = [" ".join(map(str, row)) for row in plain.pixels]
    pq.write_table(pa.table({"pixels": cells}), tmp_path / "test.parquet")
    for other in ("train.csv.gz", "test.parquet"):
        np.testing.assert_array_equal(read_pixel_table(tmp_path / other, label_names=["emotion"]).pixels, plain.pixels)
    model = trained_and_predicted(runner, tmp_path, "--label-column", "emotion")
    assert load_checkpoint(model).spec.input_shape == (1, 16, 16)
    assert accuracy(tmp_path / "out.csv", built.answers) >= 0.9
    # icml_face_data.csv adds a Usage column: skipped on request, as any other column
    (tmp_path / "scored.csv").write_text(_packed(built.files["train.csv"], extra="Usage"))
    scored = invoke(runner, "score", str(tmp_path / "scored.csv"), "--checkpoint", str(model),
                    "--label-column", "emotion", "--ignore-extra-columns")
    assert scored.exit_code == 0, scored.output
    assert "ignoring column(s) 'Usage'" in scored.output


def test_packed_cells_that_cannot_be_the_image(runner, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.base.errors import BadInput
    from core.data.layout import read_layout
    from core.data.table import read_pixel_table

    def read(rows: list[str], header="label,pixels", num_pixels=None):
        (tmp_path / "f.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
        return read_pixel_table(tmp_path / "f.csv", num_pixels)

    assert read(["1,0 255 7 8", "2, 1  2 3 4 "]).pixels.tolist() == [[0, 255, 7, 8], [1, 2, 3, 4]]
    assert read(["1,0 255.0 7 1e1"]).pixels.tolist() == [[0, 255, 7, 10]]  # as a float frame writes them
    assert read(['1,"0 1 2 3"'], num_pixels=4).pixels.shape == (1, 4)
    refused = {
        ("1,0 1 2 3", "1,0 256 2 3"): "line 3, column 2 (pixels): pixel 2 of 4: value '256' is out of range",
        ("1,0 1 2 3", "1,0 -1 2 3"): "line 3, column 2 (pixels): pixel 2 of 4: value '-1' is out of range",
        ("1,0 1 2 3", "1,0 1 2 3.5"): "pixel 4 of 4: value '3.5' is not an integer",
        ("1,0 1 2 3", "1,0 1 2"): "line 3, column 2 (pixels): 3 pixel values; expected 4 (as in the first row)",
        ("1,0 1 2 3", "1,0 1 2 3 4"): "line 3, column 2 (pixels): 5 pixel values; expected 4",
        ("1,0 1 2 3", "1,"): "line 3, column 2 (pixels): empty cell; expected 4 pixel values",
        ("1,", "1,0 1 2 3"): "line 2, column 2 (pixels): empty cell; expected pixel values separated by spaces",
    }
    for rows, expected in refused.items():
        with pytest.raises(BadInput) as raised:
            read(list(rows))
        assert expected in str(raised.value), (rows, str(raised.value))
    with pytest.raises(BadInput, match="line 2, column 2 .pixels.: 4 pixel values; expected 9"):
        read(["1,0 1 2 3"], num_pixels=9)
    with pytest.raises(BadInput, match=r"line 2, column 2 \(pixels\): pixel values separated by ';'; expected spaces"):
        read(["1,0;1;2;3"])
    (tmp_path / "tabs.csv").write_text("label\tpixels\n1\t0 1 2 3\n2\t4 5 6 7\n")  # a tab-separated packed file
    assert read_pixel_table(tmp_path / "tabs.csv").pixels.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(BadInput, match="column 3: 'Pixels' is a second packed pixels column besides 'pixels'"):
        read(["1,0 1 2 3,0 1 2 3"], header="label,pixels,Pixels")
    from core.data.columns import MAX_PIXELS

    for count in (MAX_PIXELS, MAX_PIXELS + 1):  # the largest image read, and one value more (layout only)
        (tmp_path / "huge.csv").write_text("pixels\n" + "0 " * count + "\n")
        if count == MAX_PIXELS:
            assert read_layout(tmp_path / "huge.csv").num_pixels == MAX_PIXELS
        else:
            with pytest.raises(BadInput, match="4,194,305 values, beyond the largest image read"):
                read_layout(tmp_path / "huge.csv")
    pq.write_table(pa.table({"pixels": [1, 2]}), tmp_path / "ints.parquet")
    with pytest.raises(BadInput, match=r"schema, column 1 \(pixels\): type int64; expected text"):
        read_layout(tmp_path / "ints.parquet")
    pq.write_table(pa.table({"pixels": ["0 1 2 3", "0 1 2 300"]}), tmp_path / "bad.parquet")
    with pytest.raises(BadInput, match="row 2, column pixels: pixel 4 of 4: value '300' is out of range"):
        read_pixel_table(tmp_path / "bad.parquet")
    # an Arabic-Indic three: Python's float() takes it, pyarrow does not (it was a StopIteration traceback)
    pq.write_table(pa.table({"pixels": ["0 1 2 3", "0 1 2 \u0663"]}), tmp_path / "digit.parquet")
    with pytest.raises(BadInput, match=r"digit.parquet: near row 1: Failed to parse string: '\u0663'"):
        read_pixel_table(tmp_path / "digit.parquet")
    model = tmp_path / "m.pt"
    (tmp_path / "train.csv").write_text(_packed(build("packed-bad", [0, 1], 8, train_per_class=20).files["train.csv"],
                                                label_name="label"))
    assert invoke(runner, "train", "--data-dir", str(tmp_path), "--checkpoint", str(model), "--preset", "demo",
                  "--epochs", "1").exit_code == 0
    (tmp_path / "big.csv").write_text("pixels\n" + " ".join(["0"] * 65) + "\n")
    refused = invoke(runner, "predict", "--checkpoint", str(model), "-i", str(tmp_path / "big.csv"),
                     "-o", str(tmp_path / "out.csv"))
    assert refused.exit_code == 2 and one_error(refused) == (
        f"{tmp_path / 'big.csv'}: line 2, column 1 (pixels): 65 pixel values; expected 64")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("kind", ["list<uint8>", "list<int64>", "fixed_size_list<int16>", "list<double>"])
def test_a_parquet_list_column_of_pixels_reads_as_the_packed_text(tmp_path, kind):
    """An image stored as an array (`pixels: list<uint8>`) rather than as text: the same pixels."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.base.errors import BadInput
    from core.data.table import read_pixel_table

    value = {"list<uint8>": pa.uint8(), "list<int64>": pa.int64(), "fixed_size_list<int16>": pa.int16(),
             "list<double>": pa.float64()}[kind]
    list_type = pa.list_(value, 4) if kind.startswith("fixed") else pa.list_(value)
    rows = [[0, 1, 2, 255], [4, 5, 6, 7], [9, 9, 0, 0]]

    def read(cells, pixel_type=list_type):
        pq.write_table(pa.table({"label": ["a", "b", "a"][:len(cells)], "pixels": pa.array(cells, pixel_type)}),
                       tmp_path / "f.parquet")
        return read_pixel_table(tmp_path / "f.parquet")

    (tmp_path / "f.csv").write_text("label,pixels\n" + "".join(f"{k},{' '.join(map(str, r))}\n"
                                                               for k, r in zip("aba", rows)))
    table = read(rows)
    assert table.pixels.tolist() == read_pixel_table(tmp_path / "f.csv").pixels.tolist() == rows
    assert table.labels.tolist() == ["a", "b", "a"]
    refused = [([4, None, 6, 7], "row 2, column pixels: pixel 2 of 4: value 'None' is not an integer"),
               (None, "row 2, column pixels: empty cell")]
    if value != pa.uint8():
        refused.append(([4, 5, 6, 256], "row 2, column pixels: pixel 4 of 4: value '256"))  # '256.0' for floats
    if not kind.startswith("fixed"):
        refused.append(([4, 5, 6], "row 2, column pixels: 3 pixel values; expected 4"))
    for second, expected in refused:
        with pytest.raises(BadInput, match=re.escape(expected)):
            read([rows[0], second])
    with pytest.raises(BadInput, match=re.escape("string>; expected text of pixel values separated by spaces, or a list")):
        read([["0", "1"]], pa.list_(pa.string()))


def _parquet_of(text: bytes) -> bytes:
    import io

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pacsv.read_csv(io.BytesIO(text)), buffer)
    return buffer.getvalue()


def test_a_competition_shipping_parquet_runs_and_submits(runner, emu, creds, isolated):
    """Newer competitions ship train.parquet / test.parquet beside a CSV sample."""
    built = build("parquet-like", list(range(4)), 16, test_id="id", first_id=0, sample_header=("id", "label"),
                  train_per_class=40)
    built.files = {("train.parquet" if name == "train.csv" else "test.parquet" if name == "test.csv" else name):
                   (_parquet_of(text) if name in ("train.csv", "test.csv") else text)
                   for name, text in built.files.items()}
    serve(emu, built)
    result = invoke(runner, "run", "--competition", built.slug, "--preset", "demo", "--submit")
    assert result.exit_code == 0, result.output
    record = json.loads((isolated / "data" / built.slug / "files.json").read_text())
    assert record["paths"] == {"train": "train.parquet", "test": "test.parquet", "sample": "sample_submission.csv"}
    submission = published(result)
    assert rows_of(submission)[0] == ["id", "label"] and accuracy(submission, built.answers) >= 0.9


def test_the_preferred_name_wins_beside_another(tmp_path):
    from core.base.errors import BadInput
    from core.data.competition import locate

    files = [Path(name) for name in ("train.parquet", "TRAIN.csv", "deep/train.csv", "test.csv.gz",
                                     "test.parquet", "sample_submission.csv")]
    assert locate(files, tmp_path / "a.zip") == {"train": "TRAIN.csv", "test": "test.parquet",
                                                 "sample": "sample_submission.csv"}
    with pytest.raises(BadInput, match="2 candidates for train.csv"):
        locate([*files, Path("Train.csv")], tmp_path / "a.zip")
    shallow = [Path("x/train.parquet"), Path("x/y/train.csv"), Path("test.csv"), Path("sampleSubmission.csv")]
    assert locate(shallow, tmp_path / "a.zip")["train"] == "x/train.parquet"  # the shallowest first
    example = [Path("train.csv"), Path("test.csv"), Path("Example_Submission.csv")]  # FER-2013's, community ones
    assert locate(example, tmp_path / "a.zip")["sample"] == "Example_Submission.csv"
    assert locate([*example, Path("sample_submission.csv")], tmp_path / "a.zip")["sample"] == "sample_submission.csv"


def test_a_competition_zipping_each_file_inside_the_download_runs_and_submits(runner, emu, creds, isolated):
    """Older competitions ship train.csv.zip and test.zip inside the download: unpacked beside themselves."""
    from tests.competitions import zip_of

    built = build("zipped-files", list(range(4)), 16, test_id="id", first_id=0, sample_header=("id", "label"),
                  train_per_class=40)
    built.files = {"train.csv.zip": zip_of({"train.csv": built.files["train.csv"]}),
                   "test.zip": zip_of({"test.csv": built.files["test.csv"]}),
                   "sample_submission.csv": built.files["sample_submission.csv"]}
    serve(emu, built)
    result = invoke(runner, "run", "--competition", built.slug, "--preset", "demo", "--submit")
    assert result.exit_code == 0, result.output
    folder = isolated / "data" / built.slug
    record = json.loads((folder / "files.json").read_text())
    assert record["paths"] == {"train": "train.csv", "test": "test.csv", "sample": "sample_submission.csv"}
    assert sorted(record["files"]) == ["sample_submission.csv", "test.csv", "train.csv"]
    assert not (folder / "train.csv.zip").exists()  # unpacked, not kept twice
    submission = published(result)
    assert rows_of(submission)[0] == ["id", "label"] and accuracy(submission, built.answers) >= 0.9


def test_a_folder_of_one_file_downloads_trains_and_predicts_from_the_zips(runner, tmp_path):
    """`kaggle competitions download -f train.csv` (and test.csv) leave train.csv.zip and test.csv.zip."""
    from tests.competitions import zip_of

    built = build("one-file-downloads", list(range(4)), 16, train_per_class=40)
    for name in ("train.csv", "test.csv"):
        (tmp_path / f"{name}.zip").write_bytes(zip_of({name: built.files[name]}))
    trained_and_predicted(runner, tmp_path, test_name="test.csv.zip")
    assert accuracy(tmp_path / "out.csv", built.answers) >= 0.9
    (tmp_path / "train.csv").write_bytes(b"label,pixel0\n1,2\n")  # beside it, the plain file is preferred
    refused = invoke(runner, "train", "--data-dir", str(tmp_path), "--checkpoint", str(tmp_path / "p.pt"),
                     "--preset", "demo")
    assert refused.exit_code == 2 and one_error(refused).startswith(f"{tmp_path / 'train.csv'}: every row's label")


def test_inner_zips_are_unpacked_only_for_a_missing_file_and_checked_like_the_outer(tmp_path):
    from core.base.errors import BadInput
    from core.base.log import Log
    from core.data.competition import CompetitionFiles, install
    from tests.competitions import zip_of

    plain = {"train.csv": b"label,pixel0\n1,2\n", "test.csv": b"pixel0\n3\n", "sample_submission.csv": b"a,b\n1,0\n"}
    images = zip_of({"img/0.png": b"x"})

    def installed(files: dict, name="c") -> CompetitionFiles:
        archive = tmp_path / f"{name}.zip"
        archive.write_bytes(zip_of(files))
        return install(archive, CompetitionFiles(tmp_path / name), {}, False, Log(fmt="json"))

    kept = installed({**plain, "train.zip": images})  # train.csv is there: the 25k-image zip stays shut
    assert (kept.directory / "train.zip").is_file() and not (kept.directory / "img").exists()
    nested = installed({**{k: v for k, v in plain.items() if k != "test.csv"},
                        "data/TEST.CSV.ZIP": zip_of({"test.csv": plain["test.csv"]})}, "n")
    assert nested.test == tmp_path / "n" / "data" / "test.csv" and nested.test.read_bytes() == b"pixel0\n3\n"
    without_test = {k: v for k, v in plain.items() if k != "test.csv"}
    for inner, expected in [({"../test.csv": b"x"}, "test.zip: refused archive member '../test.csv': path leaves"),
                            ({"train.csv": b"x"}, "test.zip: refused member 'train.csv': a file of that name is"),
                            (None, "test.zip: not a readable zip archive"),
                            ({"other.csv": b"x"}, "no test.csv in the archive; it holds other.csv, sample_sub")]:
        with pytest.raises(BadInput, match=expected.replace(".", r"\.").replace("(", r"\(")):
            installed({**without_test, "test.zip": b"not a zip" if inner is None else zip_of(inner)}, "bad")
        assert not (tmp_path / "bad").exists()  # nothing half-unpacked is left in place


def test_a_test_file_with_an_empty_label_column_predicts_and_score_asks_for_labels(runner, tmp_path, demo_dir,
                                                                                   untrained_checkpoint):
    """A test file written from a frame whose label column was left empty (`,0,0,...`): predict needs
    no labels and writes what the file without the column gives (it was refused: "empty cell;
    expected a label"); score, which measures against them, still says which cell is empty."""
    lines = (demo_dir / "test.csv").read_text().splitlines()
    with_column = tmp_path / "test.csv"
    with_column.write_text("label," + lines[0] + "\n" + "".join(f",{line}\n" for line in lines[1:]))
    outputs = {}
    for name, source in (("plain", demo_dir / "test.csv"), ("empty-labels", with_column)):
        outputs[name] = tmp_path / f"{name}.csv"
        done = invoke(runner, "predict", "--checkpoint", str(untrained_checkpoint), "-i", str(source),
                      "-o", str(outputs[name]))
        assert done.exit_code == 0, done.output
    assert outputs["plain"].read_bytes() == outputs["empty-labels"].read_bytes()
    scored = invoke(runner, "score", str(with_column), "--checkpoint", str(untrained_checkpoint))
    assert scored.exit_code == 2
    assert one_error(scored) == f"{with_column}: line 2, column 1 (label): empty cell; expected a label"
