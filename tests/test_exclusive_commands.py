"""Every command that writes under the home takes its lock, handles SIGTERM like Ctrl-C, and a
download killed with kill -9 leaves nothing that the next command does not sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.base.atomic import writer_pid
from core.base.hashing import sha256_file
from core.data.archive import extracted
from core.data.demo import DEMO_ZIP
from core.run.lock import hold_lock
from jobs.cli import app
from tests.cli_output import one_error

BIN = Path(sys.executable).parent / "kaggle-job"


@pytest.mark.parametrize("args", [
    ["download", "--demo", "--force"],
    ["train", "--demo", "--preset", "demo"],
    ["submit", "--file", "x.csv", "--dry-run"],
    ["run", "--demo"],
])
def test_a_command_that_writes_under_the_home_waits_for_its_lock(runner, isolated, args):
    with hold_lock(isolated, command="run"):
        got = runner.invoke(app, [*args, "--home", str(isolated), "--log-format", "json"])
    assert got.exit_code == 7, got.output
    message = one_error(got)
    assert f"pid {os.getpid()}" in message and "`kaggle-job run`" in message
    assert not (isolated / "data").exists() and not (isolated / "checkpoints").exists()


@pytest.mark.parametrize("args, made", [
    (["download", "--demo"], "data/digit-recognizer-demo/train.csv"),
    # train locks the home only when it touches the home's folders: here it writes into its checkpoints/
    (["train", "--data-dir", "small", "--preset", "demo", "--epochs", "1", "--checkpoint", "checkpoints/s/m.pt"],
     "checkpoints/s/m.pt"),
    (["submit", "--file", "ready.csv", "--data-dir", "{demo}", "--dry-run"],
     "said: dry run: ready.csv is valid (1000 rows); nothing uploaded"),
    (["run", "--demo", "--checkpoint", "{checkpoint}"], "submissions/digit-recognizer/*/submission.csv"),
])
def test_wait_lock_waits_for_the_holder_and_then_runs(runner, isolated, demo_dir, untrained_checkpoint, monkeypatch,
                                                      args, made):
    """The holder lets go only once the command is trying for the lock, and 0.3 s later: the command
    must have been waiting at least that long, and got the lock only after it was released."""
    import threading

    import core.run.lock as lock

    trying, held, times = threading.Event(), threading.Event(), {}
    real_acquire = lock._acquire

    def acquire(fd, path, wait_s):
        times["tried"] = time.monotonic()
        trying.set()
        real_acquire(fd, path, wait_s)
        times["acquired"] = time.monotonic()

    def hold():
        with hold_lock(isolated, command="run"):
            held.set()
            trying.wait(60)
            time.sleep(0.3)  # the wait being measured, not a guess at readiness
            times["released"] = time.monotonic()

    (isolated / "small").mkdir()
    with open(demo_dir / "train.csv") as source:  # 300 rows: a quick epoch
        (isolated / "small" / "train.csv").write_text("".join(line for _, line in zip(range(301), source)))
    (isolated / "ready.csv").write_bytes((demo_dir / "sample_submission.csv").read_bytes())
    args = [a.format(demo=demo_dir, checkpoint=untrained_checkpoint) for a in args]
    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(60)
    monkeypatch.setattr(lock, "_acquire", acquire)
    monkeypatch.chdir(isolated)
    got = runner.invoke(app, [*args, "--home", str(isolated), "--wait-lock", "60", "--log-format", "json"])
    holder.join()
    assert got.exit_code == 0, got.output
    assert times["acquired"] >= times["released"] >= times["tried"] + 0.3
    if made.startswith("said: "):  # a dry run writes nothing: what it says is its effect
        assert made.removeprefix("said: ") in got.output
    else:
        assert len(list(isolated.glob(made))) == 1


def test_download_stages_with_its_pid_so_a_killed_one_is_swept(runner, isolated):
    dest = isolated / "data" / "digit-recognizer-demo"
    with extracted(DEMO_ZIP, dest) as (staging, _):
        assert staging.parent == dest.parent and staging.name.startswith(".")
        assert writer_pid(staging.name) == os.getpid()
    # What a download killed with -9 mid-unpack (or mid-swap) leaves beside the data folder:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    leftovers = [dest.parent / f".digit-recognizer-demo.{dead}.k2j4h5.tmp",
                 dest.parent / f".digit-recognizer-demo.{dead}.old.tmp"]
    for folder in leftovers:
        folder.mkdir()
        (folder / "train.csv").write_text("label,pixel0\n1,")
    live = dest.parent / f".digit-recognizer-demo.{os.getppid()}.abcdef.tmp"  # a live writer's: kept
    live.mkdir()
    got = runner.invoke(app, ["download", "--demo", "--home", str(isolated)])
    assert got.exit_code == 0, got.output
    assert not any(folder.exists() for folder in leftovers)
    assert live.is_dir()
    assert "run.cleanup" in got.output


def test_train_stopped_with_sigterm_exits_130_and_keeps_the_old_checkpoint(isolated, demo_dir, untrained_checkpoint):
    home = isolated / "home"
    target = home / "checkpoints" / "digit-recognizer-demo" / "model.pt"
    target.parent.mkdir(parents=True)
    target.write_bytes(untrained_checkpoint.read_bytes())
    before = sha256_file(target)
    env = {**os.environ, "KAGGLE_JOB_THREADS": "1"}
    proc = subprocess.Popen([str(BIN), "train", "--demo", "--home", str(home), "--data-dir", str(demo_dir),
                             "--preset", "demo", "--epochs", "50", "--log-format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stderr:  # stop it once it trains
            if '"train.progress"' in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert '"interrupted"' in err and "Traceback" not in err
    assert sha256_file(target) == before
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
