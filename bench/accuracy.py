"""Accuracy on a fixed holdout of train.csv that no training or model selection ever sees.

    python -m bench.accuracy --preset default                     # one JSON line per run
    python -m bench.accuracy --preset default --set epochs=12 --set elastic_px=1.5 --label screen
    python -m bench.accuracy --combine RUN_ID RUN_ID ...          # average saved holdout probabilities
    python -m bench.accuracy --combine RUN_ID ... --subsets       # ... and every subset of them, by size
    python -m bench.accuracy --compare RUN_A RUN_B                # does B beat A on the same rows (McNemar)
    python -m bench.accuracy --table                              # the recorded runs as Markdown
    python -m bench.accuracy --presets                            # docs/training.md's presets table

The holdout (bench.holdout) is HOLDOUT_ROWS rows of train.csv drawn stratified with HOLDOUT_SEED:
the same rows on every run and every machine. The other rows are written to a temporary train.csv and trained on
through the product's own `train_to_checkpoint` (so its validation split for keep-best lives inside
them); the saved checkpoint is then scored on the holdout. One JSON line per run: accuracy with a
95% Wilson interval and the error count, wall and CPU seconds (user + sys, children included), the
epochs, the preset and overrides, and the load average (before, after, and sampled every 15 s
while it ran) so a figure taken on a shared machine can be told from a quiet one.

Every model is also scored under the ensemble's test-time shifts, and an ensemble's members one by
one, from the same forward passes, so "do the shifts help" and "does the ensemble beat its best
member" are answered on the same 10,000 rows; for an ensemble (or `--combine`) the line's
`variants.overlap` says how much the members' errors overlap (bench.overlap: pairwise error
correlation, the images every member and any member misses, the average against its best member).
`--probs-dir` keeps each run's holdout probabilities (float16 .npz) so `--combine` can measure an
average of separately trained models, and `--subsets` how an average grows: for every size k, the
mean errors of the averages of all k-model subsets and how often such an average beats its own
best member (what `best`'s member count rests on).

The preset's time budget is switched off unless --time-budget is given: accuracy decisions use fixed
epoch counts, so a loaded machine cannot change them. Reads /work/shared/data/digit-recognizer.zip
(or --zip / --train-csv).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.common import RESULTS_DIR, LoadSampler, commit, cpu_seconds, machine, parse_overrides
from bench.holdout import PROBS, add_data_arguments, model_views, score, split_rows, split_to_files
from bench.overlap import overlap
from bench.paired import paired
from bench.paired import summary as paired_summary
from bench.preset_table import table as preset_table

RESULTS = RESULTS_DIR / "accuracy.jsonl"


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


def figures(per_model: dict, labels: np.ndarray) -> dict:
    """The holdout figures of the plain model or averaged members, with and without shifts, each member,
    and how much the members' errors overlap (bench.overlap, on the plain images)."""
    stacked = np.stack(list(per_model.values()))  # (models, views, rows, classes)
    result = {"plain": score(stacked[:, 0].mean(0), labels), "tta": score(stacked.mean((0, 1)), labels)}
    if len(per_model) > 1:
        result["members"] = {name: {"plain": score(p[0], labels), "tta": score(p.mean(0), labels)}
                             for name, p in per_model.items()}
        result["overlap"] = overlap({name: p[0] for name, p in per_model.items()}, labels)
    return result


# -- the run -------------------------------------------------------------------------------------

def run(args) -> dict:
    from core.base.log import Log
    from core.model.checkpoint import beside
    from core.train.config import config_for
    from core.train.pipeline import train_to_checkpoint

    overrides = parse_overrides(args.set)
    config = config_for(args.preset, seed=args.seed, device=args.device, **overrides)
    config.time_budget_min = args.time_budget  # None unless asked: fixed epochs decide
    measured = commit()  # the code that trains, not whatever is checked out when it ends
    started, cpu_before = time.monotonic(), cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="accuracy-bench-") as tmp, LoadSampler() as load:
        tmp = Path(tmp)
        images, labels, train_idx, holdout_idx = split_to_files(args, tmp)
        checkpoint = args.checkpoint or tmp / "model.pt"
        if config.pseudo_label or args.teacher:  # the holdout's pixels play test.csv, its labels hidden
            config.pseudo_label = True
            write_pixels(images[holdout_idx], tmp / "unlabelled.csv")
        trained_at, cpu_train = time.monotonic(), cpu_seconds()
        result = train_to_checkpoint(tmp / "train.csv", checkpoint, config, Log(fmt="json"),
                                     unlabelled=tmp / "unlabelled.csv" if config.pseudo_label else None,
                                     teacher=args.teacher)
        train_wall, train_cpu = time.monotonic() - trained_at, cpu_seconds() - cpu_train
        y = labels[holdout_idx].numpy()
        per_model = view_probs(checkpoint, images[holdout_idx], y)
        pseudo = pseudo_figures(args.teacher or beside(checkpoint).round1, checkpoint, images[holdout_idx], y) \
            if config.pseudo_label else None
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
        "commit": measured, "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
        "holdout": {"rows": len(holdout_idx), "seed": args.holdout_seed}, **headline, "variants": found,
        "val_accuracy": m["val_accuracy"], "member_val_accuracy": m.get("member_val_accuracy"),
        "epochs_run": m["epochs_run"], "best_epoch": m["best_epoch"], "stop_reason": m.get("stop_reason"),
        "train_rows": m["train_rows"], "val_rows": m["val_rows"], "train_subset": args.train_rows,
        "holdout_half": args.holdout_half,
        "wall_s": round(time.monotonic() - started, 1), "train_wall_s": round(train_wall, 1),
        "cpu_s": round(cpu_seconds() - cpu_before, 1), "train_cpu_s": round(train_cpu, 1),
        "device": m.get("device"), "threads": os.environ.get("KAGGLE_JOB_THREADS") or len(os.sched_getaffinity(0)),
        "loadavg": load.summary(), "config": asdict(config), **({"pseudo": pseudo} if pseudo else {}),
    }


PSEUDO_SWEEP = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92)


def write_pixels(images, path: Path) -> None:
    """The images' pixels as a label-free pixel CSV (pixel0..), the way test.csv holds its rows."""
    flat = images.reshape(len(images), -1).numpy()
    header = ",".join(f"pixel{i}" for i in range(flat.shape[1]))
    np.savetxt(path, flat, fmt="%d", delimiter=",", header=header, comments="")


def pseudo_figures(teacher: Path, checkpoint: Path, images, labels: np.ndarray) -> dict:
    """What pseudo-labelling did, with the labels the training never saw: the teacher's holdout score,
    how right the labels it gave were at the threshold used, and at the others of PSEUDO_SWEEP."""
    from core.model.checkpoint import load_checkpoint
    from core.train.pseudo import probabilities

    loaded = load_checkpoint(teacher)
    probs = probabilities(loaded.model(), loaded.spec, images).numpy()
    top, given = probs.max(1), probs.argmax(1)
    sweep = [{"threshold": t, "taken": int((top >= t).sum()), "wrong": int(((top >= t) & (given != labels)).sum())}
             for t in PSEUDO_SWEEP]
    used = load_checkpoint(checkpoint).meta.get("pseudo_label", {})
    return {"teacher": teacher.name, "teacher_holdout": score(probs, labels), "used": used, "sweep": sweep}


def saved_runs(probs_dir: Path, run_ids: list[str]) -> tuple[dict[str, dict], np.ndarray]:
    """({run id: {model name: (views, rows, classes)}}, labels) of runs saved with --probs-dir; runs scored
    on other holdout rows than the first are refused."""
    runs, labels = {}, None
    for run_id in run_ids:
        with np.load(probs_dir / f"{run_id}.npz") as saved:
            y = saved["labels"]
            if labels is not None and not np.array_equal(labels, y):
                raise SystemExit(f"{run_id}: scored on other holdout rows than {run_ids[0]}")
            labels = y
            runs[run_id] = {k: saved[k].astype(np.float32) for k in saved.files if k != "labels"}
    return runs, labels


def compare(args) -> dict:
    """The paired comparison of two saved runs (bench.paired): B (the second) against A (the first), each
    its members' plain average, on the same holdout rows."""
    runs, labels = saved_runs(args.probs_dir, args.compare)
    a, b = (np.mean([p[0] for p in runs[run_id].values()], 0) for run_id in args.compare)
    found = paired(a, b, labels)
    return {"bench": "accuracy-compare", "label": args.label, "a": args.compare[0], "b": args.compare[1],
            "commit": commit(), "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), **found,
            "summary": paired_summary(found)}


def combine(args) -> dict:
    """Average the saved holdout probabilities of earlier runs: an ensemble of separately trained models."""
    runs, labels = saved_runs(args.probs_dir, args.combine)
    per_model = {f"{run_id}/{name}": p for run_id, models in runs.items() for name, p in models.items()}
    found = figures(per_model, labels)
    line = {"bench": "accuracy-combine", "label": args.label, "runs": args.combine, "commit": commit(),
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), **found["plain"], "variants": found}
    if args.subsets:
        line["subsets"] = subsets({name: p[0] for name, p in per_model.items()}, labels)
    if args.misses:
        line["misses_png"] = str(draw_misses(args, per_model, labels))
    return line


def draw_misses(args, per_model: dict, labels: np.ndarray) -> Path:
    """A picture of the holdout images every combined model misses, each with its label and the average's
    answer: what a better recipe would have to get right (docs/training.md looks at them)."""
    import torch

    from core.report.plots import digit_grid

    with tempfile.TemporaryDirectory() as tmp:
        _, images, targets, _, holdout_idx = split_rows(args, Path(tmp))
    if not np.array_equal(targets[torch.as_tensor(holdout_idx)].numpy(), labels):
        raise SystemExit("--misses: the saved runs were scored on other holdout rows than these data options choose")
    plain = np.stack([p[0] for p in per_model.values()])  # (models, rows, classes)
    average = plain.mean(0)
    missed = np.flatnonzero((plain.argmax(2) != labels).all(0))
    captions = [f"row {i}\n{labels[i]} -> {average[i].argmax()} ({average[i].max():.2f})" for i in missed]
    pictures = images[torch.as_tensor(holdout_idx[missed])].numpy()[:, 0]
    title = f"holdout images all {len(plain)} models miss: label -> average's answer (probability)"
    return digit_grid(pictures, captions, args.misses, title=title)


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
    """The runs recorded in `path` as a Markdown table (what docs/experiments.md summarises)."""
    rows = ["| run | preset (at commit) + overrides | epochs | holdout accuracy (95% CI) | errors | with shifts "
            "| wall min | CPU min | threads | load |", "|---|---|---|---|---|---|---|---|---|---|"]
    for line in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
        if line["bench"] not in ("accuracy", "accuracy-combine"):
            continue
        shifts = line["variants"]["tta"]
        ci = f"[{100 * line['ci95'][0]:.2f}, {100 * line['ci95'][1]:.2f}]"
        if line["bench"] == "accuracy-combine":
            rows.append(f"| {line['label']} | average of {' + '.join(line['runs'])} | "
                        f"| {100 * line['accuracy']:.2f}% {ci} "
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a TrainConfig field")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--time-budget", type=float, help="minutes; default: none (fixed epochs)")
    parser.add_argument("--label", help="a name for this run in the results")
    add_data_arguments(parser)
    parser.add_argument("--checkpoint", type=Path, help="keep the checkpoint (and members) here")
    parser.add_argument("--teacher", type=Path, help="pseudo-label the holdout's pixels with this checkpoint "
                                                     "(--set pseudo_label=true: with a first round)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (KAGGLE_JOB_THREADS)")
    parser.add_argument("--device", default="cpu", help="train on this device (cpu|cuda|mps|auto); scored on the CPU")
    parser.add_argument("--output", type=Path, default=RESULTS, help="append the JSON line here")
    parser.add_argument("--probs-dir", type=Path, default=PROBS, help="keep holdout probabilities here")
    parser.add_argument("--combine", nargs="+", metavar="RUN_ID", help="score the average of saved runs")
    parser.add_argument("--subsets", action="store_true", help="with --combine: every subset's average, by size")
    parser.add_argument("--misses", type=Path, metavar="PNG",
                        help="with --combine: draw the holdout images every model misses")
    parser.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
                        help="paired comparison of two saved runs on the same rows (bench.paired)")
    parser.add_argument("--table", action="store_true", help="print the --output file's runs as Markdown")
    parser.add_argument("--presets", action="store_true",
                        help="print docs/training.md's presets table from the --output file (bench.preset_table)")
    args = parser.parse_args(argv)
    if args.table or args.presets:
        print(table(args.output) if args.table else preset_table(args.output))
        return 0
    if args.threads:
        os.environ["KAGGLE_JOB_THREADS"] = str(args.threads)
    line = compare(args) if args.compare else combine(args) if args.combine else run(args)
    text = json.dumps(line)
    print(text, flush=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with open(args.output, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
