"""A one-cycle learning-rate schedule driven by progress, where progress is steps OR time used.

Progress is max(step / total_steps, elapsed / budget). Without a time budget this is the classic
one-cycle over the planned epochs. With one, a slow machine simply moves through the cycle faster:
the learning rate still warms up and anneals to the floor, and training ends when the budget is
spent, so a budget-cut run ends on a low learning rate with a usable model instead of mid-climb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class OneCycle:
    max_lr: float
    warmup: float = 0.25  # fraction of progress spent rising
    start_div: float = 25.0  # first lr = max_lr / start_div
    final_div: float = 1e4  # last lr = max_lr / (start_div * final_div), as torch's OneCycleLR

    def lr_at(self, progress: float) -> float:
        progress = min(max(progress, 0.0), 1.0)
        low, high = self.max_lr / self.start_div, self.max_lr
        floor = low / self.final_div
        if progress < self.warmup:
            return _cos_between(low, high, progress / self.warmup)
        return _cos_between(high, floor, (progress - self.warmup) / (1.0 - self.warmup))


def _cos_between(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


def progress(step: int, total_steps: int, elapsed_s: float, budget_s: float | None) -> float:
    by_steps = step / max(1, total_steps)
    if not budget_s:
        return by_steps
    return max(by_steps, elapsed_s / budget_s)
