"""Submission folders are published whole, never reused, and leftovers of dead runs are swept."""

import os
import subprocess
import sys

import pytest

from core.base.atomic import atomic_write_text
from core.base.log import Log
from core.base.workspace import Workspace
from core.run.publish import publish, staged_submission, sweep_leftovers


def test_two_publishes_in_the_same_second_get_distinct_folders(tmp_path):
    workspace = Workspace(tmp_path)
    published = []
    for n in range(3):
        with staged_submission(workspace) as staging:
            (staging / "submission.csv").write_text(f"run {n}\n")
            published.append(publish(staging, workspace))
    assert len(set(published)) == 3
    assert [(p / "submission.csv").read_text() for p in published] == ["run 0\n", "run 1\n", "run 2\n"]
    assert sorted(p.name for p in workspace.submissions_root.iterdir()) == sorted(p.name for p in published)


def test_a_failed_run_publishes_nothing(tmp_path):
    workspace = Workspace(tmp_path)
    with pytest.raises(RuntimeError):
        with staged_submission(workspace) as staging:
            (staging / "submission.csv").write_text("half")
            raise RuntimeError("boom")
    assert list(workspace.submissions_root.iterdir()) == []


def test_sweep_removes_only_what_dead_writers_left(tmp_path):
    workspace = Workspace(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead, live = proc.pid, os.getppid()
    ckpts = workspace.checkpoints_dir
    ckpts.mkdir(parents=True)
    (ckpts / "model.pt").write_bytes(b"keep")
    (ckpts / f".model.pt.{dead}.abc123.tmp").write_bytes(b"dead writer")
    (ckpts / f".model.pt.{live}.abc123.tmp").write_bytes(b"live writer")
    (workspace.submissions_root / f".staging-{dead}-0").mkdir(parents=True)
    folder = workspace.submissions_root / "20260101T000000Z"
    folder.mkdir()
    (folder / f".manifest.json.{dead}.x_y.tmp").write_text("{")
    removed = sweep_leftovers(workspace, Log(fmt="json"))
    assert len(removed) == 3
    assert sorted(p.name for p in ckpts.iterdir()) == [f".model.pt.{live}.abc123.tmp", "model.pt"]
    assert list(workspace.submissions_root.iterdir()) == [folder] and list(folder.iterdir()) == []


def test_atomic_writes_name_their_writer(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (seen.append(os.path.basename(src)), real_replace(src, dst)))
    atomic_write_text(tmp_path / "f.txt", "x")
    assert seen and f".f.txt.{os.getpid()}." in seen[0] and seen[0].endswith(".tmp")


def test_every_checkpoint_that_produced_a_submission_is_kept(runner, isolated, demo_dir):
    import json

    import torch

    from core.base.hashing import sha256_file
    from core.model.checkpoint import load_checkpoint, save_checkpoint
    from core.model.spec import ModelSpec
    from jobs.cli import app

    model_pt = isolated / "checkpoints" / "digit-recognizer-demo" / "model.pt"
    spec = ModelSpec(arch="baseline", input_shape=(1, 28, 28), classes=list(range(10)), mean=0.13, std=0.31)
    manifests = []
    for seed in (1, 2):  # the second save replaces model.pt, as a retrain on new data would
        torch.manual_seed(seed)
        save_checkpoint(model_pt, spec.build(), spec, {"val_accuracy": 0.1},
                        data_sha256=sha256_file(demo_dir / "train.csv"))
        result = runner.invoke(app, ["run", "--demo"])
        assert result.exit_code == 0, result.output
        (folder,) = [f for f in (isolated / "submissions" / "digit-recognizer").iterdir()
                     if json.loads((f / "manifest.json").read_text()) not in manifests]
        manifests.append(json.loads((folder / "manifest.json").read_text()))
    first, second = manifests
    assert first["checkpoint_sha256"] != second["checkpoint_sha256"]
    for manifest in manifests:
        kept = manifest["checkpoint_kept"]
        assert sha256_file(kept) == manifest["checkpoint_sha256"]
        load_checkpoint(kept)


@pytest.mark.parametrize("slug, ok", [
    ("digit-recognizer", True), ("Kannada-MNIST", True), ("a", True), ("x" * 100, True),
    ("x" * 101, False), ("", False), ("..", False), ("../../etc", False), ("a/b", False), ("-x", False),
    ("with space", False),
])
def test_competition_slugs_that_could_leave_the_home_are_refused(tmp_path, slug, ok):
    from core.base.errors import BadInput

    if ok:
        assert Workspace(tmp_path, slug).data_dir == tmp_path / "data" / slug
    else:
        with pytest.raises(BadInput, match="not a Kaggle competition slug"):
            Workspace(tmp_path, slug)


@pytest.mark.parametrize("command", [["run"], ["download"], ["train"], ["inspect"]])
def test_a_hostile_slug_is_one_line_and_exit_2(runner, isolated, command):
    from jobs.cli import app

    result = runner.invoke(app, [*command, "--competition", "../../etc", "--log-format", "json"])
    assert result.exit_code == 2, result.output
    assert "not a Kaggle competition slug" in result.output and "Traceback" not in result.output
    assert not (isolated.parent / "etc").exists()
