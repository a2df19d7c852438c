"""Where a job keeps things: data/<competition>/, checkpoints/, submissions/ under one home."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.base.errors import BadInput

DEFAULT_COMPETITION = "digit-recognizer"
HOME_ENV = "KAGGLE_JOB_HOME"
# Kaggle's competition slugs (digit-recognizer, Kannada-MNIST): the slug names folders under the
# home, so anything that could leave them (`..`, `/`) is refused before a path is built.
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def check_slug(competition: str) -> str:
    """The competition slug, or BadInput: it becomes a folder name under the home."""
    if not SLUG.fullmatch(competition or ""):
        raise BadInput(f"--competition: {competition!r} is not a Kaggle competition slug; expected letters, "
                       "digits, '-' and '_' (up to 100), e.g. digit-recognizer")
    return competition


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """--home, then $KAGGLE_JOB_HOME, then the current directory."""
    chosen = home or os.environ.get(HOME_ENV) or "."
    path = Path(chosen).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise BadInput(f"--home/{HOME_ENV} {path}: is a file; expected the folder holding data/, checkpoints/ "
                       "and submissions/")
    return path


@dataclass(frozen=True)
class Workspace:
    home: Path
    competition: str = DEFAULT_COMPETITION
    demo: bool = False

    def __post_init__(self) -> None:
        check_slug(self.competition)

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
