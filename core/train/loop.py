"""Training one model: in-memory uint8 tensors, batched augmentation, a progress-driven one-cycle
schedule that fits a time budget, keep-best-by-validation, and a resume file after every epoch.

`train_model` reads top to bottom as the steps of a run: set up, restore (when resuming), epochs
(each: train, evaluate, keep the best, save the resume state, decide whether to stop), result.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from core.base.errors import BadInput
from core.base.log import Log, Progress
from core.base.memory import keep_heap_for_reuse
from core.model.devices import configure_threads, describe, in_device_layout, pick_device
from core.model.spec import ModelSpec, to_input
from core.train.augment import augment
from core.train.config import TrainConfig
from core.train.data import split_stratified
from core.train.resume import load_state, save_state
from core.train.schedule import OneCycle, progress


@dataclass
class TrainResult:
    model: nn.Module
    spec: ModelSpec
    metrics: dict
    history: list[dict]


@dataclass
class _Run:
    """Everything one training run carries from epoch to epoch."""

    config: TrainConfig
    device: torch.device
    amp_dtype: torch.dtype | None
    spec: ModelSpec
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    generator: torch.Generator
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    step: int = 0
    first_epoch: int = 1
    elapsed_before: float = 0.0  # seconds trained before a resume
    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=lambda: {"acc": -1.0, "loss": math.inf, "state": None})

    @property
    def total_steps(self) -> int:
        return self.config.epochs * math.ceil(len(self.x_train) / self.config.batch_size)


@dataclass
class _Clock:
    """Progress through the schedule: steps or time used, whichever is further along."""

    total_steps: int
    before_s: float
    window_s: float | None  # the schedule's time budget, None without a deadline
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return self.before_s + time.monotonic() - self.started

    def progress(self, step: int) -> float:
        return progress(step, self.total_steps, self.elapsed(), self.window_s)


def train_model(images: torch.Tensor, targets: torch.Tensor, classes: list, config: TrainConfig,
                log: Log, *, deadline: float | None = None, state_for: Path | None = None) -> TrainResult:
    """Train one model. `deadline` (time.monotonic()) bounds the run; `state_for` is the checkpoint
    path whose resume state is written after every epoch (and read first when config.resume)."""
    run = _set_up(images, targets, classes, config, log)
    if config.resume and state_for is not None:
        _restore(run, state_for, log)
    started = time.monotonic()
    clock = _Clock(run.total_steps, run.elapsed_before, _schedule_window(run.elapsed_before, started, deadline),
                   started)
    stop_reason = _epochs(run, clock, log, state_for)
    return _result(run, clock, stop_reason, log)


def amp_dtype_for(device: torch.device) -> torch.dtype | None:
    """Mixed precision only where it pays: on CUDA. CPUs without bf16 units get slower with it."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def evaluate(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, spec: ModelSpec,
             device: torch.device, batch_size: int = 1024, amp_dtype: torch.dtype | None = None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on uint8 images, in eval mode."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    with torch.inference_mode(), _autocast(device, amp_dtype):
        for start in range(0, len(images), batch_size):
            logits = model(to_input(images[start:start + batch_size], spec, device)).float()
            y = targets[start:start + batch_size].to(device)
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    n = max(1, len(images))
    return loss_sum.item() / n, correct.item() / n


# -- the steps -----------------------------------------------------------------------------------

def _set_up(images, targets, classes, config: TrainConfig, log: Log) -> _Run:
    torch.manual_seed(config.seed)
    configure_threads()
    device = pick_device(config.device)
    if device.type == "cpu":
        keep_heap_for_reuse()  # measured 1.1-1.3x faster epochs: page faults were a fifth of the CPU time
    amp_dtype = amp_dtype_for(device)
    log.info(f"training {config.arch} on {describe(device)}", event="train.start", device=str(device),
             rows=len(images), amp=str(amp_dtype), config=asdict(config))

    split_seed = config.seed if config.split_seed is None else config.split_seed
    train_idx, val_idx = split_stratified(targets, config.val_fraction, split_seed, log)
    x_train, y_train = images[train_idx], targets[train_idx]
    pixels = x_train.float().div(255.0)
    spec = ModelSpec(arch=config.arch, input_shape=tuple(images.shape[1:]), classes=list(classes),
                     arch_kwargs=dict(config.arch_kwargs), mean=pixels.mean().item(),
                     std=pixels.std().item() or 1.0)
    del pixels
    if device.type == "cuda":  # keep the whole data set resident: no host->device copy per batch
        x_train, y_train = x_train.to(device), y_train.to(device)

    model = in_device_layout(spec.build().to(device), device)
    return _Run(config=config, device=device, amp_dtype=amp_dtype, spec=spec, model=model,
                optimizer=torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay),
                scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype is torch.float16),
                generator=torch.Generator().manual_seed(config.seed),
                x_train=x_train, y_train=y_train, x_val=images[val_idx], y_val=targets[val_idx])


def _restore(run: _Run, state_for: Path, log: Log) -> None:
    saved = load_state(state_for, _state_config(run.config))
    if saved is None:
        return
    run.model.load_state_dict(saved["model"])
    run.optimizer.load_state_dict(saved["optimizer"])
    run.generator.set_state(saved["generator"])
    torch.set_rng_state(saved["torch_rng"])
    run.step, run.first_epoch = int(saved["scheduler"]["step"]), int(saved["epoch"]) + 1
    run.elapsed_before = float(saved["scheduler"]["elapsed_s"])
    run.history = list(saved["history"])
    run.best = {"acc": float(saved["best_acc"]), "loss": float(saved["best_loss"]), "state": saved["best_state"]}
    log.info(f"resuming after epoch {run.first_epoch - 1} of {run.config.epochs}", event="train.resume",
             epoch=run.first_epoch - 1, step=run.step)


def _schedule_window(elapsed_before: float, started: float, deadline: float | None) -> float | None:
    """The schedule's clock: the time to the deadline, less room for the last evaluation and the save."""
    if deadline is None:
        return None
    remaining = deadline - started
    return elapsed_before + max(1.0, remaining - (0.04 * remaining + 2.0))


def _epochs(run: _Run, clock: _Clock, log: Log, state_for: Path | None) -> str:
    """Train epoch after epoch until done, out of time, or out of patience; returns why it stopped."""
    config = run.config
    with log.progress("train", total=config.epochs, unit="epochs", event="train.progress") as bar:
        if run.first_epoch > 1:
            bar.advance(run.first_epoch - 1)
        for epoch in range(run.first_epoch, config.epochs + 1):
            trained = _train_epoch(run, clock)
            if trained is None:
                return "time_budget"
            row = _evaluate_epoch(run, epoch, clock, *trained)
            _report(bar, run, row, clock)
            if state_for is not None:
                _save_state(run, epoch, clock, state_for)
            if config.patience and len(run.x_val) and _epochs_since_best(run.history) >= config.patience:
                return "early_stopping"
            if clock.progress(run.step) >= 1.0:
                return "time_budget" if run.step < run.total_steps else "completed"
    return "completed"


def _train_epoch(run: _Run, clock: _Clock) -> tuple[float, float, float] | None:
    """One pass over the shuffled training rows: (mean loss, accuracy, last lr), or None when the
    budget ran out before its first step."""
    config, device = run.config, run.device
    run.model.train()
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    schedule = OneCycle(max_lr=config.lr)
    order = torch.randperm(len(run.x_train), generator=run.generator)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen, lr = 0, schedule.lr_at(clock.progress(run.step))
    for start in range(0, len(order), config.batch_size):
        done = clock.progress(run.step)
        if done >= 1.0:
            break
        lr = schedule.lr_at(done)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        idx = order[start:start + config.batch_size]
        x, y = _train_batch(run, idx)
        with _autocast(device, run.amp_dtype):
            logits = run.model(x)
        loss = criterion(logits.float(), y)
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
        run.step += 1
        seen += len(idx)
        loss_sum += loss.detach() * len(idx)
        correct += (logits.argmax(1) == y).sum()
    if seen == 0:
        return None
    return loss_sum.item() / seen, correct.item() / seen, lr


def _train_batch(run: _Run, idx: torch.Tensor):
    """One augmented, normalised batch. Augmentation runs on [0, 1] pixels so zero fill is background."""
    idx = idx.to(run.x_train.device)
    x = run.x_train[idx].to(run.device, non_blocking=True).float().div_(255.0)
    x = run.spec.normalise(augment(x, run.config.augmentation, run.generator))
    return in_device_layout(x, run.device), run.y_train[idx].to(run.device, non_blocking=True)


def _evaluate_epoch(run: _Run, epoch: int, clock: _Clock, train_loss: float, train_acc: float, lr: float) -> dict:
    """Validate, append the epoch's history row and keep the weights if they are the best so far."""
    has_val = len(run.x_val) > 0
    val_loss, val_acc = (evaluate(run.model, run.x_val, run.y_val, run.spec, run.device, amp_dtype=run.amp_dtype)
                         if has_val else (float("nan"), float("nan")))
    row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
           "val_acc": val_acc, "lr": lr, "elapsed_s": round(clock.elapsed(), 2)}
    run.history.append(row)
    best = run.best
    if not has_val or val_acc > best["acc"] or (val_acc == best["acc"] and val_loss < best["loss"]):
        run.best = {"acc": val_acc, "loss": val_loss,
                    "state": {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}}
    return row


def _report(bar: Progress, run: _Run, row: dict, clock: _Clock) -> None:
    fraction = clock.progress(run.step)
    left = clock.elapsed() * (1 - fraction) / fraction if fraction > 0 else float("nan")
    bar.advance(1, loss=row["train_loss"], val_acc=row["val_acc"], best=run.best["acc"], lr=row["lr"],
                left_s=round(left))


def _save_state(run: _Run, epoch: int, clock: _Clock, state_for: Path) -> None:
    save_state(state_for, {
        "config": _state_config(run.config), "epoch": epoch, "model": _cpu(run.model.state_dict()),
        "optimizer": run.optimizer.state_dict(), "scheduler": {"step": run.step, "elapsed_s": clock.elapsed()},
        "generator": run.generator.get_state(), "torch_rng": torch.get_rng_state(),
        "history": run.history, "best_acc": run.best["acc"], "best_loss": run.best["loss"],
        "best_state": run.best["state"]})


def _result(run: _Run, clock: _Clock, stop_reason: str, log: Log) -> TrainResult:
    """The best epoch's weights, on the CPU, with the run's metrics."""
    history = run.history
    if not history:
        raise BadInput("the time budget ended before the first training step; give more --time-budget")
    if stop_reason != "completed":
        log.info(f"stopped early ({stop_reason}) after {len(history)} epochs", event="train.stop",
                 reason=stop_reason, epochs_run=len(history))
    run.model.load_state_dict(run.best["state"])
    has_val = len(run.x_val) > 0
    chosen = max(history, key=lambda r: (r["val_acc"], -r["val_loss"])) if has_val else history[-1]
    metrics = {"val_accuracy": chosen["val_acc"], "val_loss": chosen["val_loss"], "best_epoch": chosen["epoch"],
               "epochs_run": len(history), "train_seconds": round(clock.elapsed(), 2), "stop_reason": stop_reason,
               "train_rows": len(run.x_train), "val_rows": len(run.x_val), "device": str(run.device)}
    model = run.model.to(memory_format=torch.contiguous_format)
    return TrainResult(model=model.cpu().eval(), spec=run.spec, metrics=metrics, history=history)


# -- small helpers -------------------------------------------------------------------------------

def _autocast(device: torch.device, amp_dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None)


def _epochs_since_best(history: list[dict]) -> int:
    best_at = max(range(len(history)), key=lambda i: (history[i]["val_acc"], -i))
    return len(history) - 1 - best_at


def _cpu(state: dict) -> dict:
    return {k: v.detach().cpu() for k, v in state.items()}


def _state_config(config: TrainConfig) -> dict:
    return {k: v for k, v in asdict(config).items() if k != "resume"}
