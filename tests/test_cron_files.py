"""The schedule files parse, call the one wrapper, and pass the tools that check them."""

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

CRON = Path(__file__).resolve().parents[1] / "cron"
WRAPPER = CRON / "kaggle-job-run.sh"
README = Path(__file__).resolve().parents[1] / "README.md"


def test_wrapper_is_executable_bash_and_execs_the_documented_command():
    assert WRAPPER.stat().st_mode & stat.S_IXUSR
    subprocess.run(["bash", "-n", str(WRAPPER)], check=True)
    text = WRAPPER.read_text()
    assert 'job=("$bin" run --log-format json' in text and 'timeout --kill-after=' in text
    assert "kaggle-job run --log-format json" in README.read_text()


def test_wrapper_says_so_in_json_when_kaggle_job_is_missing(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KAGGLE_JOB_BIN": str(tmp_path / "nope")}
    done = subprocess.run([str(WRAPPER)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert '"event": "wrapper.no_binary"' in done.stderr


def test_wrapper_reads_the_env_file_and_passes_arguments(tmp_path):
    fake = tmp_path / "kaggle-job"
    fake.write_text('#!/bin/sh\necho "args: $*"\necho "home: $KAGGLE_JOB_HOME key: ${KAGGLE_KEY:+set}"\n')
    fake.chmod(0o755)
    env_file = tmp_path / "env"
    env_file.write_text(f"KAGGLE_JOB_BIN={fake}\nKAGGLE_KEY=abc\nKAGGLE_JOB_ARGS=\"--demo --device cpu\"\n")
    env_file.chmod(0o600)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KAGGLE_JOB_ENV_FILE": str(env_file),
           "KAGGLE_JOB_HOME": str(tmp_path / "h")}
    done = subprocess.run([str(WRAPPER), "--submit", "-m", "two words"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "args: run --log-format json --demo --device cpu --submit -m two words" in done.stdout
    assert f"home: {tmp_path / 'h'} key: set" in done.stdout


def test_workflow_parses_and_runs_the_wrapper_on_a_schedule():
    workflow = yaml.safe_load((CRON / "github-actions.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"].count(" ") == 4
    assert "workflow_dispatch" in triggers
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is False
    (job,) = workflow["jobs"].values()
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "torch==2.13.0" in runs
    assert "cron/kaggle-job-run.sh" in runs
    step_env = {k: v for step in job["steps"] for k, v in step.get("env", {}).items()}
    assert step_env["KAGGLE_USERNAME"] == "${{ secrets.KAGGLE_USERNAME }}"
    assert step_env["KAGGLE_KEY"] == "${{ secrets.KAGGLE_KEY }}"
    uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and "submissions" in uploads[0]["with"]["path"] and uploads[0]["if"] == "always()"


def test_crontab_uses_flock_the_wrapper_and_a_log_redirect():
    lines = [l for l in (CRON / "crontab.example").read_text().splitlines() if l and not l.startswith("#")]
    (entry,) = [l for l in lines if "kaggle-job-run.sh" in l]
    assert len(entry.split()[:5]) == 5 and "flock -n" in entry and ">> " in entry and "2>&1" in entry
    assert "%" not in entry  # cron would turn it into a newline


def test_systemd_units_say_what_the_schedule_needs():
    service = (CRON / "kaggle-job.service").read_text()
    timer = (CRON / "kaggle-job.timer").read_text()
    assert "Type=oneshot" in service and "kaggle-job-run.sh" in service
    assert "Persistent=true" in timer and "RandomizedDelaySec=" in timer and "Unit=kaggle-job.service" in timer


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    # The units point at %h/kaggle-job; verify checks ExecStart exists, so point it at this checkout.
    service = (CRON / "kaggle-job.service").read_text().replace("%h/kaggle-job/cron/", f"{CRON}/")
    (tmp_path / "kaggle-job.service").write_text(service)
    shutil.copy(CRON / "kaggle-job.timer", tmp_path / "kaggle-job.timer")
    verify = ["systemd-analyze", "verify", "--man=no", "kaggle-job.service", "kaggle-job.timer"]
    done = subprocess.run(verify, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    if "Failed to initialize manager" in done.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "kaggle-job" not in done.stderr, done.stderr  # no warnings about our units

    # and verify really checks: a unit whose command is missing fails
    (tmp_path / "kaggle-job.service").write_text(service.replace(f"{CRON}/", "/nonexistent/"))
    broken = subprocess.run(verify, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert broken.returncode != 0


def fake_job(tmp_path, body: str) -> dict:
    """An env that makes the wrapper run `body` as kaggle-job (a shell script)."""
    fake = tmp_path / "kaggle-job"
    fake.write_text("#!/bin/bash\n" + body + "\n")
    fake.chmod(0o755)
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KAGGLE_JOB_BIN": str(fake),
            "KAGGLE_JOB_HOME": str(tmp_path / "h"), "KAGGLE_JOB_ENV_FILE": str(tmp_path / "none")}


def wrapper_lines(stderr: str) -> list[dict]:
    import json

    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("code", [0, 2, 6, 7])
def test_wrapper_passes_the_jobs_exit_code_through(tmp_path, code):
    env = {**fake_job(tmp_path, f"exit {code}"), "KAGGLE_JOB_TIMEOUT": "30"}
    done = subprocess.run([str(WRAPPER)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == code and wrapper_lines(done.stderr) == []


def test_a_hung_run_is_stopped_at_the_time_limit_with_124_not_7(tmp_path):
    import time

    env = {**fake_job(tmp_path, "exec sleep 600"), "KAGGLE_JOB_TIMEOUT": "1", "KAGGLE_JOB_KILL_AFTER": "5"}
    started = time.monotonic()
    done = subprocess.run([str(WRAPPER)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 124
    assert time.monotonic() - started < 10
    (line,) = wrapper_lines(done.stderr)
    assert line["event"] == "wrapper.timeout" and line["exit_code"] == 124 and "KAGGLE_JOB_TIMEOUT=1" in line["msg"]


def test_a_run_that_ignores_sigterm_is_killed_with_137_not_7(tmp_path):
    env = {**fake_job(tmp_path, "trap '' TERM\nsleep 600"), "KAGGLE_JOB_TIMEOUT": "1",
           "KAGGLE_JOB_KILL_AFTER": "1"}
    done = subprocess.run([str(WRAPPER)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 137
    assert [line["event"] for line in wrapper_lines(done.stderr)] == ["wrapper.killed"]


def test_sigterm_to_the_wrapper_reaches_the_job(tmp_path):
    marker = tmp_path / "got-term"
    env = {**fake_job(tmp_path, ready_job(f"touch {marker}; exit 130")), "KAGGLE_JOB_TIMEOUT": "60"}
    assert stop_when_ready(env) == (130, "")
    assert marker.exists()


def ready_job(on_term: str) -> str:
    """A job that handles SIGTERM with `on_term` and says ready once its trap is set (the wrapper set its
    own before starting it). Its child runs before it says so: one forked after the signal would outlive it."""
    return f"trap '{on_term}' TERM\nsleep 600 >/dev/null 2>&1 &\necho ready\nwait"


def lossy_timeout(tmp_path) -> str:
    """A PATH whose timeout(1) loses a SIGTERM the way coreutils' does in the instant after its fork()."""
    import sys

    real = shutil.which("timeout", path="/usr/bin:/bin")
    bin_dir = tmp_path / "lossy-bin"
    bin_dir.mkdir()
    fake = bin_dir / "timeout"
    fake.write_text(f"""#!{sys.executable}
import os, signal, subprocess, sys
if not sys.argv[1].startswith("--kill-after="):  # the wrapper's other use of timeout(1) is left alone
    os.execv({real!r}, sys.argv)
os.setpgid(0, 0)
signal.signal(signal.SIGTERM, lambda *_: os._exit(143))  # dies without passing the signal on
sys.exit(subprocess.call(sys.argv[3:]))
""")
    fake.chmod(0o755)
    return f"{bin_dir}:/usr/bin:/bin"


def stop_when_ready(env: dict) -> tuple[int, str]:
    """Start the wrapper, SIGTERM it once the job prints `ready`; its exit code and the events it logged."""
    import signal
    import threading

    proc = subprocess.Popen([str(WRAPPER)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(60, proc.kill)  # a wrapper that never says ready fails the test instead of hanging it
    guard.start()
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)  # returns once every process holding the pipes is gone
    finally:
        guard.cancel()
    return proc.returncode, " ".join(line["event"] for line in wrapper_lines(err))


def test_a_sigterm_that_timeout_loses_still_reaches_the_job(tmp_path):
    marker = tmp_path / "got-term"
    env = {**fake_job(tmp_path, ready_job(f"touch {marker}; exit 130")), "KAGGLE_JOB_TIMEOUT": "60",
           "PATH": lossy_timeout(tmp_path)}
    assert stop_when_ready(env) == (130, "")
    assert marker.exists()


def test_a_job_that_ignores_a_lost_sigterm_is_killed_after_the_grace(tmp_path):
    env = {**fake_job(tmp_path, ready_job("")), "KAGGLE_JOB_TIMEOUT": "60", "KAGGLE_JOB_KILL_AFTER": "1",
           "PATH": lossy_timeout(tmp_path)}
    assert stop_when_ready(env) == (137, "wrapper.killed")


def test_schedules_put_a_time_limit_on_the_run():
    cron_env = [l for l in (CRON / "crontab.example").read_text().splitlines() if l.startswith("KAGGLE_JOB_TIMEOUT=")]
    assert cron_env and cron_env[0].split("=", 1)[1]
    service = (CRON / "kaggle-job.service").read_text()
    assert "Environment=KAGGLE_JOB_TIMEOUT=" in service and "SuccessExitStatus=7" in service
    workflow = yaml.safe_load((CRON / "github-actions.yml").read_text())
    (job,) = workflow["jobs"].values()
    (step,) = [s for s in job["steps"] if "kaggle-job-run.sh" in s.get("run", "")]
    assert step["timeout-minutes"] < job["timeout-minutes"] and step["env"]["KAGGLE_JOB_TIMEOUT"]
