"""Pseudo-labelling: a second round of training on the unlabelled rows a first model is sure of.

The competition download holds test.csv's pixels beside train.csv; a model trained on train.csv
(round 1, or a `teacher` checkpoint) predicts them, the rows it predicts with an averaged probability
of at least `threshold` join the training rows with its answers as their labels, and the same
recipe trains again on both (round 2). The labels come only from the model. The validation split is
drawn from the labelled rows alone, so round 2's validation accuracy still measures unseen, truly
labelled rows.

PSEUDO_THRESHOLD is the teacher's averaged probability a row needs. The presets train with label
smoothing 0.1, so a sure model's top probability sits near 0.91, not near 1: the threshold is on that
scale (measured in docs/training.md, where its choice on the holdout is recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.base.errors import BadInput
from core.base.log import Log
from core.base.pixel_order import images_from_rows
from core.data.layout import shape_text
from core.data.table import read_pixel_table
from core.model.spec import ModelSpec, to_input

PSEUDO_THRESHOLD = 0.85


@dataclass(frozen=True)
class PseudoLabels:
    """The unlabelled rows taken (uint8 images) with the classes the model gave them (indices)."""

    images: torch.Tensor
    targets: torch.Tensor
    of: int  # unlabelled rows offered
    threshold: float
    classes: int  # how many classes the model answers in (per_class counts each, none taken included)

    def describe(self) -> str:
        share = len(self.targets) / self.of if self.of else 0.0
        return (f"{len(self.targets):,} of {self.of:,} unlabelled rows ({share:.1%}) predicted with probability "
                f">= {self.threshold:g} join the training rows")

    def fields(self) -> dict:
        counts = np.bincount(self.targets.numpy(), minlength=self.classes).tolist()
        return {"rows": len(self.targets), "of": self.of, "threshold": self.threshold, "per_class": counts}


def load_unlabelled(path: Path, shape: tuple[int, int, int], pixel_order: str) -> torch.Tensor:
    """The pixels of `path` (any label or id column ignored) as uint8 images of the training data's shape."""
    if not Path(path).is_file():
        raise BadInput(f"{path}: no such file; pseudo-labelling needs unlabelled rows (test.csv, or --unlabelled)")
    table = read_pixel_table(path, int(np.prod(shape)), ignore_extra=True)  # an empty file is refused there
    return images_from_rows(torch.from_numpy(table.pixels), shape, pixel_order)


def probabilities(model: nn.Module, spec: ModelSpec, images: torch.Tensor, device: torch.device | str = "cpu",
                  batch_size: int = 1024) -> torch.Tensor:
    """(N, classes) softmax probabilities of `model` (an ensemble's are its members' average), in fp32."""
    device = torch.device(device)
    model = model.to(device).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            logits = model(to_input(images[start:start + batch_size], spec, device)).float()
            out.append(torch.softmax(logits, dim=1).cpu())
    return torch.cat(out) if out else torch.zeros((0, spec.num_classes))


def confident(images: torch.Tensor, probs: torch.Tensor, threshold: float) -> PseudoLabels:
    """The rows whose top probability reaches `threshold`, labelled with that class."""
    top, label = probs.max(dim=1)
    taken = torch.nonzero(top >= threshold).flatten()
    return PseudoLabels(images=images[taken], targets=label[taken].long(), of=len(images), threshold=threshold,
                        classes=probs.shape[1])


def check_teacher(teacher: ModelSpec, shape: tuple[int, int, int], classes: list, where: Path) -> None:
    """A teacher must answer in the training data's classes, for images of its shape."""
    if tuple(teacher.input_shape) != tuple(shape):
        raise BadInput(f"{where}: the teacher takes {shape_text(teacher.input_shape)} images; the training rows are "
                       f"{shape_text(shape)}")
    if [str(c) for c in teacher.classes] != [str(c) for c in classes]:
        raise BadInput(f"{where}: the teacher's classes ({', '.join(map(str, teacher.classes[:12]))}) are not the "
                       f"training data's ({', '.join(map(str, classes[:12]))})")


def pseudo_labels(model: nn.Module, spec: ModelSpec, unlabelled: torch.Tensor, threshold: float, device,
                  log: Log) -> PseudoLabels:
    """Predict the unlabelled rows and keep the sure ones; says how many as `train.pseudo_label`."""
    taken = confident(unlabelled, probabilities(model, spec, unlabelled, device), threshold)
    log.info(taken.describe(), event="train.pseudo_label", **taken.fields())
    return taken
