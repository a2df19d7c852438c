"""Options that each change what a command does, driven through the CLI with an assertion on that
effect (explicit --checkpoint/--output paths, tiny data, one epoch)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from core.data.demo import DEMO_ZIP
from core.model.checkpoint import beside, load_checkpoint
from jobs.cli import app
from tests.cli_output import one_error, records
from tests.handdrawn import draw_digit
from tests.test_training import _run_killed

TRAIN = ["--preset", "demo", "--arch", "baseline", "--batch-size", "64", "--lr", "3e-3", "--val-fraction", "0.25",
         "--device", "cpu", "--log-format", "json"]


@pytest.fixture
def small(isolated, demo_dir) -> Path:
    """A folder whose train.csv holds the first 400 demo rows."""
    folder = isolated / "small"
    folder.mkdir()
    with open(demo_dir / "train.csv", encoding="utf-8") as source:
        (folder / "train.csv").write_text("".join(line for _, line in zip(range(401), source)), encoding="utf-8")
    return folder


def events(result, name: str) -> list[dict]:
    return [r for r in records(result) if r.get("event") == name]


def train(runner, small, checkpoint, *extra):
    result = runner.invoke(app, ["train", "--data-dir", str(small), "--checkpoint", str(checkpoint), *TRAIN, *extra])
    assert result.exit_code == 0, result.output
    return result


# -- submissions --limit / --competition ------------------------------------------------------------

def test_submissions_lists_the_newest_of_the_named_competition(runner, emu, creds):
    emu.add_competition("other-contest", DEMO_ZIP.read_bytes(), {})
    for day in (1, 2, 3):
        emu.add_past_submission("other-contest", datetime(2026, 1, day))
    emu.add_past_submission("digit-recognizer", datetime(2026, 1, 4))
    refs = {r.date.day: str(r.ref) for r in emu.submissions}

    got = runner.invoke(app, ["submissions", "--competition", "other-contest", "--limit", "2", "--log-format", "json"])
    assert got.exit_code == 0, got.output
    assert [r["ref"] for r in records(got)] == [refs[3], refs[2]]  # the two newest of that competition only
    got = runner.invoke(app, ["submissions", "-c", "other-contest", "--limit", "100", "--log-format", "json"])
    assert [r["ref"] for r in records(got)] == [refs[3], refs[2], refs[1]]
    got = runner.invoke(app, ["submissions", "--log-format", "json"])  # the default competition's
    assert [r["ref"] for r in records(got)] == [refs[4]]


@pytest.mark.parametrize("limit", ["0", "101"])
def test_submissions_limit_outside_1_to_100_is_refused(runner, limit):
    got = runner.invoke(app, ["submissions", "--limit", limit])
    assert got.exit_code == 2 and "--limit" in got.output


# -- predict-image --top ----------------------------------------------------------------------------

@pytest.mark.parametrize("top", [1, 4, 10])
def test_predict_image_top_lists_that_many_classes(runner, tmp_path, tiny_checkpoint, top):
    image = draw_digit(7, tmp_path / "7.png")
    got = runner.invoke(app, ["predict-image", str(image), "--checkpoint", str(tiny_checkpoint), "--top", str(top),
                              "--log-format", "json"])
    assert got.exit_code == 0, got.output
    (told,) = events(got, "predict_image.result")
    assert len(told["top"]) == top and f"(top-{top}: " in told["msg"]
    probabilities = [p for _, p in told["top"]]
    assert probabilities == sorted(probabilities, reverse=True) and told["top"][0][0] == told["label"]


# -- inspect --seed / --label-column / --demo / --home ----------------------------------------------

def download_demo(runner, home: Path) -> None:
    got = runner.invoke(app, ["download", "--demo", "--home", str(home), "--log-format", "json"])
    assert got.exit_code == 0, got.output


def test_inspect_seed_picks_the_grids_digits(runner, isolated):
    download_demo(runner, isolated / "home")

    def grid(seed: int, name: str) -> bytes:
        got = runner.invoke(app, ["inspect", "--demo", "--home", str(isolated / "home"), "--seed", str(seed),
                                  "-o", str(isolated / name), "--log-format", "json"])
        assert got.exit_code == 0, got.output
        return (isolated / name / "first_look.png").read_bytes()

    assert grid(0, "a") == grid(0, "b")  # the same seed draws the same digits
    assert grid(1, "c") != grid(0, "a")


def test_inspect_demo_reads_the_demo_folder_of_the_home_given(runner, isolated):
    home = isolated / "elsewhere"
    args = ["inspect", "--demo", "--home", str(home), "-o", str(isolated / "look"), "--log-format", "json"]
    missing = runner.invoke(app, args)
    assert missing.exit_code == 2
    assert one_error(missing) == (f"{home / 'data' / 'digit-recognizer-demo'}: no train.csv or test.csv; "
                                  "run `kaggle-job download` first")
    download_demo(runner, home)
    got = runner.invoke(app, args)
    assert got.exit_code == 0, got.output
    (train_file,) = [r for r in events(got, "inspect.file") if r["name"] == "train.csv"]
    assert train_file["rows"] == 5000 and train_file["labelled"] is True
    assert (isolated / "look" / "first_look.png").is_file()


def test_inspect_label_column_names_the_labels(runner, small, isolated):
    text = (small / "train.csv").read_text()
    (small / "train.csv").write_text("digit" + text[len("label"):])
    refused = runner.invoke(app, ["inspect", "--data-dir", str(small), "-o", str(isolated / "a"), "--log-format",
                                  "json"])
    assert refused.exit_code == 2 and "--label-column digit" in one_error(refused)
    got = runner.invoke(app, ["inspect", "--data-dir", str(small), "--label-column", "digit", "-o",
                              str(isolated / "b"), "--log-format", "json"])
    assert got.exit_code == 0, got.output
    (balance,) = events(got, "inspect.balance")
    assert balance["msg"].startswith("class balance: 0: ")
    (train_file,) = events(got, "inspect.file")
    assert train_file["rows"] == 400 and train_file["labelled"] is True


# -- predict --label-column -------------------------------------------------------------------------

def test_predict_label_column_skips_that_column(runner, small, isolated, tiny_checkpoint):
    labelled = isolated / "labelled.csv"
    lines = (small / "train.csv").read_text().splitlines(keepends=True)[:101]
    labelled.write_text("digit" + "".join(lines)[len("label"):])
    args = ["predict", "--checkpoint", str(tiny_checkpoint), "-i", str(labelled), "--log-format", "json"]
    refused = runner.invoke(app, [*args, "-o", str(isolated / "a.csv")])
    assert refused.exit_code == 2 and "unexpected column 'digit'" in one_error(refused)
    assert not (isolated / "a.csv").exists()
    got = runner.invoke(app, [*args, "--label-column", "digit", "-o", str(isolated / "b.csv")])
    assert got.exit_code == 0, got.output
    rows = (isolated / "b.csv").read_text().splitlines()
    assert rows[0] == "ImageId,Label" and len(rows) == 101
    truth = [line.split(",", 1)[0] for line in lines[1:]]
    predicted = [row.split(",")[1] for row in rows[1:]]
    assert sum(a == b for a, b in zip(truth, predicted)) >= 70  # the model saw the pixels, not the label


# -- train --keep-best / --no-tta / --precision / --resume -----------------------------------------

def test_train_keep_best_keeps_the_best_epoch_not_the_last(runner, small, isolated):
    # lr 0: nothing is learnt, every epoch scores alike, so the best is the first and the last is the last.
    train(runner, small, isolated / "best.pt", "--epochs", "2", "--lr", "0", "--keep-best")
    train(runner, small, isolated / "last.pt", "--epochs", "2", "--lr", "0", "--keep-last")
    assert load_checkpoint(isolated / "best.pt").metrics["best_epoch"] == 1
    assert load_checkpoint(isolated / "last.pt").metrics["best_epoch"] == 2


def test_train_no_tta_saves_a_plain_model(runner, small, isolated):
    train(runner, small, isolated / "tta.pt", "--epochs", "1", "--tta")
    train(runner, small, isolated / "plain.pt", "--epochs", "1", "--tta", "--no-tta")  # the last one given wins
    assert load_checkpoint(isolated / "tta.pt").metrics["tta_views"] > 1
    plain = load_checkpoint(isolated / "plain.pt")
    assert plain.spec.arch == "baseline" and "tta_views" not in plain.metrics


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_train_precision_is_the_one_trained_in(runner, small, isolated, precision):
    got = train(runner, small, isolated / "m.pt", "--epochs", "1", "--precision", precision)
    (start,) = events(got, "train.start")
    assert start["precision"] == precision and start["msg"].endswith(f" in {precision}")
    assert load_checkpoint(isolated / "m.pt").meta["train_config"]["precision"] == precision


def test_train_resume_continues_after_the_last_saved_epoch(runner, small, isolated):
    checkpoint = isolated / "model.pt"
    _run_killed(small / "train.csv", checkpoint, epochs=3, kill_at="state")  # killed right after epoch 1
    assert beside(checkpoint).state.is_file() and not checkpoint.exists()
    got = train(runner, small, checkpoint, "--epochs", "3", "--resume")
    (resumed,) = events(got, "train.resume")
    assert resumed["epoch"] == 1
    assert [row["epoch"] for row in load_checkpoint(checkpoint).meta["history"]] == [1, 2, 3]
    assert not beside(checkpoint).state.exists()


# -- run --no-submit --------------------------------------------------------------------------------

def test_run_no_submit_overrides_an_earlier_submit(runner, emu, creds, isolated, untrained_checkpoint):
    """As when the cron env file says --submit and the command line adds --no-submit: the last one wins."""
    got = runner.invoke(app, ["run", "--checkpoint", str(untrained_checkpoint), "--submit", "--no-submit",
                              "--log-format", "json"])
    assert got.exit_code == 0, got.output
    assert not emu.calls("StartSubmissionUpload") and emu.submissions == []
    (folder,) = (isolated / "submissions" / "digit-recognizer").iterdir()
    assert (folder / "submission.csv").is_file()
    assert json.loads((folder / "manifest.json").read_text())["submitted"] is False
