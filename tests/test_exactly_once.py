"""Exactly-once submissions: a CreateSubmission that Kaggle recorded but whose reply was lost is
settled by the next run (found by its tag), never uploaded again.

The real client talks to the loopback emulator; `emu.fail(..., after=True)` records the submission
and then answers 503, which is what a lost reply looks like from the client's side.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.run.submit_policy import decide
from jobs.cli import app
from tests.cli_output import one_error, records

COMP = "digit-recognizer"


def run(runner, checkpoint, *extra):
    return runner.invoke(app, ["run", "--checkpoint", str(checkpoint), "--log-format", "json", *extra])


def manifests(home: Path) -> list[dict]:
    root = home / "submissions" / COMP
    return [json.loads((f / "manifest.json").read_text()) for f in sorted(root.iterdir()) if not f.name.startswith(".")]


def test_lost_reply_then_second_run_submit_leaves_exactly_one_submission(runner, emu, creds, isolated,
                                                                          tiny_checkpoint):
    emu.fail("CreateSubmission", 503, after=True)
    first = run(runner, tiny_checkpoint, "--submit")
    assert first.exit_code == 6, first.output
    assert "may or may not have recorded" in one_error(first)
    assert len(emu.submissions) == 1  # Kaggle has it; the client was told 503
    (pending,) = manifests(isolated)
    assert pending["upload"]["state"] == "pending" and pending["submitted"] is False
    assert pending["upload"]["tag"] in emu.submissions[0].description
    assert pending["upload"]["submission_sha256"] == pending["submission_sha256"]
    assert pending["upload"]["checkpoint_sha256"] == pending["checkpoint_sha256"]
    assert pending["upload"]["error"]["exit_code"] == 6 and "submission_error" not in pending  # recorded once

    second = run(runner, tiny_checkpoint, "--submit")
    assert second.exit_code == 0, second.output
    assert len(emu.submissions) == 1 and len(emu.calls("CreateSubmission")) == 1
    settled, latest = manifests(isolated)
    assert settled["upload"]["state"] == "landed" and settled["upload"]["confirmed_by"] == "listing"
    assert settled["submitted"] is True and settled["submission_ref"] == str(emu.submissions[0].ref)
    assert latest["submitted"] is False and "already landed" in latest["submit_decision"]["reason"]
    assert [r["state"] for r in records(second) if r.get("event") == "submit.settled"] == ["landed"]


def test_forced_rerun_of_the_same_file_is_not_uploaded_twice(runner, emu, creds, isolated, tiny_checkpoint):
    emu.fail("CreateSubmission", 503, after=True)
    assert run(runner, tiny_checkpoint, "--force-submit").exit_code == 6
    again = run(runner, tiny_checkpoint, "--force-submit")
    assert again.exit_code == 0, again.output
    assert len(emu.submissions) == 1
    assert "already landed" in manifests(isolated)[-1]["submit_decision"]["reason"]
    # Once settled, --force-submit means what it says again.
    forced = run(runner, tiny_checkpoint, "--force-submit")
    assert forced.exit_code == 0, forced.output
    assert len(emu.submissions) == 2


def test_upload_that_never_landed_is_settled_as_lost_and_uploaded_again(runner, emu, creds, isolated,
                                                                        tiny_checkpoint):
    emu.fail("CreateSubmission", 503)  # refused before recording anything
    assert run(runner, tiny_checkpoint, "--submit").exit_code == 6
    assert emu.submissions == []
    again = run(runner, tiny_checkpoint, "--submit")
    assert again.exit_code == 0, again.output
    assert len(emu.submissions) == 1
    lost, landed = manifests(isolated)
    assert lost["upload"]["state"] == "lost" and lost["submitted"] is False
    assert landed["upload"]["state"] == "landed" and landed["upload"]["confirmed_by"] == "reply"
    assert landed["submission_ref"] == str(emu.submissions[0].ref)


def test_settling_needs_kaggle_and_uploads_nothing_without_it(runner, emu, creds, isolated, tiny_checkpoint):
    emu.fail("CreateSubmission", 503, after=True)
    assert run(runner, tiny_checkpoint, "--submit").exit_code == 6
    emu.fail("ListSubmissions", 503, times=100)
    blocked = run(runner, tiny_checkpoint, "--force-submit")
    assert blocked.exit_code == 6, blocked.output
    assert "list submissions" in one_error(blocked)
    assert len(emu.calls("CreateSubmission")) == 1
    assert manifests(isolated)[0]["upload"]["state"] == "pending"  # still to be settled next time


def test_submit_command_records_its_upload_for_run_to_see(runner, emu, creds, isolated, tiny_checkpoint, demo_dir):
    sent = runner.invoke(app, ["submit", "--checkpoint", str(tiny_checkpoint), "--data-dir", str(demo_dir),
                               "-m", "by hand"])
    assert sent.exit_code == 0, sent.output
    (manifest,) = manifests(isolated)
    assert manifest["command"] == "submit" and manifest["submitted"] is True
    assert manifest["submission_ref"] == str(emu.submissions[0].ref) and manifest["val_accuracy"] is not None
    assert manifest["upload"]["state"] == "landed"
    # The same model in a scheduled run is not better than what `submit` uploaded: nothing new goes up.
    scheduled = run(runner, tiny_checkpoint, "--submit")
    assert scheduled.exit_code == 0, scheduled.output
    assert len(emu.submissions) == 1


def test_submit_command_settles_a_lost_reply_instead_of_uploading_again(runner, emu, creds, isolated,
                                                                        tiny_checkpoint, demo_dir):
    args = ["submit", "--checkpoint", str(tiny_checkpoint), "--data-dir", str(demo_dir)]
    emu.fail("CreateSubmission", 503, after=True)
    assert runner.invoke(app, args).exit_code == 6
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "already landed on Kaggle as ref" in again.output
    assert len(emu.submissions) == 1


def test_a_landed_submission_counts_against_the_daily_allowance(runner, emu, creds, isolated, tiny_checkpoint,
                                                                 demo_dir):
    emu.fail("CreateSubmission", 503, after=True)
    assert run(runner, tiny_checkpoint, "--submit").exit_code == 6
    ones = isolated / "ones.csv"
    ones.write_text("ImageId,Label\n" + "".join(f"{i},1\n" for i in range(1, 1001)))
    limited = runner.invoke(app, ["submit", "--file", str(ones), "--data-dir", str(demo_dir), "--max-per-day", "1"])
    assert limited.exit_code == 9, limited.output
    assert len(emu.submissions) == 1


def test_decide_never_repeats_a_file_that_landed_this_run():
    landed = {"submission_ref": "50000", "val_accuracy": 0.9}
    for force in (False, True):
        again = decide(requested=True, force=force, demo=False, val_accuracy=0.99, last_submitted=landed,
                       landed_now=landed)
        assert not again.submit and "ref 50000" in again.reason and "not uploading it twice" in again.reason
    # not requested and the demo still win (nothing is said about uploads that were not asked for)
    assert "not requested" in decide(requested=False, force=False, demo=False, val_accuracy=0.9,
                                     last_submitted=None, landed_now=landed).reason
    assert "demo" in decide(requested=True, force=True, demo=True, val_accuracy=0.9,
                            last_submitted=None, landed_now=landed).reason


def test_upload_records_edited_out_of_shape_are_not_taken_for_pending(tmp_path):
    from core.run.ledger import pending

    root = tmp_path / "submissions"
    shapes = {"a-text": "pending", "b-no-tag": {"state": "pending"}, "c-tag-not-text": {"state": "pending", "tag": 7},
              "d-landed": {"state": "landed", "tag": "t1"}, "e-pending": {"state": "pending", "tag": "t2"}}
    for name, upload in shapes.items():
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text(json.dumps({"upload": upload}))
    assert [folder.name for folder, _ in pending(root)] == ["e-pending"]
