"""Benchmark of `kaggle-job predict` against the seed notebook's way and the plain floor.

One run, interleaved rounds, medians; every contender is a fresh subprocess (torch import included),
because that is what a user waits for. Peak memory is each child's ru_maxrss.

    make bench            # or: .venv/bin/python -m bench.predict [--rounds 3] [--json out.json]

Targets (issue #3): predict <= 0.6x the seed way and <= 1.0x the floor; predicting a 10x copy of
test.csv adds < 25% peak memory over test.csv itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.common import DEFAULT_ZIP, ROOT


def run_child(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process; a failure stops the benchmark.

    Peak RSS comes from /usr/bin/time where there is one: a child forked from this (bigger) process
    can inherit its high-water mark in ru_maxrss.
    """
    timer = ["/usr/bin/time", "-f", "MAXRSS_KB=%M"] if Path("/usr/bin/time").exists() else []
    started = time.perf_counter()
    child = subprocess.Popen(timer + argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    stderr = child.stderr.read().decode(errors="replace")
    child.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"benchmark child failed ({code}): {' '.join(argv)}\n{stderr[-2000:]}")
    reported = [line for line in stderr.splitlines() if line.startswith("MAXRSS_KB=")]
    peak_kib = int(reported[-1].split("=", 1)[1]) if reported else usage.ru_maxrss  # Linux: KiB
    return wall, peak_kib / 1024


def prepare(work: Path, zip_path: Path, copies: int) -> dict[str, Path]:
    data = work / "data"
    with zipfile.ZipFile(zip_path) as archive:
        for name in ("test.csv", "sample_submission.csv"):
            archive.extract(name, data)
    big = work / "big" / "test_x10.csv"
    big.parent.mkdir()
    with open(data / "test.csv", "rb") as source, open(big, "wb") as target:
        target.write(source.readline())
        body = source.read()
        if not body.endswith(b"\n"):
            body += b"\n"
        for _ in range(copies):
            target.write(body)
        del body
    checkpoint = work / "baseline.pt"
    subprocess.run([sys.executable, "-c", (
        "import sys, torch\nfrom core.model.checkpoint import save_checkpoint\nfrom core.model.spec import ModelSpec\n"
        "torch.manual_seed(0)\n"
        "spec = ModelSpec(arch='baseline', input_shape=(1, 28, 28), classes=list(range(10)), mean=0.1307, std=0.3081)\n"
        "save_checkpoint(sys.argv[1], spec.build(), spec)\n"), str(checkpoint)], cwd=ROOT, check=True)
    return {"test": data / "test.csv", "big": big, "checkpoint": checkpoint, "out": work / "out"}


def contenders(paths: dict[str, Path]) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "jobs", "predict", "--checkpoint", str(paths["checkpoint"]),
           "--log-format", "json", "--device", "cpu"]
    return {
        "predict": cli + ["--input", str(paths["test"]), "--output", str(paths["out"] / "predict.csv")],
        "seed": [sys.executable, "-m", "bench.seed_way", str(paths["test"]), str(paths["checkpoint"]),
                 str(paths["out"] / "seed.csv")],
        "floor": [sys.executable, "-m", "bench.floor", str(paths["test"]), str(paths["checkpoint"])],
        "predict_x10": cli + ["--input", str(paths["big"]), "--output", str(paths["out"] / "predict_x10.csv")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP, help="digit-recognizer.zip (test.csv inside)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--copies", type=int, default=10, help="size of the big file, in copies of test.csv")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KAGGLE_JOB_LOG_FORMAT": "json"}
    with tempfile.TemporaryDirectory(prefix="predict-bench-") as tmp:
        paths = prepare(Path(tmp), args.zip, args.copies)
        paths["out"].mkdir()
        commands = contenders(paths)
        times: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, list[float]] = {name: [] for name in commands}
        for round_number in range(1, args.rounds + 1):
            # The big file runs once, in the first round: it measures memory, not speed.
            names = [n for n in commands if n != "predict_x10" or round_number == 1]
            for name in names:
                wall, peak = run_child(commands[name], env)
                times[name].append(wall)
                peaks[name].append(peak)
                print(f"round {round_number}: {name:<12} {wall:6.2f} s  {peak:7.1f} MiB", flush=True)
    report = summarise(times, peaks, args)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def summarise(times, peaks, args) -> dict:
    median = {name: statistics.median(values) for name, values in times.items()}
    peak = {name: max(values) for name, values in peaks.items()}
    return {
        "rounds": args.rounds, "cpus": len(os.sched_getaffinity(0)),
        "median_s": median, "peak_rss_mib": peak,
        "predict_vs_seed": median["predict"] / median["seed"],
        "predict_vs_floor": median["predict"] / median["floor"],
        "x10_rss_growth": peak["predict_x10"] / peak["predict"] - 1.0,
        "x10_rows_per_s": 28000 * args.copies / median["predict_x10"],
    }


def print_report(r: dict) -> None:
    ok = {True: "ok", False: "MISSED"}
    print(f"\nmedians over {r['rounds']} interleaved rounds, {r['cpus']} CPUs")
    for name in ("predict", "seed", "floor"):
        print(f"  {name:<8} {r['median_s'][name]:6.2f} s   peak {r['peak_rss_mib'][name]:7.1f} MiB")
    print(f"  predict on the 10x file: {r['median_s']['predict_x10']:.2f} s, "
          f"peak {r['peak_rss_mib']['predict_x10']:.1f} MiB")
    print(f"predict / seed  = {r['predict_vs_seed']:.2f}x  (target <= 0.60x: {ok[r['predict_vs_seed'] <= 0.6]})")
    print(f"predict / floor = {r['predict_vs_floor']:.2f}x  (target <= 1.00x: {ok[r['predict_vs_floor'] <= 1.0]})")
    print(f"10x file adds {100 * r['x10_rss_growth']:.1f}% peak RSS  "
          f"(target < 25%: {ok[r['x10_rss_growth'] < 0.25]})")


if __name__ == "__main__":
    main()
