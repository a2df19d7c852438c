"""Fixes after training, on a kept checkpoint: scored on the accuracy bench's holdout as trained, with its
BatchNorm statistics re-estimated on the un-augmented training rows, and with test-time rotations and
zooms, so every comparison is paired (one model, the same holdout rows).

    python -m bench.accuracy --preset default --seed 24 --checkpoint ck24.pt --threads 1
    python -m bench.posthoc ck24.pt

The data options must be the ones the checkpoint was trained with (the same holdout, and the same
training rows for the re-estimate). One JSON line per checkpoint (to bench/results/posthoc.jsonl): the
holdout errors of each single view and of the averages that a test-time scheme would use.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.common import RESULTS_DIR, commit
from bench.holdout import add_data_arguments, model_views, recompute_bn, score, split_to_files

RESULTS = RESULTS_DIR / "posthoc.jsonl"
# name -> (degrees, scale): small rotations and zooms like the training augmentation's (±8°, ±8%)
WARPS = {"rotate+6": (6.0, 1.0), "rotate-6": (-6.0, 1.0), "rotate+3": (3.0, 1.0), "rotate-3": (-3.0, 1.0),
         "zoom0.94": (0.0, 0.94), "zoom1.06": (0.0, 1.06)}
SCHEMES = {"rotations 6": ("plain", "rotate+6", "rotate-6"), "rotations 3": ("plain", "rotate+3", "rotate-3"),
           "zooms": ("plain", "zoom0.94", "zoom1.06"), "all seven": ("plain", *WARPS)}


def warped_probs(model, spec, images, degrees: float, scale: float, batch: int = 1000) -> np.ndarray:
    """(rows, classes) probabilities of the images rotated by `degrees` and zoomed by `scale` (bilinear)."""
    import torch
    import torch.nn.functional as F

    from core.model.spec import to_input

    angle = math.radians(degrees)
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]])
    model.eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = to_input(images[start:start + batch], spec, torch.device("cpu"))
            grid = F.affine_grid(theta.expand(len(x), 2, 3), list(x.shape), align_corners=False)
            chunks.append(torch.softmax(model(F.grid_sample(x, grid, align_corners=False)).float(), 1))
    return torch.cat(chunks).numpy()


def score_checkpoint(path: Path, images, labels, train_idx, holdout_idx) -> dict:
    from core.model.checkpoint import load_checkpoint

    loaded = load_checkpoint(path)
    model, y = loaded.model(), labels[holdout_idx].numpy()
    views = {"plain": model_views(model, loaded.spec, images[holdout_idx], shifts=False)[0]}
    for name, (degrees, scale) in WARPS.items():
        views[name] = warped_probs(model, loaded.spec, images[holdout_idx], degrees, scale)
    recalibrated = copy.deepcopy(model)
    recompute_bn(recalibrated, loaded.spec, images[train_idx])
    views["bn-reestimated"] = model_views(recalibrated, loaded.spec, images[holdout_idx], shifts=False)[0]
    return {"views": {name: score(p, y)["errors"] for name, p in views.items()},
            "averaged": {name: score(np.mean([views[v] for v in names], 0), y)["errors"]
                         for name, names in SCHEMES.items()},
            "rows": len(y)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    add_data_arguments(parser)
    parser.add_argument("--output", type=Path, default=RESULTS, help="append the JSON lines here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="posthoc-bench-") as tmp:
        images, labels, train_idx, holdout_idx = split_to_files(args, Path(tmp))
    for path in args.checkpoints:
        line = {"bench": "posthoc", "checkpoint": str(path), "commit": commit(),
                "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "holdout": {"rows": len(holdout_idx), "seed": args.holdout_seed, "half": args.holdout_half},
                **score_checkpoint(path, images, labels, train_idx, holdout_idx)}
        print(json.dumps(line), flush=True)
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            with open(args.output, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
