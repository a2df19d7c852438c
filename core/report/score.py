"""The `score --report DIR` folder: pictures, metrics.json and one report.html tying them together.

With a label column: accuracy, per-class precision/recall/F1, the confusion matrix, the
misclassified digits (most confident mistakes first) and right/wrong confidence. Without one: the
predicted-class histogram, the confidence histogram and the least confident digits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from core.base.atomic import atomic_write_text, prepare_folder
from core.base.pixel_order import images_from_rows
from core.data.table import read_rows
from core.predict.stream import Predictions
from core.report import plots
from core.report.html import HtmlReport
from core.report.metrics import Evaluation, evaluate, label_order, most_confused

GRID_LIMIT = 36  # digits per grid: enough to see a pattern, small enough to look at
ALL_FILES = ("report.html", "metrics.json", "confusion_matrix.png", "misclassified.png", "confidence.png",
             "predicted_classes.png", "least_confident.png")


@dataclass
class ModelInfo:
    """What the report says about the model; kept plain so the report needs no torch."""

    checkpoints: list[str]
    classes: list
    input_shape: tuple[int, int, int]
    arch: str = ""
    pixel_order: str = "chw"
    val_accuracy: float | None = None
    value_range: tuple[int, int] = (0, 255)  # the pixel values the model was trained on


@dataclass
class ScoreReport:
    directory: Path
    html: Path
    files: list[Path] = field(default_factory=list)
    evaluation: Evaluation | None = None


def write_score_report(csv_path: Path, predictions: Predictions, model: ModelInfo, directory: Path,
                       scores_file: Path | None = None) -> ScoreReport:
    directory = Path(directory)
    prepare_folder(directory)
    html = HtmlReport(f"Scoring report: {Path(csv_path).name}")
    labelled = predictions.true_labels is not None
    evaluation = evaluate(predictions.true_labels, predictions.labels, model.classes) if labelled else None
    unknown = len(predictions.unknown_labels(model.classes))  # labelled rows no class of the model fits
    _summary(html, csv_path, predictions, model, evaluation, unknown, scores_file)

    files: list[Path] = []
    if evaluation is not None:
        files += _labelled_sections(html, csv_path, predictions, model, evaluation, directory)
    else:
        files += _unlabelled_sections(html, csv_path, predictions, model, directory)

    metrics = {"file": str(csv_path), "rows": len(predictions.labels), "checkpoints": model.checkpoints,
               "mean_confidence": float(np.mean(predictions.confidence)) if len(predictions.confidence) else None,
               "predicted_counts": _counts(predictions.labels, model.classes)}
    if evaluation is not None:
        metrics.update(evaluation.as_dict(), unknown_labels=unknown)
    metrics_path = directory / "metrics.json"
    atomic_write_text(metrics_path, json.dumps(metrics, indent=2) + "\n")
    html.paragraph("The numbers above are also in metrics.json beside this file.", css="note")
    report_path = html.write(directory / "report.html")
    files += [metrics_path, report_path]
    _remove_stale(directory, files)
    return ScoreReport(directory=directory, html=report_path, files=files, evaluation=evaluation)


def _summary(html: HtmlReport, csv_path, predictions, model: ModelInfo, evaluation, unknown: int,
             scores_file) -> None:
    if evaluation is not None:
        right = int(np.trace(evaluation.confusion))
        outside = f", {unknown} of them with labels outside the model's classes" if unknown else ""
        html.paragraph(f"accuracy {evaluation.accuracy:.4f} on {evaluation.rows} rows "
                       f"({right} right, {evaluation.rows - right} wrong{outside})", css="big")
    else:
        html.paragraph(f"{len(predictions.labels)} rows scored; the file has no label column, "
                       "so there is no accuracy, only what the model predicted and how sure it was.")
    rows = [["file", str(csv_path)], ["rows", len(predictions.labels)],
            ["checkpoint(s)", ", ".join(model.checkpoints)], ["architecture", model.arch or "?"],
            ["input shape", "x".join(str(v) for v in model.input_shape)],
            ["classes", ", ".join(str(c) for c in model.classes)]]
    if model.val_accuracy is not None:
        rows.append(["validation accuracy at training", model.val_accuracy])
    if len(predictions.confidence):
        rows.append(["mean confidence", float(np.mean(predictions.confidence))])
    if scores_file is not None:
        rows.append(["per-row predictions", str(scores_file)])
    rows.append(["written (UTC)", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")])
    html.heading("Summary").table(None, rows)


def _labelled_sections(html, csv_path, predictions, model, evaluation: Evaluation, directory) -> list[Path]:
    html.heading("Per class")
    html.table(["label", "precision", "recall", "F1", "support"],
               [[s.label, s.precision, s.recall, s.f1, s.support] for s in evaluation.per_class]
               + [["macro average F1", "", "", evaluation.macro_f1, evaluation.rows]])
    pairs = most_confused(evaluation)
    if pairs:
        html.paragraph("Most frequent mistakes: " + "; ".join(
            f"{true} taken for {guess} ({count}x)" for true, guess, count in pairs) + ".")

    confusion = plots.confusion_matrix_png(evaluation.labels, evaluation.confusion,
                                           directory / "confusion_matrix.png")
    html.heading("Confusion matrix").paragraph(
        "Rows are the true label, columns the prediction; the diagonal is what was right.", css="note")
    html.image(confusion, "confusion matrix")

    truth = predictions.true_labels.astype(str)
    wrong = np.flatnonzero(predictions.labels.astype(str) != truth)
    # The most confident mistakes first: those are the surprising ones (or mislabelled data).
    chosen = wrong[np.argsort(-predictions.confidence[wrong], kind="stable")][:GRID_LIMIT]
    captions = [f"#{predictions.ids[i]} true {truth[i]}\npred {predictions.labels[i]} "
                f"({predictions.confidence[i]:.2f})" for i in chosen]
    images = _images(csv_path, model, chosen)
    grid = plots.digit_grid(images, captions, directory / "misclassified.png",
                            title=f"Misclassified: {len(chosen)} of {len(wrong)}, most confident first",
                            value_range=_drawn_range(images, model))
    html.heading("Misclassified digits").image(grid, "misclassified digits")

    correct = predictions.labels.astype(str) == truth
    confidence = plots.confidence_histogram_png(predictions.confidence, directory / "confidence.png",
                                                correct=correct)
    html.heading("Confidence").paragraph(
        "How sure the model was, right (green) and wrong (red) predictions stacked.", css="note")
    html.image(confidence, "confidence histogram")
    return [confusion, grid, confidence]


def _unlabelled_sections(html, csv_path, predictions, model, directory) -> list[Path]:
    counts = _counts(predictions.labels, model.classes)
    classes = plots.bar_chart_png(list(counts), list(counts.values()), directory / "predicted_classes.png",
                                  title="Predicted classes", xlabel="predicted label")
    html.heading("Predicted classes").image(classes, "predicted class histogram")
    confidence = plots.confidence_histogram_png(predictions.confidence, directory / "confidence.png")
    html.heading("Confidence").image(confidence, "confidence histogram")

    chosen = np.argsort(predictions.confidence, kind="stable")[:GRID_LIMIT]
    runner_up = _runner_up(predictions, model.classes)
    captions = [f"#{predictions.ids[i]} pred {predictions.labels[i]} ({predictions.confidence[i]:.2f})\n"
                f"2nd {runner_up[i]}" for i in chosen]
    images = _images(csv_path, model, chosen)
    grid = plots.digit_grid(images, captions, directory / "least_confident.png",
                            title=f"The {len(chosen)} least confident predictions",
                            value_range=_drawn_range(images, model))
    html.heading("Least confident digits").paragraph(
        "The rows to check by eye first; the caption gives the prediction and the runner-up.", css="note")
    html.image(grid, "least confident digits")
    return [classes, confidence, grid]


def _images(csv_path: Path, model: ModelInfo, rows: np.ndarray) -> np.ndarray:
    """The chosen rows' pixels as (n, C, H, W), read again from the file (the predictions hold none)."""
    # The file was validated when predicted; other columns were allowed then or are not there.
    pixels = read_rows(csv_path, int(np.prod(model.input_shape)), rows, ignore_extra=True)
    return images_from_rows(pixels, model.input_shape, model.pixel_order)


def _drawn_range(images: np.ndarray, model: ModelInfo) -> tuple[int, int]:
    """Black to white: the model's trained range, so digits look as the model was taught them, widened to
    the images' own values when they go beyond it (then they were warned about, and must not show clipped)."""
    low, high = model.value_range
    if not images.size:
        return low, high
    return min(low, int(images.min())), max(high, int(images.max()))


def _runner_up(predictions: Predictions, classes: list) -> list[str]:
    if predictions.probs.shape[1] < 2:
        return ["-"] * len(predictions.labels)
    second = np.argsort(-predictions.probs, axis=1, kind="stable")[:, 1]
    return [f"{classes[k]} ({predictions.probs[i, k]:.2f})" for i, k in enumerate(second)]


def _counts(labels: np.ndarray, classes: list) -> dict[str, int]:
    values = np.asarray(labels).astype(str)
    return {label: int(np.sum(values == label)) for label in label_order(classes, values)}


def _remove_stale(directory: Path, written: list[Path]) -> None:
    """A reused report folder must not keep a picture from an earlier, different run."""
    keep = {path.name for path in written}
    for name in ALL_FILES:
        if name not in keep:
            (directory / name).unlink(missing_ok=True)


def model_info(checkpoints: list, value_range: tuple[int, int] = (0, 255)) -> ModelInfo:
    """From loaded core.model.checkpoint.Checkpoint objects (the first one's spec; an ensemble shares it)
    and the range of pixel values they were trained on (core.predict.pixel_range.trained_range)."""
    spec = checkpoints[0].spec
    accuracies = [c.metrics.get("val_accuracy") for c in checkpoints]
    return ModelInfo(checkpoints=[str(c.path) for c in checkpoints], classes=list(spec.classes),
                     input_shape=tuple(spec.input_shape), arch=", ".join(sorted({c.spec.arch for c in checkpoints})),
                     pixel_order=spec.pixel_order,
                     val_accuracy=accuracies[0] if len(accuracies) == 1 else None, value_range=tuple(value_range))
