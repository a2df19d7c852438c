"""The resume file: everything needed to continue an interrupted training where it stopped.

For checkpoint `X.pt` it is `X.state.pt`, rewritten atomically after every epoch, so a kill -9 at
any moment leaves either the previous state or the new one. It holds only tensors and plain
values (weights_only loadable) and is removed once the final checkpoint is safely written.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import torch

from core.base.atomic import atomic_write_bytes
from core.base.errors import BadInput
from core.model.checkpoint import beside
from core.train.config import saved_with_defaults

FORMAT = "kaggle-job-state/1"
# Config fields that may change between the interrupted run and the resumed one.
RESUMABLE_CHANGES = {"device", "time_budget_min", "patience", "resume"}


def save_state(checkpoint: str | Path, state: dict) -> Path:
    path = beside(checkpoint).state
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_state(checkpoint: str | Path, config: dict) -> dict | None:
    """The saved state for `checkpoint`, or None when there is none. A state from a different
    recipe is refused: continuing it would silently train something else than asked."""
    path = beside(checkpoint).state
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # truncated, not a zip, an odd pickle: torch raises many kinds (see load_checkpoint)
        raise BadInput(f"{path}: resume state is unreadable; delete it to start over") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise BadInput(f"{path}: not a kaggle-job resume state; delete it to start over")
    saved = saved_with_defaults(state.get("config", {}))
    changed = sorted(k for k in set(saved) | set(config)
                     if k not in RESUMABLE_CHANGES and saved.get(k) != config.get(k))
    if changed:
        k = changed[0]
        raise BadInput(f"{path}: saved with {k}={saved.get(k)!r} but this run has {k}={config.get(k)!r}; "
                       "use the same options to resume, or delete the file to start over")
    return state


def remove_state(checkpoint: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(beside(checkpoint).state)
