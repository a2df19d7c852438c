"""Turning a photo or drawing of one digit into what the model saw in training, the MNIST way.

MNIST digits are light ink on black, size-normalised to fit a 20x20 box keeping their aspect ratio
(anti-aliased), then placed in a 28x28 frame so that their centre of mass sits at the centre.
Here the frame is the checkpoint's input shape and the box keeps the same 20/28 proportion.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from core.base.errors import BadInput, require_file

BOX_FRACTION = 20 / 28  # MNIST: a 20x20 digit box inside a 28x28 frame
INK_THRESHOLD = 0.2  # of the strongest ink: weaker pixels are paper texture or JPEG noise
MIN_SIDE = 8  # smaller than this is not a picture of a digit
# A 48-megapixel phone photo fits; decoding works on 16 bytes a pixel (RGBA float32), so this bounds
# one image at ~0.8 GB, where a 30000x30000 PNG of 875 KB would ask for 14 GB.
MAX_PHOTO_PIXELS = 50_000_000
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")  # PIL's 16-bit and float grayscale


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PHOTO_PIXELS:
        raise BadInput(f"{path}: image is {size[0]}x{size[1]} pixels; expected at most "
                       f"{MAX_PHOTO_PIXELS // 10**6} megapixels")


def _open_image(path: Path):
    """The decoded PIL image, upright, checked for size before decoding; BadInput if unreadable."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    require_file(path)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 89 and 179 megapixels: a warning would break JSON-lines logs.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only: the size is known before decoding
                _check_pixels(path, image.size)
                image = ImageOps.exif_transpose(image)  # phone photos are often stored sideways
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadInput(f"{path}: image too large to decode; expected at most {MAX_PHOTO_PIXELS // 10**6} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadInput(f"{path}: not a readable image (expected PNG or JPEG: {exc})") from None
    if min(image.size) < MIN_SIDE:
        raise BadInput(f"{path}: image is {image.size[0]}x{image.size[1]} pixels; expected at least "
                       f"{MIN_SIDE}x{MIN_SIDE}")
    return image


def _stretched(image) -> np.ndarray:
    """A 16-bit or float grayscale image -> float32 (H, W) stretched to 0..255."""
    values = np.asarray(image, dtype=np.float32)
    span = float(values.max() - values.min()) or 1.0
    return (values - values.min()) * (255.0 / span)


def load_grayscale(path: str | Path) -> np.ndarray:
    """Any PNG/JPEG (palette, alpha, RGB, 16-bit) -> float32 (H, W) in 0..255. BadInput if unreadable."""
    image = _open_image(Path(path))
    if image.mode in WIDE_MODES:
        return _stretched(image)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    alpha = rgba[..., 3] / 255.0
    if alpha.min() < 1.0:
        # A drawing on a transparent canvas: lay it on the paper colour that contrasts with its ink.
        opaque = alpha > 0.5
        ink_is_dark = not opaque.any() or float(np.median(gray[opaque])) < 128
        paper = 255.0 if ink_is_dark else 0.0
        gray = gray * alpha + paper * (1.0 - alpha)
    return gray


def ink_image(gray: np.ndarray) -> np.ndarray:
    """Light ink on black in 0..1, whatever the original polarity; the paper becomes 0."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    paper = float(np.median(border))
    ink = paper - gray if paper >= 128 else gray - paper  # dark on light paper gets inverted
    ink = np.clip(ink, 0, None)
    strongest = float(ink.max())
    if strongest < 16:  # no contrast to speak of: a blank or nearly uniform picture
        return np.zeros_like(ink)
    ink /= strongest
    ink[ink < INK_THRESHOLD] = 0.0
    return ink


def fit_digit(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """Crop to the ink, scale into the digit box keeping aspect, centre by centre of mass. -> uint8 (H, W)."""
    from PIL import Image

    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    box_h, box_w = max(1, round(height * BOX_FRACTION)), max(1, round(width * BOX_FRACTION))
    scale = min(box_h / crop.shape[0], box_w / crop.shape[1])
    new_h, new_w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    # Float resize ("F" mode) keeps the anti-aliased grey edges MNIST has; LANCZOS downsamples cleanly.
    patch = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F")
                       .resize((new_w, new_h), Image.Resampling.LANCZOS), dtype=np.float32)
    patch = np.clip(patch, 0, None)
    if patch.max() > 0:
        patch = patch / patch.max()  # thin strokes drawn on a big canvas must not fade to grey

    frame = np.zeros((height, width), dtype=np.float32)
    mass = patch.sum()
    ys, xs = np.indices(patch.shape)
    com_y, com_x = ((ys * patch).sum() / mass, (xs * patch).sum() / mass) if mass else (new_h / 2, new_w / 2)
    top = int(round((height - 1) / 2 - com_y))
    left = int(round((width - 1) / 2 - com_x))
    # Keep the whole digit in the frame even when its mass is far off its middle (a "7", a "1" serif).
    top = min(max(top, 0), height - new_h)
    left = min(max(left, 0), width - new_w)
    frame[top:top + new_h, left:left + new_w] = patch
    return np.round(frame * 255).astype(np.uint8)


def prepare_image(path: str | Path, input_shape: tuple[int, int, int]) -> np.ndarray:
    """An image file -> uint8 (C, H, W) for a model with `input_shape`: a grayscale model's digit prepared
    the MNIST way; a colour model's picture (3 channels, or 4 with alpha) resized to its frame as it is,
    since colour pixel files (CIFAR-10, Skin Cancer MNIST) hold whole downscaled pictures, not ink."""
    channels, height, width = input_shape
    if channels in (3, 4):
        return _resized_colour(Path(path), channels, height, width)
    ink = ink_image(load_grayscale(path))
    if not ink.any():
        raise BadInput(f"{path}: no digit found (the image is blank or has no contrast)")
    digit = fit_digit(ink, height, width)
    return np.repeat(digit[None], channels, axis=0)


def _resized_colour(path: Path, channels: int, height: int, width: int) -> np.ndarray:
    from PIL import Image

    image = _open_image(path)
    if image.mode in WIDE_MODES:  # RGB conversion would clip them, not scale them
        image = Image.fromarray(_stretched(image).astype(np.uint8))
    resized = image.convert("RGBA" if channels == 4 else "RGB").resize((width, height), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(resized, dtype=np.uint8).transpose(2, 0, 1))
