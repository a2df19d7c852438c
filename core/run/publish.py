"""Publishing a run's outputs whole: a submission folder appears complete or not at all.

The run writes submission.csv and manifest.json into a hidden staging folder, then renames it to
submissions/<competition>/<UTC timestamp>/ in one step. A run killed at any moment (kill -9
included) leaves earlier folders untouched and at most a hidden leftover that the next run removes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from core.base.atomic import atomic_write, writer_pid
from core.base.log import Log
from core.base.workspace import Workspace

STAGING_PREFIX = ".staging-"
_STAGING = re.compile(r"^\.staging-(\d+)-")


def staging_dir(workspace: Workspace) -> Path:
    """A fresh hidden folder beside the published ones (same filesystem, so the rename is atomic)."""
    root = workspace.submissions_root
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        path = root / f"{STAGING_PREFIX}{os.getpid()}-{attempt}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a staging folder under {root}")


def publish(staging: Path, workspace: Workspace) -> Path:
    """Rename the staged folder to a new, never reused submissions/<competition>/<timestamp>[-N]/."""
    final = workspace.new_submission_dir()  # reserves the name with an empty folder (mkdir is atomic)
    os.rename(staging, final)  # replaces that empty folder in one step; fails rather than overwrite files
    return final


@contextlib.contextmanager
def staged_submission(workspace: Workspace) -> Iterator[Path]:
    """Yield a staging folder; on an exception it is removed, so nothing half-made is published."""
    staging = staging_dir(workspace)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def sweep_leftovers(workspace: Workspace, log: Log, extra: list[Path] = ()) -> list[Path]:
    """Remove staging folders, temp files and temp folders whose writer is dead (a killed earlier run).

    Call it holding the home's lock: then no live writer of ours can be mid-way in these folders.
    `extra`: other folders written to (e.g. a --data-dir's parent).
    """
    removed = []
    for folder in _folders_to_sweep(workspace) + [Path(f) for f in extra if Path(f).is_dir()]:
        for entry in folder.iterdir():
            staging = _STAGING.match(entry.name)
            pid = int(staging.group(1)) if staging and entry.is_dir() else writer_pid(entry.name)
            if pid is None or _alive(pid):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed.append(entry)
    for path in removed:
        log.info(f"removed {path.name}, left by an interrupted earlier run", event="run.cleanup", path=path)
    return removed


def _folders_to_sweep(workspace: Workspace) -> list[Path]:
    data_root = workspace.data_dir.parent  # a download's staging folder sits beside data/<competition>/
    folders = [f for f in (workspace.submissions_root, workspace.checkpoints_dir, data_root, workspace.data_dir)
               if f.is_dir()]
    if workspace.submissions_root.is_dir():  # a manifest rewritten after upload lives in its folder
        folders += [f for f in workspace.submissions_root.iterdir() if f.is_dir() and not f.name.startswith(".")]
    return folders


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def keep_checkpoint(checkpoint: Path, sha256: str, workspace: Workspace) -> Path:
    """Keep the exact checkpoint a submission used under checkpoints/<slug>/by-sha256/<sha>.pt.

    model.pt is replaced when the data changes or on --retrain; this hard link (a copy across
    filesystems) keeps every model that produced a submission, as its manifest names it.
    """
    kept = workspace.checkpoints_dir / "by-sha256" / f"{sha256[:16]}.pt"
    if kept.is_file():
        return kept
    kept.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(checkpoint, kept)
    except FileExistsError:
        pass
    except OSError:  # another filesystem, or links not allowed: copy whole, then rename
        with atomic_write(kept, "wb") as out, open(checkpoint, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
    return kept
