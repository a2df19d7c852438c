"""`predict-image`: name the digit in each picture file, with the top-k probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.log import Log
from core.data.images import prepare_image
from core.model.spec import FULL_RANGE
from core.predict.pixel_range import check_range

SOURCE = "images"  # what messages call predict-image's input


@dataclass
class ImagePrediction:
    path: Path
    label: str
    top: list[tuple[str, float]]  # (class, probability), most probable first
    pixels: np.ndarray  # uint8 (C, H, W): what the model was shown, on the scale it was trained on

    def line(self) -> str:
        ranked = ", ".join(f"{label} {prob:.3f}" for label, prob in self.top)
        return f"{self.path}: {self.label}  (top-{len(self.top)}: {ranked})"


def predict_images(paths: list[Path], predictor, top_k: int = 3, log: Log | None = None,
                   out_of_range: str = "warn") -> list[ImagePrediction]:
    """Every image is prepared before any is predicted, so one bad file fails fast and alone. Prepared
    images are 0..255, as image files are; they are mapped onto the model's trained range (said once
    through `log` when that is not 0..255) and checked against it as any input is."""
    log = log if log is not None else Log(quiet=True)
    prepared = [prepare_image(path, predictor.spec.input_shape) for path in paths]
    if not prepared:
        return []
    low, high = predictor.value_range
    if (low, high) != FULL_RANGE:
        log.info(f"image pixels 0..255 mapped onto {low}..{high}, the range the model was trained on",
                 event="predict_image.rescaled", trained=[low, high])
    prepared = [onto_range(pixels, (low, high)) for pixels in prepared]
    seen = predictor.tally()
    probs = predictor.predict_proba(np.stack(prepared), log, seen)  # images, not rows: no pixel order to apply
    check_range(seen, SOURCE, log, out_of_range)
    classes = [str(c) for c in predictor.spec.classes]
    results = []
    for path, pixels, row in zip(paths, prepared, probs):
        order = np.argsort(-row, kind="stable")[:top_k]
        results.append(ImagePrediction(path=Path(path), label=classes[order[0]],
                                       top=[(classes[k], float(row[k])) for k in order], pixels=pixels))
    return results


def onto_range(pixels: np.ndarray, value_range: tuple[int, int]) -> np.ndarray:
    """uint8 pixels on an image file's 0..255 scale -> the same picture on `value_range`'s scale
    (x * 16 / 255 for a model trained on 0..16 values), rounded; unchanged for 0..255."""
    low, high = value_range
    if (low, high) == FULL_RANGE:
        return pixels
    return np.round(low + pixels.astype(np.float32) * ((high - low) / 255.0)).astype(np.uint8)
