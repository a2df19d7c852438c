"""Batch inference: one or several checkpoints, probabilities averaged, labels mapped back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.base.errors import BadInput
from core.base.log import Log
from core.model.checkpoint import Checkpoint, load_checkpoint
from core.model.devices import configure_threads, in_device_layout, pick_device
from core.model.spec import to_input
from core.predict.pixel_range import PixelTally, trained_range


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
            if (ckpt.spec.input_shape, ckpt.spec.pixel_order, list(ckpt.spec.classes)) != \
                    (first.input_shape, first.pixel_order, list(first.classes)):
                raise BadInput(f"checkpoint {ckpt.path}: input shape, pixel order or classes differ from "
                               f"{self.checkpoints[0].path}")
        self.value_range = trained_range(ckpt.spec for ckpt in self.checkpoints)
        self.models = [in_device_layout(ckpt.model(self.device), self.device) for ckpt in self.checkpoints]

    @classmethod
    def load(cls, paths: Sequence[str | Path], device: str = "auto", batch_size: int | None = None) -> "Predictor":
        """Load checkpoint files (several average their probabilities) onto the chosen device."""
        return cls.from_checkpoints([load_checkpoint(path) for path in paths], device, batch_size)

    @classmethod
    def from_checkpoints(cls, checkpoints: list[Checkpoint], device: str = "auto",
                         batch_size: int | None = None) -> "Predictor":
        configure_threads()
        return cls(checkpoints=checkpoints, device=pick_device(device), batch_size=batch_size)

    @property
    def spec(self):
        return self.checkpoints[0].spec

    def tally(self) -> PixelTally:
        """A fresh count of the values one call's input holds, for `predict_proba` to fill."""
        return PixelTally(trained=self.value_range)

    def predict_proba(self, pixels: np.ndarray | torch.Tensor, log: Log | None = None,
                      tally: PixelTally | None = None) -> np.ndarray:
        """uint8 (rows, num_pixels) or (rows, C, H, W) -> float32 (rows, classes), averaged over the checkpoints.

        Every batch of every command passes here, so `tally` (from `tally()`) counts the values of all of
        them in one place; the caller says what it found (core.predict.pixel_range.check_range).

        Runs `batch_size` rows at a time. CUDA running out of memory (another process on the GPU, a
        bigger model than the default batch was sized for) halves the batch and retries the same rows,
        down to one row; the smaller batch is kept for the rest of the file.
        """
        if isinstance(pixels, np.ndarray):
            pixels = torch.from_numpy(np.ascontiguousarray(pixels))
        images = self.spec.images(pixels) if pixels.dim() == 2 else pixels
        if tally is not None:
            tally.observe(images)
        parts, start = [], 0
        while start < len(images):
            chunk = images[start:start + self.batch_size]
            try:
                parts.append(self._forward(chunk))
            except torch.cuda.OutOfMemoryError:
                self._halve_batch(log)
                continue
            start += len(chunk)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.zeros((0, self.spec.num_classes), np.float32)

    def _forward(self, images: torch.Tensor) -> np.ndarray:
        total = None
        with torch.inference_mode():
            for ckpt, model in zip(self.checkpoints, self.models):
                x = to_input(images, ckpt.spec, self.device)
                probs = torch.softmax(model(x).float(), dim=1)
                total = probs if total is None else total + probs
        return (total / len(self.models)).cpu().numpy()

    def _halve_batch(self, log: Log | None) -> None:
        if self.batch_size <= 1:
            raise BadInput("CUDA out of memory even one row at a time; free the GPU or use --device cpu")
        torch.cuda.empty_cache()  # give back what the failed batch held before trying a smaller one
        self.batch_size = max(1, self.batch_size // 2)
        if log is not None:
            log.warn(f"CUDA out of memory: retrying with batch size {self.batch_size}",
                     event="predict.batch_halved", batch_size=self.batch_size)

    def labels_for(self, probs: np.ndarray) -> np.ndarray:
        return np.asarray(self.spec.classes, dtype=object)[probs.argmax(axis=1)]
