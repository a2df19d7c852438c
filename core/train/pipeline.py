"""`train`: a labelled pixel file in, a checkpoint out, with its history and curves beside it.

One model, or an ensemble of members (core.train.members) bundled into one checkpoint, so every
consumer still gets the whole model from a single path. Under torchrun every rank calls this: one
model is trained data-parallel, members are spread over the ranks, and rank 0 writes the files.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from core.base.atomic import prepare_target
from core.base.errors import BadInput
from core.base.hashing import sha256_file
from core.base.log import Log
from core.data.layout import shape_text
from core.dist.world import current_world
from core.train.callbacks import Callbacks
from core.train.config import TrainConfig
from core.train.data import load_training_data
from core.train.loop import TrainResult, train_model
from core.train.members import train_ensemble
from core.train.outputs import describe_data, save_result


def train_to_checkpoint(train_csv: Path, checkpoint: Path, config: TrainConfig, log: Log,
                        input_shape: tuple[int, int, int] | None = None, data_sha: str | None = None,
                        label_names: tuple[str, ...] = (), ignore_extra: bool = False,
                        callbacks: Callbacks | None = None, dataset: str | None = None) -> TrainResult:
    """`input_shape` (--input-shape) when the pixels are not one square grayscale image; `data_sha`:
    train_csv's sha256 when the caller has it already (`run` hashes it to decide whether to train);
    `label_names`: label column names besides `label` (--label-column, the sample's label column);
    `ignore_extra`: skip columns that are neither label, id nor pixels (--ignore-extra-columns);
    `callbacks`: called at the start and after every step and epoch of each model trained (core.train.callbacks);
    `dataset`: the data's name (Workspace.dataset_name), recorded in the checkpoint for `run` to check."""
    try:
        return _train(train_csv, checkpoint, config, log, input_shape, data_sha, label_names, ignore_extra,
                      callbacks, dataset)
    except torch.cuda.OutOfMemoryError:
        # Halving mid-training would change the recipe the checkpoint claims; say what to change instead.
        raise BadInput(f"CUDA out of memory while training with batch size {config.batch_size}; try a smaller "
                       f"--batch-size (e.g. {max(1, config.batch_size // 2)}) or --device cpu") from None


def _train(train_csv: Path, checkpoint: Path, config: TrainConfig, log: Log,
           input_shape: tuple[int, int, int] | None, data_sha: str | None, label_names: tuple[str, ...],
           ignore_extra: bool, callbacks: Callbacks | None, dataset: str | None) -> TrainResult:
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
    if config.members > 1 or config.tta:
        return train_ensemble(images, targets, classes, Path(checkpoint), config, log, deadline, data_sha, world,
                              callbacks=callbacks, dataset=dataset)
    result = train_model(images, targets, classes, config, log, deadline=deadline, state_for=Path(checkpoint),
                         world=world, callbacks=callbacks)
    world.on_rank0(lambda: save_result(checkpoint, result, config, data_sha, dataset=dataset))
    return result
