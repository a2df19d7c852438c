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


@dataclass
class Predictor:
    checkpoints: list[Checkpoint]
    device: torch.device
    batch_size: int = 512

    def __post_init__(self):
        if not self.checkpoints:
            raise BadInput("at least one --checkpoint is needed")
        first = self.checkpoints[0].spec
        for ckpt in self.checkpoints[1:]:
            if ckpt.spec.input_shape != first.input_shape or list(ckpt.spec.classes) != list(first.classes):
                raise BadInput(f"checkpoint {ckpt.path}: input shape or classes differ from {self.checkpoints[0].path}")
        self.models = [ckpt.model(self.device) for ckpt in self.checkpoints]

    @classmethod
    def from_checkpoints(cls, checkpoints: list[Checkpoint], device: str = "auto") -> "Predictor":
        configure_threads()
        return cls(checkpoints=checkpoints, device=pick_device(device))

    @property
    def spec(self):
        return self.checkpoints[0].spec

    def predict_proba(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (rows, num_pixels) -> float32 (rows, classes), averaged over the checkpoints."""
        images = torch.from_numpy(np.ascontiguousarray(pixels)).view(-1, *self.spec.input_shape)
        total = None
        with torch.inference_mode():
            for ckpt, model in zip(self.checkpoints, self.models):
                probs = torch.softmax(model(to_input(images, ckpt.spec, self.device)).float(), dim=1)
                total = probs if total is None else total + probs
        return (total / len(self.models)).cpu().numpy()

    def predict_batches(self, batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for pixels in batches:
            for start in range(0, len(pixels), self.batch_size):
                yield self.predict_proba(pixels[start:start + self.batch_size])

    def labels_for(self, probs: np.ndarray) -> np.ndarray:
        return np.asarray(self.spec.classes, dtype=object)[probs.argmax(axis=1)]
