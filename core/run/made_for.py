"""Which data a model was made for, as `run` checks it before predicting a competition's test.csv.

A checkpoint records the name of the data it was trained on (core.model.checkpoint.DATASET: the
competition's slug, or the data folder's name for `train --data-dir digits`) beside train.csv's sha256.
A model of 8x8 digits predicting Digit Recognizer's test.csv would fail on the pixel count at best, and
at worst (same shape, other classes or other data) write and upload a plausible-looking wrong submission.

What `run` does with a model made for other data depends on who chose it:

- `--checkpoint` given: refused (exit 2), in one line naming both. The person asked for that file, so
  training another in its place would ignore what was asked; failing loudly is the safe answer, and a
  scheduled run that keeps failing is noticed rather than quietly submitting something else.
- the default path, HOME/checkpoints/<competition>/model.pt, found on its own: that path is `run`'s, where
  it keeps the competition's model and replaces it whenever train.csv changes; `train` no longer writes
  other data's models there unless told to. A model of other data there was put there by hand or by an
  older kaggle-job, and is as unusable as a stale one, so the schedule goes on: it is renamed to
  model.for-<data>.pt (kept, not overwritten), a warning says so, and a model for this data is trained.

A checkpoint trained on this very train.csv (the same sha256) is this data's whatever its recorded name
(a copy of the competition's folder under another name). One saved before the name was recorded is used
as before, with a note when it was given by name.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.base.errors import ExitCode, JobError
from core.base.log import Log
from core.model.checkpoint import Checkpoint, beside


def trained_on(checkpoint: Checkpoint, data_sha: str) -> bool:
    """Trained on the train.csv whose sha256 is `data_sha`."""
    return checkpoint.meta.get("data_sha256") == data_sha


def other_data(checkpoint: Checkpoint, dataset: str, data_sha: str) -> str | None:
    """The name of the other data `checkpoint` was made for, or None when it is `dataset`'s or says nothing."""
    if checkpoint.dataset in (None, dataset) or trained_on(checkpoint, data_sha):
        return None
    return checkpoint.dataset


def check_given(checkpoint: Checkpoint, dataset: str, data_sha: str, log: Log) -> None:
    """A --checkpoint for `dataset` (a competition's slug), or JobError(BAD_INPUT) naming the data it was made for."""
    other = other_data(checkpoint, dataset, data_sha)
    if other is not None:
        raise JobError(f"--checkpoint {checkpoint.path}: trained on {other!r}, not on {dataset}'s data; give a "
                       f"model trained on {dataset}'s data, or leave out --checkpoint to have run train one",
                       ExitCode.BAD_INPUT)
    if checkpoint.dataset is None and not trained_on(checkpoint, data_sha):
        log.info(f"{checkpoint.path} does not record which data it was trained on (saved by an older kaggle-job); "
                 f"using it for {dataset} as given", event="run.checkpoint_data_unknown", checkpoint=checkpoint.path)


def set_aside(path: Path, checkpoint: Checkpoint, dataset: str, log: Log) -> Path:
    """Rename the model of other data found at `run`'s own `path` to X.for-<data>.pt, and say so."""
    files, copy = beside(path), 1
    while (aside := files.made_for(checkpoint.dataset, copy)).exists():  # under the home's lock: no race
        copy += 1
    os.replace(path, aside)
    log.warn(f"{path} was trained on {checkpoint.dataset!r}, not on {dataset}'s data; set it aside as {aside.name} "
             "and training a model for this data", event="run.retrain", checkpoint=path, set_aside=aside,
             trained_on=checkpoint.dataset)
    return aside
