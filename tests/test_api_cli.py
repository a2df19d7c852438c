"""core.api and the CLI over it: the same files, numbers and weights from either; the API raises
JobError instead of exiting and, by default, prints nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core import api
from core.base.errors import BadInput, ExitCode, JobError
from jobs.cli import app
from tests.cli_output import one_error, records
from tests.handdrawn import draw_digit


def only(result, event: str) -> dict:
    found = [r for r in records(result) if r.get("event") == event]
    assert len(found) == 1, result.output
    return found[0]


def test_predict_file_writes_the_submission_the_cli_writes(runner, tmp_path, demo_dir, tiny_checkpoint, capsys):
    written = api.predict_file(demo_dir / "test.csv", tiny_checkpoint, tmp_path / "api.csv")
    assert capsys.readouterr() == ("", "")  # the default log is silent

    result = runner.invoke(app, ["predict", "--checkpoint", str(tiny_checkpoint), "-i", str(demo_dir / "test.csv"),
                                 "-o", str(tmp_path / "cli.csv")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "api.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    told = only(result, "predict.result")
    sample_rows = len((demo_dir / "sample_submission.csv").read_text().splitlines()) - 1
    assert written.rows == told["rows"] == sample_rows
    assert written.sample == demo_dir / "sample_submission.csv" and told["sample"] == str(written.sample)
    assert written.output == tmp_path / "api.csv"


def test_score_file_gives_the_cli_rows_and_accuracy(runner, tmp_path, demo_dir, tiny_checkpoint, capsys):
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("".join((demo_dir / "train.csv").read_text().splitlines(keepends=True)[:301]))
    scored = api.score_file(labelled, [tiny_checkpoint], output=tmp_path / "api.csv", probs=tmp_path / "api.parquet")
    assert capsys.readouterr() == ("", "")

    result = runner.invoke(app, ["score", str(labelled), "--checkpoint", str(tiny_checkpoint),
                                 "-o", str(tmp_path / "cli.csv"), "--probs", str(tmp_path / "cli.parquet")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "api.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    told = only(result, "score.result")
    assert scored.rows == told["rows"] == 300
    assert 0.5 < scored.accuracy <= 1 and round(scored.accuracy, 6) == told["accuracy"]
    assert scored.unknown_labels == told["unknown_labels"] == 0
    assert scored.output == tmp_path / "api.csv" and scored.probs.stat().st_size > 0
    assert scored.report is None and scored.report_files == ()


def test_score_file_counts_labels_outside_the_classes_and_writes_the_report(tmp_path, demo_dir, tiny_checkpoint):
    rows = (demo_dir / "train.csv").read_text().splitlines(keepends=True)
    odd = tmp_path / "odd.csv"
    odd.write_text(rows[0] + rows[1] + "x" + rows[2][rows[2].index(","):] + rows[3])  # label x: no class of 0-9
    scored = api.score_file(odd, tiny_checkpoint, report=tmp_path / "report")
    assert (scored.rows, scored.unknown_labels) == (3, 1)
    assert scored.accuracy <= 2 / 3
    assert scored.report == tmp_path / "report" / "report.html" and scored.report in scored.report_files
    assert all(path.is_file() for path in scored.report_files)


def test_score_file_without_labels_has_no_accuracy(tmp_path, demo_dir, untrained_checkpoint):
    scored = api.score_file(demo_dir / "test.csv", untrained_checkpoint)
    assert scored.accuracy is None and scored.rows > 0 and scored.output is None


def test_a_demo_train_gives_the_cli_weights_and_metrics(runner, tmp_path, demo_dir, capsys):
    trained = api.train(demo_dir, "demo", tmp_path / "api.pt", epochs=1, home=tmp_path)
    assert capsys.readouterr() == ("", "")
    assert trained.curves.is_file() and trained.metrics["epochs_run"] == 1

    result = runner.invoke(app, ["train", "--data-dir", str(demo_dir), "--preset", "demo", "--epochs", "1",
                                 "--checkpoint", str(tmp_path / "cli.pt"), "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    ours, theirs = (torch.load(tmp_path / name, weights_only=False) for name in ("api.pt", "cli.pt"))
    assert ours["state_dict"].keys() == theirs["state_dict"].keys()
    assert all(torch.equal(ours["state_dict"][k], theirs["state_dict"][k]) for k in ours["state_dict"])
    timing = {"train_seconds"}
    told = only(result, "train.result")
    assert {k: v for k, v in told.items() if k in trained.metrics and k not in timing} == \
        {k: round(v, 6) if isinstance(v, float) else v for k, v in trained.metrics.items() if k not in timing}
    assert only(result, "train.curves")["curves"] == str(tmp_path / "cli.curves.png")


def test_an_unknown_training_setting_is_one_line_naming_the_known_ones(tmp_path):
    with pytest.raises(BadInput) as caught:
        api.train(tmp_path / "no-data", "demo", epochz=3, home=tmp_path)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    message = str(caught.value)
    assert "'epochz' (did you mean 'epochs'?)" in message and "time_budget_min" in message and "\n" not in message


@pytest.mark.parametrize("setting, edge, beyond, message", [
    ("epochs", 1, 0, "epochs: expected at least 1, got 0"),
    ("val_fraction", 0.9, 0.91, "val_fraction: expected from 0.0 to 0.9, got 0.91"),
    ("time_budget", 0.05, 0.04, "time_budget_min: expected at least 0.05, got 0.04"),
    ("batch_size", 1, 0, "batch_size: expected at least 1, got 0"),
    ("members", 1, 0, "members: expected at least 1, got 0"),
])
def test_a_training_setting_past_its_bound_is_refused_before_the_lock(tmp_path, setting, edge, beyond, message):
    """The CLI's options carry these bounds through typer; a Python caller meets them in TrainConfig."""
    with pytest.raises(BadInput) as caught:
        api.train(tmp_path / "none", "demo", tmp_path / "m.pt", home=tmp_path, **{setting: beyond})
    assert str(caught.value) == message
    assert not (tmp_path / ".kaggle-job.lock").exists() and not (tmp_path / "m.pt").exists()
    with pytest.raises(BadInput, match="train.csv: no such file"):  # the edge passes and reaches the data
        api.train(tmp_path / "none", "demo", tmp_path / "m.pt", home=tmp_path, **{setting: edge})


def test_train_runs_the_callers_callbacks_and_keeps_what_they_add(tmp_path, demo_dir):
    from core.api import Callbacks

    seen = []

    def on_epoch_end(epoch, model, metrics):
        seen.append((epoch, metrics["epoch"], model.training))
        return {"seen": epoch * 10}

    trained = api.train(demo_dir, "demo", tmp_path / "m.pt", home=tmp_path, epochs=2, seed=3,
                        callbacks=Callbacks(on_epoch_end=on_epoch_end))
    assert [(epoch, row_epoch) for epoch, row_epoch, _ in seen] == [(1, 1), (2, 2)]
    history = torch.load(trained.checkpoint, weights_only=True)["meta"]["history"]
    assert [row["seen"] for row in history] == [10, 20]


def test_api_failures_are_job_errors_not_exits(tmp_path, demo_dir, tiny_checkpoint, capsys):
    with pytest.raises(JobError) as missing:
        api.predict_file(tmp_path / "absent.csv", tiny_checkpoint, tmp_path / "out.csv")
    assert missing.value.exit_code == ExitCode.BAD_INPUT and "absent.csv" in str(missing.value)

    test_csv = tmp_path / "test.csv"
    test_csv.write_bytes((demo_dir / "test.csv").read_bytes())
    before = test_csv.read_bytes()
    with pytest.raises(BadInput):  # refused before any work: it would replace what is read
        api.score_file(test_csv, tiny_checkpoint, output=test_csv)
    assert test_csv.read_bytes() == before

    with pytest.raises(BadInput, match="no such file"):  # the training file, not an exit
        api.train(tmp_path / "empty", "demo", tmp_path / "m.pt", home=tmp_path)
    assert capsys.readouterr() == ("", "")


def test_the_cli_says_the_api_error_in_one_line(runner, tmp_path, tiny_checkpoint):
    result = runner.invoke(app, ["predict", "--checkpoint", str(tiny_checkpoint), "-i", str(tmp_path / "absent.csv"),
                                 "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 2
    assert "absent.csv" in one_error(result)


def test_download_and_inspect_give_what_the_cli_prints(runner, tmp_path, capsys):
    files = api.download(demo=True, home=tmp_path)
    summary = api.inspect(files.directory, tmp_path / "api-report", demo=True, home=tmp_path)
    assert capsys.readouterr() == ("", "")
    assert files.directory == tmp_path / "data" / "digit-recognizer-demo" and files.train.is_file()

    result = runner.invoke(app, ["inspect", "--demo", "--home", str(tmp_path), "-o", str(tmp_path / "cli-report")])
    assert result.exit_code == 0, result.output
    assert [r["msg"] for r in records(result) if r["event"] == "inspect.file"] == [f.line() for f in summary.files]
    assert only(result, "inspect.balance")["msg"] == summary.balance_line()
    assert summary.grid == tmp_path / "api-report" / "first_look.png" and summary.grid.is_file()


def test_predict_images_names_each_image_and_draws_the_grid(runner, tmp_path, tiny_checkpoint):
    images = [draw_digit(digit, tmp_path / f"{digit}.png") for digit in (1, 7)]
    predicted = api.predict_images(images, tiny_checkpoint, top=2, grid=tmp_path / "grid.png")
    assert [item.path for item in predicted.images] == images
    assert all(len(item.top) == 2 for item in predicted.images)
    assert predicted.grid == tmp_path / "grid.png" and predicted.grid.is_file()

    result = runner.invoke(app, ["predict-image", *map(str, images), "--checkpoint", str(tiny_checkpoint),
                                 "--top", "2"])
    assert result.exit_code == 0, result.output
    told = [r for r in records(result) if r["event"] == "predict_image.result"]
    assert [(r["label"], r["msg"]) for r in told] == [(item.label, item.line()) for item in predicted.images]
    assert api.predict_images([], tiny_checkpoint).images == []


def test_every_command_still_takes_the_log_options(runner, tmp_path):
    log_file = tmp_path / "log.jsonl"
    result = runner.invoke(app, ["download", "--demo", "--home", str(tmp_path), "--log-format", "json",
                                 "--log-file", str(log_file)])
    assert result.exit_code == 0, result.output
    logged = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [r["event"] for r in logged if r["level"] == "result"] == ["download.result"]
    assert Path(logged[-1]["data_dir"]) == tmp_path / "data" / "digit-recognizer-demo"
