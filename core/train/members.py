"""Ensembles: members trained on one shared split (or each on its own folds: TrainConfig.folds), then
bundled (with optional test-time shifts) into one checkpoint whose architecture is "ensemble"
(core.model.ensemble).

Each member is saved as its own checkpoint (X.member1.pt, ...) as soon as it is trained, so an
interrupted `best` run resumed with --resume reuses the members it already finished.

Members are independent, so under torchrun they are spread over the ranks (member i on rank
i mod world, each rank training its own members one after another on its own device), and rank 0
bundles them from their files: N members on N GPUs take the time of one. The ranks must share
the checkpoint's folder (one machine, or a shared filesystem).
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path

from core.base.errors import BadInput
from core.base.log import Log
from core.dist.world import SINGLE, World
from core.model.checkpoint import beside, load_checkpoint
from core.model.devices import pick_device
from core.model.ensemble import TTA_SHIFTS, bundle_state_dict, ensemble_kwargs
from core.model.spec import ModelSpec
from core.train.callbacks import Callbacks
from core.train.config import TrainConfig, saved_with_defaults
from core.train.data import split_stratified
from core.train.loop import TrainResult, evaluate, train_model
from core.train.outputs import describe_validation, save_result
from core.train.pseudo import PseudoLabels
from core.train.resume import RESUMABLE_CHANGES


def train_ensemble(images, targets, classes, checkpoint: Path, config: TrainConfig, log: Log,
                   deadline: float | None, data_sha: str, world: World = SINGLE, *,
                   callbacks: Callbacks | None = None, dataset: str | None = None,
                   extra: PseudoLabels | None = None, meta: dict | None = None) -> TrainResult:
    """Every rank trains its members; rank 0 bundles them; every rank returns the bundle. Each member
    trained here calls `callbacks` (one reused from an interrupted run does not); `extra`: pseudo-labelled
    rows every member trains on too; `meta`: more to record in the bundle's checkpoint."""
    split_seed = config.seed if config.split_seed is None else config.split_seed
    mine = [i for i in range(config.members) if i % world.size == world.rank]
    if config.members > 1 and pick_device(config.device).type == "cpu":  # the log speaks for rank 0 only
        # `best` on a CPU costs hours; say before they are spent what the holdout says they buy there.
        rounds = -(-config.members // world.size)  # members train one after another on each rank
        log.info(f"{config.members} members on the CPU: about {rounds}x one model's training time; on 2 CPU "
                 "cores no average of members has measured better than one `default` model (docs/training.md, "
                 "\"What best buys\")", event="train.members_on_cpu", members=config.members)

    def train_mine() -> dict[int, TrainResult]:
        trained = {}
        for done, i in enumerate(mine):
            # Each of this rank's remaining members gets an equal share of the time left.
            share_deadline = None if deadline is None else \
                time.monotonic() + (deadline - time.monotonic()) / (len(mine) - done)
            trained[i] = _member(i, images, targets, classes, checkpoint, config, split_seed, log,
                                 share_deadline, data_sha, callbacks, extra)
        return trained

    trained = world.agree(train_mine)
    return world.from_rank0(lambda: _bundle(trained, images, targets, classes, checkpoint, config, split_seed,
                                            log, data_sha, dataset, meta))


def _bundle(trained: dict[int, TrainResult], images, targets, classes, checkpoint: Path, config: TrainConfig,
            split_seed: int, log: Log, data_sha: str, dataset: str | None, meta: dict | None) -> TrainResult:
    members = [trained.get(i) or _from_other_rank(i, checkpoint, config, split_seed, data_sha)
               for i in range(config.members)]
    spec = _bundle_spec(members, classes, config)
    model = spec.build()
    model.load_state_dict(bundle_state_dict([m.model for m in members]))
    metrics = _bundle_metrics(model.eval(), spec, members, images, targets, config, split_seed)
    log.info(f"ensemble of {len(members)} with {metrics['tta_views']} test-time views: "
             f"{describe_validation(metrics)}"
             + (f" (members {', '.join(f'{a:.4f}' for a in metrics['member_val_accuracy'])})"
                if metrics["val_accuracy"] is not None else ""),
             event="train.ensemble", **metrics)
    history = [{**row, "member": i + 1} for i, m in enumerate(members) for row in m.history]
    result = TrainResult(model=model.cpu().eval(), spec=spec, metrics=metrics, history=history)
    save_result(checkpoint, result, config, data_sha, dataset=dataset,
                members=[beside(checkpoint).member(i).name for i in range(len(members))], **(meta or {}))
    return result


def _member_config(i: int, config: TrainConfig, split_seed: int) -> TrainConfig:
    return replace(config.for_member(i), split_seed=split_seed)


def _member(i: int, images, targets, classes, checkpoint: Path, config: TrainConfig, split_seed: int, log: Log,
            deadline: float | None, data_sha: str, callbacks: Callbacks | None,
            extra: PseudoLabels | None = None) -> TrainResult:
    member_config = _member_config(i, config, split_seed)
    path = beside(checkpoint).member(i)
    reused = finished_run(path, member_config, data_sha) if config.resume else None
    if reused is not None:
        log.info(f"member {i + 1}/{config.members}: reusing {path}", event="train.member", member=i + 1)
        return reused
    described = "".join(f", {key}={value}" for key, value in config.variant(i).items())
    log.info(f"member {i + 1}/{config.members} (seed {member_config.seed}{described})", event="train.member",
             member=i + 1)
    result = train_model(images, targets, classes, member_config, log, deadline=deadline, state_for=path,
                         world=SINGLE, callbacks=callbacks, extra=extra)
    save_result(path, result, member_config, data_sha)
    return result


def _from_other_rank(i: int, checkpoint: Path, config: TrainConfig, split_seed: int, data_sha: str) -> TrainResult:
    path = beside(checkpoint).member(i)
    member = finished_run(path, _member_config(i, config, split_seed), data_sha)
    if member is None:
        raise BadInput(f"{path}: member {i + 1}, trained on another rank, is not there; the ranks must share "
                       "the checkpoint's folder (one machine, or a shared filesystem)")
    return member


def _bundle_spec(members: list[TrainResult], classes, config: TrainConfig) -> ModelSpec:
    first = members[0].spec
    return ModelSpec(arch="ensemble", input_shape=first.input_shape, classes=list(classes),
                     arch_kwargs=ensemble_kwargs([m.spec for m in members], TTA_SHIFTS if config.tta else None,
                                                 first.mean, first.std),
                     mean=first.mean, std=first.std, pixel_order=first.pixel_order, value_range=first.value_range)


def _bundle_metrics(model, spec: ModelSpec, members: list[TrainResult], images, targets, config: TrainConfig,
                    split_seed: int) -> dict:
    """The bundle's own validation figures (on the members' shared split) beside the members'. With
    folds there is no row that no member trained on: the bundle has no validation figure, and
    `oob_accuracy` pools each member's accuracy on its own held-out fold (what one member scores on
    rows it never saw, over every row left out)."""
    _, val_idx = split_stratified(targets, 0.0 if config.folds else config.val_fraction, split_seed)
    device = pick_device(config.device)
    val_loss, val_acc = (evaluate(model.to(device), images[val_idx], targets[val_idx], spec, device, batch_size=512)
                         if len(val_idx) else (None, None))
    pseudo = members[0].metrics.get("pseudo_rows")  # every member trained on the same pseudo-labelled rows
    return {"val_accuracy": val_acc, "val_loss": val_loss,
            "member_val_accuracy": [m.metrics["val_accuracy"] for m in members],
            "members": len(members), "tta_views": len(spec.arch_kwargs["tta_shifts"]),
            "best_epoch": max(m.metrics["best_epoch"] for m in members),
            "epochs_run": sum(m.metrics["epochs_run"] for m in members),
            "train_seconds": round(sum(m.metrics["train_seconds"] for m in members), 2),
            # every row outside the shared split trained some member (with folds: every row)
            "train_rows": len(targets) - len(val_idx) + (pseudo or 0),
            "val_rows": len(val_idx), "device": str(device),
            **({"pseudo_rows": pseudo} if pseudo is not None else {}),
            **({"oob_accuracy": _pooled(members)} if config.folds else {})}


def _pooled(members: list[TrainResult]) -> float | None:
    """The members' validation accuracies weighted by their validation rows (None without any)."""
    rows = sum(m.metrics["val_rows"] for m in members if m.metrics["val_accuracy"] is not None)
    return sum(m.metrics["val_accuracy"] * m.metrics["val_rows"] for m in members
               if m.metrics["val_accuracy"] is not None) / rows if rows else None


def finished_run(path: Path, config: TrainConfig, data_sha: str) -> TrainResult | None:
    """A checkpoint an interrupted run finished (a `best` member, a pseudo-labelling run's round 1), if it
    was trained on this data with this recipe."""
    if not path.is_file():
        return None
    ckpt = load_checkpoint(path)
    saved = {k: v for k, v in saved_with_defaults(ckpt.meta.get("train_config", {})).items()
             if k not in RESUMABLE_CHANGES}
    wanted = {k: v for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES}
    if ckpt.meta.get("data_sha256") != data_sha or saved != wanted:
        return None
    return TrainResult(model=ckpt.model(), spec=ckpt.spec, metrics=ckpt.metrics,
                       history=list(ckpt.meta.get("history", [])))
