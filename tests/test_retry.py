"""The backoff policy behind every Kaggle call: growth, jitter, bounds, Retry-After."""

from __future__ import annotations

import random

import pytest

from core.base.retry import SCALE_ENV, GaveUp, RetryPolicy, call_with_retry


class Flaky:
    def __init__(self, failures: int, error: Exception | None = None):
        self.failures, self.calls = failures, 0
        self.error = error or ConnectionError("boom")

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def recording_policy(**kwargs) -> tuple[RetryPolicy, list[float]]:
    waits: list[float] = []
    return RetryPolicy(sleep=waits.append, **kwargs), waits


def test_default_waits_double_from_one_second_within_the_total_bound():
    policy = RetryPolicy()
    assert policy.worst_case_waits() == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert sum(policy.worst_case_waits()) <= policy.max_total_s


def test_jittered_delays_stay_in_their_band_and_vary():
    policy, rng = RetryPolicy(), random.Random(7)
    for retry, nominal in enumerate([1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0], start=1):
        draws = [policy.delay(retry, rng) for _ in range(50)]
        assert all(nominal * 0.5 <= d <= nominal for d in draws)
        assert len(set(draws)) > 1  # jitter: parallel jobs don't retry in lock-step


def test_transient_failures_then_success():
    policy, waits = recording_policy()
    flaky = Flaky(3)
    assert call_with_retry(flaky, policy, is_transient=lambda e: True) == "ok"
    assert flaky.calls == 4 and len(waits) == 3
    assert waits[0] <= 1.0 < waits[2]


def test_gives_up_after_the_attempts():
    policy, waits = recording_policy(attempts=4)
    flaky = Flaky(100)
    with pytest.raises(GaveUp) as info:
        call_with_retry(flaky, policy, is_transient=lambda e: True)
    assert flaky.calls == 4 and len(waits) == 3
    assert isinstance(info.value.last, ConnectionError)
    assert info.value.waited_s == pytest.approx(sum(waits))


def test_total_wait_is_bounded():
    policy, waits = recording_policy(attempts=50, max_total_s=10.0, jitter=0.0)
    with pytest.raises(GaveUp):
        call_with_retry(Flaky(100), policy, is_transient=lambda e: True)
    assert waits == [1.0, 2.0, 4.0]  # the next (8 s) would pass the 10 s bound


def test_permanent_errors_are_not_retried():
    policy, waits = recording_policy()
    flaky = Flaky(1, ValueError("bad request"))
    with pytest.raises(ValueError):
        call_with_retry(flaky, policy, is_transient=lambda e: isinstance(e, ConnectionError))
    assert flaky.calls == 1 and waits == []


def test_server_retry_after_is_honoured_but_capped():
    policy, waits = recording_policy(max_delay_s=5.0)
    hints = iter([3.0, 600.0])
    call_with_retry(Flaky(2), policy, is_transient=lambda e: True, retry_after=lambda e: next(hints))
    assert waits == [3.0, 5.0]


def test_scale_env_shrinks_every_delay(monkeypatch):
    monkeypatch.setenv(SCALE_ENV, "0.001")
    policy = RetryPolicy.from_env()
    assert policy.worst_case_waits() == pytest.approx([0.001, 0.002, 0.004, 0.008, 0.016])
    monkeypatch.setenv(SCALE_ENV, "nonsense")
    assert RetryPolicy.from_env().base_delay_s == 1.0
