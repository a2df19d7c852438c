"""One save/load pair for model checkpoints.

A checkpoint holds the weights plus everything needed to rebuild and use the model without the
code that trained it guessing: architecture and its kwargs, input shape, class labels,
normalisation, metrics and library versions. Only plain types and tensors are stored, so loading
works with `torch.load(weights_only=True)` and a hostile file cannot run code.
"""

from __future__ import annotations

import io
import math
import os
import platform
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core import __version__
from core.base.atomic import atomic_write_bytes
from core.base.errors import BadInput, require_file
from core.model.spec import MAX_PARAMETERS, ModelSpec, spec_from_plain

FORMAT = "kaggle-job/1"
# The meta field naming the data a model was trained on (Workspace.dataset_name: a competition's slug or a
# data folder's name); `run` predicts a competition with its own models only. Older checkpoints lack it.
DATASET = "dataset"


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

    @property
    def broken(self) -> Path:
        """X.broken.pt: where `run` sets aside a checkpoint that no longer loads, before training a new one."""
        return self._beside(f".broken{self.checkpoint.suffix}")

    def made_for(self, dataset: str, copy: int = 1) -> Path:
        """X.for-<dataset>.pt (X.for-<dataset>-2.pt for a second copy): where `run` sets aside a model of
        other data found at its own path."""
        name = (re.sub(r"[^A-Za-z0-9_-]", "_", dataset)[:100] or "_") + (f"-{copy}" if copy > 1 else "")
        return self._beside(f".for-{name}{self.checkpoint.suffix}")

    @property
    def round1(self) -> Path:
        """X.round1.pt: a pseudo-labelling run's first round, the model that labelled the unlabelled rows."""
        return self._beside(f".round1{self.checkpoint.suffix}")

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

    @property
    def dataset(self) -> str | None:
        """The name of the data it was trained on; None for a checkpoint saved before that was recorded."""
        return self.meta.get(DATASET)

    def model(self, device: torch.device | str = "cpu") -> nn.Module:
        """The model with its weights, on `device`, in eval mode."""
        try:
            model = self.spec.build()  # on the CPU, where a blank image checks the input fits the network
        except BadInput as exc:
            raise BadInput(f"checkpoint {self.path}: {exc.message}") from None
        try:
            model.load_state_dict(self.state_dict)
        except (RuntimeError, TypeError) as exc:  # a dtype that cannot be copied in; shapes were checked
            raise BadInput(f"checkpoint {self.path}: weights do not load ({_reason(exc)})") from None
        return model.to(device).eval()


def library_versions() -> dict[str, str]:
    import numpy

    # str(): torch.__version__ is a TorchVersion, which weights_only loading refuses.
    return {"kaggle_job": __version__, "torch": str(torch.__version__), "numpy": str(numpy.__version__),
            "python": platform.python_version()}


def save_checkpoint(path: str | os.PathLike, model: nn.Module, spec: ModelSpec,
                    metrics: dict | None = None, dataset: str | None = None, **meta: Any) -> Path:
    """Write atomically: a crash mid-save leaves any earlier file at `path` whole. `dataset`: the name of
    the data it was trained on (DATASET)."""
    if dataset is not None:
        meta[DATASET] = dataset
    path = Path(path)
    plain = {**asdict(spec), "input_shape": list(spec.input_shape), "value_range": list(spec.value_range)}
    spec_from_plain(plain)  # never write what would not load
    payload = {
        "format": FORMAT,
        "spec": plain,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": dict(metrics or {}),
        "meta": {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "versions": library_versions(), **meta},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _reason(exc: BaseException) -> str:
    """torch's unpickling errors run to a page; keep the line that says what was refused."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
    first = lines[0][:200] if lines else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load and check a checkpoint: anything wrong with it is BadInput naming the file (exit 2).

    Order matters: the spec is checked (known architecture, positive capped sizes), then the model
    is built on the meta device (shapes, no memory) and the stored weights compared with it. Only a
    checkpoint that passes is ever built for real, so a small hostile file cannot ask for terabytes.
    """
    path = Path(path)
    require_file(path, "checkpoint")
    try:
        # mmap: tensors are mapped, not read, so a file carrying gigabytes past what the spec needs is refused
        # (check_weights) before any of them is in memory.
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # truncated, not a zip, an odd or hostile pickle: torch raises many kinds
        raise BadInput(f"checkpoint {path}: not a loadable kaggle-job checkpoint ({_reason(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise BadInput(f"checkpoint {path}: not a kaggle-job checkpoint (expected format {FORMAT})")
    try:
        spec = spec_from_plain(payload.get("spec"))
        state_dict, metrics, meta = (payload.get(key, {}) for key in ("state_dict", "metrics", "meta"))
        if not all(isinstance(part, dict) for part in (state_dict, metrics, meta)):
            raise BadInput("weights, metrics or meta are not mappings")
        if not isinstance(meta.get(DATASET, ""), str):
            raise BadInput(f"meta: {DATASET} {meta[DATASET]!r} is not the name of the data it was trained on")
        check_weights(spec, state_dict)
        if "val_accuracy" in metrics:
            metrics = {**metrics, "val_accuracy": _val_accuracy(metrics["val_accuracy"])}
    except BadInput as exc:
        raise BadInput(f"checkpoint {path}: {exc.message}") from None
    return Checkpoint(spec=spec, state_dict=state_dict, metrics=metrics, meta=meta, path=path)


def _val_accuracy(value: Any) -> float | None:
    """The one metric decisions read (run --submit compares it): a fraction, or None for a model with no
    validation rows, which checkpoints saved before that case was handled stored as NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise BadInput(f"metrics: val_accuracy {value!r} is not a fraction between 0 and 1")
    return float(value)


def check_weights(spec: ModelSpec, state_dict: dict) -> None:
    """BadInput unless `state_dict` holds exactly the tensors `spec`'s model has, shape for shape."""
    try:
        with torch.device("meta"):  # parameters without storage: sizes cost nothing to compute
            expected = {name: tuple(t.shape) for name, t in spec.build(check_fits=False).state_dict().items()}
    except BadInput:
        raise
    except Exception as exc:  # settings the architecture cannot be built with
        raise BadInput(f"cannot build {spec.arch} with settings {spec.arch_kwargs} ({_reason(exc)})") from None
    size = sum(math.prod(shape) for shape in expected.values())
    if size > MAX_PARAMETERS:
        raise BadInput(f"{spec.arch} with settings {spec.arch_kwargs} would have {size:,} parameters "
                       f"(at most {MAX_PARAMETERS:,})")
    if not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise BadInput("the weights hold something other than tensors")
    missing, unexpected = sorted(set(expected) - set(state_dict)), sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise BadInput(f"the weights do not fit {spec.arch}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    for name, shape in expected.items():
        if tuple(state_dict[name].shape) != shape:
            raise BadInput(f"the weights do not fit {spec.arch}: {name} is {list(state_dict[name].shape)}, "
                           f"the model needs {list(shape)}")
