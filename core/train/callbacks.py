"""Callbacks: the caller's code inside a training run, at its start and after every optimiser step and
every epoch.

They draw nothing and change no step of the run themselves, so a run given callbacks trains the
same weights as one without (what bench.averaging relies on to keep weight averages beside a
run). They live outside TrainConfig: the config is saved into the resume state, and functions are
not a recipe.

Under torchrun every rank that trains the model calls them. A model trained data-parallel calls
them on every rank, with the same weights on each, so a callback may run collectives (e.g.
`core.train.loop.evaluate(..., world=current_world())` on a holdout) and should write files on
rank 0 alone (`world.on_rank0`). An ensemble's member calls them on the rank that trains it, with
SINGLE as its world, one member after another (each member's epochs count from 1). A resumed run
calls them from the epoch it resumes at; their own state is not in the resume file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from core.base.errors import BadInput
from core.model.spec import ModelSpec


@dataclass(frozen=True)
class Callbacks:
    """`on_train_start(model, spec)`: once, before the first step (after a resume's restore), with the
    spec whose normalisation `core.model.spec.to_input` needs to feed the model images.

    `on_step_end(step, model)`: after every optimiser step; `step` counts the run's steps from 1
    (a resumed run goes on counting).

    `on_epoch_end(epoch, model, metrics)`: after each epoch's validation, before its resume state is
    saved, with a copy of the epoch's history row (core.train.history.COLUMNS). A mapping it returns
    adds its keys to that row: they land in TrainResult.history, the checkpoint's meta["history"] and
    the resume state (X.history.csv keeps its own columns). Its keys may not be the row's own, which
    choose the kept epoch.

    `model` is the live model, never the DistributedDataParallel wrapper: read it or copy it
    (changing its weights changes the training). on_epoch_end may switch it to eval mode (the next
    epoch puts it back in training mode); on_step_end leaves it in training mode."""

    on_train_start: Callable[[nn.Module, ModelSpec], None] | None = None
    on_step_end: Callable[[int, nn.Module], None] | None = None
    on_epoch_end: Callable[[int, nn.Module, dict], Mapping[str, Any] | None] | None = None

    def train_started(self, model: nn.Module, spec: ModelSpec) -> None:
        if self.on_train_start is not None:
            self.on_train_start(model, spec)

    def step_ended(self, step: int, model: nn.Module) -> None:
        if self.on_step_end is not None:
            self.on_step_end(step, model)

    def epoch_ended(self, epoch: int, model: nn.Module, row: dict) -> None:
        """Call on_epoch_end and add the metrics it returns to `row`, the epoch's history row."""
        if self.on_epoch_end is None:
            return
        added = self.on_epoch_end(epoch, model, dict(row)) or {}
        taken = sorted(set(added) & set(row))
        if taken:
            raise BadInput(f"on_epoch_end returned {taken[0]!r}, one of the epoch's own history columns "
                           f"({', '.join(row)}); give its metric another name")
        row.update(added)
