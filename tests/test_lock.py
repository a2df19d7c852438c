"""The per-home run lock: real flock, held by real separate processes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.base.errors import ExitCode, JobError
from core.run.lock import hold_lock, lock_path, read_holder

HOLDER = ("import sys, time\nfrom pathlib import Path\nfrom core.run.lock import hold_lock\n"
          "with hold_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(float(sys.argv[2]))\n")


def start_holder(home: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_holder_records_pid_and_clears_it_on_release(tmp_path):
    with hold_lock(tmp_path) as path:
        holder = read_holder(path)
        assert holder.pid == os.getpid()
        assert holder.since and holder.since.startswith("20")
    assert read_holder(lock_path(tmp_path)).pid is None
    assert lock_path(tmp_path).exists()  # never deleted: deleting would let two runs lock different inodes


def test_second_holder_is_refused_with_the_holders_pid(tmp_path, monkeypatch):
    import core.run.lock as lock

    proc = start_holder(tmp_path, 30)
    polls = []
    monkeypatch.setattr(lock.time, "sleep", polls.append)  # refused at once: no poll, whatever the machine's load
    try:
        with pytest.raises(JobError) as caught:
            with hold_lock(tmp_path):
                pass
        assert polls == []
        assert caught.value.exit_code == ExitCode.LOCKED == 7
        assert f"another run holds the lock (pid {proc.pid}, since " in caught.value.message
    finally:
        proc.kill()
        proc.wait()


def test_wait_lock_gets_it_when_the_holder_finishes(tmp_path):
    proc = start_holder(tmp_path, 1.0)
    with hold_lock(tmp_path, wait_s=30) as path:
        assert read_holder(path).pid == os.getpid()
    assert proc.wait() == 0


def test_wait_lock_gives_up_after_the_wait(tmp_path):
    proc = start_holder(tmp_path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(JobError) as caught:
            with hold_lock(tmp_path, wait_s=0.5):
                pass
        assert 0.5 <= time.monotonic() - started < 5
        assert "after waiting 0.5s" in caught.value.message
    finally:
        proc.kill()
        proc.wait()


def test_kill_9_releases_the_lock(tmp_path):
    proc = start_holder(tmp_path, 60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with hold_lock(tmp_path) as path:  # the kernel dropped the dead holder's lock
        assert read_holder(path).pid == os.getpid()
