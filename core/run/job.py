"""The scheduled job: lock -> download -> train or load -> predict -> validate -> publish (-> submit).

Built to run unattended: one run per home at a time (core.run.lock), outputs published whole
(core.run.publish), every submission folder carrying a manifest of what produced it
(core.run.manifest), and uploads gated on the model beating the last one submitted
(core.run.submit_policy). Publishing and uploading go through the upload flow `submit` uses too
(core.run.flow).

Under torchrun rank 0 alone takes the lock, downloads, publishes and submits; training and
prediction use every rank; the others wait for rank 0's outcome at each of those steps (with the
collective timeout), so all ranks end with the same result or the same error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

# Only light modules at import time: an overlapping run must reach the lock and exit 7 within
# a second or two, not after torch's multi-second import. The heavy ones load in _run_locked.
from core.base.errors import ExitCode, JobError
from core.base.log import Log
from core.base.workspace import DEFAULT_COMPETITION, Workspace, check_slug
from core.data.competition import CompetitionFiles
from core.dist.world import World, current_world
from core.kaggle.allowance import DEFAULT_MAX_PER_DAY, check_max_per_day
from core.kaggle.credentials import HOW_TO, find_credentials
from core.run.flow import Predicted, Published, publish_submission, upload_published
from core.run.ledger import same_file, settle
from core.run.lock import exclusive
from core.run.made_for import check_given
from core.run.manifest import submitted_manifests
from core.run.submit_policy import decide

if TYPE_CHECKING:
    from core.data.sample import SampleFormat
    from core.model.checkpoint import Checkpoint
    from core.predict.predictor import Predictor
    from core.predict.stream import Predictions


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
    force_submit: bool = False  # upload even if the model does not beat the last submission (implies submit)
    wait_lock_s: float = 0.0  # how long to wait for another run to finish before giving up (exit 7)
    max_per_day: int = DEFAULT_MAX_PER_DAY  # the competition's daily allowance
    label_column: str | None = None  # train.csv's label column, when neither `label` nor the sample's
    ignore_extra: bool = False  # skip columns that are neither label, id nor pixels in train.csv and test.csv
    input_shape: tuple[int, int, int] | None = None  # (C, H, W) to train with (--input-shape); None: from the file
    pixel_order: str = "chw"  # how train.csv's rows order a pixel's channels (core.data.layout.parse_shape)
    out_of_range: str = "warn"  # test.csv's pixels beyond the model's trained range: warn or error


@dataclass
class RunOutcome:
    submission: Path
    manifest: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Data:
    """The competition's files as rank 0 downloaded them, and what the run checks and records of them."""

    files: CompetitionFiles
    sample: SampleFormat  # the submission's format, checked before any training
    sha256: str  # train.csv's
    download_s: float


@dataclass(frozen=True)
class Made:
    """What the run made before publishing: the model it predicted with and test.csv's predictions."""

    data: Data
    checkpoint_path: Path
    checkpoint: Checkpoint
    trained: bool
    predictor: Predictor
    predictions: Predictions | None  # None on ranks other than 0
    timings: dict[str, float]


def run_job(config: RunConfig, log: Log) -> RunOutcome:
    if config.checkpoint is not None and config.retrain:
        raise JobError("give --checkpoint or --retrain, not both", ExitCode.BAD_INPUT)
    check_max_per_day(config.max_per_day)
    check_slug(config.competition)  # before anything, the lock included, is looked for under the home
    demo = _choose_demo(config, log)
    workspace = Workspace(Path(config.home), config.competition, demo=demo)
    if config.checkpoint is None:
        _train_config(config, workspace)  # a bad preset fails before the lock and the download
    world = current_world()
    with exclusive(workspace.home, config.wait_lock_s, "run", log):
        return _run_locked(config, workspace, log, world)


def _choose_demo(config: RunConfig, log: Log) -> bool:
    from core.data.demo import DEMO_COMPETITION

    if config.demo:
        return True
    if find_credentials() is not None:
        return False
    if config.competition != DEMO_COMPETITION:
        raise JobError(f"no Kaggle credentials found to download {config.competition}: {HOW_TO} (the offline "
                       f"demo is {DEMO_COMPETITION}'s only)", ExitCode.AUTH)
    if config.submit or config.force_submit:
        # A scheduled submitter that lost its credentials must fail loudly, not quietly run the demo.
        raise JobError(f"--submit needs Kaggle credentials and none were found: {HOW_TO} "
                       "(or pass --demo to run the offline demo)", ExitCode.AUTH)
    log.info("no Kaggle credentials found: running the embedded demo competition offline", event="run.demo")
    return True


def _run_locked(config: RunConfig, workspace: Workspace, log: Log, world: World) -> RunOutcome:
    from core.model.checkpoint import load_checkpoint
    from core.predict.outputs import id_names
    from core.predict.predictor import Predictor
    from core.predict.stream import predict_file

    data = world.from_rank0(lambda: _download(workspace, log))
    timings: dict[str, float] = {"download_s": data.download_s}
    checkpoint_path, trained = _checkpoint_for(config, workspace, data, timings, log, world)
    checkpoint = world.agree(lambda: load_checkpoint(checkpoint_path))
    if config.checkpoint is not None:  # one made for other data is refused (core.run.made_for says why)
        world.agree(lambda: check_given(checkpoint, workspace.slug, data.sha256, log))

    started = time.monotonic()
    predictor = Predictor.from_checkpoints([checkpoint], config.device)
    predictions = predict_file(data.files.test, predictor, log, id_names=id_names(data.sample), world=world,
                               ignore_extra=config.ignore_extra, labels=False, out_of_range=config.out_of_range)
    timings["predict_s"] = time.monotonic() - started
    made = Made(data, checkpoint_path, checkpoint, trained, predictor, predictions, timings)
    return world.from_rank0(lambda: _publish_and_submit(config, workspace, made, log))


def _download(workspace: Workspace, log: Log) -> Data:
    from core.base.hashing import sha256_file
    from core.data.sample import read_sample
    from core.kaggle.download import fetch
    from core.run.publish import sweep_leftovers

    sweep_leftovers(workspace, log)
    started = time.monotonic()
    files = fetch(workspace, log)
    return Data(files, read_sample(files.sample), sha256_file(files.train), time.monotonic() - started)


def _checkpoint_for(config: RunConfig, workspace: Workspace, data: Data, timings: dict[str, float], log: Log,
                    world: World) -> tuple[Path, bool]:
    """The checkpoint to predict with, training it (on every rank) first when there is none for this data."""
    from core.data.sample import label_names
    from core.train.pipeline import train_to_checkpoint

    if config.checkpoint is not None:
        return Path(config.checkpoint), False
    path = workspace.checkpoint_path
    if not world.from_rank0(lambda: _needs_training(path, data.sha256, config, workspace.slug, log)):
        return path, False
    started = time.monotonic()
    # save_checkpoint renames a complete temp file over the old one: a kill mid-training keeps it.
    train_to_checkpoint(data.files.train, path, _train_config(config, workspace), log,
                        input_shape=config.input_shape, data_sha=data.sha256,
                        label_names=label_names(config.label_column, data.sample.label_column),
                        ignore_extra=config.ignore_extra, dataset=workspace.slug)
    timings["train_s"] = time.monotonic() - started
    return path, True


def _train_config(config: RunConfig, workspace: Workspace):
    from core.train.config import config_for

    preset = config.preset or ("demo" if workspace.demo else "default")
    return config_for(preset, device=config.device, pixel_order=config.pixel_order)


def _needs_training(checkpoint_path: Path, data_sha: str, config: RunConfig, dataset: str, log: Log) -> bool:
    """Train when asked, when there is no model for this data (or for the --input-shape given), or when
    the one there no longer loads (a scheduled run must not fail every day on a damaged file: it is set
    aside and replaced), or was made for other data (set aside too: core.run.made_for)."""
    import os

    from core.base.errors import BadInput
    from core.model.checkpoint import beside, load_checkpoint
    from core.run.made_for import other_data, set_aside

    if config.retrain or not checkpoint_path.is_file():
        return True
    try:
        checkpoint = load_checkpoint(checkpoint_path)
    except BadInput as exc:
        aside = beside(checkpoint_path).broken
        os.replace(checkpoint_path, aside)
        log.warn(f"{exc.message}; set it aside as {aside.name} and training a new model", event="run.retrain",
                 checkpoint=checkpoint_path, set_aside=aside)
        return True
    if other_data(checkpoint, dataset, data_sha) is not None:
        set_aside(checkpoint_path, checkpoint, dataset, log)
        return True
    spec = checkpoint.spec
    if config.input_shape and (spec.input_shape, spec.pixel_order) != (config.input_shape, config.pixel_order):
        log.info(f"{checkpoint_path.name} reads {'x'.join(map(str, spec.input_shape))} images ({spec.pixel_order}); "
                 "training one for the --input-shape given", event="run.retrain", checkpoint=checkpoint_path)
        return True
    return checkpoint.meta.get("data_sha256") != data_sha


def _publish_and_submit(config: RunConfig, workspace: Workspace, made: Made, log: Log) -> RunOutcome:
    """Everything after prediction, on rank 0 under torchrun: publish the folder, then maybe upload."""
    from core.base.hashing import sha256_file
    from core.run.publish import keep_checkpoint

    checkpoint_sha = sha256_file(made.checkpoint_path)
    kept = keep_checkpoint(made.checkpoint_path, checkpoint_sha, workspace)
    requested = config.submit or config.force_submit
    # Before any upload: settle earlier uploads whose reply was lost, so they count as submitted.
    landed = settle(workspace.submissions_root, config.competition, log) if requested and not workspace.demo else []
    last = (submitted_manifests(workspace.submissions_root) or [None])[-1]

    def fields(submission_sha: str) -> dict:
        decision = decide(requested=requested, force=config.force_submit, demo=workspace.demo,
                          val_accuracy=_val_accuracy(made), last_submitted=last,
                          landed_now=same_file(landed, submission_sha))
        return {**_origin(made, checkpoint_sha), "submit_decision": decision.to_dict(), "checkpoint_kept": str(kept),
                **(_demo_accuracy(made) if workspace.demo else {})}

    predicted = Predicted(made.predictions, made.checkpoint.spec.classes, [made.checkpoint], made.data.sample)
    published = publish_submission(workspace, predicted, fields, log)
    log.info(f"published {published.folder}", event="run.published", folder=published.folder, rows=published.rows)
    decision = published.manifest["submit_decision"]
    if decision["submit"]:
        _submit(config, published, log)
    else:
        log.info(f"not submitted: {decision['reason']}", event="run.submit_skipped", reason=decision["reason"])
    return RunOutcome(submission=published.file, manifest=published.manifest)


def _val_accuracy(made: Made) -> float | None:
    return made.checkpoint.metrics.get("val_accuracy")


def _origin(made: Made, checkpoint_sha: str) -> dict:
    """The manifest's record of what produced a run's file: data, model, device, versions, timings."""
    from core.base.hashing import sha256_file
    from core.model.checkpoint import library_versions
    from core.model.devices import describe

    data = made.data
    return {
        "data_sha256": {"train.csv": data.sha256, "test.csv": sha256_file(data.files.test),
                        "archive": data.files.record().get("archive_sha256")},
        "checkpoint": str(made.checkpoint_path), "checkpoint_sha256": checkpoint_sha, "trained_this_run": made.trained,
        "arch": made.checkpoint.spec.arch, "val_accuracy": _val_accuracy(made),
        "device": describe(made.predictor.device), "versions": library_versions(),
        "timings_s": {name: round(seconds, 2) for name, seconds in made.timings.items()},
    }


def _demo_accuracy(made: Made) -> dict:
    import numpy as np

    from core.data.demo import demo_test_labels

    labels = made.predictions.labels.astype(np.int64)
    return {"demo_accuracy": float(np.mean(labels == demo_test_labels()))}


def _submit(config: RunConfig, published: Published, log: Log) -> None:
    manifest = published.manifest
    val = "" if manifest["val_accuracy"] is None else f"val_acc={manifest['val_accuracy']} "  # None: every row
    message = config.message or f"kaggle-job {manifest['arch']} {val}ckpt={manifest['checkpoint_sha256'][:12]}"
    log.info(f"submitting {published.file} to {config.competition}", event="run.submit",
             reason=manifest["submit_decision"]["reason"])
    upload_published(published, config.max_per_day, message, log)
