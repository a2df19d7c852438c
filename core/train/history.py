"""Per-epoch training history, written beside the checkpoint for plots and reports.

For checkpoint `X.pt` the history lands in `X.history.csv` (one row per epoch); the same rows are
kept inside the checkpoint's meta so a lone .pt file still tells its story.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from core.base.atomic import atomic_write_text
from core.model.checkpoint import beside

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed_s")


def write_history(checkpoint: str | Path, history: list[dict]) -> Path:
    buffer = io.StringIO()
    # Ensemble histories carry a member column: one block of epochs per member.
    columns = (*COLUMNS, "member") if any("member" in row for row in history) else COLUMNS
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    path = beside(checkpoint).history
    atomic_write_text(path, buffer.getvalue())
    return path


def read_history(path: str | Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [{k: (int(v) if k in ("epoch", "member") else float(v)) for k, v in row.items() if v != ""}
                for row in csv.DictReader(handle)]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
