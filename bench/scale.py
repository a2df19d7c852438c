"""Benchmark of scaling out with torchrun: 2 ranks against 1 rank, OMP_NUM_THREADS=1 per rank.

    .venv/bin/python -m bench.scale [--rounds 3] [--json out.json]

Two jobs, each launched exactly as a user would (`torchrun --standalone --nproc-per-node N -m jobs
...`, a fresh process tree each time, so torch's import and the rendezvous are included):

- predict on a 10x copy of Digit Recognizer's test.csv (280,000 rows) with the seed net;
  target: 2 ranks <= 0.6x the wall of 1 rank. The two outputs must be byte-identical.
- one training epoch of the seed net (`--arch baseline`, the default recipe; `--train-arch` for another) on train.csv;
  target: 2 ranks <= 0.7x the wall of 1 rank. The epoch alone (train_seconds in the checkpoint)
  is reported beside the wall.

Rounds are interleaved (1 rank, 2 ranks, then the other order) and medians reported, with the
load average before each run: on a shared machine other work competes for the same cores, and
a figure means little without it. Reads /work/shared/data/digit-recognizer.zip (or --zip).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench import predict
from bench.common import DEFAULT_ZIP, ROOT

TARGETS = {"predict": 0.6, "train": 0.7}


def prepare(work: Path, zip_path: Path, copies: int) -> dict[str, Path]:
    """bench.predict's files (test.csv, its 10x copy, the untrained seed net), plus train.csv beside test.csv."""
    paths = predict.prepare(work, zip_path, copies)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extract("train.csv", paths["test"].parent)
    return {**paths, "data": paths["test"].parent}


def command(job: str, ranks: int, paths: dict[str, Path], arch: str = "baseline") -> list[str]:
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
              "-m", "jobs"]
    if job == "predict":
        return launch + ["predict", "--checkpoint", str(paths["checkpoint"]), "--input", str(paths["big"]),
                         "--output", str(paths["out"] / f"predict_{ranks}.csv"), "--device", "cpu"]
    return launch + ["train", "--data-dir", str(paths["data"]), "--checkpoint", str(paths["out"] / f"train_{ranks}.pt"),
                     "--arch", arch, "--epochs", "1", "--device", "cpu"]


def run_once(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the whole process tree, 1-minute load average just before) of one
    launch; a failure stops the benchmark. CPU time does not depend on what else runs on the machine,
    so it shows what distributing costs even when the wall clock is distorted by other work."""
    env = {**{k: v for k, v in os.environ.items() if k != "KAGGLE_JOB_THREADS"},
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "KAGGLE_JOB_LOG_FORMAT": "json"}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # torchrun waits for its ranks: theirs included
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"benchmark run failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-3000:]}")
    return wall, cpu, load


def epoch_seconds(checkpoint: Path) -> float:
    import torch

    return float(torch.load(checkpoint, map_location="cpu", weights_only=True)["metrics"]["train_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--copies", type=int, default=10, help="size of the predict file, in copies of test.csv")
    parser.add_argument("--jobs", default="predict,train", help="which of predict,train to time")
    parser.add_argument("--train-arch", default="baseline",
                        help="the network trained (baseline: the seed net the targets are about)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    jobs = [job for job in args.jobs.split(",") if job]
    figures = {f"{job}_{ranks}": {"wall": [], "cpu": [], "load": [], "epoch": []} for job in jobs for ranks in (1, 2)}
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        paths = prepare(Path(tmp), args.zip, args.copies)
        paths["out"].mkdir()
        for round_number in range(1, args.rounds + 1):
            order = (1, 2) if round_number % 2 else (2, 1)
            for job in jobs:
                for ranks in order:
                    name = f"{job}_{ranks}"
                    wall, cpu, load = run_once(command(job, ranks, paths, args.train_arch))
                    figures[name]["wall"].append(wall)
                    figures[name]["cpu"].append(cpu)
                    figures[name]["load"].append(load)
                    if job == "train":
                        figures[name]["epoch"].append(epoch_seconds(paths["out"] / f"train_{ranks}.pt"))
                    print(f"round {round_number}: {name:<10} {wall:7.2f} s wall, {cpu:7.2f} s CPU  "
                          f"(load before {load:.2f})", flush=True)
            if "predict" in jobs:
                same = (paths["out"] / "predict_1.csv").read_bytes() == (paths["out"] / "predict_2.csv").read_bytes()
                if not same:
                    sys.exit("2-rank predictions differ from 1-rank predictions")
    report = {**summarise(figures, jobs, args.rounds), "train_arch": args.train_arch}
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def summarise(figures: dict, jobs: list[str], rounds: int) -> dict:
    report = {"rounds": rounds, "cpus": len(os.sched_getaffinity(0)), "omp_num_threads_per_rank": 1,
              "median_wall_s": {}, "median_cpu_s": {}, "load_before": {}, "ratios": {}}
    for name, values in figures.items():
        report["median_wall_s"][name] = statistics.median(values["wall"])
        report["median_cpu_s"][name] = statistics.median(values["cpu"])
        report["load_before"][name] = values["load"]
        if values["epoch"]:
            report.setdefault("median_epoch_s", {})[name] = statistics.median(values["epoch"])
    for job in jobs:
        report["ratios"][job] = report["median_wall_s"][f"{job}_2"] / report["median_wall_s"][f"{job}_1"]
    if "train" in jobs:
        report["ratios"]["train_epoch_only"] = report["median_epoch_s"]["train_2"] / report["median_epoch_s"]["train_1"]
    return report


def print_report(r: dict) -> None:
    print(f"\nmedians over {r['rounds']} interleaved rounds, {r['cpus']} CPUs, OMP_NUM_THREADS=1 per rank")
    for name, wall in r["median_wall_s"].items():
        epoch = r.get("median_epoch_s", {}).get(name)
        loads = ", ".join(f"{x:.1f}" for x in r["load_before"][name])
        print(f"  {name:<10} {wall:7.2f} s wall, {r['median_cpu_s'][name]:7.2f} s CPU"
              + (f", epoch {epoch:.2f} s" if epoch else "") + f"  (load {loads})")
    for job, ratio in r["ratios"].items():
        target = TARGETS.get(job)
        verdict = f"  (target <= {target:.2f}x: {'ok' if ratio <= target else 'MISSED'})" if target else ""
        print(f"2 ranks / 1 rank, {job}: {ratio:.2f}x{verdict}")


if __name__ == "__main__":
    main()
