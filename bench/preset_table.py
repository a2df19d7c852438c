"""docs/training.md's presets table, from the recorded runs (`python -m bench.accuracy --presets`).

A run counts for a preset when it trained exactly the preset's recipe as the code now defines it
(its recorded TrainConfig equals config_for(preset) but for the seed and the settings that do not
change the model: the time budget, which the harness turns off, the device, resume), on the whole
non-holdout set. Changing a preset therefore drops its old runs from the table until the new recipe
is measured: the table cannot show a figure the preset no longer earns. tests/test_docs_tables.py
checks that docs/training.md holds the table as printed here.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from bench.holdout import wilson

PRESETS = ("fast", "default", "best")
# Settings that do not change what is trained: the harness sets them per run.
NOT_RECIPE = {"seed", "time_budget_min", "device", "resume", "split_seed", "precision"}


def _plain(config: dict) -> dict:
    return {k: (json.loads(json.dumps(v))) for k, v in config.items() if k not in NOT_RECIPE}


def runs_of(lines: list[dict], preset: str) -> list[dict]:
    """The recorded runs that trained `preset`'s current recipe on every non-holdout row."""
    from core.train.config import config_for, saved_with_defaults

    wanted = _plain(asdict(config_for(preset)))
    return [line for line in lines
            if line.get("bench") == "accuracy" and line.get("preset") == preset and not line.get("train_subset")
            and not line.get("holdout_half") and line.get("holdout", {}).get("rows") == 10_000
            and _plain(saved_with_defaults(line["config"])) == wanted]


def _overlap(runs: list[dict]) -> str:
    """One model, or each run's members' overlap by seed (runs before bench/overlap.py have none)."""
    if all(r["config"].get("members", 1) == 1 for r in runs):
        return "one model"
    return "; ".join(f"seed {r['config']['seed']}: {_described(r['variants']['overlap'])}"
                     if "overlap" in r.get("variants", {}) else f"seed {r['config']['seed']}: not recorded"
                     for r in runs)


def _described(overlap: dict) -> str:
    member_errors = overlap["member_errors"].values()
    return (f"phi {overlap['phi_mean']}, all {overlap['all_miss']} / any {overlap['any_miss']} "
            f"(members {min(member_errors)}-{max(member_errors)})")


def row(preset: str, runs: list[dict]) -> str:
    if not runs:
        return f"| `{preset}` | not measured since the recipe changed | | | | | |"
    errors = [r["errors"] for r in runs]
    rows = runs[0]["rows"]
    mean_errors = sum(errors) / len(errors)
    low, high = wilson(round(rows - mean_errors), rows)
    seeds = ("seeds " if len(runs) > 1 else "seed ") + ", ".join(str(r["config"]["seed"]) for r in runs)
    wall = sum(r["wall_s"] for r in runs) / len(runs) / 60
    cpu = sum(r["cpu_s"] for r in runs) / len(runs) / 60
    dates = sorted({r["when"][:10] for r in runs})
    commits = ", ".join(sorted({r["commit"] for r in runs}))
    machines = sorted({r["machine"] for r in runs if r.get("machine")})  # recorded since 2026-12-05
    if any(not r.get("machine") for r in runs):
        earlier = "earlier runs' " if machines else ""
        machines.append(f"{earlier}machine by date (Machines, below)")
    commits += "".join(f"; {m}" for m in machines)
    return (f"| `{preset}` | {', '.join(map(str, errors))} ({seeds}) | **{100 * (1 - mean_errors / rows):.2f}%** "
            f"[{100 * low:.2f}, {100 * high:.2f}] | {_overlap(runs)} | {wall:.1f} | {cpu:.1f} "
            f"| {' to '.join([dates[0], dates[-1]] if len(dates) > 1 else dates)}; {commits} |")


def table(path: Path) -> str:
    lines = [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines() if text.strip()]
    header = ["| preset | holdout errors of 10,000 | mean accuracy [95% CI] | members' errors overlap | wall min "
              "| CPU min | when; commit |", "|---|---|---|---|---|---|---|"]
    return "\n".join(header + [row(preset, runs_of(lines, preset)) for preset in PRESETS])
