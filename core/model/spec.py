"""ModelSpec: what a model needs around it (how to build it, how to feed it), and `to_input`, the one
transform from uint8 pixels to what the network takes, used by training and inference alike.

A spec travels inside every checkpoint as plain values, so `torch.load(weights_only=True)` can read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from core.model.devices import in_device_layout
from core.model.registry import build_model


@dataclass
class ModelSpec:
    """What a model needs around it: how to build it and how to feed it."""

    arch: str
    input_shape: tuple[int, int, int]  # (channels, height, width)
    classes: list  # label for each output index, e.g. [0, 1, ..., 9]
    arch_kwargs: dict = field(default_factory=dict)
    mean: float = 0.0  # applied after scaling pixels to [0, 1]
    std: float = 1.0

    @property
    def num_pixels(self) -> int:
        channels, height, width = self.input_shape
        return channels * height * width

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def build(self) -> nn.Module:
        channels, height, width = self.input_shape
        return build_model(self.arch, channels, height, width, self.num_classes, **self.arch_kwargs)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Float pixels in [0, 1] -> the network's input scale (in place)."""
        return x.sub_(self.mean).div_(self.std)


def to_input(batch: torch.Tensor, spec: ModelSpec, device: torch.device) -> torch.Tensor:
    """uint8 (B, C, H, W) -> normalised float on `device`, in the layout the device runs fastest."""
    x = batch.to(device, non_blocking=True).float().div_(255.0)
    return in_device_layout(spec.normalise(x), device)
