"""What the benches share besides the holdout: where things are, `--set` values, the commit measured,
and the CPU time and machine load that tell a figure from a busy machine's."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import threading
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_ZIP = ROOT.parent / "shared" / "data" / "digit-recognizer.zip"  # the data folder beside the checkout


def parse_value(text: str):
    """A `--set KEY=VALUE` value as the TrainConfig field wants it: JSON, a number, a boolean, None or text."""
    if text[:1] in "{[":  # e.g. --set 'arch_kwargs={"width_mult": 0.75}'
        return json.loads(text)
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def parse_overrides(pairs: list[str]) -> dict:
    """`--set KEY=VALUE` pairs as TrainConfig overrides."""
    return {key: parse_value(value) for key, value in (pair.split("=", 1) for pair in pairs)}


def commit() -> str | None:
    """HEAD's short hash, with `-dirty` when tracked files differ from it (the run measured uncommitted code)."""
    try:
        return subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--exclude=*", "--abbrev=7"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine() -> str:
    """The CPU's model name and core count (a figure's machine, recorded beside its date and commit)."""
    name = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            name = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), name)
    except OSError:
        import platform

        name = platform.processor() or name
    return f"{name}, {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} cores"


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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
