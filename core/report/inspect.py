"""`inspect`: the notebook's first look at a competition's data: shapes, class balance, a grid of digits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.base.errors import BadInput
from core.base.pixel_order import images_from_rows
from core.data.competition import CompetitionFiles
from core.data.layout import image_shape, unshaped
from core.data.sample import label_names, sample_label_column
from core.data.table import read_pixel_table
from core.report import plots

DATA_ROLES = ("train", "test")
GRID_SIDE = 5  # a 5x5 grid, as in the notebook


@dataclass
class FileSummary:
    name: str
    rows: int
    pixels: int
    image_shape: tuple[int, int] | None  # (H, W) when the pixels make an image (a square, a grid, the shape given)
    labelled: bool
    min_value: int
    max_value: int
    channels: int = 1

    def line(self) -> str:
        colour = f", {self.channels} channels" if self.channels > 1 else ""
        shape = f"{self.image_shape[0]}x{self.image_shape[1]} images{colour}" if self.image_shape else "no image shape"
        label = ", with labels" if self.labelled else ", no labels"
        return (f"{self.name}: {self.rows} rows x {self.pixels} pixels ({shape}{label}), "
                f"values {self.min_value}..{self.max_value}")


@dataclass
class DataSummary:
    directory: Path
    files: list[FileSummary] = field(default_factory=list)
    balance: list[tuple[str, int, float]] = field(default_factory=list)  # (label, rows, fraction)
    grid: Path | None = None
    balance_chart: Path | None = None

    def balance_line(self) -> str:
        return balance_line(self.balance)


def inspect_data(data_dir: Path, output_dir: Path, seed: int = 0, label_column: str | None = None,
                 ignore_extra: bool = False, input_shape: tuple[int, int, int] | None = None,
                 pixel_order: str = "chw") -> DataSummary:
    """`input_shape` and `pixel_order` (--input-shape) for images that are not one square grayscale picture."""
    data_dir = Path(data_dir)
    files = CompetitionFiles(data_dir)
    labels = label_names(label_column, sample_label_column(files.sample))
    paths = {path.name: path for path in map(files.path_of, DATA_ROLES) if path.is_file()}
    present = list(paths)
    if not present:
        raise BadInput(f"{data_dir}: no train.csv or test.csv; run `kaggle-job download` first")
    summary = DataSummary(directory=data_dir)
    tables = {}
    for name in present:
        tables[name] = read_pixel_table(paths[name], label_names=labels, ignore_extra=ignore_extra)
        summary.files.append(_file_summary(name, tables[name], input_shape))

    # The grid shows the labelled file when there is one: seeing digits with their labels is the point.
    source = next((n for n in present if tables[n].labels is not None), present[0])
    table = tables[source]
    shape = _shape(table.pixels.shape[1], table.grid, input_shape)
    if not shape:
        raise unshaped(paths[source], table.pixels.shape[1])
    if table.labels is not None:
        labels, counts = np.unique(table.labels.astype(str), return_counts=True)
        order = _natural_order(labels)
        summary.balance = [(labels[i], int(counts[i]), counts[i] / len(table.labels)) for i in order]
        summary.balance_chart = plots.bar_chart_png(
            [b[0] for b in summary.balance], [b[1] for b in summary.balance], output_dir / "class_balance.png",
            title=f"Class balance in {source}", xlabel="label")

    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(table.pixels), size=min(GRID_SIDE ** 2, len(table.pixels)), replace=False))
    images = images_from_rows(table.pixels[chosen], shape, pixel_order)
    captions = ([f"label {table.labels[i]}" for i in chosen] if table.labels is not None
                else [f"row {i + 1}" for i in chosen])
    # Black to white over the file's own values: 0..16 digits would be near-black on a 0..255 scale.
    observed = next(item for item in summary.files if item.name == source)
    summary.grid = plots.digit_grid(images, captions, output_dir / "first_look.png",
                                    title=f"{len(chosen)} random images from {source}", columns=GRID_SIDE,
                                    value_range=(observed.min_value, observed.max_value))
    return summary


def _file_summary(name: str, table, input_shape: tuple[int, int, int] | None) -> FileSummary:
    pixels = table.pixels
    shape = _shape(pixels.shape[1], table.grid, input_shape)
    return FileSummary(name=name, rows=len(pixels), pixels=pixels.shape[1], image_shape=shape[1:] or None,
                       labelled=table.labels is not None, min_value=int(pixels.min()) if pixels.size else 0,
                       max_value=int(pixels.max()) if pixels.size else 0, channels=shape[0] if shape else 1)


def _shape(num_pixels: int, grid: tuple[int, int] | None, given: tuple[int, int, int] | None) -> tuple:
    """(C, H, W) of a file's images: the shape given when the count fits it, else the grid or square; () if none."""
    if given and int(np.prod(given)) == num_pixels:
        return tuple(given)
    return image_shape(num_pixels, grid) or ()


def _natural_order(labels: np.ndarray) -> list[int]:
    """Numeric labels in numeric order ("2" before "10"), others alphabetically after them."""
    def key(i: int):
        text = labels[i]
        return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)
    return sorted(range(len(labels)), key=key)


BALANCE_SHOWN = 30  # classes named in the one-line summary; the JSON field and the chart hold them all


def balance_line(balance: list[tuple[str, int, float]]) -> str:
    """`class balance: 0: 4132 (9.8%), ...`, naming at most BALANCE_SHOWN classes: a file with
    thousands of labels would otherwise make one line of hundreds of kilobytes."""
    shown = ", ".join(f"{label}: {rows} ({share:.1%})" for label, rows, share in balance[:BALANCE_SHOWN])
    rest = balance[BALANCE_SHOWN:]
    if rest:
        counts = [rows for _, rows, _ in rest]
        shown += f", and {len(rest)} more classes ({min(counts)} to {max(counts)} rows each)"
    return "class balance: " + shown
