"""Reading what a CLI run printed: the JSON log lines (the log is JSON when not on a terminal)."""

from __future__ import annotations

import contextlib
import json


def records(result) -> list[dict]:
    """The JSON lines the CLI printed (the log is JSON when not on a terminal)."""
    out = []
    for line in result.output.splitlines():
        with contextlib.suppress(ValueError):
            item = json.loads(line)
            if isinstance(item, dict):
                out.append(item)
    return out


def one_error(result) -> str:
    errors = [r for r in records(result) if r.get("level") == "error"]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    assert errors[0]["exit_code"] == result.exit_code
    return errors[0]["msg"]
