"""PNG pictures drawn with matplotlib's Agg canvas: no display, no pyplot global state.

Every figure is built from `matplotlib.figure.Figure` directly, so plotting works on servers and in
threads, and sizes are fixed in pixels (figure inches x DPI, no tight cropping) so callers and tests
know what they get. Files are written atomically.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.base.atomic import atomic_write_bytes

if TYPE_CHECKING:
    from core.predict.images import ImagePrediction

DPI = 100
CELL_W_PX, CELL_H_PX = 120, 140  # one digit plus its caption in a grid
TITLE_PX = 40


def _figure(width_px: int, height_px: int):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)


def _save(fig, path: str | Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def as_display(image: np.ndarray, value_range: tuple[int, int] = (0, 255)) -> tuple[np.ndarray, str | None]:
    """(C, H, W) or (H, W) uint8 -> what imshow wants, in 0..1 where `value_range` is 0..1 (so 0..16 digits
    show as bright as 0..255 ones), and the colour map for one channel."""
    low, high = value_range
    image = np.clip((np.asarray(image, dtype=np.float32) - low) / max(high - low, 1), 0.0, 1.0)
    if image.ndim == 2:
        return image, "gray"
    if image.shape[0] == 3:
        return np.transpose(image, (1, 2, 0)), None
    return image[0], "gray"  # one channel, or a layout we cannot colour: show the first plane


def grid_size(count: int, columns: int) -> tuple[int, int]:
    """Pixel (width, height) of `digit_grid` for `count` images in up to `columns` columns."""
    cols = max(1, min(columns, count))
    rows = max(1, math.ceil(count / cols))
    return cols * CELL_W_PX, rows * CELL_H_PX + TITLE_PX


def digit_grid(images: np.ndarray, captions: list[str], path: str | Path, title: str = "",
               columns: int = 6, value_range: tuple[int, int] = (0, 255)) -> Path:
    """A grid of digits (MNIST style: light ink on black), each with a caption under it; `value_range`
    (lowest, highest) is drawn black to white: the data's or the model's, which need not be 0..255."""
    count = len(images)
    width, height = grid_size(count, columns)
    cols = width // CELL_W_PX
    rows = (height - TITLE_PX) // CELL_H_PX
    fig = _figure(width, height)
    if title:
        fig.suptitle(title, y=1 - (TITLE_PX * 0.45) / height, fontsize=12)
    top = 1 - TITLE_PX / height
    cell_w, cell_h = 1 / cols, (top) / rows
    for index in range(count):
        row, col = divmod(index, cols)
        # Leave room under each image for a caption of up to two lines.
        ax = fig.add_axes((col * cell_w + 0.1 * cell_w, top - (row + 1) * cell_h + 0.3 * cell_h,
                           0.8 * cell_w, 0.66 * cell_h))
        picture, cmap = as_display(images[index], value_range)
        ax.imshow(picture, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(captions[index] if index < len(captions) else "", fontsize=8, labelpad=3)
    if count == 0:
        fig.text(0.5, 0.4, "(none)", ha="center", va="center", fontsize=11)
    return _save(fig, path)


def confusion_matrix_png(labels: list[str], matrix: np.ndarray, path: str | Path,
                         title: str = "Confusion matrix") -> Path:
    """Counts in every cell; rows are the true label, columns the predicted one."""
    n = len(labels)
    side = int(min(2000, max(480, 48 * n + 180)))
    fig = _figure(side, side)
    ax = fig.add_axes((0.14, 0.12, 0.8, 0.78))
    # Log-ish colour so the off-diagonal mistakes are visible next to a huge diagonal.
    shown = np.log1p(matrix.astype(float))
    ax.imshow(shown, cmap="Blues", interpolation="nearest")
    ax.set_xticks(range(n), labels=labels)
    ax.set_yticks(range(n), labels=labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = shown.max() / 2 if shown.size else 0
    fontsize = 9 if n <= 12 else 6
    annotated = range(n) if n <= 40 else range(0)  # beyond that the numbers cannot be read anyway
    for i in annotated:
        for j in range(n):
            if matrix[i, j] or i == j:
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=fontsize,
                        color="white" if shown[i, j] > threshold else "black")
    return _save(fig, path)


def bar_chart_png(labels: list[str], counts: list[int], path: str | Path, title: str,
                  xlabel: str, ylabel: str = "rows") -> Path:
    fig = _figure(640, 400)
    ax = fig.add_axes((0.1, 0.14, 0.86, 0.76))
    bars = ax.bar(range(len(labels)), counts, color="#4c72b0")
    ax.set_xticks(range(len(labels)), labels=labels)
    ax.bar_label(bars, fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _save(fig, path)


def confidence_histogram_png(confidence: np.ndarray, path: str | Path, correct: np.ndarray | None = None,
                             title: str = "Confidence of the predicted class") -> Path:
    """Stacked right/wrong when the truth is known, so over-confident mistakes stand out."""
    fig = _figure(640, 400)
    ax = fig.add_axes((0.1, 0.14, 0.86, 0.76))
    bins = np.linspace(0, 1, 21)
    if correct is None:
        ax.hist(confidence, bins=bins, color="#4c72b0")
    else:
        ax.hist([confidence[correct], confidence[~correct]], bins=bins, stacked=True,
                color=["#55a868", "#c44e52"], label=["right", "wrong"])
        ax.legend(loc="upper left")
    if len(confidence):
        ax.set_yscale("log")  # a few hundred mistakes next to tens of thousands of sure answers
    ax.set_title(title)
    ax.set_xlabel("confidence")
    ax.set_ylabel("rows (log scale)" if len(confidence) else "rows")
    return _save(fig, path)


CURVES_SIZE = (1000, 400)


def write_curves(history: list[dict], png_path: str | Path) -> Path:
    """Loss and accuracy per epoch, train and validation, side by side."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure(*CURVES_SIZE)
    # An ensemble's history holds one run per member: one line per member and split.
    runs: dict[object, list[dict]] = {}
    for row in history:
        runs.setdefault(row.get("member"), []).append(row)
    for position, (key, name) in enumerate((("loss", "loss"), ("acc", "accuracy"))):
        ax = fig.add_axes((0.07 + position * 0.5, 0.14, 0.4, 0.74))
        for member, rows in runs.items():
            epochs = [row["epoch"] for row in rows]
            for split, style in (("train", "-o"), ("val", "-s")):
                values = [_or_nan(row.get(f"{split}_{key}")) for row in rows]
                if any(not math.isnan(v) for v in values):
                    label = split if member is None else f"{split} (member {member})"
                    ax.plot(epochs, values, style, markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    if history:
        best = max(history, key=lambda row: _or_minus_inf(row.get("val_acc")))
        if not math.isnan(_or_nan(best.get("val_acc"))):
            fig.suptitle(f"best val accuracy {best['val_acc']:.4f} at epoch {best['epoch']} "
                         f"({history[-1].get('elapsed_s', 0):.0f}s in all)", fontsize=10)
    return _save(fig, png_path)


def _or_nan(value) -> float:
    return float("nan") if value is None else float(value)


def _or_minus_inf(value) -> float:
    value = _or_nan(value)
    return float("-inf") if math.isnan(value) else value


def prepared_images_png(results: list[ImagePrediction], png_path: str | Path,
                        value_range: tuple[int, int] = (0, 255)) -> Path:
    """What the model saw for each file, with its answer: the first thing to look at when one is wrong.
    `value_range`: the model's trained range, which the prepared images are on."""
    captions = [f"{r.path.name[:18]}\n-> {r.label} ({r.top[0][1]:.2f})" for r in results]
    return digit_grid(np.stack([r.pixels for r in results]), captions, png_path,
                      title="Images as prepared for the model", value_range=value_range)
