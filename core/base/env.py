"""Numbers read from environment variables: one parser, so every variable takes the same spellings
and a bad value is one clear line rather than a silent default."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from core.base.errors import BadInput


def positive_seconds(name: str, default: float, environ: Mapping[str, str] = os.environ) -> float:
    """`environ[name]` as a positive, finite number of seconds; `default` when unset or blank."""
    text = environ.get(name, "")
    if not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise BadInput(f"{name}={text!r}: expected a positive number of seconds")
    return value


def whole_number(name: str, default: int | None, environ: Mapping[str, str] = os.environ,
                 expected: str = "a whole number", minimum: int | None = None) -> int | None:
    """`environ[name]` as an integer, at least `minimum` when given; `default` when unset or blank."""
    text = environ.get(name, "")
    if not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or (minimum is not None and value < minimum):
        raise BadInput(f"{name}={text!r}: expected {expected}")
    return value
