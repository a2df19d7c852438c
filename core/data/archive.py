"""Unpacking competition zips without trusting them.

A hostile archive can name files outside the destination (absolute paths, `..`), smuggle links,
or decompress to something enormous. Each member is checked before anything is written, and
extraction goes to a temp folder that is renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from core.base.atomic import TMP_SUFFIX, temp_dir
from core.base.errors import BadInput, storage_error

MAX_TOTAL_BYTES = 20 * 1024**3  # 20 GiB uncompressed
MAX_RATIO = 1000  # zip bombs compress far better than any CSV


def open_zip(path: Path, named: object = None) -> zipfile.ZipFile:
    """The zip at `path`, or BadInput naming it (`named`, when an inner zip is named by its archive)."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadInput(f"{named or path}: not a readable zip archive ({exc})") from None


def check_members(archive: zipfile.ZipFile, source: Path,
                  max_total_bytes: int = MAX_TOTAL_BYTES) -> list[zipfile.ZipInfo]:
    """The archive's file members, once each is known to stay inside the destination, to be no link,
    to compress at most MAX_RATIO:1, and to add up to at most `max_total_bytes` uncompressed; else
    BadInput naming the archive and the member."""
    members, total = [], 0
    for info in archive.infolist():
        name = info.filename
        pure = PurePosixPath(name.replace("\\", "/"))
        if pure.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise BadInput(f"{source}: refused archive member {name!r}: absolute path")
        if ".." in pure.parts:
            raise BadInput(f"{source}: refused archive member {name!r}: path leaves the destination")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise BadInput(f"{source}: refused archive member {name!r}: symbolic link")
        if info.is_dir():
            continue
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise BadInput(f"{source}: refused archive member {name!r}: compression ratio too high")
        if total > max_total_bytes:
            raise BadInput(f"{source}: refused archive: more than {max_total_bytes} bytes uncompressed")
        members.append(info)
    return members


@contextlib.contextmanager
def extracted(zip_path: str | os.PathLike, dest: str | os.PathLike,
              max_total_bytes: int = MAX_TOTAL_BYTES) -> Iterator[tuple[Path, list[Path]]]:
    """Extract into a hidden staging folder beside `dest` and yield (staging, relative file paths).

    The caller may check or add files in the staging folder; when the block ends normally it is
    swapped into place whole, and on any exception it is removed and `dest` is left as it was.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    archive = open_zip(zip_path)
    staging = temp_dir(dest)  # named with our pid: a kill -9 leaves a folder the next run sweeps
    try:
        with archive:
            written = [_extract_member(archive, info, staging, zip_path)
                       for info in check_members(archive, zip_path, max_total_bytes)]
        yield staging, written
        swap_into_place(staging, dest)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BadInput(f"{zip_path}: corrupt zip archive ({exc})") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, staging: Path, source: Path) -> Path:
    target = staging / PurePosixPath(info.filename.replace("\\", "/"))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, or a compression zipfile lacks
        raise BadInput(f"{source}: cannot unpack member {info.filename!r} ({exc})") from None
    except OSError as exc:  # a file and a folder of one name, a name too long for the disk
        if storage_error(exc):
            raise  # a full disk is the machine's, not the archive's
        raise BadInput(f"{source}: cannot unpack member {info.filename!r} ({exc.strerror or exc})") from None
    return target.relative_to(staging)


def unpack_inner(staging: Path, inner: Path, source: Path) -> list[Path]:
    """Unpack `inner` (a zip at that path relative to `staging`) beside itself, with the checks of the
    outer archive, then remove it; returns the new files relative to `staging`. A member that would
    overwrite a file already there is refused: which of the two is meant cannot be known."""
    label = Path(f"{source}: {inner.as_posix()}")  # messages name the outer archive and the inner zip
    folder = staging / inner.parent
    archive = open_zip(staging / inner, label)
    written = []
    with archive:
        try:
            for info in check_members(archive, label):
                if (folder / info.filename.replace("\\", "/")).exists():
                    raise BadInput(f"{label}: refused member {info.filename!r}: a file of that name is beside it")
                written.append(inner.parent / _extract_member(archive, info, folder, label))
        except zipfile.BadZipFile as exc:
            raise BadInput(f"{label}: corrupt zip archive ({exc})") from None
    (staging / inner).unlink()
    return written


def swap_into_place(staging: Path, dest: Path) -> None:
    """Replace folder `dest` by `staging` (same parent); an old `dest` goes only once the new one is in."""
    if dest.exists():
        old = dest.with_name(f".{dest.name}.{os.getpid()}.old{TMP_SUFFIX}")  # swept like any leftover
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
        os.replace(staging, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, dest)
