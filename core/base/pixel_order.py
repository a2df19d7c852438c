"""How a row of a pixel file orders a colour image's values, and turning rows into (N, C, H, W) images.

The data layer parses the order (`--input-shape`), the model's spec carries it in every checkpoint,
and training and inference both shape rows with images_from_rows: one rule, kept below both.
"""

from __future__ import annotations

from core.base.errors import BadInput

# How a row's pixels are ordered when an image has several channels: "chw", colour planes one after
# another (CIFAR-10's binary files); "hwc", each pixel's channels side by side (a numpy (H, W, C) image
# flattened, as Skin Cancer MNIST's hmnist_28_28_RGB.csv). One channel reads the same either way.
PIXEL_ORDERS = ("chw", "hwc")


def checked_order(value) -> str:
    """`value` when it is one of PIXEL_ORDERS; BadInput otherwise (a checkpoint's spec, a training config)."""
    if value not in PIXEL_ORDERS:
        raise BadInput(f"pixel order {value!r}: expected one of {', '.join(PIXEL_ORDERS)}")
    return value


def images_from_rows(rows, shape: tuple[int, int, int], order: str = "chw"):
    """Rows of pixels (N, C*H*W), numpy or torch, in the file's order -> images (N, C, H, W).

    Channels-last rows come back as a view with channels-last strides (no copy): the layout
    the CPU and GPU kernels prefer anyway (core.model.devices.in_device_layout).
    """
    channels, height, width = shape
    if order != "hwc":
        return rows.reshape(-1, channels, height, width)
    pixels = rows.reshape(-1, height, width, channels)
    return pixels.permute(0, 3, 1, 2) if hasattr(pixels, "permute") else pixels.transpose(0, 3, 1, 2)
