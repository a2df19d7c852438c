"""Accuracy on a fixed holdout of train.csv that no training or model selection ever sees.

    python bench/accuracy_bench.py --preset default                     # one JSON line per run
    python bench/accuracy_bench.py --preset default --set epochs=12 --set elastic_px=1.5 --label screen
    python bench/accuracy_bench.py --combine RUN_ID RUN_ID ...          # average saved holdout probabilities
    python bench/accuracy_bench.py --combine RUN_ID ... --subsets       # ... and every subset of them, by size
    python bench/accuracy_bench.py --table                              # the recorded runs as Markdown

The holdout is HOLDOUT_ROWS rows of train.csv drawn stratified with HOLDOUT_SEED: the same rows on
every run and every machine. The other rows are written to a temporary train.csv and trained on
through the product's own `train_to_checkpoint` (so its validation split for keep-best lives inside
them); the saved checkpoint is then scored on the holdout. One JSON line per run: accuracy with a
95% Wilson interval and the error count, wall and CPU seconds (user + sys, children included), the
epochs, the preset and overrides, and the load average (before, after, and sampled every 15 s
while it ran) so a figure taken on a shared machine can be told from a quiet one.

Every model is also scored under the ensemble's test-time shifts, and an ensemble's members one by
one, from the same forward passes, so "do the shifts help" and "does the ensemble beat its best
member" are answered on the same 10,000 rows. `--probs-dir` keeps each run's holdout probabilities
(float16 .npz) so `--combine` can measure an average of separately trained models, and
`--subsets` how an average grows: for every size k, the mean errors of the averages of all k-model
subsets and how often such an average beats its own best member (what `best`'s member count rests on).

The preset's time budget is switched off unless --time-budget is given: accuracy decisions use fixed
epoch counts, so a loaded machine cannot change them. Reads /work/shared/data/digit-recognizer.zip
(or --zip / --train-csv).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.train_bench import DEFAULT_ZIP, _value  # noqa: E402

HOLDOUT_ROWS = 10_000
HOLDOUT_SEED = 20261129
RESULTS = ROOT / "bench" / "results" / "accuracy.jsonl"
PROBS = ROOT / "bench" / "results" / "probs"


# -- the pure parts (tested in tests/test_accuracy_bench.py) -------------------------------------

def holdout_split(targets, rows: int = HOLDOUT_ROWS, seed: int = HOLDOUT_SEED):
    """(training indices, holdout indices), sorted, stratified by class; fixed by `seed`."""
    from core.train.data import split_stratified

    train_idx, holdout_idx = split_stratified(targets, int(rows), seed)
    return np.sort(train_idx), np.sort(holdout_idx)


def training_subset(train_idx: np.ndarray, targets, rows: int | None, seed: int = HOLDOUT_SEED) -> np.ndarray:
    """`rows` of the training indices, stratified and fixed by `seed` (all of them without `rows`):
    the smaller training sets of a learning curve, which says what more rows are worth."""
    if rows is None or rows >= len(train_idx):
        return train_idx
    from core.train.data import split_stratified

    _, kept = split_stratified(targets[train_idx], int(rows), seed)
    return np.sort(train_idx[kept])


def holdout_half(train_idx: np.ndarray, holdout_idx: np.ndarray, targets, half: int | None,
                 seed: int = HOLDOUT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(training, scored) indices for --holdout-half: half 1 or 2 of the holdout (stratified, fixed) is
    scored and the other half trains too. The two runs score every holdout row with a model that saw
    37,000 rows, near the product's 42,000, where the plain holdout's models see 32,000."""
    if half is None:
        return train_idx, holdout_idx
    from core.train.data import split_stratified

    first, second = split_stratified(targets[holdout_idx], len(holdout_idx) // 2, seed)
    if half == 2:
        first, second = second, first
    scored, moved = holdout_idx[first], holdout_idx[second]
    return np.sort(np.concatenate([train_idx, moved])), np.sort(scored)


def wilson(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (sound near 1, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def score(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, its interval and the error count of (rows, classes) probabilities."""
    correct = int((probs.argmax(1) == labels).sum())
    low, high = wilson(correct, len(labels))
    return {"accuracy": round(correct / max(1, len(labels)), 5), "ci95": [round(low, 5), round(high, 5)],
            "errors": len(labels) - correct, "rows": len(labels)}


# -- scoring a checkpoint on the holdout ---------------------------------------------------------

def view_probs(checkpoint: Path, images, labels) -> dict:
    """{model name: (views, rows, classes) probabilities}, one entry per member (or the one model),
    one view per test-time shift of the ensemble (core.model.ensemble.TTA_SHIFTS, the plain image first)."""
    from core.model.checkpoint import beside, load_checkpoint

    loaded = load_checkpoint(checkpoint)
    count = len(loaded.spec.arch_kwargs["members"]) if loaded.spec.arch == "ensemble" else 0
    paths = [beside(checkpoint).member(i) for i in range(count)] or [checkpoint]
    out = {}
    for path in paths:
        ckpt = load_checkpoint(path)
        out[path.name] = model_views(ckpt.model(), ckpt.spec, images)
    return out


def model_views(model, spec, images, shifts: bool = True) -> np.ndarray:
    """(views, rows, classes) probabilities of one model in eval mode: the plain image, then each shift
    (only the plain image without `shifts`)."""
    import torch

    from core.model.ensemble import TTA_SHIFTS, shift_views
    from core.model.spec import to_input

    model.eval()
    views = []
    for shift in TTA_SHIFTS if shifts else TTA_SHIFTS[:1]:
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(images), 1000):
                shifted = shift_views(images[start:start + 1000], [tuple(shift)])[0]
                chunks.append(torch.softmax(model(to_input(shifted, spec, torch.device("cpu"))).float(), 1))
        views.append(torch.cat(chunks).numpy())
    return np.stack(views)


def figures(per_model: dict, labels: np.ndarray) -> dict:
    """The holdout figures of the plain model or averaged members, with and without shifts, and each member."""
    stacked = np.stack(list(per_model.values()))  # (models, views, rows, classes)
    result = {"plain": score(stacked[:, 0].mean(0), labels), "tta": score(stacked.mean((0, 1)), labels)}
    if len(per_model) > 1:
        result["members"] = {name: {"plain": score(p[0], labels), "tta": score(p.mean(0), labels)}
                             for name, p in per_model.items()}
    return result


# -- the run -------------------------------------------------------------------------------------

class LoadSampler:
    """The 1-minute load average every `every` seconds while a run goes on (a thread; costs nothing)."""

    def __init__(self, every: float = 15.0):
        self.every, self.samples, self._stop = every, [os.getloadavg()[0]], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        return {"mean": round(float(np.mean(self.samples)), 2), "max": round(max(self.samples), 2),
                "samples": len(self.samples)}


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def write_rows(source: Path, target: Path, rows) -> None:
    """Copy the header and the given 0-based data rows of a CSV, byte for byte."""
    with open(source, "rb") as handle:
        lines = handle.readlines()
    wanted = set(int(r) + 1 for r in rows)
    with open(target, "wb") as out:
        out.write(lines[0])
        out.writelines(line for i, line in enumerate(lines) if i in wanted)


def run(args) -> dict:
    from core.base.log import Log
    from core.train.config import config_for
    from core.train.pipeline import train_to_checkpoint

    overrides = {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}
    config = config_for(args.preset, seed=args.seed, device=args.device, **overrides)
    config.time_budget_min = args.time_budget  # None unless asked: fixed epochs decide
    commit = _commit()  # the code that trains, not whatever is checked out when it ends
    started, cpu_before = time.monotonic(), cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="accuracy-bench-") as tmp, LoadSampler() as load:
        tmp = Path(tmp)
        images, labels, train_idx, holdout_idx = split_to_files(args, tmp)
        checkpoint = args.checkpoint or tmp / "model.pt"
        trained_at, cpu_train = time.monotonic(), cpu_seconds()
        result = train_to_checkpoint(tmp / "train.csv", checkpoint, config, Log(fmt="json"))
        train_wall, train_cpu = time.monotonic() - trained_at, cpu_seconds() - cpu_train
        y = labels[holdout_idx].numpy()
        per_model = view_probs(checkpoint, images[holdout_idx], y)
    run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{args.label or args.preset}"
    if args.probs_dir:
        args.probs_dir.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.probs_dir / f"{run_id}.npz", labels=y,
                            **{k: v.astype(np.float16) for k, v in per_model.items()})
    found = figures(per_model, y)
    headline = found["tta"] if config.tta else found["plain"]
    m = result.metrics
    return {
        "bench": "accuracy", "run_id": run_id, "label": args.label, "preset": args.preset, "overrides": overrides,
        "commit": commit, "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "holdout": {"rows": len(holdout_idx), "seed": args.holdout_seed}, **headline, "variants": found,
        "val_accuracy": m["val_accuracy"], "member_val_accuracy": m.get("member_val_accuracy"),
        "epochs_run": m["epochs_run"], "best_epoch": m["best_epoch"], "stop_reason": m.get("stop_reason"),
        "train_rows": m["train_rows"], "val_rows": m["val_rows"], "train_subset": args.train_rows,
        "holdout_half": args.holdout_half,
        "wall_s": round(time.monotonic() - started, 1), "train_wall_s": round(train_wall, 1),
        "cpu_s": round(cpu_seconds() - cpu_before, 1), "train_cpu_s": round(train_cpu, 1),
        "device": m.get("device"), "threads": os.environ.get("KAGGLE_JOB_THREADS") or len(os.sched_getaffinity(0)),
        "loadavg": load.summary(), "config": asdict(config),
    }


def combine(args) -> dict:
    """Average the saved holdout probabilities of earlier runs: an ensemble of separately trained models."""
    per_model, labels = {}, None
    for run_id in args.combine:
        with np.load(args.probs_dir / f"{run_id}.npz") as saved:
            y = saved["labels"]
            if labels is not None and not np.array_equal(labels, y):
                raise SystemExit(f"{run_id}: scored on other holdout rows")
            labels = y
            per_model.update({f"{run_id}/{k}": saved[k].astype(np.float32) for k in saved.files if k != "labels"})
    found = figures(per_model, labels)
    line = {"bench": "accuracy-combine", "label": args.label, "runs": args.combine, "commit": _commit(),
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), **found["plain"], "variants": found}
    if args.subsets:
        line["subsets"] = subsets({name: p[0] for name, p in per_model.items()}, labels)
    return line


MAX_SUBSET_MODELS = 12  # 4,095 subsets: seconds; every model more doubles it


def subsets(plain: dict, labels: np.ndarray) -> list[dict]:
    """For each size k >= 2: the averages of every k-model subset of `plain` (name: probabilities),
    their mean, lowest and highest error count, and the share of them with fewer errors than their
    best member (and with as many)."""
    if len(plain) > MAX_SUBSET_MODELS:
        raise SystemExit(f"--subsets: {len(plain)} models; at most {MAX_SUBSET_MODELS}")
    errors = {name: int((p.argmax(1) != labels).sum()) for name, p in plain.items()}
    rows = []
    for k in range(2, len(plain) + 1):
        found = []
        for combo in itertools.combinations(plain, k):
            averaged = int((sum(plain[n] for n in combo).argmax(1) != labels).sum())
            found.append((averaged, min(errors[n] for n in combo)))
        rows.append({"size": k, "subsets": len(found), "mean_errors": round(float(np.mean([a for a, _ in found])), 2),
                     "min_errors": min(a for a, _ in found), "max_errors": max(a for a, _ in found),
                     "beats_best_member": round(sum(a < b for a, b in found) / len(found), 3),
                     "ties_best_member": round(sum(a == b for a, b in found) / len(found), 3)})
    return rows


def table(path: Path) -> str:
    """The runs recorded in `path` as a Markdown table (what the README's training section quotes)."""
    rows = ["| run | preset (at commit) + overrides | epochs | holdout accuracy (95% CI) | errors | with shifts "
            "| wall min | CPU min | threads | load |", "|---|---|---|---|---|---|---|---|---|---|"]
    for line in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
        shifts = line["variants"]["tta"]
        ci = f"[{100 * line['ci95'][0]:.2f}, {100 * line['ci95'][1]:.2f}]"
        if line["bench"] == "accuracy-combine":
            rows.append(f"| {line['label']} | average of {' + '.join(line['runs'])} | | {100 * line['accuracy']:.2f}% {ci} "
                        f"| {line['errors']} | {100 * shifts['accuracy']:.2f}% ({shifts['errors']}) | | | | |")
            continue
        setting = " ".join([f"{line['preset']} ({line['commit']})",
                            *(f"{k}={json.dumps(v)}" for k, v in line["overrides"].items()),
                            f"seed={line['config']['seed']}",
                            *([f"--train-rows {line['train_subset']}"] if line.get("train_subset") else []),
                            *([f"--holdout-half {line['holdout_half']}"] if line.get("holdout_half") else [])])
        rows.append(f"| {line['label'] or line['run_id']} | `{setting}` | {line['epochs_run']} "
                    f"| {100 * line['accuracy']:.2f}% {ci} | {line['errors']} "
                    f"| {100 * shifts['accuracy']:.2f}% ({shifts['errors']}) | {line['wall_s'] / 60:.1f} "
                    f"| {line['cpu_s'] / 60:.1f} | {line['threads']} | {line['loadavg']['mean']} |")
    return "\n".join(rows)


def split_to_files(args, tmp: Path):
    """(images, labels, training indices, holdout indices) of the source train.csv, with the training
    rows (all, or --train-rows of them) written to tmp/train.csv for the product to train on."""
    from core.train.data import load_training_data

    source = _train_csv(args, tmp)
    images, labels, _ = load_training_data(source)
    train_idx, holdout_idx = holdout_split(labels, args.holdout, args.holdout_seed)
    train_idx = training_subset(train_idx, labels, args.train_rows, args.holdout_seed)
    train_idx, holdout_idx = holdout_half(train_idx, holdout_idx, labels, args.holdout_half, args.holdout_seed)
    write_rows(source, tmp / "train.csv", train_idx)
    return images, labels, train_idx, holdout_idx


def _train_csv(args, tmp: Path) -> Path:
    if args.train_csv:
        return args.train_csv
    with zipfile.ZipFile(args.zip) as archive:
        archive.extract("train.csv", tmp / "source")
    return tmp / "source" / "train.csv"


def _commit() -> str | None:
    """HEAD's short hash, with `-dirty` when tracked files differ from it (the run measured uncommitted code)."""
    try:
        return subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--exclude=*", "--abbrev=7"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Which rows train and which are scored (split_to_files reads them): shared by the benches that
    measure on this holdout."""
    parser.add_argument("--holdout", type=int, default=HOLDOUT_ROWS)
    parser.add_argument("--train-rows", type=int, help="train on this many of the other rows (a learning curve)")
    parser.add_argument("--holdout-seed", type=int, default=HOLDOUT_SEED)
    parser.add_argument("--holdout-half", type=int, choices=(1, 2),
                        help="score this half of the holdout, training on the other half too (37,000 rows)")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--train-csv", type=Path, help="use this labelled CSV instead of the zip's train.csv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a TrainConfig field")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--time-budget", type=float, help="minutes; default: none (fixed epochs)")
    parser.add_argument("--label", help="a name for this run in the results")
    add_data_arguments(parser)
    parser.add_argument("--checkpoint", type=Path, help="keep the checkpoint (and members) here")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (KAGGLE_JOB_THREADS)")
    parser.add_argument("--device", default="cpu", help="train on this device (cpu|cuda|mps|auto); scored on the CPU")
    parser.add_argument("--output", type=Path, default=RESULTS, help="append the JSON line here")
    parser.add_argument("--probs-dir", type=Path, default=PROBS, help="keep holdout probabilities here")
    parser.add_argument("--combine", nargs="+", metavar="RUN_ID", help="score the average of saved runs")
    parser.add_argument("--subsets", action="store_true", help="with --combine: every subset's average, by size")
    parser.add_argument("--table", action="store_true", help="print the --output file's runs as Markdown")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.output))
        return 0
    if args.threads:
        os.environ["KAGGLE_JOB_THREADS"] = str(args.threads)
    line = combine(args) if args.combine else run(args)
    text = json.dumps(line)
    print(text, flush=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with open(args.output, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
