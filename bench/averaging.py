"""Does weight averaging pay? One training run, scored on the accuracy bench's holdout as trained and
as its averaged weights, so every comparison is paired (same seed, same steps, same holdout rows).

    python -m bench.averaging --preset default --seed 24 --threads 1
    python -m bench.averaging --preset default --seed 24 --decays 0.998 0.999 --last 3 5 10

The run is the product's own `train_to_checkpoint` (the saved checkpoint is the "raw" model). Beside
it the bench keeps, through the run's callbacks (core.train.callbacks), without changing a single
training step or random draw:
- an exponential moving average of the weights after every optimiser step, one per `--decays`
  (BatchNorm statistics averaged alike), and
- the weights at the end of each of the last max(`--last`) epochs, averaged over the last K epochs
  for each K (stochastic weight averaging over the annealed tail), with BatchNorm statistics
  averaged ("swaK") and recomputed over the un-augmented training rows ("swaK-bn").
One JSON line per run (to bench/results/averaging.jsonl): each variant's holdout errors (and with
the test-time shifts, with --shifts: 5x the scoring); each variant's probabilities are kept like
bench.accuracy's, so `python -m bench.accuracy --combine RUNID-variant ...` averages them with other runs.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.common import RESULTS_DIR, LoadSampler, commit, cpu_seconds, parse_overrides
from bench.holdout import PROBS, add_data_arguments, model_views, recompute_bn, score, split_to_files

RESULTS = RESULTS_DIR / "averaging.jsonl"


class Averages:
    """The averaged weights kept beside one training run through its callbacks: EMAs updated after
    every optimiser step and the last epochs' weights (they read the model: no draw and no step of
    the run changes)."""

    def __init__(self, decays: list[float], last: int):
        self.decays, self.last = decays, last
        self.emas: dict[float, object] = {}
        self.epochs: collections.deque = collections.deque(maxlen=last)

    def callbacks(self):
        from core.train.callbacks import Callbacks

        return Callbacks(on_train_start=self.start, on_step_end=self.update, on_epoch_end=self.end_of_epoch)

    def start(self, model, spec) -> None:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        self.emas = {d: AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(d), use_buffers=True)
                     for d in self.decays}

    def update(self, step: int, model) -> None:
        for ema in self.emas.values():
            ema.update_parameters(model)

    def end_of_epoch(self, epoch: int, model, metrics: dict) -> None:
        self.epochs.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})

    def swa_state(self, k: int) -> dict:
        """The mean of the last k epochs' weights and BatchNorm statistics (batch counts: the last's)."""
        import torch

        states = list(self.epochs)[-k:]
        return {name: (torch.stack([s[name].float() for s in states]).mean(0).to(value.dtype)
                       if value.is_floating_point() else value) for name, value in states[-1].items()}


def variants(result, averages: Averages, lasts: list[int], train_images) -> dict:
    """{variant name: model} for the raw weights, each EMA and each tail average."""
    found = {"raw": result.model}
    for decay, ema in averages.emas.items():
        found[f"ema{decay:g}"] = ema.module.cpu()
    for k in lasts:
        if k > len(averages.epochs):
            continue
        averaged = result.spec.build()
        averaged.load_state_dict(averages.swa_state(k))
        found[f"swa{k}"] = averaged
        recomputed = result.spec.build()
        recomputed.load_state_dict(averages.swa_state(k))
        recompute_bn(recomputed, result.spec, train_images)
        found[f"swa{k}-bn"] = recomputed
    return found


def run(args) -> dict:
    from core.base.log import Log
    from core.train.config import config_for
    from core.train.pipeline import train_to_checkpoint

    overrides = parse_overrides(args.set)
    config = config_for(args.preset, seed=args.seed, device="cpu", **overrides)
    config.time_budget_min = None  # fixed epochs: a loaded machine cannot change the comparison
    if config.members > 1 or config.tta:
        raise SystemExit("bench.averaging: one model at a time (members=1, no tta)")
    averages = Averages(args.decays, max(args.last, default=1))
    started, cpu_before = time.monotonic(), cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="averaging-bench-") as tmp, LoadSampler() as load:
        tmp = Path(tmp)
        images, labels, train_idx, holdout_idx = split_to_files(args, tmp)
        result = train_to_checkpoint(tmp / "train.csv", tmp / "model.pt", config, Log(fmt="json"),
                                     callbacks=averages.callbacks())
        train_wall = time.monotonic() - started
        models = variants(result, averages, args.last, images[train_idx])
        y = labels[holdout_idx].numpy()
        probs = {name: model_views(model, result.spec, images[holdout_idx], shifts=args.shifts)
                 for name, model in models.items()}
    run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{args.label or 'averaging'}"
    if args.probs_dir:
        args.probs_dir.mkdir(parents=True, exist_ok=True)
        for name, p in probs.items():
            np.savez_compressed(args.probs_dir / f"{run_id}-{name}.npz", labels=y, model=p.astype(np.float16))
    found = {name: {"plain": score(p[0], y), **({"tta": score(p.mean(0), y)} if args.shifts else {})}
             for name, p in probs.items()}
    return {"bench": "averaging", "run_id": run_id, "label": args.label, "preset": args.preset,
            "overrides": overrides, "commit": commit(),
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "holdout": {"rows": len(holdout_idx), "seed": args.holdout_seed}, "train_subset": args.train_rows,
            "errors": {name: v["plain"]["errors"] for name, v in found.items()},
            "errors_tta": {name: v["tta"]["errors"] for name, v in found.items()} if args.shifts else None,
            "variants": found,
            "epochs_run": result.metrics["epochs_run"], "train_rows": result.metrics["train_rows"],
            "wall_s": round(time.monotonic() - started, 1), "train_wall_s": round(train_wall, 1),
            "cpu_s": round(cpu_seconds() - cpu_before, 1),
            "threads": os.environ.get("KAGGLE_JOB_THREADS") or len(os.sched_getaffinity(0)),
            "loadavg": load.summary(), "config": asdict(config)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a TrainConfig field")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--decays", type=float, nargs="*", default=[0.998, 0.999, 0.9995])
    parser.add_argument("--last", type=int, nargs="*", default=[3, 5, 10], help="tail averages over K epochs")
    parser.add_argument("--shifts", action="store_true", help="also score each variant with the test-time shifts")
    parser.add_argument("--label")
    add_data_arguments(parser)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (KAGGLE_JOB_THREADS)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--probs-dir", type=Path, default=PROBS)
    args = parser.parse_args(argv)
    if args.threads:
        os.environ["KAGGLE_JOB_THREADS"] = str(args.threads)
    line = run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
    print(json.dumps({k: line[k] for k in ("run_id", "errors", "errors_tta", "wall_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
