"""Scoring reports, training curves and the first look at the data: real numbers, real files."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.demo import demo_test_labels
from core.report import plots
from core.report.html import HtmlReport
from core.report.metrics import evaluate, most_confused
from jobs.cli import app
from tests.competitions import pixel_csv

ROWS = 400  # enough for every class and some mistakes; small enough to stay quick


@pytest.fixture(scope="module")
def labelled_csv(tmp_path_factory, demo_dir) -> Path:
    """The demo's test rows with their labels put back, under a name that needs HTML escaping."""
    lines = (demo_dir / "test.csv").read_text().splitlines()
    labels = demo_test_labels()
    path = tmp_path_factory.mktemp("scoring") / "digits<&>.csv"
    body = [f"{labels[i]},{line}" for i, line in enumerate(lines[1:ROWS + 1])]
    path.write_text("\n".join([f"label,{lines[0]}", *body]) + "\n")
    return path


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def _read_scores(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_score_report_with_labels(runner, tmp_path, labelled_csv, tiny_checkpoint):
    preds, report = tmp_path / "preds.csv", tmp_path / "report"
    result = runner.invoke(app, ["score", str(labelled_csv), "--checkpoint", str(tiny_checkpoint),
                                 "--output", str(preds), "--report", str(report), "--log-format", "rich"])
    assert result.exit_code == 0, result.output

    # The printed accuracy is the accuracy of the predictions written, and of the true demo labels.
    rows = _read_scores(preds)
    assert len(rows) == ROWS
    predicted = np.array([int(r["Label"]) for r in rows])
    assert [int(r["TrueLabel"]) for r in rows] == demo_test_labels()[:ROWS].tolist()
    accuracy = float(np.mean(predicted == demo_test_labels()[:ROWS]))
    printed = re.search(r"accuracy (\d\.\d{4}) on (\d+) rows", result.output)
    assert printed and printed.group(1) == f"{accuracy:.4f}" and int(printed.group(2)) == ROWS
    assert 0.8 < accuracy < 1.0  # a real model that makes a few real mistakes

    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(accuracy)
    confusion = np.array(metrics["confusion"])
    assert confusion.sum() == ROWS and np.trace(confusion) == int(round(accuracy * ROWS))
    for score in metrics["per_class"]:
        label = int(score["label"])
        truth, guess = demo_test_labels()[:ROWS] == label, predicted == label
        assert score["support"] == truth.sum()
        assert score["recall"] == pytest.approx((truth & guess).sum() / truth.sum())

    html = (report / "report.html").read_text()
    assert f"accuracy {accuracy:.4f} on {ROWS} rows" in html
    assert "digits&lt;&amp;&gt;.csv" in html and "digits<&>" not in html
    assert html.count('src="data:image/png;base64,') == 3  # self-contained: confusion, mistakes, confidence
    assert not re.search(r'src="(?!data:)', html)

    wrong = int(ROWS - round(accuracy * ROWS))
    assert _png_size(report / "confusion_matrix.png") == (660, 660)
    assert _png_size(report / "misclassified.png") == plots.grid_size(min(wrong, 36), 6)
    assert _png_size(report / "confidence.png") == (640, 400)
    assert f"report: {report / 'report.html'}" in result.output


def test_score_report_without_labels_replaces_the_labelled_one(runner, tmp_path, demo_dir, labelled_csv,
                                                               tiny_checkpoint):
    report = tmp_path / "report"
    first = runner.invoke(app, ["score", str(labelled_csv), "--checkpoint", str(tiny_checkpoint),
                                "--report", str(report)])
    assert first.exit_code == 0, first.output
    assert (report / "confusion_matrix.png").is_file()

    result = runner.invoke(app, ["score", str(demo_dir / "test.csv"), "--checkpoint", str(tiny_checkpoint),
                                 "--report", str(report), "--log-format", "rich"])
    assert result.exit_code == 0, result.output
    assert "no accuracy" in result.output
    assert not (report / "confusion_matrix.png").exists() and not (report / "misclassified.png").exists()
    assert _png_size(report / "predicted_classes.png") == (640, 400)
    assert _png_size(report / "confidence.png") == (640, 400)
    assert _png_size(report / "least_confident.png") == plots.grid_size(36, 6)

    metrics = json.loads((report / "metrics.json").read_text())
    assert "accuracy" not in metrics
    assert sum(metrics["predicted_counts"].values()) == 1000
    html = (report / "report.html").read_text()
    assert "1000 rows scored" in html and html.count("data:image/png;base64,") == 3


def test_metrics_against_hand_counts():
    truth = np.array([0, 0, 1, 1, 2, 3])
    guess = np.array([0, 1, 1, 1, 0, 1])
    result = evaluate(truth, guess, classes=[0, 1, 2])
    assert result.labels == ["0", "1", "2", "3"]  # a label only the data has is kept, not dropped
    assert result.accuracy == pytest.approx(3 / 6)
    by_label = {s.label: s for s in result.per_class}
    assert by_label["0"].precision == pytest.approx(1 / 2) and by_label["0"].recall == pytest.approx(1 / 2)
    assert by_label["1"].precision == pytest.approx(2 / 4) and by_label["1"].recall == 1.0
    assert by_label["2"].f1 == 0.0 and by_label["3"].support == 1
    assert result.confusion.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
    assert most_confused(result, top=2) == [("0", "1", 1), ("2", "0", 1)]


def test_html_report_escapes_everything(tmp_path):
    png = plots.bar_chart_png(["a"], [1], tmp_path / "bar.png", title="t", xlabel="x")
    report = HtmlReport("<script>alert(1)</script>")
    report.paragraph("5 < 6 & 7 > 3").table(["<th>"], [["<td>", 0.123456]]).image(png, 'say "hi"')
    html = report.write(tmp_path / "r.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "5 &lt; 6 &amp; 7 &gt; 3" in html and "&lt;th&gt;" in html and "0.1235" in html
    assert 'alt="say &quot;hi&quot;"' in html


def test_training_writes_curves_beside_the_checkpoint(runner, tmp_path, demo_dir, tiny_checkpoint):
    # The shared fixture trained through train_to_checkpoint: its curves are beside it.
    assert _png_size(tiny_checkpoint.with_name("tiny.curves.png")) == plots.CURVES_SIZE

    # The `train` command says where they are.
    lines = (demo_dir / "train.csv").read_text().splitlines()
    small = tmp_path / "data"
    small.mkdir()
    (small / "train.csv").write_text("\n".join(lines[:601]) + "\n")
    checkpoint = tmp_path / "out" / "small.pt"
    result = runner.invoke(app, ["train", "--data-dir", str(small), "--checkpoint", str(checkpoint),
                                 "--arch", "baseline", "--epochs", "2", "--log-format", "rich"])
    assert result.exit_code == 0, result.output
    curves = tmp_path / "out" / "small.curves.png"
    assert f"training curves: {curves}" in result.output
    assert _png_size(curves) == plots.CURVES_SIZE


def test_curves_cope_with_no_validation(tmp_path):
    history = [{"epoch": e, "train_loss": 1 / e, "train_acc": 1 - 0.5 / e, "val_loss": math.nan,
                "val_acc": math.nan, "elapsed_s": 2.0 * e} for e in (1, 2, 3)]
    assert _png_size(plots.write_curves(history, tmp_path / "c.png")) == plots.CURVES_SIZE


def test_inspect_demo_data(runner, tmp_path, demo_dir):
    out = tmp_path / "look"
    result = runner.invoke(app, ["inspect", "--data-dir", str(demo_dir), "--output", str(out),
                                 "--log-format", "rich"])
    assert result.exit_code == 0, result.output
    assert "train.csv: 5000 rows x 784 pixels (28x28 images, with labels)" in result.output
    assert "test.csv: 1000 rows x 784 pixels (28x28 images, no labels)" in result.output

    with open(demo_dir / "train.csv", newline="") as handle:
        labels = [row["label"] for row in csv.DictReader(handle)]
    balance = re.search(r"class balance: (.*)", result.output).group(1)
    shown = {m.group(1): int(m.group(2)) for m in re.finditer(r"(\d+): (\d+) \(", balance)}
    assert shown == {str(d): labels.count(str(d)) for d in range(10)}

    assert _png_size(out / "first_look.png") == plots.grid_size(25, 5) == (600, 740)
    assert _png_size(out / "class_balance.png") == (640, 400)


def test_inspect_without_data_is_bad_input(runner, tmp_path):
    result = runner.invoke(app, ["inspect", "--data-dir", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "no train.csv or test.csv" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["inspect", "predict-image"])
def test_new_commands_have_help(runner, command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_the_balance_line_names_at_most_30_classes():
    from core.report.inspect import balance_line

    thirty = [(f"c{i}", 10 + i, 1 / 31) for i in range(30)]
    assert balance_line(thirty).count(": ") == 31 and "more classes" not in balance_line(thirty)
    line = balance_line(thirty + [("c30", 3, 1 / 31), ("c31", 70, 1 / 31)])
    assert line.endswith("c29: 39 (3.2%), and 2 more classes (3 to 70 rows each)")


@pytest.mark.parametrize("labels", [100, 101])
def test_metrics_keep_a_dense_confusion_matrix_up_to_100_labels_then_its_nonzero_cells(labels):
    from core.report.metrics import evaluate

    truth = np.arange(labels).astype(str)
    guess = truth.copy()
    guess[0] = truth[1]  # one mistake: label 0 taken for 1
    saved = evaluate(truth, guess, list(truth)).as_dict()
    if labels == 100:
        matrix = np.array(saved["confusion"])
        assert matrix.shape == (100, 100) and matrix[0, 1] == 1 and matrix.trace() == 99
        assert "confusion_nonzero" not in saved
    else:
        assert "confusion" not in saved
        cells = saved["confusion_nonzero"]
        assert [0, 1, 1] in cells and sum(count for _, _, count in cells) == 101 and len(cells) == 101


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_reports_pictures_read_only_their_rows_in_the_order_asked(tmp_path, kind):
    """read_rows picks rows across block boundaries (small blocks: many batches), the first and the
    last row, repeats and any order, and gives (0, P) for none, as the whole-file read would."""
    from core.data.table import read_pixel_table, read_rows

    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(500, 16), dtype=np.uint8)
    path = tmp_path / f"rows.{kind}"
    if kind == "csv":
        path.write_bytes(pixel_csv(pixels, labels=np.arange(500) % 3))
    else:
        import pandas as pd
        frame = pd.DataFrame(pixels, columns=[f"pixel{i}" for i in range(16)]).assign(label=np.arange(500) % 3)
        frame.to_parquet(path)
    whole = read_pixel_table(path, 16).pixels
    assert (whole == pixels).all()
    wanted = [499, 0, 137, 138, 137, 1, 498, 250]
    assert (read_rows(path, 16, wanted, block_bytes=1024) == pixels[wanted]).all()
    assert (read_rows(path, 16, wanted) == pixels[wanted]).all()
    assert read_rows(path, 16, []).shape == (0, 16)


def test_a_reports_pictures_stop_reading_after_their_last_row(tmp_path):
    """Row 590 holds 256: the whole-file read refuses it; pictures of rows up to 299 stop a block
    (1 KiB here, ~16 rows) after their last, never reaching it (so a huge file costs one block);
    asking for row 590 gets the reader's own one-line error."""
    from core.base.errors import BadInput
    from core.data.table import read_pixel_table, read_rows

    pixels = np.arange(600 * 16).reshape(600, 16).astype(np.int64) % 256
    pixels[590, 5] = 256
    path = tmp_path / "late.csv"
    path.write_bytes(pixel_csv(pixels))
    with pytest.raises(BadInput, match="line 592"):
        read_pixel_table(path, 16)
    assert (read_rows(path, 16, [299, 0], block_bytes=1024) == pixels[[299, 0]]).all()
    with pytest.raises(BadInput, match="line 592"):
        read_rows(path, 16, [590], block_bytes=1024)
