"""Training: in-memory uint8 tensors, a stratified validation split, batched augmentation, a
progress-driven one-cycle schedule that fits a time budget, keep-best-by-validation, resumable.

`best` trains several members and bundles them with test-time augmentation into one checkpoint
(see core/ensemble.py), so every consumer still gets the whole ensemble from a single path.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.augment import AugmentConfig, augment
from core.checkpoints import ModelSpec, load_checkpoint, save_checkpoint
from core.devices import configure_threads, describe, pick_device
from core.errors import BadInput
from core.hashing import sha256_file
from core.history import write_history
from core.log import Log
from core.memory import keep_heap_for_reuse
from core.models import DEFAULT_ARCH
from core.pixelcsv import read_pixel_csv
from core.schedule import OneCycle, progress
from core.train_state import RESUMABLE_CHANGES, load_state, remove_state, save_state


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
    time_budget_min: float | None = None  # whole run, loading included; the schedule fits inside it
    arch_kwargs: dict = field(default_factory=dict)
    weight_decay: float = 5e-4
    shift_px: float = 2.0
    rotate_deg: float = 10.0
    zoom: float = 0.1
    patience: int | None = None  # stop after this many epochs without a better validation accuracy
    members: int = 1  # > 1: an ensemble of members with seeds seed, seed+1, ... on one shared split
    tta: bool = False  # bundle test-time shifts into the checkpoint
    split_seed: int | None = None  # seed of the validation split; None: `seed`
    amp: bool = True  # mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling)
    resume: bool = False  # continue from the state file beside the checkpoint, if there is one

    @property
    def augmentation(self) -> AugmentConfig:
        return AugmentConfig(shift_px=self.shift_px, rotate_deg=self.rotate_deg, zoom=self.zoom)


# The recipe behind `default`, measured on 2 CPU cores (see README, Training): leannet, ±2 px shifts,
# ±8° rotations and 8% zooms, AdamW + one-cycle, label smoothing 0.1, batch 128.
_RECIPE = dict(arch="leannet", batch_size=128, lr=3e-3, shift_px=2.0, rotate_deg=8.0, zoom=0.08)
_SMALL = {"stages": [16, 32, 64]}  # a quarter of the compute of the default widths

PRESETS: dict[str, TrainConfig] = {
    # The demo's 4.5k rows: a small net, light augmentation, well under a minute on 2 cores.
    # No time budget: the demo run must be reproducible.
    "demo": TrainConfig(**{**_RECIPE, "batch_size": 64, "lr": 4e-3, "shift_px": 1.0, "rotate_deg": 0.0,
                           "zoom": 0.0}, epochs=8, arch_kwargs=_SMALL),
    # >= 99.0% in <= 3 min on 2 cores.
    "fast": TrainConfig(**_RECIPE, epochs=14, arch_kwargs=_SMALL, time_budget_min=2.75),
    # >= 99.6% in <= 15 min on 2 cores.
    "default": TrainConfig(**_RECIPE, epochs=30, time_budget_min=14.5),
    # Several default members + test-time shifts; costs members x default on a CPU.
    "best": TrainConfig(**_RECIPE, epochs=30, members=3, tta=True),
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


def amp_dtype_for(device: torch.device, enabled: bool) -> torch.dtype | None:
    """Mixed precision only where it pays: on CUDA. CPUs without bf16 units get slower with it."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def evaluate(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, spec: ModelSpec,
             device: torch.device, batch_size: int = 1024, amp_dtype: torch.dtype | None = None) -> tuple[float, float]:
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    with torch.inference_mode(), torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16,
                                                  enabled=amp_dtype is not None):
        for start in range(0, len(images), batch_size):
            logits = model(_layout(to_input(images[start:start + batch_size], spec, device), device)).float()
            y = targets[start:start + batch_size].to(device)
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    n = max(1, len(images))
    return loss_sum.item() / n, correct.item() / n


def _channels_last(device: torch.device) -> bool:
    # channels_last lets cuDNN (tensor cores) and oneDNN pick their fastest kernels: on 2 CPU cores a
    # training step of these small nets measured 1.15-1.45x faster than in NCHW.
    return device.type in ("cuda", "cpu")


def _layout(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if _channels_last(device) else x


def train_model(images: torch.Tensor, targets: torch.Tensor, classes: list, config: TrainConfig,
                log: Log, *, deadline: float | None = None, state_for: Path | None = None) -> TrainResult:
    """Train one model. `deadline` (time.monotonic()) bounds the run; `state_for` is the checkpoint
    path whose resume state is written after every epoch (and read first when config.resume)."""
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    configure_threads()
    device = pick_device(config.device)
    if device.type == "cpu":
        keep_heap_for_reuse()  # measured 1.1-1.3x faster epochs: page faults were a fifth of the CPU time
    amp_dtype = amp_dtype_for(device, config.amp)
    log.info(f"training {config.arch} on {describe(device)}", event="train.start", device=str(device),
             rows=len(images), amp=str(amp_dtype), config=asdict(config))

    split_seed = config.seed if config.split_seed is None else config.split_seed
    train_idx, val_idx = split_stratified(targets, config.val_fraction, split_seed)
    x_train, y_train = images[train_idx], targets[train_idx]
    x_val, y_val = images[val_idx], targets[val_idx]
    pixels = x_train.float().div(255.0)
    spec = ModelSpec(arch=config.arch, input_shape=tuple(images.shape[1:]), classes=list(classes),
                     arch_kwargs=dict(config.arch_kwargs), mean=pixels.mean().item(),
                     std=pixels.std().item() or 1.0)
    del pixels
    if device.type == "cuda":  # keep the whole data set resident: no host->device copy per batch
        x_train, y_train = x_train.to(device), y_train.to(device)

    model = spec.build().to(device)
    if _channels_last(device):
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype is torch.float16)
    schedule = OneCycle(max_lr=config.lr)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    aug = config.augmentation
    has_val = len(x_val) > 0

    history: list[dict] = []
    best = {"acc": -1.0, "loss": math.inf, "state": None}
    step, first_epoch, elapsed_before = 0, 1, 0.0
    saved = load_state(state_for, _state_config(config)) if (config.resume and state_for) else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        step, first_epoch = int(saved["scheduler"]["step"]), int(saved["epoch"]) + 1
        elapsed_before = float(saved["scheduler"]["elapsed_s"])
        history = list(saved["history"])
        best = {"acc": float(saved["best_acc"]), "loss": float(saved["best_loss"]), "state": saved["best_state"]}
        log.info(f"resuming after epoch {first_epoch - 1} of {config.epochs}", event="train.resume",
                 epoch=first_epoch - 1, step=step)

    started = time.monotonic()
    # The schedule's clock: leave room for the last evaluation and the save after it.
    window = None
    if deadline is not None:
        remaining = deadline - started
        window = elapsed_before + max(1.0, remaining - (0.04 * remaining + 2.0))
    stop_reason = "completed"

    def elapsed() -> float:
        return elapsed_before + time.monotonic() - started

    with log.progress("train", total=config.epochs, unit="epochs", event="train.progress") as bar:
        if first_epoch > 1:
            bar.advance(first_epoch - 1)
        epoch = first_epoch
        while epoch <= config.epochs:
            model.train()
            order = torch.randperm(len(x_train), generator=generator)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            seen, lr = 0, schedule.lr_at(progress(step, total_steps, elapsed(), window))
            for start in range(0, len(order), config.batch_size):
                done = progress(step, total_steps, elapsed(), window)
                if done >= 1.0:
                    stop_reason = "time_budget" if step < total_steps else stop_reason
                    break
                lr = schedule.lr_at(done)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                idx = order[start:start + config.batch_size]
                x, y = _train_batch(x_train, y_train, idx, spec, aug, generator, device)
                with torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None):
                    logits = model(x)
                loss = criterion(logits.float(), y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                step += 1
                seen += len(idx)
                loss_sum += loss.detach() * len(idx)
                correct += (logits.argmax(1) == y).sum()
            if seen == 0:
                break
            val_loss, val_acc = (evaluate(model, x_val, y_val, spec, device, amp_dtype=amp_dtype)
                                 if has_val else (float("nan"), float("nan")))
            row = {"epoch": epoch, "train_loss": loss_sum.item() / seen, "train_acc": correct.item() / seen,
                   "val_loss": val_loss, "val_acc": val_acc, "lr": lr, "elapsed_s": round(elapsed(), 2)}
            history.append(row)
            if not has_val or val_acc > best["acc"] or (val_acc == best["acc"] and val_loss < best["loss"]):
                best = {"acc": val_acc, "loss": val_loss,
                        "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
            fraction = progress(step, total_steps, elapsed(), window)
            left = elapsed() * (1 - fraction) / fraction if fraction > 0 else float("nan")
            bar.advance(1, loss=row["train_loss"], val_acc=val_acc, best=best["acc"], lr=lr, left_s=round(left))
            if state_for is not None:
                save_state(state_for, {
                    "config": _state_config(config), "epoch": epoch, "model": _cpu(model.state_dict()),
                    "optimizer": optimizer.state_dict(), "scheduler": {"step": step, "elapsed_s": elapsed()},
                    "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                    "history": history, "best_acc": best["acc"], "best_loss": best["loss"],
                    "best_state": best["state"]})
            if config.patience and has_val and _epochs_since_best(history) >= config.patience:
                stop_reason = "early_stopping"
                break
            if fraction >= 1.0:
                if step < total_steps:
                    stop_reason = "time_budget"
                break
            epoch += 1

    if not history:
        raise BadInput("the time budget ended before the first training step; give more --time-budget")
    if stop_reason != "completed":
        log.info(f"stopped early ({stop_reason}) after {len(history)} epochs", event="train.stop",
                 reason=stop_reason, epochs_run=len(history))
    model.load_state_dict(best["state"])
    chosen = max(history, key=lambda r: (r["val_acc"], -r["val_loss"])) if has_val else history[-1]
    metrics = {"val_accuracy": chosen["val_acc"], "val_loss": chosen["val_loss"], "best_epoch": chosen["epoch"],
               "epochs_run": len(history), "train_seconds": round(elapsed(), 2), "stop_reason": stop_reason,
               "train_rows": len(x_train), "val_rows": len(x_val), "device": str(device)}
    model = model.to(memory_format=torch.contiguous_format)
    return TrainResult(model=model.cpu().eval(), spec=spec, metrics=metrics, history=history)


def _train_batch(x_train, y_train, idx, spec, aug, generator, device):
    """One augmented, normalised batch. Augmentation runs on [0, 1] pixels so zero fill is background."""
    idx = idx.to(x_train.device)
    x = x_train[idx].to(device, non_blocking=True).float().div_(255.0)
    x = augment(x, aug, generator)
    x = x.sub_(spec.mean).div_(spec.std)
    return _layout(x, device), y_train[idx].to(device, non_blocking=True)


def _epochs_since_best(history: list[dict]) -> int:
    best_at = max(range(len(history)), key=lambda i: (history[i]["val_acc"], -i))
    return len(history) - 1 - best_at


def _cpu(state: dict) -> dict:
    return {k: v.detach().cpu() for k, v in state.items()}


def _state_config(config: TrainConfig) -> dict:
    return {k: v for k, v in asdict(config).items() if k != "resume"}


# -- checkpoints -------------------------------------------------------------------------------


def train_to_checkpoint(train_csv: Path, checkpoint: Path, config: TrainConfig, log: Log) -> TrainResult:
    started = time.monotonic()
    deadline = started + config.time_budget_min * 60 if config.time_budget_min else None
    images, targets, classes = load_training_data(train_csv)
    data_sha = sha256_file(train_csv)
    if config.members > 1 or config.tta:
        return _train_ensemble(images, targets, classes, Path(checkpoint), config, log, deadline, data_sha)
    result = train_model(images, targets, classes, config, log, deadline=deadline, state_for=Path(checkpoint))
    _save(checkpoint, result, config, data_sha)
    return result


def _save(checkpoint: Path, result: TrainResult, config: TrainConfig, data_sha: str) -> None:
    save_checkpoint(checkpoint, result.model, result.spec, result.metrics,
                    data_sha256=data_sha, train_config=asdict(config), history=result.history)
    write_history(checkpoint, result.history)
    _write_curves(checkpoint, result.history)
    remove_state(checkpoint)  # only now is the run's outcome safe elsewhere


def _write_curves(checkpoint: Path, history: list[dict]) -> None:
    from core.plots import curves_path, write_curves  # matplotlib only once there is something to draw

    write_curves(history, curves_path(checkpoint))


def member_path(checkpoint: Path, index: int) -> Path:
    return checkpoint.with_name(f"{checkpoint.stem}.member{index + 1}{checkpoint.suffix}")


def _train_ensemble(images, targets, classes, checkpoint: Path, config: TrainConfig, log: Log,
                    deadline: float | None, data_sha: str) -> TrainResult:
    from core.ensemble import TTA_SHIFTS, bundle_state_dict, ensemble_kwargs

    split_seed = config.seed if config.split_seed is None else config.split_seed
    members: list[TrainResult] = []
    for i in range(config.members):
        member_config = replace(config, members=1, tta=False, seed=config.seed + i, split_seed=split_seed)
        path = member_path(checkpoint, i)
        reused = _finished_member(path, member_config, data_sha) if config.resume else None
        if reused is not None:
            log.info(f"member {i + 1}/{config.members}: reusing {path}", event="train.member", member=i + 1)
            members.append(reused)
            continue
        log.info(f"member {i + 1}/{config.members} (seed {member_config.seed})", event="train.member", member=i + 1)
        # Each remaining member gets an equal share of the time left.
        member_deadline = None if deadline is None else time.monotonic() + (deadline - time.monotonic()) / (config.members - i)
        result = train_model(images, targets, classes, member_config, log, deadline=member_deadline, state_for=path)
        _save(path, result, member_config, data_sha)
        members.append(result)

    first = members[0].spec
    spec = ModelSpec(arch="ensemble", input_shape=first.input_shape, classes=list(classes),
                     arch_kwargs=ensemble_kwargs([m.spec for m in members], TTA_SHIFTS if config.tta else None,
                                                 first.mean, first.std),
                     mean=first.mean, std=first.std)
    model = spec.build()
    model.load_state_dict(bundle_state_dict([m.model for m in members]))
    model.eval()
    _, val_idx = split_stratified(targets, config.val_fraction, split_seed)
    device = pick_device(config.device)
    val_loss, val_acc = (evaluate(model.to(device), images[val_idx], targets[val_idx], spec, device, batch_size=512)
                         if len(val_idx) else (float("nan"), float("nan")))
    history = [{**row, "member": i + 1} for i, m in enumerate(members) for row in m.history]
    metrics = {"val_accuracy": val_acc, "val_loss": val_loss,
               "member_val_accuracy": [m.metrics["val_accuracy"] for m in members],
               "members": len(members), "tta_views": len(spec.arch_kwargs["tta_shifts"]),
               "best_epoch": max(m.metrics["best_epoch"] for m in members),
               "epochs_run": sum(m.metrics["epochs_run"] for m in members),
               "train_seconds": round(sum(m.metrics["train_seconds"] for m in members), 2),
               "train_rows": members[0].metrics["train_rows"], "val_rows": len(val_idx), "device": str(device)}
    log.info(f"ensemble of {len(members)} with {metrics['tta_views']} test-time views: val_accuracy={val_acc:.4f} "
             f"(members {', '.join(f'{a:.4f}' for a in metrics['member_val_accuracy'])})",
             event="train.ensemble", **metrics)
    result = TrainResult(model=model.cpu().eval(), spec=spec, metrics=metrics, history=history)
    save_checkpoint(checkpoint, result.model, spec, metrics, data_sha256=data_sha, train_config=asdict(config),
                    history=history, members=[str(member_path(checkpoint, i).name) for i in range(len(members))])
    write_history(checkpoint, history)
    _write_curves(checkpoint, history)
    return result


def _finished_member(path: Path, config: TrainConfig, data_sha: str) -> TrainResult | None:
    """A member checkpoint from an interrupted `best` run, if it was trained on this data with this recipe."""
    if not path.is_file():
        return None
    ckpt = load_checkpoint(path)
    saved = {k: v for k, v in ckpt.meta.get("train_config", {}).items() if k not in RESUMABLE_CHANGES}
    wanted = {k: v for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES}
    if ckpt.meta.get("data_sha256") != data_sha or saved != wanted:
        return None
    return TrainResult(model=ckpt.model(), spec=ckpt.spec, metrics=ckpt.metrics, history=list(ckpt.meta.get("history", [])))


def config_for(preset: str, **overrides) -> TrainConfig:
    if preset not in PRESETS:
        raise BadInput(f"--preset: expected one of {', '.join(PRESETS)}, got {preset!r}")
    base = PRESETS[preset]
    chosen = {k: v for k, v in overrides.items() if v is not None}
    if chosen.get("arch", base.arch) != base.arch and "arch_kwargs" not in chosen:
        chosen["arch_kwargs"] = {}  # the preset's kwargs belong to its own architecture
    unknown = sorted(set(chosen) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise BadInput(f"unknown training option {unknown[0]!r}")
    return replace(base, **chosen)
