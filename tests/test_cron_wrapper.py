"""The scheduled job as cron runs it: the wrapper script, in real subprocesses, repeated,
overlapped, stopped with SIGTERM and killed with SIGKILL mid-run."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.base.hashing import sha256_file
from core.model.checkpoint import load_checkpoint, save_checkpoint
from core.model.spec import ModelSpec
from core.run.lock import hold_lock, lock_path, read_holder

WRAPPER = Path(__file__).resolve().parents[1] / "cron" / "kaggle-job-run.sh"
BIN = Path(sys.executable).parent / "kaggle-job"
SECRET = "fedcba9876543210-not-for-logs"


@pytest.fixture
def home(tmp_path, demo_dir) -> Path:
    """A home whose demo checkpoint matches the demo data, so runs load it instead of training."""
    home = tmp_path / "home"
    spec = ModelSpec(arch="baseline", input_shape=(1, 28, 28), classes=list(range(10)), mean=0.13, std=0.31)
    save_checkpoint(home / "checkpoints" / "digit-recognizer-demo" / "model.pt", spec.build(), spec,
                    {"val_accuracy": 0.1}, data_sha256=sha256_file(demo_dir / "train.csv"))
    return home


@pytest.fixture
def env(isolated, tmp_path, home) -> dict:
    kaggle_job = BIN if BIN.exists() else shutil.which("kaggle-job")
    if not kaggle_job:
        pytest.skip("kaggle-job is not installed")
    env_file = tmp_path / "kaggle-job.env"
    # Credentials present (as on a real box) but --demo forced: they must never show up in logs.
    env_file.write_text(f"KAGGLE_USERNAME=someone\nKAGGLE_KEY={SECRET}\nKAGGLE_JOB_ARGS=--demo\n")
    env_file.chmod(0o600)
    return {**os.environ, "KAGGLE_JOB_BIN": str(kaggle_job), "KAGGLE_JOB_HOME": str(home),
            "KAGGLE_JOB_ENV_FILE": str(env_file)}


def wrapper(env, *args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([str(WRAPPER), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def run_wrapper(env, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(WRAPPER), *args], env=env, capture_output=True, text=True, timeout=timeout)


def folders(home: Path) -> list[Path]:
    root = home / "submissions" / "digit-recognizer"
    return sorted(root.iterdir()) if root.is_dir() else []


def snapshot(home: Path) -> dict[str, str]:
    """sha256 of every file under submissions/ and checkpoints/, hidden ones included."""
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for sub in ("submissions", "checkpoints") for p in sorted((home / sub).rglob("*")) if p.is_file()}


def test_wrapper_runs_the_demo_job_repeatedly_with_json_logs(env, home):
    for expected in (1, 2):
        done = run_wrapper(env)
        assert done.returncode == 0, done.stderr
        assert len(folders(home)) == expected
    for line in (done.stdout + done.stderr).splitlines():
        json.loads(line)  # every line is one JSON object
    assert SECRET not in done.stdout + done.stderr
    assert '"event": "run.result"' in done.stdout and "demo accuracy" in done.stdout
    for folder in folders(home):
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["checkpoint_sha256"] == sha256_file(home / "checkpoints" / "digit-recognizer-demo" / "model.pt")
        assert manifest["submission_sha256"] == sha256_file(folder / "submission.csv")
        assert manifest["trained_this_run"] is False and manifest["rows"] == 1000
        assert SECRET not in (folder / "manifest.json").read_text()


def test_overlapping_run_exits_7_naming_the_holder(env, home):
    before = snapshot(home)
    with hold_lock(home, command="run"):  # an earlier run still going, for as long as this block lasts
        second = run_wrapper(env, timeout=120)
    assert second.returncode == 7, second.stderr
    assert f"another run holds the lock (pid {os.getpid()}, since " in second.stderr
    assert snapshot(home) == before


def test_sigterm_mid_run_exits_130_and_cleans_up(env, home):
    before = snapshot(home)
    first = wrapper(env, "--retrain")  # trains for minutes
    try:
        for line in first.stderr:  # stop it once it is training, mid-run
            if '"train.progress"' in line:
                break
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=120)
        assert first.returncode == 130, err
        assert '"interrupted"' in err or "interrupted" in err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert snapshot(home) == before  # the old checkpoint untouched, no temp files left behind
    with hold_lock(home):
        pass


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_kill_9_mid_run_loses_nothing_and_the_next_run_cleans_up(env, home):
    assert run_wrapper(env).returncode == 0
    before = snapshot(home)
    victim = wrapper(env, "--retrain")
    try:
        for line in victim.stderr:  # kill the job once it is training, mid-run
            if '"train.progress"' in line:
                break
        os.kill(read_holder(lock_path(home)).pid, signal.SIGKILL)
        _, err = victim.communicate(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == 137  # the wrapper reports the kill: not 0, not 7
    assert '"wrapper.killed"' in err
    after_kill = snapshot(home)
    assert {k: v for k, v in after_kill.items() if k in before} == before  # every earlier file whole
    load_checkpoint(home / "checkpoints" / "digit-recognizer-demo" / "model.pt")

    # What a run killed while publishing or saving would leave behind (the kill above may
    # or may not have hit such a moment): a staging folder and a checkpoint temp file.
    dead = _dead_pid()
    stale_dir = home / "submissions" / "digit-recognizer" / f".staging-{dead}-0"
    stale_dir.mkdir()
    (stale_dir / "submission.csv").write_text("ImageId,Label\n1,")
    stale_tmp = home / "checkpoints" / "digit-recognizer-demo" / f".model.pt.{dead}.k2j4h5.tmp"
    stale_tmp.write_bytes(b"PK\x03\x04half")

    done = run_wrapper(env)
    assert done.returncode == 0, done.stderr
    assert '"run.cleanup"' in done.stderr
    assert not stale_dir.exists() and not stale_tmp.exists()
    assert len(folders(home)) == 2
    for folder in folders(home):
        assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "submission.csv"]
    assert {k: v for k, v in snapshot(home).items() if k in before} == before
