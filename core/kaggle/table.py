"""Showing Kaggle submissions: a rich table for people, one JSON object per line for scripts."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from core.kaggle.api import Submission

STATUS_STYLE = {"COMPLETE": "green", "PENDING": "yellow", "ERROR": "bold red"}


def render(submissions: list[Submission], fmt: str = "auto", out: TextIO | None = None) -> None:
    """fmt: rich (a table), json (JSON lines), auto (a table when `out` is a terminal)."""
    out = out or sys.stdout
    if fmt == "rich" or (fmt == "auto" and out.isatty()):
        _table(submissions, out)
        return
    for item in submissions:
        out.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
    out.flush()


def _table(submissions: list[Submission], out: TextIO) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(submissions)} recent submissions", title_justify="left")
    for column, justify in (("ref", "right"), ("date (UTC)", "left"), ("status", "left"),
                            ("public", "right"), ("private", "right"), ("description", "left")):
        table.add_column(column, justify=justify, no_wrap=column != "description")
    for item in submissions:
        status = f"[{STATUS_STYLE.get(item.status, '')}]{item.status}[/]" if item.status in STATUS_STYLE else item.status
        description = item.error if item.status == "ERROR" and item.error else item.description
        table.add_row(item.ref, item.date.strftime("%Y-%m-%d %H:%M:%S") if item.date else "", status,
                      item.public_score or "", item.private_score or "", escape(description or ""))
    Console(file=out, highlight=False).print(table)
