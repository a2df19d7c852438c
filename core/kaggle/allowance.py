"""Kaggle's daily submission allowance: how many were made today (UTC, as Kaggle counts) and the guard.

Checked before predicting and before uploading, so a run that could not submit anyway spends no
time and never burns a slot.
"""

from __future__ import annotations

from datetime import datetime, timezone

from core.base.errors import BadInput, ExitCode, JobError
from core.base.log import Log
from core.kaggle import api

DEFAULT_MAX_PER_DAY = 5  # Digit Recognizer's allowance; --max-per-day for other competitions


def check_max_per_day(max_per_day: int) -> None:
    if max_per_day < 1:
        raise BadInput(f"--max-per-day: expected at least 1, got {max_per_day}")


def utc_now() -> datetime:
    """The clock that says which day it is; the allowance's callers may pass their own (`now`)."""
    return datetime.now(timezone.utc)


def submissions_today(competition: str, now: datetime | None = None, **kwargs) -> list[api.Submission]:
    """Submissions made since 00:00 UTC of `now`'s day (default: this moment), when Kaggle's allowance resets."""
    now = now or utc_now()
    midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    return [s for s in api.list_submissions(competition, limit=100, **kwargs) if s.date and s.date >= midnight]


def check_daily_limit(competition: str, max_per_day: int, log: Log, now: datetime | None = None) -> int:
    """Refuse (LIMIT) when the submissions of `now`'s UTC day (default: today, as Kaggle counts) reach the
    allowance."""
    used = len(submissions_today(competition, now=now, log=log))
    if used >= max_per_day:
        raise JobError(f"daily submission limit reached for {competition}: {used} of {max_per_day} used today "
                       "(UTC); the allowance resets at 00:00 UTC", ExitCode.LIMIT)
    log.info(f"{used} of {max_per_day} submissions used today", event="submit.allowance", used=used,
             max_per_day=max_per_day)
    return used
