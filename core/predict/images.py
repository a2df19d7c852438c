"""`predict-image`: name the digit in each picture file, with the top-k probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.images import prepare_image


@dataclass
class ImagePrediction:
    path: Path
    label: str
    top: list[tuple[str, float]]  # (class, probability), most probable first
    pixels: np.ndarray  # uint8 (C, H, W): what the model was shown

    def line(self) -> str:
        ranked = ", ".join(f"{label} {prob:.3f}" for label, prob in self.top)
        return f"{self.path}: {self.label}  (top-{len(self.top)}: {ranked})"


def predict_images(paths: list[Path], predictor, top_k: int = 3) -> list[ImagePrediction]:
    """Every image is prepared before any is predicted, so one bad file fails fast and alone."""
    prepared = [prepare_image(path, predictor.spec.input_shape) for path in paths]
    if not prepared:
        return []
    probs = predictor.predict_proba(np.stack(prepared))  # images, not rows: no pixel order to apply
    classes = [str(c) for c in predictor.spec.classes]
    results = []
    for path, pixels, row in zip(paths, prepared, probs):
        order = np.argsort(-row, kind="stable")[:top_k]
        results.append(ImagePrediction(path=Path(path), label=classes[order[0]],
                                       top=[(classes[k], float(row[k])) for k in order], pixels=pixels))
    return results
