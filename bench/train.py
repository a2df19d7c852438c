"""Train one preset on the real Digit Recognizer train.csv and print one JSON line with the outcome.

    python -m bench.train --preset default            # the 15-minute target
    python -m bench.train --preset fast --time-budget 3

Reads /work/shared/data/digit-recognizer.zip (or --zip / --train-csv), learns only from train.csv,
and reports validation accuracy, epochs and wall time, plus the machine's load so a figure taken on
a shared machine can be told from one on a quiet machine. Extra `--set key=value` pairs override
TrainConfig fields (e.g. --set epochs=20 --set rotate_deg=8).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
import zipfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from bench.common import DEFAULT_ZIP, parse_overrides


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--train-csv", type=Path, help="use this train.csv instead of the zip's")
    parser.add_argument("--time-budget", type=float, help="minutes (overrides the preset's)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (KAGGLE_JOB_THREADS)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--checkpoint", type=Path, help="keep the checkpoint here (default: a temp dir)")
    parser.add_argument("--output", type=Path, help="also append the JSON line to this file")
    args = parser.parse_args()
    if args.threads:
        os.environ["KAGGLE_JOB_THREADS"] = str(args.threads)

    from core.base.log import Log
    from core.train.config import config_for
    from core.train.pipeline import train_to_checkpoint

    config = config_for(args.preset, seed=args.seed, device=args.device, time_budget_min=args.time_budget,
                        **parse_overrides(args.set))
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        train_csv = args.train_csv
        if train_csv is None:
            with zipfile.ZipFile(args.zip) as archive:
                archive.extract("train.csv", tmp)
            train_csv = Path(tmp) / "train.csv"
        checkpoint = args.checkpoint or Path(tmp) / "bench.pt"
        result = train_to_checkpoint(train_csv, checkpoint, config, Log(fmt="json"))
    wall = time.monotonic() - started
    line = {
        "bench": "train", "preset": args.preset, "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "val_accuracy": _rounded(result.metrics["val_accuracy"]), "epochs_run": result.metrics["epochs_run"],
        "best_epoch": result.metrics["best_epoch"], "stop_reason": result.metrics.get("stop_reason"),
        "wall_s": round(wall, 1), "train_s": result.metrics["train_seconds"],
        # CPU seconds used: with --threads 1 about what a quiet machine's wall time would be for one core.
        "cpu_s": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1),
        "member_val_accuracy": result.metrics.get("member_val_accuracy"),
        "cpu_count": os.cpu_count(), "threads": os.environ.get("KAGGLE_JOB_THREADS"),
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        "config": asdict(config),
    }
    text = json.dumps(line)
    print(text, flush=True)
    if args.output:
        with open(args.output, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0


def _rounded(accuracy: float | None) -> float | None:
    return None if accuracy is None else round(accuracy, 5)  # None: trained on every row (--set val_fraction=0)


if __name__ == "__main__":
    raise SystemExit(main())
