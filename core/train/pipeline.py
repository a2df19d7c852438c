"""`train`: a labelled pixel file in, a checkpoint out, with its history and curves beside it.

One model, or an ensemble of members (core.train.members) bundled into one checkpoint, so every
consumer still gets the whole model from a single path. Under torchrun every rank calls this: one
model is trained data-parallel, members are spread over the ranks, and rank 0 writes the files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from core.base.atomic import prepare_target
from core.base.errors import BadInput
from core.base.hashing import sha256_file
from core.base.log import Log
from core.data.layout import shape_text
from core.dist.world import World, current_world
from core.model.checkpoint import beside, load_checkpoint
from core.model.devices import pick_device
from core.train.callbacks import Callbacks
from core.train.config import TrainConfig
from core.train.data import load_training_data
from core.train.loop import TrainResult, train_model
from core.train.members import finished_run, train_ensemble
from core.train.outputs import describe_data, save_result
from core.train.pseudo import PseudoLabels, check_teacher, load_unlabelled, pseudo_labels


def train_to_checkpoint(train_csv: Path, checkpoint: Path, config: TrainConfig, log: Log,
                        input_shape: tuple[int, int, int] | None = None, data_sha: str | None = None,
                        label_names: tuple[str, ...] = (), ignore_extra: bool = False,
                        callbacks: Callbacks | None = None, dataset: str | None = None,
                        unlabelled: Path | None = None, teacher: Path | None = None) -> TrainResult:
    """`input_shape` (--input-shape) when the pixels are not one square grayscale image; `data_sha`:
    train_csv's sha256 when the caller has it already (`run` hashes it to decide whether to train);
    `label_names`: label column names besides `label` (--label-column, the sample's label column);
    `ignore_extra`: skip columns that are neither label, id nor pixels (--ignore-extra-columns);
    `callbacks`: called at the start and after every step and epoch of each model trained (core.train.callbacks);
    `dataset`: the data's name (Workspace.dataset_name), recorded in the checkpoint for `run` to check;
    `unlabelled`, `teacher`: with config.pseudo_label, the pixel file to pseudo-label (test.csv) and a checkpoint
    that labels it instead of a first round (core.train.pseudo)."""
    try:
        return _train(train_csv, checkpoint, config, log, input_shape, data_sha, label_names, ignore_extra,
                      callbacks, dataset, unlabelled, teacher)
    except torch.cuda.OutOfMemoryError:
        # Halving mid-training would change the recipe the checkpoint claims; say what to change instead.
        raise BadInput(f"CUDA out of memory while training with batch size {config.batch_size}; try a smaller "
                       f"--batch-size (e.g. {max(1, config.batch_size // 2)}) or --device cpu") from None


def _train(train_csv: Path, checkpoint: Path, config: TrainConfig, log: Log,
           input_shape: tuple[int, int, int] | None, data_sha: str | None, label_names: tuple[str, ...],
           ignore_extra: bool, callbacks: Callbacks | None, dataset: str | None, unlabelled: Path | None,
           teacher: Path | None) -> TrainResult:
    world = current_world()
    # A bad path fails now, not after training; so does one that would replace the training data.
    world.on_rank0(lambda: prepare_target(Path(checkpoint), reads=[("the training file", train_csv)]))
    started = time.monotonic()
    deadline = started + config.time_budget_min * 60 if config.time_budget_min else None
    images, targets, classes = world.agree(lambda: load_training_data(train_csv, input_shape, log, label_names,
                                                                      ignore_extra, config.pixel_order))
    data_sha = data_sha or world.from_rank0(lambda: sha256_file(train_csv))
    log.info(f"training on {train_csv}: {describe_data(len(images), tuple(images.shape[1:]), classes)}; saving to "
             f"{checkpoint}", event="train.data", rows=len(images), input_shape=shape_text(images.shape[1:]),
             classes=list(classes), checkpoint=checkpoint)
    fit = _Fit(images, targets, classes, config, log, data_sha, world, callbacks, dataset)
    if not config.pseudo_label:
        return fit(Path(checkpoint), deadline)
    return _two_rounds(fit, Path(checkpoint), unlabelled, teacher, started, deadline)


@dataclass
class _Fit:
    """One round of training on the loaded rows: one model, or an ensemble's members and their bundle."""

    images: torch.Tensor
    targets: torch.Tensor
    classes: list
    config: TrainConfig
    log: Log
    data_sha: str
    world: World
    callbacks: Callbacks | None
    dataset: str | None

    def __call__(self, checkpoint: Path, deadline: float | None, config: TrainConfig | None = None,
                 extra: PseudoLabels | None = None, meta: dict | None = None) -> TrainResult:
        config = config or self.config
        if config.members > 1 or config.tta:
            return train_ensemble(self.images, self.targets, self.classes, checkpoint, config, self.log, deadline,
                                  self.data_sha, self.world, callbacks=self.callbacks, dataset=self.dataset,
                                  extra=extra, meta=meta)
        result = train_model(self.images, self.targets, self.classes, config, self.log, deadline=deadline,
                             state_for=checkpoint, world=self.world, callbacks=self.callbacks, extra=extra)
        self.world.on_rank0(lambda: save_result(checkpoint, result, config, self.data_sha, dataset=self.dataset,
                                                **(meta or {})))
        return result


def _two_rounds(fit: _Fit, checkpoint: Path, unlabelled: Path | None, teacher: Path | None, started: float,
                deadline: float | None) -> TrainResult:
    """Round 1 (saved as X.round1.pt; or the `teacher` checkpoint) labels the unlabelled rows it is sure
    of; round 2 trains the same recipe on the labelled rows and those, into `checkpoint`."""
    if unlabelled is None:
        raise BadInput("pseudo-labelling needs unlabelled rows: no test.csv beside train.csv (--unlabelled names "
                       "a pixel file)")
    shape = tuple(fit.images.shape[1:])
    rows = fit.world.agree(lambda: load_unlabelled(unlabelled, shape, fit.config.pixel_order))
    if teacher is not None:
        loaded = load_checkpoint(teacher)
        check_teacher(loaded.spec, shape, fit.classes, teacher)
        model, spec, source = loaded.model(), loaded.spec, teacher
    else:
        # Round 2 trains on about labelled + unlabelled rows: the budget is shared in that proportion.
        labelled = len(fit.images)
        first_deadline = None if deadline is None else \
            started + (deadline - started) * labelled / (2 * labelled + len(rows))
        source, config = beside(checkpoint).round1, replace(fit.config, pseudo_label=False)
        first = finished_run(source, config, fit.data_sha) if config.resume else None
        fit.log.info(f"pseudo-labelling round 1 of 2: {'reusing' if first else 'training on the labelled rows into'} "
                     f"{source}", event="train.round", round=1, checkpoint=source, reused=first is not None)
        first = first or fit(source, first_deadline, config)
        model, spec = first.model, first.spec
    # Rank 0 chooses and every rank trains on its choice: ranks that each judged a row at the threshold
    # could disagree by a rounding, and data-parallel ranks must hold the same rows.
    taken = fit.world.from_rank0(lambda: pseudo_labels(model, spec, rows, fit.config.pseudo_threshold,
                                                       pick_device(fit.config.device), fit.log))
    fit.log.info(f"pseudo-labelling round 2 of 2: training on {len(fit.images):,} labelled and {len(taken.targets):,} "
                 f"pseudo-labelled rows into {checkpoint}", event="train.round", round=2, checkpoint=checkpoint)
    meta = {"pseudo_label": {**taken.fields(), "unlabelled": Path(unlabelled).name, "teacher": Path(source).name}}
    return fit(checkpoint, deadline, extra=taken, meta=meta)
