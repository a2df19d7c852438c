"""Training: in-memory uint8 tensors, a stratified validation split, keep the best epoch."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.checkpoints import ModelSpec, save_checkpoint
from core.devices import configure_threads, describe, pick_device
from core.errors import BadInput
from core.hashing import sha256_file
from core.log import Log
from core.models import DEFAULT_ARCH
from core.pixelcsv import read_pixel_csv


@dataclass
class TrainConfig:
    arch: str = DEFAULT_ARCH
    epochs: int = 10
    batch_size: int = 128
    lr: float = 3e-3
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    label_smoothing: float = 0.1
    time_budget_min: float | None = None
    arch_kwargs: dict = field(default_factory=dict)


PRESETS: dict[str, TrainConfig] = {
    "demo": TrainConfig(epochs=6, batch_size=64, lr=4e-3, arch_kwargs={"width_mult": 0.5}),
    "fast": TrainConfig(epochs=4),
    "default": TrainConfig(epochs=12),
    "best": TrainConfig(epochs=20),
}


@dataclass
class TrainResult:
    model: nn.Module
    spec: ModelSpec
    metrics: dict
    history: list[dict]


def infer_input_shape(num_pixels: int) -> tuple[int, int, int]:
    """Square grayscale images are what pixel CSVs hold; anything else must be given explicitly."""
    side = math.isqrt(num_pixels)
    if side * side == num_pixels:
        return (1, side, side)
    raise BadInput(f"{num_pixels} pixel columns do not form a square image; pass --input-shape CxHxW")


def load_training_data(csv_path: Path, input_shape: tuple[int, int, int] | None = None):
    table = read_pixel_csv(csv_path, None if input_shape is None else int(np.prod(input_shape)))
    if table.labels is None:
        raise BadInput(f"{csv_path}: line 1: a training file needs a 'label' column")
    shape = input_shape or infer_input_shape(table.pixels.shape[1])
    classes, targets = np.unique(table.labels, return_inverse=True)
    images = torch.from_numpy(table.pixels).view(-1, *shape)
    return images, torch.from_numpy(targets.astype(np.int64)), [c.item() if hasattr(c, "item") else c for c in classes]


def split_stratified(targets: torch.Tensor, val_fraction: float, seed: int):
    from sklearn.model_selection import train_test_split

    index = np.arange(len(targets))
    if val_fraction <= 0:
        return index, index[:0]
    return train_test_split(index, test_size=val_fraction, stratify=targets.numpy(), random_state=seed)


def to_input(batch: torch.Tensor, spec: ModelSpec, device: torch.device) -> torch.Tensor:
    """uint8 (B, C, H, W) -> normalised float on `device`; the same transform training and inference use."""
    x = batch.to(device, non_blocking=True).float().div_(255.0)
    return x.sub_(spec.mean).div_(spec.std)


def evaluate(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, spec: ModelSpec,
             device: torch.device, batch_size: int = 1024) -> tuple[float, float]:
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            logits = model(to_input(images[start:start + batch_size], spec, device))
            y = targets[start:start + batch_size].to(device)
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
    n = max(1, len(images))
    return loss_sum / n, correct / n


def train_model(images: torch.Tensor, targets: torch.Tensor, classes: list, config: TrainConfig,
                log: Log) -> TrainResult:
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    configure_threads()
    device = pick_device(config.device)
    log.info(f"training {config.arch} on {describe(device)}", event="train.start", device=str(device),
             rows=len(images), config=asdict(config))

    train_idx, val_idx = split_stratified(targets, config.val_fraction, config.seed)
    x_train, y_train = images[train_idx], targets[train_idx]
    x_val, y_val = images[val_idx], targets[val_idx]
    pixels = x_train.float().div(255.0)
    spec = ModelSpec(arch=config.arch, input_shape=tuple(images.shape[1:]), classes=list(classes),
                     arch_kwargs=dict(config.arch_kwargs), mean=pixels.mean().item(),
                     std=pixels.std().item() or 1.0)
    del pixels

    model = spec.build().to(device)
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * steps_per_epoch)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    generator = torch.Generator().manual_seed(config.seed)

    history, best_state, best_acc = [], None, -1.0
    started = time.monotonic()
    with log.progress("train", total=config.epochs, unit="epochs", event="train.progress") as bar:
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = torch.randperm(len(x_train), generator=generator)
            loss_sum = correct = 0
            for start in range(0, len(order), config.batch_size):
                idx = order[start:start + config.batch_size]
                x, y = to_input(x_train[idx], spec, device), y_train[idx].to(device)
                logits = model(x)
                loss = criterion(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                loss_sum += loss.item() * len(idx)
                correct += (logits.argmax(1) == y).sum().item()
            val_loss, val_acc = evaluate(model, x_val, y_val, spec, device) if len(x_val) else (float("nan"), float("nan"))
            row = {"epoch": epoch, "train_loss": loss_sum / len(x_train), "train_acc": correct / len(x_train),
                   "val_loss": val_loss, "val_acc": val_acc, "elapsed_s": round(time.monotonic() - started, 2)}
            history.append(row)
            bar.advance(1, loss=row["train_loss"], val_acc=val_acc)
            if not len(x_val) or val_acc > best_acc:
                best_acc = val_acc
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    model.load_state_dict(best_state)
    best = max(history, key=lambda r: (r["val_acc"] if len(x_val) else r["epoch"]))
    metrics = {"val_accuracy": best["val_acc"], "val_loss": best["val_loss"], "best_epoch": best["epoch"],
               "epochs_run": len(history), "train_seconds": round(time.monotonic() - started, 2),
               "train_rows": len(x_train), "val_rows": len(x_val), "device": str(device)}
    return TrainResult(model=model.cpu().eval(), spec=spec, metrics=metrics, history=history)


def train_to_checkpoint(train_csv: Path, checkpoint: Path, config: TrainConfig, log: Log) -> TrainResult:
    images, targets, classes = load_training_data(train_csv)
    result = train_model(images, targets, classes, config, log)
    save_checkpoint(checkpoint, result.model, result.spec, result.metrics,
                    data_sha256=sha256_file(train_csv), train_config=asdict(config), history=result.history)
    from core.plots import curves_path, write_curves  # loss/accuracy PNG beside the checkpoint
    write_curves(result.history, curves_path(checkpoint))
    return result


def config_for(preset: str, **overrides) -> TrainConfig:
    if preset not in PRESETS:
        raise BadInput(f"--preset: expected one of {', '.join(PRESETS)}, got {preset!r}")
    base = PRESETS[preset]
    chosen = {k: v for k, v in overrides.items() if v is not None}
    if chosen.get("arch", base.arch) != base.arch and "arch_kwargs" not in chosen:
        chosen["arch_kwargs"] = {}  # the preset's kwargs belong to its own architecture
    return replace(base, **chosen)
