"""What the job tells people and machines: rich on a terminal, one JSON object per line otherwise.

Messages and progress go to stderr; results (the few lines a command exists to print) go to stdout,
so `kaggle-job score ... > out.txt` keeps results apart from chatter.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from core.base.atomic import prepare_target
from core.base.errors import BadInput, ExitCode, JobError

FORMATS = ("auto", "rich", "json")


def check_format(fmt: str) -> str:
    """The --log-format value, or JobError(BAD_INPUT) naming the choices."""
    if fmt not in FORMATS:
        raise JobError(f"--log-format: expected {', '.join(FORMATS)}, got {fmt!r}", ExitCode.BAD_INPUT)
    return fmt


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):  # NaN and infinity are not JSON: a strict parser rejects the whole line
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


@dataclass
class Log:
    """The one place commands report through. `fmt` is auto|rich|json.

    Under torchrun `rank` is set: every record carries it, and ranks other than 0 report only
    errors, so N ranks print one set of messages and one progress bar, not N. A `quiet` log (the
    Python API's default) says nothing at all: the caller gets results and exceptions instead.
    """

    fmt: str = "auto"
    log_file: Path | None = None
    rank: int | None = None
    quiet: bool = False
    # JSON progress records: one per `progress_step` of the total done, and at least every
    # `progress_every_s` seconds while work goes on, besides the start and the end.
    progress_step: float = 0.1
    progress_every_s: float = 5.0
    _file: TextIO | None = field(default=None, init=False, repr=False)

    @property
    def speaks(self) -> bool:
        return not self.rank and not self.quiet

    @property
    def rich(self) -> bool:
        if not self.speaks:
            return False
        if self.fmt == "auto":
            # Looked up at call time: test runners and redirections swap sys.stderr.
            return sys.stderr.isatty()
        return self.fmt == "rich"

    # -- messages -------------------------------------------------------------------------
    def info(self, msg: str, event: str = "info", **fields: Any) -> None:
        self._emit("info", event, msg, fields, style=None)

    def warn(self, msg: str, event: str = "warning", **fields: Any) -> None:
        self._emit("warning", event, msg, fields, style="yellow", prefix="warning: ")

    def error(self, msg: str, event: str = "error", **fields: Any) -> None:
        self._emit("error", event, msg, fields, style="bold red", prefix="error: ")

    def result(self, msg: str, event: str = "result", **fields: Any) -> None:
        """A line the command exists to print; goes to stdout."""
        self._emit("result", event, msg, fields, style=None, stream="stdout")

    def _emit(self, level, event, msg, fields, *, style, prefix="", stream="stderr") -> None:
        if self.quiet or (level != "error" and not self.speaks):
            return
        record = {"ts": _utc_now(), "level": level, "event": event, "msg": msg, **_jsonable(fields)}
        if self.rank is not None:
            record["rank"] = self.rank
        self._write_file(record)
        out = sys.stdout if stream == "stdout" else sys.stderr
        if self.rich:
            from rich.console import Console
            from rich.markup import escape

            text = escape(prefix + msg)
            Console(file=out, highlight=False, soft_wrap=True).print(
                f"[{style}]{text}[/]" if style else text
            )
        else:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()

    def open_file(self, others: Iterable[tuple[str, object]] = ()) -> None:
        """Open --log-file now, so a path that cannot be appended to (a folder, under a file, read-only)
        or one of the command's own files (`others`: (option, path) pairs; log lines appended to an
        input would corrupt it) is one line and exit 2 before any work, not a traceback at the first
        message. That line then goes to stderr only."""
        if self.log_file is None or self._file is not None:
            return
        try:
            prepare_target(Path(self.log_file), reads=others)
            self._file = open(self.log_file, "a", encoding="utf-8")
        except (BadInput, OSError) as exc:
            self.log_file = None
            raise BadInput(f"--log-file: {exc.message if isinstance(exc, BadInput) else exc}") from None

    def _write_file(self, record: dict) -> None:
        if self.log_file is None:
            return
        self.open_file()
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- progress -------------------------------------------------------------------------
    @contextlib.contextmanager
    def progress(self, description: str, total: float | None, unit: str = "items",
                 event: str = "progress") -> Iterator["Progress"]:
        """A progress bar on a terminal; otherwise JSON lines: start, every `progress_step` of the total or
        `progress_every_s` seconds, and end, each with done, total, unit, elapsed_s and eta_s (null
        while unknown). `unit` "bytes" shows as sizes on the bar."""
        if self.rich:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            count = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
            columns = [TextColumn("[bold]{task.description}"), BarColumn(), count,
                       TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[status]}")]
            with RichProgress(*columns, console=Console(file=sys.stderr), transient=False) as bar:
                task = bar.add_task(description, total=total, status="")
                handle = Progress(self, description, total, unit, event, bar=bar, task=task)
                yield handle
        else:
            handle = Progress(self, description, total, unit, event)
            handle._record("start")
            yield handle
            handle._record("done")


class Progress:
    def __init__(self, log: Log, description, total, unit, event, bar=None, task=None):
        self.log, self.description, self.total, self.unit, self.event = log, description, total, unit, event
        self.bar, self.task = bar, task
        self.done = 0.0
        self.fields: dict[str, Any] = {}
        self.started = time.monotonic()
        self._last_emit = self.started
        self._last_fraction = 0.0

    def advance(self, amount: float = 1, **fields: Any) -> None:
        self.done += amount
        self.fields.update(fields)
        if self.bar is not None:
            status = "  ".join(f"{k}={_short(v)}" for k, v in self.fields.items())
            self.bar.update(self.task, advance=amount, status=status)
            return
        now = time.monotonic()
        fraction = self.done / self.total if self.total else 0.0
        step, every = self.log.progress_step, self.log.progress_every_s
        if fraction - self._last_fraction >= step or now - self._last_emit >= every:
            self._record("advance")

    def _record(self, phase: str) -> None:
        now = time.monotonic()
        self._last_emit = now
        self._last_fraction = self.done / self.total if self.total else 0.0
        elapsed = now - self.started
        eta = None
        if self.total and self.done > 0:  # the rate so far, over what is left
            eta = round(elapsed * max(0.0, self.total - self.done) / self.done, 1)
        fields = {"phase": phase, "done": self.done, "total": self.total, "unit": self.unit,
                  "elapsed_s": round(elapsed, 2), "eta_s": eta, **self.fields}
        self.log.info(self.description, event=self.event, **fields)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
