"""core.api's run and submit: the CLI's commands as library calls, writing the same files, silent by
default, raising JobError (never SystemExit) for a bad option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import api
from core.base.errors import BadInput, ExitCode, JobError
from core.run.lock import lock_path
from jobs.cli import app
from tests.cli_output import records


def event(result, name: str) -> dict:
    (found,) = [r for r in records(result) if r.get("event") == name]
    return found


def test_run_through_the_api_writes_the_clis_submission(runner, isolated, tiny_checkpoint, capsys):
    cli = runner.invoke(app, ["run", "--demo", "--checkpoint", str(tiny_checkpoint), "--home", "cli",
                              "--log-format", "json"])
    assert cli.exit_code == 0, cli.output
    capsys.readouterr()

    outcome = api.run(demo=True, checkpoint=str(tiny_checkpoint), home=isolated / "lib")
    assert capsys.readouterr() == ("", "")  # no log given: a quiet one
    assert outcome.submission.parent.parent == isolated / "lib" / "submissions" / "digit-recognizer"
    assert outcome.submission.read_bytes() == Path(event(cli, "run.result")["submission"]).read_bytes()
    assert json.loads((outcome.submission.parent / "manifest.json").read_text()) == outcome.manifest
    assert outcome.manifest["demo"] is True and outcome.manifest["submitted"] is False
    assert outcome.manifest["checkpoint"] == str(tiny_checkpoint)


@pytest.mark.parametrize("options, message", [
    ({"max_per_day": 0}, "--max-per-day: expected at least 1, got 0"),
    ({"input_shape": "28x28x28x3"}, "--input-shape: expected CxHxW"),
    ({"checkpoint": "model.pt", "retrain": True}, "give --checkpoint or --retrain, not both"),
    ({"competition": "no such/slug"}, "--competition: 'no such/slug' is not a Kaggle competition slug"),
])
def test_run_refuses_a_bad_option_before_taking_the_lock(isolated, options, message):
    with pytest.raises(JobError) as refused:
        api.run(demo=True, home=isolated, **options)
    assert refused.value.exit_code == ExitCode.BAD_INPUT and message in refused.value.message
    assert not lock_path(isolated).exists()


def test_submit_dry_run_through_the_api_writes_the_clis_file(runner, isolated, tiny_checkpoint, demo_dir):
    # max_per_day=1, the least there is: a dry run never asks Kaggle, so it needs no credentials either.
    outcome = api.submit(tiny_checkpoint, data_dir=demo_dir, dry_run=True, max_per_day=1)
    assert outcome.ref is None and outcome.scored is None and outcome.rows == 1000
    manifest = json.loads((outcome.file.parent / "manifest.json").read_text())
    assert manifest["command"] == "submit" and manifest["checkpoints"] == [str(tiny_checkpoint)]
    assert manifest["message"] == api.DEFAULT_MESSAGE and manifest["submitted"] is False

    cli = runner.invoke(app, ["submit", "--checkpoint", str(tiny_checkpoint), "--data-dir", str(demo_dir),
                              "--dry-run", "--log-format", "json"])
    assert cli.exit_code == 0, cli.output
    assert Path(event(cli, "submit.dry_run")["file"]).read_bytes() == outcome.file.read_bytes()


@pytest.mark.parametrize("options, message", [
    ({}, "give exactly one of --checkpoint or --file"),
    ({"checkpoint": []}, "give exactly one of --checkpoint or --file"),
    ({"checkpoint": "model.pt", "file": "submission.csv"}, "give exactly one of --checkpoint or --file"),
    ({"checkpoint": "model.pt", "max_per_day": 0}, "--max-per-day: expected at least 1, got 0"),
    ({"checkpoint": "model.pt", "max_per_day": -1}, "--max-per-day: expected at least 1, got -1"),
])
def test_submit_refuses_a_bad_option_with_a_job_error(isolated, options, message):
    with pytest.raises(BadInput) as refused:
        api.submit(dry_run=True, home=isolated, **options)
    assert refused.value.exit_code == ExitCode.BAD_INPUT and refused.value.message == message
