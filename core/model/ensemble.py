"""Ensembles with test-time augmentation, packed as one ordinary model.

An ensemble checkpoint is a normal checkpoint whose architecture is "ensemble": its kwargs list the
members (architecture, kwargs, normalisation) and the test-time shifts, and its state_dict holds
every member's weights under `members.<i>.`. Anything that loads a checkpoint and calls the model
(predict, score, the run job) therefore uses the whole ensemble from a single path.

The module returns log of the averaged probabilities, so softmax(output) is exactly that average
and argmax is the ensemble's vote.
"""

from __future__ import annotations

import torch
from torch import nn

from core.model.registry import build_model, register

# Whole-pixel shifts used at test time by the `best` preset: the image and its four 1-px neighbours.
TTA_SHIFTS = [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]]


@register("ensemble")
class Ensemble(nn.Module):
    def __init__(self, in_channels: int, height: int, width: int, num_classes: int,
                 members: list[dict], tta_shifts: list[list[int]] | None = None,
                 mean: float = 0.0, std: float = 1.0):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        # The bundle is checked as a whole (build_model's blank image runs through every member).
        self.members = nn.ModuleList(
            build_model(m["arch"], in_channels, height, width, num_classes, check_fits=False,
                        **dict(m.get("arch_kwargs", {})))
            for m in members)
        self.member_norms = [(float(m.get("mean", 0.0)), float(m.get("std", 1.0))) for m in members]
        self.shifts = [(int(dy), int(dx)) for dy, dx in (tta_shifts or [[0, 0]])]
        self.mean, self.std = float(mean), float(std)  # how the input arrives normalised

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = x * self.std + self.mean  # back to [0, 1] with background 0, so shifts fill with background
        total = None
        for view in shift_views(raw, self.shifts):
            for member, (mean, std) in zip(self.members, self.member_norms):
                probs = torch.softmax(member((view - mean) / std).float(), dim=1)
                total = probs if total is None else total + probs
        count = len(self.shifts) * len(self.members)
        return torch.log((total / count).clamp_min(1e-12))


def ensemble_kwargs(member_specs: list, tta_shifts: list[list[int]] | None, mean: float, std: float) -> dict:
    """The arch_kwargs of an ensemble ModelSpec: plain lists and dicts, so weights_only loading works."""
    return {
        "members": [{"arch": s.arch, "arch_kwargs": dict(s.arch_kwargs), "mean": float(s.mean), "std": float(s.std)}
                    for s in member_specs],
        "tta_shifts": [list(map(int, shift)) for shift in (tta_shifts or [[0, 0]])],
        "mean": float(mean),
        "std": float(std),
    }


def bundle_state_dict(models: list[nn.Module]) -> dict:
    return {f"members.{i}.{key}": value.detach().cpu()
            for i, model in enumerate(models) for key, value in model.state_dict().items()}


def shift_views(images: torch.Tensor, shifts: list[tuple[int, int]]) -> list[torch.Tensor]:
    """Whole-pixel shifted copies for test-time augmentation; (0, 0) is the image itself.

    Rolls then zeroes the wrapped-around border, which equals a shift with background fill.
    """
    views = []
    for dy, dx in shifts:
        view = torch.roll(images, shifts=(dy, dx), dims=(-2, -1))
        if dy > 0:
            view[..., :dy, :] = 0
        elif dy < 0:
            view[..., dy:, :] = 0
        if dx > 0:
            view[..., :, :dx] = 0
        elif dx < 0:
            view[..., :, dx:] = 0
        views.append(view)
    return views
