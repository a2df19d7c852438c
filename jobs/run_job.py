"""The scheduled job: download -> train or load -> predict -> validate -> write (-> submit)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import competition, kaggle_api
from core.atomic import atomic_write_text
from core.checkpoints import library_versions, load_checkpoint
from core.demo import demo_test_labels
from core.devices import describe
from core.hashing import sha256_file
from core.inference import Predictor
from core.log import Log
from core.predict import predict_csv
from core.submissions import check_submission, read_sample, write_submission
from core.training import config_for, train_to_checkpoint
from core.workspace import DEFAULT_COMPETITION, Workspace


@dataclass
class RunConfig:
    home: Path
    competition: str = DEFAULT_COMPETITION
    demo: bool = False
    device: str = "auto"
    preset: str | None = None  # None: "demo" for the demo, "default" otherwise
    checkpoint: Path | None = None
    retrain: bool = False
    submit: bool = False
    message: str | None = None


@dataclass
class RunOutcome:
    submission: Path
    manifest: dict = field(default_factory=dict)


def run_job(config: RunConfig, log: Log) -> RunOutcome:
    timings: dict[str, float] = {}
    demo = config.demo or kaggle_api.find_credentials() is None
    if demo and not config.demo:
        log.info("no Kaggle credentials found: running the embedded demo competition offline", event="run.demo")
    workspace = Workspace(config.home, config.competition, demo=demo)

    started = time.monotonic()
    files = competition.fetch(workspace, log)
    timings["download_s"] = time.monotonic() - started

    checkpoint_path = Path(config.checkpoint) if config.checkpoint else workspace.checkpoint_path
    data_sha = sha256_file(files.train)
    if config.checkpoint is None and _needs_training(checkpoint_path, data_sha, config.retrain):
        started = time.monotonic()
        preset = config.preset or ("demo" if demo else "default")
        train_to_checkpoint(files.train, checkpoint_path, config_for(preset, device=config.device), log)
        timings["train_s"] = time.monotonic() - started
    checkpoint = load_checkpoint(checkpoint_path)

    started = time.monotonic()
    predictor = Predictor.from_checkpoints([checkpoint], config.device)
    predictions = predict_csv(files.test, predictor, log)
    sample = read_sample(files.sample)
    out_dir = workspace.new_submission_dir()
    submission = write_submission(out_dir / "submission.csv", sample.ids, predictions.labels,
                                  header=tuple(sample.header))
    rows = check_submission(submission, sample, checkpoint.spec.classes)
    timings["predict_s"] = time.monotonic() - started

    manifest = {
        "competition": config.competition, "demo": demo, "submission": submission.name, "rows": rows,
        "data_sha256": {"train.csv": data_sha, "test.csv": sha256_file(files.test)},
        "checkpoint": str(checkpoint_path), "checkpoint_sha256": sha256_file(checkpoint_path),
        "arch": checkpoint.spec.arch, "val_accuracy": checkpoint.metrics.get("val_accuracy"),
        "device": describe(predictor.device), "versions": library_versions(),
        "timings_s": {k: round(v, 2) for k, v in timings.items()}, "submitted": False,
    }
    if demo:
        truth = demo_test_labels()
        manifest["demo_accuracy"] = float(np.mean(predictions.labels.astype(np.int64) == truth))
    atomic_write_text(out_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return RunOutcome(submission=submission, manifest=manifest)


def _needs_training(checkpoint_path: Path, data_sha: str, retrain: bool) -> bool:
    if retrain or not checkpoint_path.is_file():
        return True
    return load_checkpoint(checkpoint_path).meta.get("data_sha256") != data_sha


