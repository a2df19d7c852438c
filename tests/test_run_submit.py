"""The scheduled `run --submit` end to end: the real kaggle client uploads to the loopback emulator."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.cli import app
from tests.cli_output import records


def run(runner, checkpoint, *extra):
    return runner.invoke(app, ["run", "--checkpoint", str(checkpoint), "--log-format", "json", *extra])


def manifest_of(result) -> dict:
    done = [r for r in records(result) if r.get("event") == "run.result"]
    assert done, result.output
    return json.loads((Path(done[0]["submission"]).parent / "manifest.json").read_text())


def test_run_submits_only_a_better_model_unless_forced(runner, emu, creds, isolated, tiny_checkpoint):
    first = run(runner, tiny_checkpoint, "--submit", "--message", "scheduled")
    assert first.exit_code == 0, first.output
    manifest = manifest_of(first)
    assert manifest["submitted"] is True and manifest["demo"] is False
    assert manifest["submission_ref"] == str(emu.submissions[-1].ref)
    assert emu.submissions[-1].description.endswith("] scheduled")
    uploaded = list(emu.uploads.values())
    folder = Path([r for r in records(first) if r.get("event") == "run.result"][0]["submission"]).parent
    assert (folder / "submission.csv").read_bytes() in uploaded

    # The same model again: not better than what was submitted, so nothing is uploaded.
    again = run(runner, tiny_checkpoint, "--submit")
    assert again.exit_code == 0, again.output
    assert manifest_of(again)["submitted"] is False
    assert len(emu.submissions) == 1
    assert any(r.get("event") == "run.submit_skipped" for r in records(again))

    forced = run(runner, tiny_checkpoint, "--force-submit")
    assert forced.exit_code == 0, forced.output
    assert manifest_of(forced)["submitted"] is True and len(emu.submissions) == 2


def test_run_respects_the_daily_limit_and_keeps_the_submission(runner, emu, creds, isolated, tiny_checkpoint):
    assert run(runner, tiny_checkpoint, "--force-submit").exit_code == 0
    limited = run(runner, tiny_checkpoint, "--force-submit", "--max-per-day", "1")
    assert limited.exit_code == 9, limited.output
    assert "daily submission limit" in limited.output and "Traceback" not in limited.output
    assert len(emu.submissions) == 1
    folders = sorted((isolated / "submissions" / "digit-recognizer").iterdir())
    assert len(folders) == 2  # the refused run still published its (valid) submission folder
    manifest = json.loads((folders[-1] / "manifest.json").read_text())
    assert manifest["submitted"] is False and manifest["submission_error"]["exit_code"] == 9
