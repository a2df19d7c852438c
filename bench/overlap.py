"""How much an ensemble's members miss the same images on the holdout: an average can only fix an
image that most members get right, so members that err together add time and no accuracy.

For members' (rows, classes) probabilities: each member's errors, the pairwise correlation of their
0/1 error vectors (the phi coefficient: 1 = the same images, 0 = unrelated, as if drawn apart), the
images every member misses (no average can fix them) and the images any member misses, and the
plain average's errors beside its best member's.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def phi(a: np.ndarray, b: np.ndarray) -> float | None:
    """The phi coefficient (Pearson's r of two 0/1 vectors); None when either is constant (no errors
    at all, or every row an error), where it is undefined."""
    a, b = a.astype(bool), b.astype(bool)
    n11, n10, n01 = int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum())
    n00 = len(a) - n11 - n10 - n01
    denominator = math.sqrt((n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00))
    return None if denominator == 0 else (n11 * n00 - n10 * n01) / denominator


def overlap(plain: dict[str, np.ndarray], labels: np.ndarray) -> dict:
    """The overlap figures of the members in `plain` (name: (rows, classes) probabilities)."""
    wrong = {name: p.argmax(1) != labels for name, p in plain.items()}
    errors = {name: int(w.sum()) for name, w in wrong.items()}
    stacked = np.stack(list(wrong.values()))
    pairs = {f"{a} | {b}": phi(wrong[a], wrong[b]) for a, b in itertools.combinations(wrong, 2)}
    defined = [v for v in pairs.values() if v is not None]
    shared = [int((wrong[a] & wrong[b]).sum()) for a, b in itertools.combinations(wrong, 2)]
    best = min(errors, key=errors.get)
    averaged = int((sum(plain.values()).argmax(1) != labels).sum())
    return {"members": len(plain), "member_errors": errors,
            "phi_mean": round(float(np.mean(defined)), 4) if defined else None,
            "phi": {k: None if v is None else round(v, 4) for k, v in pairs.items()},
            "pair_shared_errors_mean": round(float(np.mean(shared)), 2) if shared else None,
            "all_miss": int(stacked.all(0).sum()), "any_miss": int(stacked.any(0).sum()),
            "ensemble_errors": averaged, "best_member": best, "best_member_errors": errors[best],
            "ensemble_minus_best": averaged - errors[best]}


def summary(figures: dict) -> str:
    """One line of the figures above, for docs and the console."""
    return (f"{figures['members']} members, errors {sorted(figures['member_errors'].values())}; "
            f"error correlation (phi) mean {figures['phi_mean']}; every member misses {figures['all_miss']}, "
            f"any member {figures['any_miss']}; average {figures['ensemble_errors']} against the best member's "
            f"{figures['best_member_errors']}")
