"""Write files so that readers see the old file or the whole new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from core.base.errors import BadInput

TMP_SUFFIX = ".tmp"
# Every temp file and folder is named .<name>.<pid>.<random>.tmp: the pid lets a later run tell a
# dead writer's leftover (swept) from a live one's (kept). mkstemp's random part has no dots.
_LEFTOVER = re.compile(r"^\..+\.(\d+)\.[^.]+" + re.escape(TMP_SUFFIX) + "$")


def writer_pid(name: str) -> int | None:
    """The pid in a temp file's or folder's name (made here), else None."""
    match = _LEFTOVER.match(name)
    return int(match.group(1)) if match else None


def prepare_target(path: Path, reads: Iterable[tuple[str, str | os.PathLike | None]] = ()) -> None:
    """The folder `path` will be written in, made if missing; BadInput when `path` is a folder, or a
    file stands where one of its folders should be (both an OSError deep in a write otherwise), or
    it is one of the files the command `reads`, given as (what it is, path) pairs (`-i test.csv -o
    test.csv` would replace the data with its own predictions). Long jobs call it first, so a bad
    --checkpoint fails before hours of training, not after."""
    if path.is_dir():
        raise BadInput(f"{path}: is a folder; expected a file name to write")
    for what, source in reads:
        if source is not None and _same_file(path, Path(source)):
            raise BadInput(f"{path}: is also {what} ({source}); writing there would destroy it, so give another path")
    _make_folder(path.parent, path)


def _same_file(a: Path, b: Path) -> bool:
    """One file by two names (a link, `./x`, an absolute path), or one path for a file not there yet."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing (or unreadable): compare the names
        return os.path.abspath(a) == os.path.abspath(b)


def prepare_folder(path: Path) -> None:
    """Make the folder `path` (a report's); BadInput when a file stands there or above it."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"{path}: is a file; expected a folder to write into")
    _make_folder(path, path)


def _make_folder(folder: Path, wanted: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in reversed(folder.parents) if p.exists() and not p.is_dir()), folder)
        raise BadInput(f"{wanted}: cannot make its folder: {blocker} is a file") from None


def temp_dir(beside: str | os.PathLike) -> Path:
    """A fresh hidden folder beside `beside` (same filesystem, so renaming it over `beside` is atomic)."""
    beside = Path(beside)
    beside.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{beside.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=beside.parent))
    os.chmod(path, plain_mode(directory=True))  # mkdtemp gives 0700
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temp path beside `path` for writers that want a file name (pyarrow, torch.save).

    On success it is renamed over `path`; on any exception (Ctrl-C included) it is removed and
    `path` is untouched. Same directory, so the rename is atomic on POSIX.
    """
    path = Path(path)
    prepare_target(path)
    # The pid in the name lets a later run tell a dead writer's leftover from a live one's file.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    # mkstemp makes the file 0600; give it the mode a plain open() would, so a submission or
    # report is as readable to the user's tools (and their group) as any other file they write.
    os.chmod(tmp, plain_mode())
    try:
        yield Path(tmp)
        _fsync_file(tmp)  # the data must be on disk before the rename makes it the file
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):
            exc.filename = str(path)  # a failed write names the file asked for, not its temp
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", *, newline: str | None = None) -> Iterator[IO]:
    """Open a temp file beside `path`; on success it is closed, fsynced and renamed over `path`."""
    kwargs = {} if "b" in mode else {"encoding": "utf-8", "newline": newline}
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def plain_mode(directory: bool = False) -> int:
    """The mode open()/mkdir() would give under the current umask (mkstemp/mkdtemp give 0600/0700)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable across a power cut; harmless where unsupported.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
