"""Pixel files as people write them from pandas and scikit-learn: `pixel_R_C` names and a `target` label
(`load_digits(as_frame=True).frame.to_csv(...)`), and Parquet written from a shuffled frame with its index."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.layout import read_layout
from core.data.table import read_pixel_table
from core.model.checkpoint import load_checkpoint
from jobs.cli import app
from tests.cli_output import one_error, records

GRID = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]  # scikit-learn's names, row by row


def invoke(runner, *args):
    return runner.invoke(app, [*args, "--log-format", "json"])


@pytest.fixture(scope="module")
def digits_frame() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    return load_digits(as_frame=True).frame.astype(int)  # pixel_0_0..pixel_7_7 (0..16), target


@pytest.fixture
def digits(tmp_path, digits_frame) -> Path:
    """A competition-like folder as someone writes it from scikit-learn's frame."""
    folder = tmp_path / "digits"
    folder.mkdir()
    digits_frame.iloc[:1500].to_csv(folder / "train.csv", index=False)
    digits_frame.iloc[1500:].drop(columns="target").to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"ImageId": range(1, len(digits_frame) - 1500 + 1), "Label": 0}).to_csv(
        folder / "sample_submission.csv", index=False)
    return folder


def test_scikit_learn_digits_train_and_predict_end_to_end(runner, tmp_path, digits, digits_frame):
    model = tmp_path / "digits.pt"
    trained = invoke(runner, "train", "--data-dir", str(digits), "--checkpoint", str(model), "--preset", "demo")
    assert trained.exit_code == 0, trained.output
    spec = load_checkpoint(model).spec
    assert spec.input_shape == (1, 8, 8) and spec.classes == list(range(10))  # 8x8 from the names, labels from target

    out = tmp_path / "submission.csv"
    predicted = invoke(runner, "predict", "--checkpoint", str(model), "-i", str(digits / "test.csv"), "-o", str(out))
    assert predicted.exit_code == 0, predicted.output
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    truth = digits_frame["target"].to_numpy()[1500:]
    assert rows[0] == ["ImageId", "Label"] and len(rows) - 1 == len(truth) == 297
    assert np.mean(np.array([int(r[1]) for r in rows[1:]]) == truth) > 0.8

    inspected = invoke(runner, "inspect", "--data-dir", str(digits), "--output", str(tmp_path / "pictures"))
    assert inspected.exit_code == 0, inspected.output
    assert "train.csv: 1500 rows x 64 pixels (8x8 images, with labels), values 0..16" in inspected.output


def test_pixel_r_c_columns_are_read_by_their_names_in_any_order(tmp_path, digits_frame):
    shuffled = list(np.random.default_rng(0).permutation(GRID))
    in_order, reordered = tmp_path / "in_order.csv", tmp_path / "reordered.csv"
    digits_frame.iloc[:20].to_csv(in_order, index=False)
    digits_frame.iloc[:20][["target", *shuffled]].to_csv(reordered, index=False)
    first, second = read_pixel_table(in_order), read_pixel_table(reordered)
    assert first.grid == second.grid == (8, 8)
    assert np.array_equal(first.pixels, second.pixels)
    assert np.array_equal(first.pixels, digits_frame[GRID].to_numpy()[:20])
    assert read_layout(in_order).label_column == "target"


def test_a_non_square_pixel_r_c_grid_gives_its_shape(tmp_path):
    names = [f"pixel_{r}_{c}" for r in range(6) for c in range(10)]  # 6 rows of 10: no square, told by the names
    path = tmp_path / "wide.csv"
    path.write_text("label," + ",".join(names) + "\n3," + ",".join(["7"] * 60) + "\n")
    layout = read_layout(path)
    assert layout.grid == (6, 10) and layout.num_pixels == 60 and layout.pixel_columns[10] == "pixel_1_0"


@pytest.mark.parametrize("drop, missing", [
    ("pixel_7_7", "missing column pixel_7_7; expected pixel_0_0..pixel_7_7"),  # pixel_0_0..pixel_7_6
    ("pixel_3_4", "missing column pixel_3_4; expected pixel_0_0..pixel_7_7"),  # a gap inside the grid
    ("pixel_0_0", "the first pixel column is pixel_0_1; expected pixel_0_0"),
])
def test_an_incomplete_pixel_r_c_grid_names_the_missing_column(runner, tmp_path, drop, missing):
    folder = tmp_path / "data"
    folder.mkdir()
    names = [name for name in GRID if name != drop]
    (folder / "train.csv").write_text("target," + ",".join(names) + "\n1," + ",".join(["0"] * 63) + "\n")
    result = invoke(runner, "train", "--data-dir", str(folder), "--checkpoint", str(tmp_path / "m.pt"))
    assert result.exit_code == 2
    assert one_error(result) == f"{folder / 'train.csv'}: line 1: {missing}"


def test_pixel_r_c_beside_another_naming_is_refused(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("label," + ",".join(GRID[:63]) + ",pixel63\n" + ",".join(["0"] * 65) + "\n")
    with pytest.raises(Exception) as refused:
        read_layout(path)
    assert "'pixel63' and 'pixel_0_0' (column 2) name pixels in two ways" in str(refused.value)


def test_target_is_the_label_only_where_no_column_is_named_label(runner, tmp_path):
    header = "label,target," + ",".join(f"pixel{i}" for i in range(4))
    path = tmp_path / "both.csv"
    path.write_text(header + "\n1,0,0,0,0,0\n2,1,0,0,0,0\n")
    with pytest.raises(Exception) as refused:  # `label` decides; `target` is one more column
        read_layout(path)
    assert "column 2: unexpected column 'target'" in str(refused.value)
    both = read_layout(path, ignore_extra=True)
    assert both.label_column == "label" and both.ignored == ["target"]
    path.write_text("Target," + ",".join(f"pixel{i}" for i in range(4)) + "\n1,0,0,0,0\n")  # any case
    assert read_layout(path).label_column == "Target"
    # --label-column names the label; `target` beside it is one more column too.
    path.write_text("digit,target," + ",".join(f"pixel{i}" for i in range(4)) + "\n1,0,0,0,0,0\n")
    named = read_layout(path, ignore_extra=True, label_names=("digit",))
    assert named.label_column == "digit" and named.ignored == ["target"]


def test_parquet_from_a_shuffled_frame_names_its_index(runner, tmp_path, digits_frame):
    folder = tmp_path / "shuffled"
    folder.mkdir()
    digits_frame.iloc[:400].sample(frac=1, random_state=0).to_parquet(folder / "train.parquet")  # index kept
    names = pd.read_parquet(folder / "train.parquet").columns  # pandas reads it back as the index...
    assert "__index_level_0__" not in names
    model = tmp_path / "m.pt"
    refused = invoke(runner, "train", "--data-dir", str(folder), "--checkpoint", str(model), "--epochs", "1",
                     "--preset", "demo")
    assert refused.exit_code == 2
    assert one_error(refused) == (  # ...which the file holds as one more column: the hint CSVs get, for Parquet
        f"{folder / 'train.parquet'}: schema, column 66: a data frame's index saved as a column? "
        "(to_parquet(..., index=False) leaves it out); --ignore-extra-columns skips it")
    skipped = invoke(runner, "train", "--data-dir", str(folder), "--checkpoint", str(model), "--epochs", "1",
                     "--preset", "demo", "--ignore-extra-columns")
    assert skipped.exit_code == 0, skipped.output
    (warned,) = [r for r in records(skipped) if r.get("event") == "train.ignored_columns"]
    assert warned["columns"] == ["__index_level_0__"]
    assert load_checkpoint(model).spec.input_shape == (1, 8, 8)


def test_a_csv_index_keeps_its_hint(tmp_path, digits_frame):
    path = tmp_path / "indexed.csv"
    digits_frame.iloc[:5].to_csv(path)  # index=True: an unnamed first column
    with pytest.raises(Exception) as refused:
        read_layout(path)
    assert str(refused.value).endswith("column 1: a data frame's index saved as a column? "
                                       "(to_csv(..., index=False) leaves it out); --ignore-extra-columns skips it")
