"""Batch inference: one or several checkpoints, probabilities averaged, labels mapped back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.base.errors import BadInput
from core.model.checkpoint import Checkpoint, load_checkpoint
from core.model.devices import configure_threads, in_device_layout, pick_device
from core.model.spec import to_input


def batch_size_for(device: torch.device) -> int:
    """Big enough to keep the device busy, small enough that memory stays flat."""
    return {"cuda": 2048, "mps": 1024}.get(device.type, 512)


@dataclass
class Predictor:
    checkpoints: list[Checkpoint]
    device: torch.device
    batch_size: int | None = None  # None: chosen for the device (see batch_size_for)

    def __post_init__(self):
        self.batch_size = self.batch_size or batch_size_for(self.device)
        if not self.checkpoints:
            raise BadInput("at least one --checkpoint is needed")
        first = self.checkpoints[0].spec
        for ckpt in self.checkpoints[1:]:
            if ckpt.spec.input_shape != first.input_shape or list(ckpt.spec.classes) != list(first.classes):
                raise BadInput(f"checkpoint {ckpt.path}: input shape or classes differ from {self.checkpoints[0].path}")
        self.models = [in_device_layout(ckpt.model(self.device), self.device) for ckpt in self.checkpoints]

    @classmethod
    def load(cls, paths: Sequence[str | Path], device: str = "auto") -> "Predictor":
        """Load checkpoint files (several average their probabilities) onto the chosen device."""
        return cls.from_checkpoints([load_checkpoint(path) for path in paths], device)

    @classmethod
    def from_checkpoints(cls, checkpoints: list[Checkpoint], device: str = "auto") -> "Predictor":
        configure_threads()
        return cls(checkpoints=checkpoints, device=pick_device(device))

    @property
    def spec(self):
        return self.checkpoints[0].spec

    def predict_proba(self, pixels: np.ndarray | torch.Tensor) -> np.ndarray:
        """uint8 (rows, num_pixels) or (rows, C, H, W) -> float32 (rows, classes), averaged over the checkpoints."""
        if isinstance(pixels, np.ndarray):
            pixels = torch.from_numpy(np.ascontiguousarray(pixels))
        images = pixels.view(-1, *self.spec.input_shape)
        total = None
        with torch.inference_mode():
            for ckpt, model in zip(self.checkpoints, self.models):
                x = to_input(images, ckpt.spec, self.device)
                probs = torch.softmax(model(x).float(), dim=1)
                total = probs if total is None else total + probs
        return (total / len(self.models)).cpu().numpy()

    def labels_for(self, probs: np.ndarray) -> np.ndarray:
        return np.asarray(self.spec.classes, dtype=object)[probs.argmax(axis=1)]
