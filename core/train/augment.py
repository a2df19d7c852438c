"""Batched augmentation on tensors: one random affine map per image, applied to the whole batch at once.

Digits survive small shifts, rotations and zooms but not flips (a mirrored 2 is no digit), so those
are the only moves (test-time shifts live with the ensemble, core.model.ensemble). One affine_grid + grid_sample call per batch costs a few percent of a training
step on the CPU, far less than per-image transforms in a Dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    shift_px: float = 2.0  # uniform in [-shift_px, shift_px] on each axis
    rotate_deg: float = 10.0  # uniform in [-rotate_deg, rotate_deg]
    zoom: float = 0.1  # scale uniform in [1 - zoom, 1 + zoom]

    @property
    def active(self) -> bool:
        return bool(self.shift_px or self.rotate_deg or self.zoom)


def random_thetas(batch: int, height: int, width: int, config: AugmentConfig,
                  generator: torch.Generator) -> torch.Tensor:
    """(batch, 2, 3) affine matrices in affine_grid's normalised coordinates.

    Drawn on the CPU from `generator` so a seed gives the same augmentation on any device.
    """
    u = torch.rand(batch, 4, generator=generator) * 2 - 1  # uniform in [-1, 1]
    angle = u[:, 0] * math.radians(config.rotate_deg)
    scale = 1.0 + u[:, 1] * config.zoom
    # Normalised coordinates span 2 units across the image: one pixel is 2/size of them.
    tx = u[:, 2] * config.shift_px * 2.0 / width
    ty = u[:, 3] * config.shift_px * 2.0 / height
    # theta maps output to input coordinates, so zooming in (scale > 1) means sampling a smaller area.
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    return torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)


def augment(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Float images (B, C, H, W) scaled to [0, 1] with background 0 -> augmented copy, same shape."""
    if not config.active or len(images) == 0:
        return images
    batch, channels, height, width = images.shape
    theta = random_thetas(batch, height, width, config, generator).to(images.device, images.dtype)
    grid = F.affine_grid(theta, [batch, channels, height, width], align_corners=False)
    # zeros padding = background, so shifted-in borders look like the rest of the page.
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
