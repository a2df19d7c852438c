"""One writing command at a time per home directory (run, download, train, submit): an advisory
flock on <home>/.kaggle-job.lock, held by rank 0 for every rank under torchrun (`hold_home`).
`train` takes it only when it reads or writes the home's own folders (Workspace.manages): training
from one folder of your own into a checkpoint elsewhere leaves no lock file behind.

flock belongs to the open file, so the kernel drops it the moment the holder exits, however it
exits (kill -9 included): there is never a stale lock to clean up by hand. The holder writes its
pid and start time into the file so that a run that finds it taken can say who holds it.
The file itself is never deleted: deleting it would let a second run lock a fresh inode while the
first still holds the old one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.base.errors import ExitCode, JobError
from core.base.log import Log
from core.dist.world import current_world

LOCK_NAME = ".kaggle-job.lock"
POLL_S = 0.2


@dataclass(frozen=True)
class Holder:
    pid: int | None
    since: str | None
    host: str | None
    command: str | None = None  # run, download, train or submit

    def describe(self) -> str:
        if self.pid is None:
            return "holder unknown"
        return (f"pid {self.pid}, since {self.since or 'unknown'}" + (f", on {self.host}" if self.host else "")
                + (f", `kaggle-job {self.command}`" if self.command else ""))


def lock_path(home: Path) -> Path:
    return Path(home) / LOCK_NAME


def read_holder(path: Path) -> Holder:
    """Who wrote the lock file last; empty fields when it is empty or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        data = {}
    pid = data.get("pid")
    return Holder(pid=pid if isinstance(pid, int) else None, since=data.get("since"), host=data.get("host"),
                  command=data.get("command"))


@contextlib.contextmanager
def hold_lock(home: Path, wait_s: float = 0.0, command: str | None = None) -> Iterator[Path]:
    """Hold the home's lock for the block, or raise JobError(LOCKED) naming the holder.

    Every command that writes under the home takes it (run, download, train, submit), so a
    `download --force` by hand cannot swap the data under a scheduled run's feet.
    wait_s > 0 polls for that long before giving up (for schedules that may overlap briefly).
    """
    path = lock_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_RDWR without O_TRUNC: the holder's record must survive until we own the lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        _acquire(fd, path, wait_s)
        _write_record(fd, command)
        try:
            yield path
        finally:
            # Clear the record before unlocking, so nobody reads a finished run as the holder.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def hold_home(home: Path, wait_s: float, command: str, log: Log) -> Iterator[Path]:
    """`hold_lock` for the command's every rank, logged: under torchrun rank 0 holds it for all of
    them, and a lock rank 0 cannot get ends every rank (exit 7)."""
    with contextlib.ExitStack() as held:
        path = current_world().from_rank0(lambda: held.enter_context(hold_lock(home, wait_s, command)))
        log.info(f"holding {path}", event=f"{command}.lock", lock=path)
        yield path


def _acquire(fd: int, path: Path, wait_s: float) -> None:
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise JobError(f"{path}: cannot lock ({exc.strerror})", ExitCode.FAILURE) from None
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait_s:g}s" if wait_s > 0 else ""
            raise JobError(f"another run holds the lock ({read_holder(path).describe()}){waited}: {path}",
                           ExitCode.LOCKED)
        time.sleep(POLL_S)


def _write_record(fd: int, command: str | None) -> None:
    record = {"pid": os.getpid(), "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "host": socket.gethostname(), "command": command}
    data = (json.dumps(record) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


@contextlib.contextmanager
def exclusive(home: Path | None, wait_s: float, command: str, log: Log,
              uses_torch: bool = True) -> Iterator[Path | None]:
    """The home's lock (`hold_home`) with SIGTERM handled like Ctrl-C, for a command that writes under
    the home; torch imported with signals held once the lock is ours, when the command uses it.
    `home` None: the command touches no home's folders (`train` from and to folders of its own), so
    nothing is locked and no lock file is made; SIGTERM and torch are handled the same."""
    from core.base.signals import import_torch, terminate_as_interrupt

    with terminate_as_interrupt(), contextlib.ExitStack() as held:
        path = held.enter_context(hold_home(home, wait_s, command, log)) if home is not None else None
        if uses_torch:
            import_torch()
        yield path
