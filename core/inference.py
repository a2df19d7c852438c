"""Batch inference: one or several checkpoints, probabilities averaged, labels mapped back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.checkpoints import Checkpoint
from core.devices import configure_threads, pick_device
from core.errors import BadInput
from core.training import to_input


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
        # channels_last lets oneDNN / cuDNN pick their fastest convolution kernels.
        self.models = [ckpt.model(self.device).to(memory_format=torch.channels_last) for ckpt in self.checkpoints]

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
                x = to_input(images, ckpt.spec, self.device).contiguous(memory_format=torch.channels_last)
                probs = torch.softmax(model(x).float(), dim=1)
                total = probs if total is None else total + probs
        return (total / len(self.models)).cpu().numpy()

    def predict_batches(self, batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for pixels in batches:
            for start in range(0, len(pixels), self.batch_size):
                yield self.predict_proba(pixels[start:start + self.batch_size])

    def labels_for(self, probs: np.ndarray) -> np.ndarray:
        return np.asarray(self.spec.classes, dtype=object)[probs.argmax(axis=1)]
