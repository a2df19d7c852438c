"""Whether one model beats another on the same holdout rows: the paired comparison.

Two models scored on the same 10,000 rows share most of their errors, so their two Wilson intervals
overlap even when one is truly better; only the rows where they disagree carry the difference.
McNemar's exact test counts them: `only_a` rows model A misses and model B gets right, `only_b` the
reverse; under "no difference" each disagreement is a fair coin, so the two-sided p-value is the
binomial tail of min(only_a, only_b) in only_a + only_b tosses. The interval of the accuracy
difference (B minus A) is the Wald interval of paired proportions, (only_a - only_b) / n plus or
minus z * sqrt(only_a + only_b - (only_a - only_b)^2 / n) / n; with a dozen or more disagreements it
is close to exact.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959964


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value (1.0 when the models never disagree)."""
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def paired(probs_a: np.ndarray, probs_b: np.ndarray, labels: np.ndarray) -> dict:
    """B against A on the same rows ((rows, classes) probabilities each): the errors, the disagreements,
    the accuracy gain of B with its 95% interval, McNemar's p, and whether the interval excludes 0."""
    if probs_a.shape != probs_b.shape or len(labels) != len(probs_a):
        raise ValueError(f"paired: probabilities {probs_a.shape} and {probs_b.shape} for {len(labels)} labels")
    wrong_a, wrong_b = probs_a.argmax(1) != labels, probs_b.argmax(1) != labels
    only_a, only_b, n = int((wrong_a & ~wrong_b).sum()), int((~wrong_a & wrong_b).sum()), len(labels)
    gain = (only_a - only_b) / n if n else 0.0
    half = Z95 * math.sqrt(max(0.0, only_a + only_b - (only_a - only_b) ** 2 / n)) / n if n else 0.0
    return {"rows": n, "errors_a": int(wrong_a.sum()), "errors_b": int(wrong_b.sum()),
            "only_a_wrong": only_a, "only_b_wrong": only_b, "gain": round(gain, 5),
            "gain_ci95": [round(gain - half, 5), round(gain + half, 5)],
            "mcnemar_p": round(mcnemar_p(only_a, only_b), 5), "b_better": gain - half > 0}


def summary(figures: dict) -> str:
    """One line: 'B 28 errors against A's 40: 15 fixed, 3 new, +0.12% [+0.05, +0.19], p=0.008'."""
    low, high = figures["gain_ci95"]
    return (f"B {figures['errors_b']} errors against A's {figures['errors_a']}: {figures['only_a_wrong']} fixed, "
            f"{figures['only_b_wrong']} new, {100 * figures['gain']:+.2f}% [{100 * low:+.2f}, {100 * high:+.2f}], "
            f"McNemar p={figures['mcnemar_p']:.3g}")
