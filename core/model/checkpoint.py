"""One save/load pair for model checkpoints.

A checkpoint holds the weights plus everything needed to rebuild and use the model without the
code that trained it guessing: architecture and its kwargs, input shape, class labels,
normalisation, metrics and library versions. Only plain types and tensors are stored, so loading
works with `torch.load(weights_only=True)` and a hostile file cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import platform
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core import __version__
from core.base.atomic import atomic_write_bytes
from core.base.errors import BadInput
from core.model.spec import ModelSpec

FORMAT = "kaggle-job/1"


@dataclass(frozen=True)
class CheckpointFiles:
    """The files that live beside checkpoint `X.pt`: the one naming rule for all of them."""

    checkpoint: Path

    def _beside(self, suffix: str) -> Path:
        return self.checkpoint.with_name(self.checkpoint.stem + suffix)

    @property
    def state(self) -> Path:
        """X.state.pt: the resume file, while training runs."""
        return self._beside(".state.pt")

    @property
    def history(self) -> Path:
        """X.history.csv: one row per epoch."""
        return self._beside(".history.csv")

    @property
    def curves(self) -> Path:
        """X.curves.png: loss and accuracy per epoch."""
        return self._beside(".curves.png")

    def member(self, index: int) -> Path:
        """X.member<i>.pt (1-based): an ensemble member's own checkpoint."""
        return self._beside(f".member{index + 1}{self.checkpoint.suffix}")


def beside(checkpoint: str | os.PathLike) -> CheckpointFiles:
    return CheckpointFiles(Path(checkpoint))


@dataclass
class Checkpoint:
    spec: ModelSpec
    state_dict: dict
    metrics: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    path: Path | None = None

    def model(self, device: torch.device | str = "cpu") -> nn.Module:
        """The model with its weights, on `device`, in eval mode."""
        model = self.spec.build()
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()


def library_versions() -> dict[str, str]:
    import numpy

    # str(): torch.__version__ is a TorchVersion, which weights_only loading refuses.
    return {"kaggle_job": __version__, "torch": str(torch.__version__), "numpy": str(numpy.__version__),
            "python": platform.python_version()}


def save_checkpoint(path: str | os.PathLike, model: nn.Module, spec: ModelSpec,
                    metrics: dict | None = None, **meta: Any) -> Path:
    """Write atomically: a crash mid-save leaves any earlier file at `path` whole."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "spec": {**asdict(spec), "input_shape": list(spec.input_shape)},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": dict(metrics or {}),
        "meta": {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "versions": library_versions(), **meta},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _reason(exc: Exception) -> str:
    """torch's unpickling errors run to a page; keep the line that says what was refused."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
    return lines[0][:200] if lines else type(exc).__name__


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"checkpoint {path}: no such file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError) as exc:
        raise BadInput(f"checkpoint {path}: not a loadable kaggle-job checkpoint ({_reason(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise BadInput(f"checkpoint {path}: not a kaggle-job checkpoint (expected format {FORMAT})")
    try:
        raw = payload["spec"]
        spec = ModelSpec(arch=raw["arch"], input_shape=tuple(int(v) for v in raw["input_shape"]),
                         classes=list(raw["classes"]), arch_kwargs=dict(raw.get("arch_kwargs", {})),
                         mean=float(raw.get("mean", 0.0)), std=float(raw.get("std", 1.0)))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"checkpoint {path}: incomplete model description ({exc})") from None
    return Checkpoint(spec=spec, state_dict=payload["state_dict"], metrics=payload.get("metrics", {}),
                      meta=payload.get("meta", {}), path=path)
