"""Training one model: in-memory uint8 tensors, batched augmentation, a progress-driven one-cycle
schedule that fits a time budget, the best epoch by validation kept (or the last, with
`keep_last`), and a resume file after every epoch.

`train_model` reads top to bottom as the steps of a run: set up, restore (when resuming), wrap for
data parallelism, epochs (each: train, evaluate, keep the best (or last), save the resume state, decide
whether to stop), result.

Under torchrun the ranks train one model with DistributedDataParallel: every rank holds the data
and makes the same split; a DistributedSampler (seed, set_epoch) deals each global batch of
`batch_size` rows out as `batch_size / world` rows per rank, so the steps, the learning-rate
schedule and the averaged gradients are those of a single process; validation sums are
all-reduced; with a time budget the schedule follows the clock of the rank furthest along
(all-reduce max every few steps), so every rank uses the same learning rate and stops at the same
step. Only rank 0 writes the resume state.

`callbacks` (core.train.callbacks) let a caller watch the run: at its start, after every optimiser
step and every epoch, on every rank, without changing a step of it.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data.distributed import DistributedSampler

from core.base.errors import BadInput
from core.base.log import Log, Progress
from core.base.memory import keep_heap_for_reuse
from core.dist.shards import share
from core.dist.world import SINGLE, World, current_world
from core.model.devices import (
    configure_threads,
    describe,
    in_device_layout,
    pick_device,
    precision_name,
    training_precision,
)
from core.model.spec import ModelSpec, to_input
from core.train.augment import augment
from core.train.callbacks import Callbacks
from core.train.config import TrainConfig
from core.train.data import split_fold, split_stratified
from core.train.pseudo import PseudoLabels
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
    world: World
    device: torch.device
    amp_dtype: torch.dtype | None
    spec: ModelSpec
    model: nn.Module  # the bare model: its state_dict is what gets saved
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    generator: torch.Generator  # the shuffle and the augmentation draws (see _epoch_order)
    sampler: DistributedSampler | None  # under torchrun: this rank's rows of each epoch
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    pseudo_rows: int | None = None  # of x_train, the pseudo-labelled rows (None: not a pseudo-labelling round)
    net: nn.Module | None = None  # what the training steps call: DDP(model) under torchrun, else model
    callbacks: Callbacks = field(default_factory=Callbacks)
    agreed_time: float = 0.0  # under torchrun with a time budget: the ranks' last agreed progress by time
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
                log: Log, *, deadline: float | None = None, state_for: Path | None = None,
                world: World | None = None, callbacks: Callbacks | None = None,
                extra: PseudoLabels | None = None) -> TrainResult:
    """Train one model. `deadline` (time.monotonic()) bounds the run; `state_for` is the checkpoint
    path whose resume state is written after every epoch (and read first when config.resume).
    `world`: the ranks training this model together (default: the command's; SINGLE for one rank alone).
    `callbacks`: called at the start and after every step and epoch (core.train.callbacks).
    `extra`: pseudo-labelled rows (core.train.pseudo) that join the training rows, never the validation split."""
    world = world or current_world()

    def prepared() -> _Run:  # every rank restores before the model is wrapped (and rank 0's weights broadcast)
        run = _set_up(images, targets, classes, config, log, world, extra)
        if config.resume and state_for is not None:
            _restore(run, state_for, log)
        return run

    run = world.agree(prepared)
    run.callbacks = callbacks or Callbacks()
    _data_parallel(run)
    run.callbacks.train_started(run.model, run.spec)
    started = time.monotonic()
    clock = _Clock(run.total_steps, run.elapsed_before, _schedule_window(run.elapsed_before, started, deadline),
                   started)
    with world.peer_failures():  # a rank that dies mid-step breaks DDP's own all-reduce
        stop_reason = _epochs(run, clock, log, state_for)
    return _result(run, clock, stop_reason, log)


def evaluate(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, spec: ModelSpec,
             device: torch.device, batch_size: int = 1024, world: World = SINGLE) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on uint8 images, in eval mode and in fp32 whatever the
    training precision, as predict runs the saved weights. Under a distributed `world` each rank
    scores its contiguous share and the sums are all-reduced."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    low, high = share(len(images), world.rank, world.size)
    with torch.inference_mode():
        for start in range(low, high, batch_size):
            stop = min(start + batch_size, high)
            logits = model(to_input(images[start:stop], spec, device)).float()
            y = targets[start:stop].to(device)
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    world.all_reduce(loss_sum)
    world.all_reduce(correct)
    n = max(1, len(images))
    return loss_sum.item() / n, correct.item() / n


# -- the steps -----------------------------------------------------------------------------------

def _set_up(images, targets, classes, config: TrainConfig, log: Log, world: World,
            extra: PseudoLabels | None = None) -> _Run:
    if config.batch_size % world.size:
        raise BadInput(f"--batch-size {config.batch_size}: must be a multiple of the {world.size} ranks "
                       "(each rank takes batch-size / ranks rows of every step)")
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    configure_threads()
    device = pick_device(config.device)
    if device.type == "cpu":
        keep_heap_for_reuse()  # measured 1.1-1.3x faster epochs: page faults were a fifth of the CPU time
    amp_dtype = training_precision(device, config.precision)
    ranks = f" on each of {world.size} ranks" if world.distributed else ""
    precision = precision_name(amp_dtype)
    log.info(f"training {config.arch} on {describe(device)}{ranks} in {precision}", event="train.start",
             device=str(device), rows=len(images), precision=precision, ranks=world.size, config=asdict(config))

    split_seed = config.seed if config.split_seed is None else config.split_seed
    train_idx, val_idx = split_fold(targets, config.folds, config.fold, split_seed) if config.folds else \
        split_stratified(targets, config.val_fraction, split_seed, log)
    if len(train_idx) < 2:  # batch normalisation needs two rows to normalise
        raise BadInput(f"{len(train_idx)} row(s) to train on after the validation split; training needs at least 2")
    if not len(val_idx) and (not config.keep_last or config.patience):
        log.warn("no validation rows: the last epoch is kept and early stopping is off", event="train.no_validation")
    x_train, y_train = images[train_idx], targets[train_idx]
    if extra is not None and len(extra.targets):
        x_train, y_train = torch.cat([x_train, extra.images]), torch.cat([y_train, extra.targets])
    pixels = x_train.float().div(255.0)
    # The range travels with the model so that prediction can tell when its input is on another scale
    # (0..255 pixels fed to a model trained on 0..16 ones): numbers come out either way, wrong ones.
    low, high = x_train.aminmax()  # at least 2 rows: checked above
    spec = ModelSpec(arch=config.arch, input_shape=tuple(images.shape[1:]), classes=list(classes),
                     arch_kwargs=dict(config.arch_kwargs), mean=pixels.mean().item(),
                     std=pixels.std().item() or 1.0, pixel_order=config.pixel_order,
                     value_range=(int(low), int(high)))
    del pixels
    if device.type == "cuda":  # keep the whole data set resident: no host->device copy per batch
        x_train, y_train = x_train.to(device), y_train.to(device)

    model = spec.build()
    if device.type == "cuda" and world.distributed:  # batch statistics over the global batch, not a rank's slice
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = in_device_layout(model.to(device), device)
    sampler = DistributedSampler(range(len(x_train)), num_replicas=world.size, rank=world.rank, shuffle=True,
                                 seed=config.seed, drop_last=False) if world.distributed else None
    return _Run(config=config, world=world, device=device, amp_dtype=amp_dtype, spec=spec, model=model,
                optimizer=_optimizer(model, config),
                scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype is torch.float16),
                generator=torch.Generator().manual_seed(config.seed), sampler=sampler,
                x_train=x_train, y_train=y_train, x_val=images[val_idx], y_val=targets[val_idx],
                pseudo_rows=None if extra is None else len(extra.targets))


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                               weight_decay=config.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


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


def _data_parallel(run: _Run) -> None:
    """DDP around the model under torchrun (it broadcasts rank 0's weights); the model itself otherwise."""
    if not run.world.distributed:
        run.net = run.model
        return
    from torch.nn.parallel import DistributedDataParallel

    cuda = run.device.type == "cuda"
    index = run.device.index if run.device.index is not None else (torch.cuda.current_device() if cuda else None)
    # No buffer broadcast before every forward (one collective per step less): rank 0's BatchNorm
    # statistics are broadcast before each evaluation instead (_evaluate_epoch). Newer torch names
    # the switch forward_sync_buffers.
    no_sync = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
               else "broadcast_buffers")
    run.net = DistributedDataParallel(run.model, device_ids=[index] if cuda else None, gradient_as_bucket_view=True,
                                      **{no_sync: False})


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
            trained = _train_epoch(run, clock, epoch)
            if trained is None:
                return "time_budget"
            row = _evaluate_epoch(run, epoch, clock, *trained)
            run.callbacks.epoch_ended(epoch, run.model, row)
            _report(bar, run, row, clock)
            if state_for is not None:
                run.world.on_rank0(lambda: _save_state(run, epoch, clock, state_for))
            if config.patience and len(run.x_val) and _epochs_since_best(run.history) >= config.patience:
                return "early_stopping"
            if _agreed_progress(run, clock, every=1) >= 1.0:
                return "time_budget" if run.step < run.total_steps else "completed"
    return "completed"


def _train_epoch(run: _Run, clock: _Clock, epoch: int) -> tuple[float, float, float] | None:
    """One pass over the shuffled training rows: (mean loss, accuracy, last lr) over every rank, or
    None when the budget ran out before its first step."""
    config, device = run.config, run.device
    run.net.train()
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    schedule = OneCycle(max_lr=config.lr)
    order = _epoch_order(run, epoch)
    per_rank = config.batch_size // run.world.size
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = torch.zeros((), device=device, dtype=torch.long)
    lr = schedule.lr_at(clock.progress(run.step))
    for start in range(0, len(order), per_rank):
        done = _agreed_progress(run, clock)
        if done >= 1.0:
            break
        lr = schedule.lr_at(done)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        idx = order[start:start + per_rank]
        if len(idx) == 1 < per_rank:  # a last batch of one row: BatchNorm cannot normalise a 1x1 map of one
            continue
        x, y = _train_batch(run, idx)
        x, mixed = _mixed(x, y, config.mixup, run.generator)
        with _autocast(device, run.amp_dtype):
            logits = run.net(x)
        loss = criterion(logits.float(), y) if mixed is None else mixed(criterion, logits.float())
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
        run.step += 1
        run.callbacks.step_ended(run.step, run.model)
        seen += len(idx)
        loss_sum += loss.detach() * len(idx)
        correct += (logits.argmax(1) == y).sum()
    for total in (loss_sum, correct, seen):
        run.world.all_reduce(total)
    if seen.item() == 0:
        return None
    return loss_sum.item() / seen.item(), correct.item() / seen.item(), lr


# Each agreement is a collective that waits for the slowest rank; on a busy CPU that wait, not the
# message, is the cost. Every 8 steps the learning rate lags the clock by under 8 steps (~0.3 s
# here) and a budget can be overrun by as much, well inside the room _schedule_window keeps.
AGREE_EVERY_STEPS = 8


def _epoch_order(run: _Run, epoch: int) -> torch.Tensor:
    """The rows this rank trains on this epoch, in order.

    One process: a permutation drawn from the run's generator, which then draws the augmentation
    (its state is in the resume file), as always. Under torchrun: the DistributedSampler's share of
    the permutation seeded by (seed, epoch), identical on every rank; then the augmentation and
    dropout draws are reseeded from (seed, rank, epoch), so ranks draw differently and a resumed
    run draws what the uninterrupted one would have, whatever the number of ranks it resumes with.
    """
    if run.sampler is None:
        return torch.randperm(len(run.x_train), generator=run.generator)
    run.sampler.set_epoch(epoch)
    seed = (run.config.seed * 1_000_003 + run.world.rank * 7_919 + epoch) % 2**63
    run.generator.manual_seed(seed)
    torch.manual_seed(seed)
    return torch.tensor(list(run.sampler), dtype=torch.long)


def _agreed_progress(run: _Run, clock: _Clock, every: int = AGREE_EVERY_STEPS) -> float:
    """Progress through the schedule; with a time budget under torchrun, the same on every rank
    (the clock of the rank furthest along, agreed every `every` steps: steps are counted alike on
    all ranks, time is not), so every rank sets the same learning rate and stops at the same step."""
    done = clock.progress(run.step)
    if clock.window_s is None or not run.world.distributed:
        return done
    if run.step % every == 0:
        mine = torch.tensor([clock.elapsed() / clock.window_s], dtype=torch.float64, device=run.device)
        run.agreed_time = float(run.world.all_reduce(mine, "max").item())
    return max(run.step / max(1, run.total_steps), run.agreed_time)


def _train_batch(run: _Run, idx: torch.Tensor):
    """One augmented, normalised batch. Augmentation runs on [0, 1] pixels so zero fill is background."""
    idx = idx.to(run.x_train.device)
    x = run.x_train[idx].to(run.device, non_blocking=True).float().div_(255.0)
    x = run.spec.normalise(augment(x, run.config.augmentation, run.generator))
    return in_device_layout(x, run.device), run.y_train[idx].to(run.device, non_blocking=True)


def _mixed(x: torch.Tensor, y: torch.Tensor, alpha: float, generator: torch.Generator):
    """Mixup (Zhang et al.): the batch blended with itself in another order, weight lam ~ Beta(alpha,
    alpha), and a loss that blends the two labels alike; (x, None) when alpha is 0. lam is drawn
    through numpy seeded from the run's generator, whose state the resume file keeps."""
    if not alpha:
        return x, None
    seed = int(torch.randint(2**62, (1,), generator=generator))
    lam = float(np.random.default_rng(seed).beta(alpha, alpha))
    order = torch.randperm(len(x), generator=generator).to(x.device)
    other = y[order]
    return lam * x + (1 - lam) * x[order], lambda loss, logits: lam * loss(logits, y) + (1 - lam) * loss(logits, other)


def _evaluate_epoch(run: _Run, epoch: int, clock: _Clock, train_loss: float, train_acc: float, lr: float) -> dict:
    """Validate, append the epoch's history row and keep the weights if they are the best so far
    (with `keep_last`: always)."""
    has_val = len(run.x_val) > 0
    for buffer in run.model.buffers():  # BatchNorm statistics: rank 0's on every rank
        run.world.broadcast_(buffer)
    val_loss, val_acc = (evaluate(run.model, run.x_val, run.y_val, run.spec, run.device, world=run.world)
                         if has_val else (float("nan"), float("nan")))
    row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
           "val_acc": val_acc, "lr": lr, "elapsed_s": round(clock.elapsed(), 2)}
    run.history.append(row)
    best = run.best
    if (not has_val or run.config.keep_last or val_acc > best["acc"]
            or (val_acc == best["acc"] and val_loss < best["loss"])):
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
    """The kept epoch's weights (the best, or the last with `keep_last`), on the CPU, with the run's metrics."""
    history = run.history
    if not history:
        raise BadInput("the time budget ended before the first training step; give more --time-budget")
    if stop_reason != "completed":
        log.info(f"stopped early ({stop_reason}) after {len(history)} epochs", event="train.stop",
                 reason=stop_reason, epochs_run=len(history))
    model = run.spec.build()  # plain modules (no DDP wrapper, no SyncBatchNorm), on the CPU
    model.load_state_dict(run.best["state"])
    has_val = len(run.x_val) > 0
    keep_best = has_val and not run.config.keep_last
    chosen = max(history, key=lambda r: (r["val_acc"], -r["val_loss"])) if keep_best else history[-1]
    metrics = {"val_accuracy": chosen["val_acc"] if has_val else None,  # None: trained on every row
               "val_loss": chosen["val_loss"] if has_val else None, "best_epoch": chosen["epoch"],
               "epochs_run": len(history), "train_seconds": round(clock.elapsed(), 2), "stop_reason": stop_reason,
               "train_rows": len(run.x_train), "val_rows": len(run.x_val), "device": str(run.device),
               "precision": precision_name(run.amp_dtype), "ranks": run.world.size,
               **({} if run.pseudo_rows is None else {"pseudo_rows": run.pseudo_rows})}
    return TrainResult(model=model.eval(), spec=run.spec, metrics=metrics, history=history)


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
