"""Where a job keeps things: data/<competition>/, checkpoints/, submissions/ under one home; and where
commands that keep nothing in a home (inspect without --home) put their pictures."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.base.errors import BadInput

DEFAULT_COMPETITION = "digit-recognizer"
HOME_ENV = "KAGGLE_JOB_HOME"
# The folders a home's commands manage; its lock (core.run.lock) guards what is under them.
MANAGED = ("data", "checkpoints", "submissions")
CHECKPOINT_NAME = "model.pt"
# The rule `dataset_name` and `default_checkpoint` follow, as help text says it.
CHECKPOINT_RULE = ("HOME/checkpoints/NAME/model.pt, NAME the competition for its own data, "
                   "else the data folder's name")
# Kaggle's competition slugs (digit-recognizer, Kannada-MNIST): the slug names folders under the
# home, so anything that could leave them (`..`, `/`) is refused before a path is built.
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def check_slug(competition: str) -> str:
    """The competition slug, or BadInput: it becomes a folder name under the home."""
    if not SLUG.fullmatch(competition or ""):
        raise BadInput(f"--competition: {competition!r} is not a Kaggle competition slug; expected letters, "
                       "digits, '-' and '_' (up to 100), e.g. digit-recognizer")
    return competition


def named_home(home: str | os.PathLike | None = None) -> str | os.PathLike | None:
    """The home a user named (--home, then $KAGGLE_JOB_HOME); None when it falls back to the current directory."""
    return home or os.environ.get(HOME_ENV) or None


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """--home, then $KAGGLE_JOB_HOME, then the current directory."""
    chosen = named_home(home) or "."
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
        """The competition's own model, which `run` trains and loads."""
        return self.default_checkpoint()

    def dataset_name(self, data_dir: str | os.PathLike | None = None) -> str:
        """The name of the data a model is trained on, recorded in its checkpoint and naming its folder:
        the slug (COMPETITION, or COMPETITION-demo) for the competition's own folder, HOME/data/<slug>;
        the folder's own name for any other, so that a model of `digits/` never replaces the competition's."""
        if data_dir is None or _same_place(Path(data_dir), self.data_dir):
            return self.slug
        return folder_name(data_dir)

    def default_checkpoint(self, data_dir: str | os.PathLike | None = None) -> Path:
        """Where a model of `data_dir`'s data is saved and found when no checkpoint is named (CHECKPOINT_RULE)."""
        return self.home / "checkpoints" / self.dataset_name(data_dir) / CHECKPOINT_NAME

    def manages(self, path: str | os.PathLike) -> bool:
        """`path` lies in one of the folders this home's commands write (MANAGED): touching it needs the lock."""
        resolved, home = Path(path).resolve(), self.home.resolve()
        return any(resolved.is_relative_to(home / folder) for folder in MANAGED)

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


def folder_name(path: str | os.PathLike) -> str:
    """The name a data folder goes by in checkpoints/ and reports/ ("root" for /)."""
    return Path(path).resolve().name or "root"


def _same_place(path: Path, other: Path) -> bool:
    return path.resolve() == other.resolve()


CACHE_ENV = "XDG_CACHE_HOME"
# The rule `reports_dir` follows, as help text says it.
REPORTS_RULE = (f"HOME/reports/NAME with --home or {HOME_ENV}, else ${CACHE_ENV}/kaggle-job/reports/NAME "
                f"(~/.cache without {CACHE_ENV}), NAME the data folder's name")


def reports_dir(data_dir: Path, home: str | os.PathLike | None = None) -> Path:
    """Where `inspect` puts the pictures of `data_dir` when no --output is given: HOME/reports/<data folder>
    when a home is named (--home, $KAGGLE_JOB_HOME), else the user's cache ($XDG_CACHE_HOME, or ~/.cache)
    /kaggle-job/reports/<data folder>: a first look leaves nothing behind in the current directory."""
    name = folder_name(data_dir)
    if named_home(home):
        return resolve_home(home) / "reports" / name
    cache = os.environ.get(CACHE_ENV, "")
    root = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"  # a relative one is ignored, as XDG says
    return root.resolve() / "kaggle-job" / "reports" / name
