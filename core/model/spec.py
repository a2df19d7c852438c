"""ModelSpec: what a model needs around it (how to build it, how to feed it), and `to_input`, the one
transform from uint8 pixels to what the network takes, used by training and inference alike.

A spec travels inside every checkpoint as plain values, so `torch.load(weights_only=True)` can read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from core.base.errors import BadInput
from core.base.pixel_order import checked_order, images_from_rows
from core.model.devices import in_device_layout
from core.model.registry import available, build_model

# Limits on what a checkpoint may ask for, checked before anything is built. Far beyond any pixel-CSV
# competition (Digit Recognizer is 1x28x28 and 10 classes; CIFAR-like CSVs 3x32x32), far below what
# would exhaust a machine: a 1 KB file must not be able to ask for terabytes.
MAX_CHANNELS = 16
MAX_SIDE = 1024  # pixels per side: a 1024x1024 image is already a million CSV columns
MAX_CLASSES = 100_000
MAX_PARAMETERS = 1_000_000_000  # 4 GB of float32 weights; the default leannet has ~0.2 M
FULL_RANGE = (0, 255)  # uint8 pixels, an image file's scale; what checkpoints without value_range were trained on


@dataclass
class ModelSpec:
    """What a model needs around it: how to build it and how to feed it."""

    arch: str
    input_shape: tuple[int, int, int]  # (channels, height, width)
    classes: list  # label for each output index, e.g. [0, 1, ..., 9]
    arch_kwargs: dict = field(default_factory=dict)
    mean: float = 0.0  # applied after scaling pixels to [0, 1]
    std: float = 1.0
    pixel_order: str = "chw"  # how a file's row orders a pixel's channels (core.base.pixel_order.PIXEL_ORDERS)
    value_range: tuple[int, int] = FULL_RANGE  # the lowest and highest pixel value of the training rows

    @property
    def num_pixels(self) -> int:
        channels, height, width = self.input_shape
        return channels * height * width

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def images(self, rows):
        """Rows of pixels (N, num_pixels) in the files' order -> (N, C, H, W) images."""
        return images_from_rows(rows, self.input_shape, self.pixel_order)

    def build(self, check_fits: bool = True) -> nn.Module:
        channels, height, width = self.input_shape
        return build_model(self.arch, channels, height, width, self.num_classes, check_fits=check_fits,
                           **self.arch_kwargs)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Float pixels in [0, 1] -> the network's input scale (in place)."""
        return x.sub_(self.mean).div_(self.std)


def to_input(batch: torch.Tensor, spec: ModelSpec, device: torch.device) -> torch.Tensor:
    """uint8 (B, C, H, W) -> normalised float on `device`, in the layout the device runs fastest."""
    x = batch.to(device, non_blocking=True).float().div_(255.0)
    return in_device_layout(spec.normalise(x), device)


def spec_from_plain(raw) -> ModelSpec:
    """A ModelSpec from a checkpoint's plain values, checked; BadInput (without the file name) if odd."""
    if not isinstance(raw, dict):
        raise BadInput("no model description")
    arch = raw.get("arch")
    if not isinstance(arch, str) or arch not in available():
        raise BadInput(f"unknown architecture {arch!r}; expected one of {', '.join(available())}")
    kwargs = raw.get("arch_kwargs", {})
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise BadInput("architecture settings are not a mapping of names to values")
    return ModelSpec(arch=arch, input_shape=checked_input_shape(raw.get("input_shape")),
                     classes=_classes(raw.get("classes")), arch_kwargs=dict(kwargs),
                     mean=_finite(raw.get("mean", 0.0), "mean"), std=_finite(raw.get("std", 1.0), "std", positive=True),
                     pixel_order=_order(raw.get("pixel_order")), value_range=_value_range(raw.get("value_range")))


def checked_input_shape(value) -> tuple[int, int, int]:
    """(C, H, W) within the limits every checkpoint is held to; BadInput otherwise (training checks its
    images' shape so before the first epoch, not when the checkpoint is saved)."""
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise BadInput(f"input shape {value!r} is not (channels, height, width)")
    for size, cap in zip(value, (MAX_CHANNELS, MAX_SIDE, MAX_SIDE)):
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= cap:
            raise BadInput(f"input shape {list(value)!r}: expected channels 1..{MAX_CHANNELS} and "
                           f"sides 1..{MAX_SIDE}")
    return tuple(value)


def _order(value) -> str:
    return "chw" if value is None else checked_order(value)  # None: checkpoints from before channels-last files


def _value_range(value) -> tuple[int, int]:
    """(low, high) pixel values trained on; None: a checkpoint from before the range was recorded, and
    those were all trained on 0..255 files."""
    if value is None:
        return FULL_RANGE
    whole = isinstance(value, (list, tuple)) and len(value) == 2 and \
        all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if not whole or not 0 <= value[0] <= value[1] <= 255:
        raise BadInput(f"value range {value!r}: expected [low, high] with 0 <= low <= high <= 255")
    return int(value[0]), int(value[1])


def _classes(value) -> list:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_CLASSES:
        count = len(value) if isinstance(value, (list, tuple)) else value
        raise BadInput(f"class list of {count!r}: expected 1..{MAX_CLASSES} classes")
    if not all(isinstance(c, (int, str)) and not isinstance(c, bool) for c in value):
        raise BadInput("class labels must be integers or strings")
    if len(set(value)) != len(value):
        raise BadInput("class labels repeat")
    return list(value)


def _finite(value, name: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
            (positive and value <= 0):
        raise BadInput(f"normalisation {name} {value!r} is not a finite{' positive' if positive else ''} number")
    return float(value)
