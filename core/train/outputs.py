"""What a finished training leaves beside its checkpoint `X.pt`: X.history.csv and X.curves.png."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from core.data.classes import describe_classes
from core.data.layout import shape_text
from core.model.checkpoint import beside, save_checkpoint
from core.train.config import TrainConfig
from core.train.history import write_history
from core.train.loop import TrainResult
from core.train.resume import remove_state


def save_result(checkpoint: Path, result: TrainResult, config: TrainConfig, data_sha: str,
                dataset: str | None = None, **meta) -> None:
    """The checkpoint, then its history and curves; the resume state goes only once all are safe."""
    save_checkpoint(checkpoint, result.model, result.spec, result.metrics, dataset=dataset,
                    data_sha256=data_sha, train_config=asdict(config), history=result.history, **meta)
    write_history(checkpoint, result.history)
    from core.report.plots import write_curves  # matplotlib only once there is something to draw

    write_curves(result.history, beside(checkpoint).curves)
    remove_state(checkpoint)


def describe_data(rows: int, input_shape: tuple[int, ...], classes: list) -> str:
    """What a model is trained on, for train's first and last lines: `1797 rows of 1x8x8, 10 classes 0..9`."""
    return f"{rows} rows of {shape_text(input_shape)}, {describe_classes(classes)}"


def describe_validation(metrics: dict) -> str:
    """The validation figure for a message; a model trained on every row (--val-fraction 0) has none, and
    an ensemble on folds (every row trained some member) has its members' pooled out-of-bag figure."""
    if metrics.get("val_accuracy") is None:
        if metrics.get("oob_accuracy") is not None:
            return f"out-of-bag accuracy={metrics['oob_accuracy']:.4f} (each member on the fold it left out)"
        return f"no validation (trained on all {metrics['train_rows']} rows)"
    return f"val_accuracy={metrics['val_accuracy']:.4f}"
