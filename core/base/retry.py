"""Retrying transient failures: exponential backoff with jitter, bounded in attempts and total time.

Kaggle answers 429 when called too often and 5xx when it is having a bad minute; both usually pass.
Waiting a little longer each time (with jitter, so many scheduled jobs don't retry in lock-step)
rides them out, and the bound keeps an unattended run from hanging for hours.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

T = TypeVar("T")

# Multiplies every delay; tests set it small so fault drills run in milliseconds. Never set in production.
SCALE_ENV = "KAGGLE_JOB_RETRY_SCALE"


def delay_scale() -> float:
    """$KAGGLE_JOB_RETRY_SCALE as a positive number, else 1."""
    try:
        scale = float(os.environ.get(SCALE_ENV, "1"))
    except ValueError:
        return 1.0
    return scale if scale > 0 else 1.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # calls in all, the first included
    base_delay_s: float = 1.0  # the first wait, before jitter
    factor: float = 2.0  # each wait is this much longer than the previous one
    max_delay_s: float = 30.0  # no single wait is longer (a server's Retry-After included)
    max_total_s: float = 90.0  # stop retrying once the waits would add up to more than this
    jitter: float = 0.5  # each wait is drawn from [delay * (1 - jitter), delay]
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    @classmethod
    def from_env(cls, **overrides) -> "RetryPolicy":
        return cls(**overrides).scaled(delay_scale())

    def scaled(self, factor: float) -> "RetryPolicy":
        return replace(self, base_delay_s=self.base_delay_s * factor, max_delay_s=self.max_delay_s * factor,
                       max_total_s=self.max_total_s * factor)

    def delay(self, retry: int, rng: random.Random | None = None, hint_s: float | None = None) -> float:
        """The wait before retry number `retry` (1-based); a server's hint wins when it gives one."""
        if hint_s is not None:
            return min(max(hint_s, 0.0), self.max_delay_s)
        nominal = min(self.base_delay_s * self.factor ** (retry - 1), self.max_delay_s)
        low = nominal * (1.0 - self.jitter)
        return (rng or random).uniform(low, nominal)

    def worst_case_waits(self) -> list[float]:
        """The longest waits this policy can make, in order (what docs/kaggle.md documents)."""
        waits, total = [], 0.0
        for retry in range(1, self.attempts):
            wait = min(self.base_delay_s * self.factor ** (retry - 1), self.max_delay_s)
            if total + wait > self.max_total_s:
                break
            waits.append(wait)
            total += wait
        return waits


@dataclass
class Attempt:
    """What the `on_retry` callback learns before each wait."""

    retry: int  # 1 for the first retry
    wait_s: float
    error: BaseException


class GaveUp(Exception):
    """Raised with the last error as __cause__ when the failures outlasted the policy."""

    def __init__(self, last: BaseException, attempts: int, waited_s: float):
        super().__init__(f"gave up after {attempts} attempts and {waited_s:.1f}s of waiting: {last}")
        self.last, self.attempts, self.waited_s = last, attempts, waited_s


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *,
                    is_transient: Callable[[BaseException], bool],
                    retry_after: Callable[[BaseException], float | None] = lambda exc: None,
                    on_retry: Callable[[Attempt], None] = lambda attempt: None) -> T:
    """Call `fn` until it succeeds, a non-transient error escapes, or the policy runs out (GaveUp)."""
    waited = 0.0
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except Exception as exc:  # KeyboardInterrupt is never retried
            if not is_transient(exc):
                raise
            if attempt == policy.attempts:
                raise GaveUp(exc, attempt, waited) from exc
            wait = policy.delay(attempt, hint_s=retry_after(exc))
            if waited + wait > policy.max_total_s:
                raise GaveUp(exc, attempt, waited) from exc
            on_retry(Attempt(attempt, wait, exc))
            policy.sleep(wait)
            waited += wait
    raise AssertionError("unreachable")
