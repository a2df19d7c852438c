"""Where a job keeps things: data/<competition>/, checkpoints/, submissions/ under one home."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_COMPETITION = "digit-recognizer"
HOME_ENV = "KAGGLE_JOB_HOME"


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """--home, then $KAGGLE_JOB_HOME, then the current directory."""
    chosen = home or os.environ.get(HOME_ENV) or "."
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class Workspace:
    home: Path
    competition: str = DEFAULT_COMPETITION
    demo: bool = False

    @property
    def slug(self) -> str:
        # Demo data and models live apart from the real competition's so they never mix.
        return f"{self.competition}-demo" if self.demo else self.competition

    @property
    def data_dir(self) -> Path:
        return self.home / "data" / self.slug

    @property
    def checkpoints_dir(self) -> Path:
        return self.home / "checkpoints" / self.slug

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoints_dir / "model.pt"

    @property
    def submissions_root(self) -> Path:
        return self.home / "submissions" / self.competition

    def new_submission_dir(self) -> Path:
        """A fresh submissions/<competition>/<UTC timestamp>/ folder; never reuses an existing one."""
        self.submissions_root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        for attempt in range(1000):
            name = stamp if attempt == 0 else f"{stamp}-{attempt}"
            try:
                path = self.submissions_root / name
                path.mkdir()
                return path
            except FileExistsError:
                continue
        raise RuntimeError(f"could not create a new folder under {self.submissions_root}")
