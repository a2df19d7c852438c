"""What a user of uv, ruff or httpie expects of a command line: --version, shell completion, help
without Python reprs, one way to give the input file, options checked before any work."""

from __future__ import annotations

import re

import pytest
import typer.main

from jobs.cli import app
from tests.cli_output import one_error, records

# Python or typer reprs that must never reach a help page: <list[Path]>, <path>, {csv}, <bool>.
REPRS = re.compile(r"<[a-z_]+(\[[A-Za-z_]+\])?( range)?>|\{[a-z_]+\}|list\[|Path\]|\bNoneType\b|\bOptional\[")


WIDE = {"COLUMNS": "200"}  # rich wraps help at the terminal width; one row per option is easier to check


def _commands() -> list[str]:
    return sorted(typer.main.get_command(app).commands)


def test_version_is_the_package_metadata_version(runner):
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"kaggle-job {version('kaggle-job')}\n"


def test_version_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys\nfrom jobs.cli import app\ntry:\n    app(['--version'])\nexcept SystemExit:\n    pass\n"
            "print('HEAVY=' + ','.join(m for m in ('torch', 'pandas', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "HEAVY=", out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_a_completion_script(runner, shell, monkeypatch):
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = runner.invoke(app, ["--show-completion", shell], prog_name="kaggle-job")
    assert result.exit_code == 0, result.output
    assert "_KAGGLE_JOB_COMPLETE" in result.output
    assert "kaggle-job" in result.output


def test_completion_completes_command_names(runner):
    result = runner.invoke(app, [], prog_name="kaggle-job",
                           env={"_KAGGLE_JOB_COMPLETE": "complete_bash", "COMP_WORDS": "kaggle-job pre",
                                "COMP_CWORD": "1"})
    assert result.exit_code == 0, result.output
    assert set(result.output.split()) == {"predict", "predict-image"}


@pytest.mark.parametrize("command", [None, *_commands()])
def test_help_has_no_python_reprs(runner, command):
    result = runner.invoke(app, ([command] if command else []) + ["--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert not REPRS.search(result.output), REPRS.search(result.output).group(0)
    assert "<" not in result.output.replace("<=", "")  # no metavar like <path>, <str>, <int range>


def test_the_repr_check_catches_what_typer_shows_by_default():
    for shown in ("--checkpoint <list[Path]>", "score [OPTIONS] {csv}", "--home <path>", "--tta <bool>",
                  "--epochs <int range>"):
        assert REPRS.search(shown), shown


def test_train_help_groups_its_options_in_panels(runner):
    result = runner.invoke(app, ["train", "--help"], env=WIDE)
    panels = re.findall(r"╭─ (\w+) ─", result.output)
    assert panels == ["Options", "Data", "Output", "Model", "Schedule", "Runtime"], panels
    runtime = result.output.split("╭─ Runtime")[1]
    for option in ("--device", "--precision", "--home", "--wait-lock", "--log-format", "--log-file"):
        assert option in runtime


def test_help_shows_computed_defaults_literally(runner):
    result = runner.invoke(app, ["train", "--help"], env=WIDE)
    assert "HOME/data/COMPETITION" in result.output  # not swallowed as rich markup
    assert "HOME/checkpoints/NAME/model.pt" in result.output


# -- one way to give the input file ------------------------------------------------------------------

def test_predict_usage_line_names_input(runner):
    result = runner.invoke(app, ["predict", "--help"], env=WIDE)
    assert "kaggle-job predict [OPTIONS] INPUT" in result.output
    assert "--input" not in result.output  # the old spelling works, but is not advertised


@pytest.mark.parametrize("spelling", [["{input}"], ["--input", "{input}"], ["-i", "{input}"]])
def test_predict_takes_input_as_argument_or_old_option(runner, untrained_checkpoint, demo_dir, tmp_path, spelling):
    out = tmp_path / "out.csv"
    args = [word.format(input=demo_dir / "test.csv") for word in spelling]
    result = runner.invoke(app, ["predict", *args, "--checkpoint", str(untrained_checkpoint), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == len((demo_dir / "test.csv").read_text().splitlines())


@pytest.mark.parametrize("command", ["predict", "score"])
def test_input_given_twice_is_one_usage_error(runner, untrained_checkpoint, demo_dir, tmp_path, command):
    test = str(demo_dir / "test.csv")
    result = runner.invoke(app, [command, test, "--input", test, "--checkpoint", str(untrained_checkpoint),
                                 "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 2, result.output
    assert "give the input file once, as INPUT or as --input, not both" in one_error(result)
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("command", ["predict", "score"])
def test_missing_input_is_one_usage_error(runner, untrained_checkpoint, tmp_path, command):
    result = runner.invoke(app, [command, "--checkpoint", str(untrained_checkpoint), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2, result.output
    assert f"{command}: missing INPUT" in one_error(result)


def test_score_takes_the_old_input_option_too(runner, untrained_checkpoint, demo_dir):
    result = runner.invoke(app, ["score", "-i", str(demo_dir / "test.csv"), "--checkpoint",
                                 str(untrained_checkpoint)])
    assert result.exit_code == 0, result.output
    assert [r["rows"] for r in records(result) if r["event"] == "score.result"] == [1000]  # the demo test.csv


# -- options checked before the lock and the data ----------------------------------------------------

@pytest.mark.parametrize("option, value, message", [
    ("--arch", "resnet", "--arch: unknown architecture 'resnet'; expected one of baseline, bncnn, leannet"),
    ("--arch", "ensemble", "--arch: unknown architecture 'ensemble'; expected one of baseline, bncnn, leannet"),
    ("--arch", "leanet", "--arch: unknown architecture 'leanet' (did you mean 'leannet'?)"),
    ("--arch-kwargs", '{"stage": [8]}', "--arch-kwargs: leannet takes no setting 'stage' (did you mean 'stages'?)"),
    ("--preset", "quick", "--preset: expected one of demo, fast, default, best, got 'quick'"),
    ("--device", "gpu", "--device: expected one of auto, cpu, cuda, mps (or cuda:N), got 'gpu'"),
    ("--input-shape", "28by28", "--input-shape: expected CxHxW"),
    ("--folds", "1", "folds: expected 0 (off) or at least 2"),
    ("--member-variants", '{"elastic_px": 1.0}', "--member-variants: expected a JSON list of objects like"),
    ("--member-variants", "[{}, 2]", "--member-variants: expected a JSON list of objects like"),
    ("--member-variants", '[{"epoch": 2}]', "unknown training option 'epoch' (did you mean 'epochs'?)"),
    ("--member-variants", '[{}, {"elastic_px": -1}]', "elastic_px: expected at least 0.0, got -1"),
    ("--member-variants", '[{"arch_kwargs": {"stage": [8]}}]', "leannet takes no setting 'stage'"),
])
def test_train_options_are_refused_before_the_lock_and_the_data(runner, tmp_path, option, value, message):
    home = tmp_path / "home"
    home.mkdir()
    result = runner.invoke(app, ["train", "--data-dir", str(tmp_path / "nowhere"), "--home", str(home),
                                 option, value])
    assert result.exit_code == 2, result.output
    assert message in one_error(result)
    assert list(home.iterdir()) == []  # no lock file, nothing else


def test_the_api_checks_the_arch_before_the_lock_too(tmp_path):
    from core import api

    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(api.BadInput, match="unknown architecture 'resnet'"):
        api.train(tmp_path / "nowhere", "demo", home=home, arch="resnet")
    assert list(home.iterdir()) == []


def test_run_refuses_a_bad_preset_before_the_lock(runner, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    result = runner.invoke(app, ["run", "--demo", "--home", str(home), "--preset", "quick"])
    assert result.exit_code == 2, result.output
    assert "--preset: expected one of demo, fast, default, best, got 'quick'" in one_error(result)
    assert list(home.iterdir()) == []


# -- progress with a total: bytes on disk for CSV, rows for Parquet ----------------------------------

def _progress(result) -> list[dict]:
    return [r for r in records(result) if r["event"] == "predict.progress"]


@pytest.mark.parametrize("kind", ["csv", "csv.gz", "csv.zip", "parquet"])
def test_predict_reports_progress_towards_a_known_total(runner, untrained_checkpoint, demo_dir, tmp_path, kind):
    import gzip
    import zipfile

    import pandas as pd

    text = (demo_dir / "test.csv").read_bytes()
    source = tmp_path / f"test.{kind}"
    if kind == "csv":
        source.write_bytes(text)
    elif kind == "csv.gz":
        source.write_bytes(gzip.compress(text))
    elif kind == "csv.zip":
        with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("test.csv", text)
    else:
        pd.read_csv(demo_dir / "test.csv").to_parquet(source)
    # 1,000 rows in batches of 64: 16 batches, so the 10% steps (work done, not time) give several records
    result = runner.invoke(app, ["predict", str(source), "--checkpoint", str(untrained_checkpoint),
                                 "-o", str(tmp_path / "out.csv"), "--batch-size", "64"])
    assert result.exit_code == 0, result.output
    events = _progress(result)
    total = 1000 if kind == "parquet" else source.stat().st_size  # compressed bytes for .gz and .zip
    unit = "rows" if kind == "parquet" else "bytes"
    assert {(e["total"], e["unit"]) for e in events} == {(total, unit)}
    advances = [e for e in events if e["phase"] == "advance"]
    assert len(advances) >= 5, events
    done = [e["done"] for e in events]
    assert done == sorted(done) and 0 < advances[0]["done"] < total
    assert all(e["eta_s"] is not None and e["eta_s"] >= 0 for e in advances)
    last = events[-1]
    assert (last["phase"], last["done"], last["eta_s"], last["rows"]) == ("done", total, 0, 1000)


def test_progress_records_follow_the_step_not_the_clock():
    from core.base.log import Log

    log = Log(fmt="json", progress_step=0.25, progress_every_s=1e9)
    seen = []
    log.info = lambda msg, event, **fields: seen.append(fields)
    with log.progress("work", total=100, unit="rows") as bar:
        for _ in range(100):
            bar.advance(1)
    assert [(r["phase"], r["done"]) for r in seen] == [("start", 0), ("advance", 25), ("advance", 50),
                                                         ("advance", 75), ("advance", 100), ("done", 100)]
    assert seen[0]["eta_s"] is None and seen[-1]["eta_s"] == 0


# -- what train says it trains on --------------------------------------------------------------------

def test_train_names_rows_shape_classes_and_checkpoint(runner, tmp_path):
    import pandas as pd
    from sklearn.datasets import load_digits

    digits = load_digits()  # 1,797 8x8 images, values 0..16
    data = tmp_path / "digits"
    data.mkdir()
    frame = pd.DataFrame(digits.data.astype(int), columns=[f"pixel{i}" for i in range(64)])
    frame.insert(0, "label", digits.target)
    frame.to_csv(data / "train.csv", index=False)
    model = tmp_path / "digits.pt"
    result = runner.invoke(app, ["train", "--data-dir", str(data), "--checkpoint", str(model), "--arch", "baseline",
                                 "--epochs", "1", "--preset", "demo", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    start = next(r for r in records(result) if r["event"] == "train.data")
    assert start["msg"] == (f"training on {data / 'train.csv'}: 1797 rows of 1x8x8, 10 classes 0..9; "
                            f"saving to {model}")
    end = next(r for r in records(result) if r["event"] == "train.result")
    assert end["msg"].startswith(f"saved {model} (1797 rows of 1x8x8, 10 classes 0..9): val_accuracy=")
    for record in (start, end):
        assert (record["rows"], record["input_shape"], record["classes"], record["checkpoint"]) == \
            (1797, "1x8x8", list(range(10)), str(model))


@pytest.mark.parametrize("classes, shown", [
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "10 classes 0..9"),
    ([3, 4, 5], "3 classes 3..5"),
    ([0, 2, 5], "3 classes 0, 2, 5"),  # gaps: listed, not a range
    ([7], "1 class 7"),
    (["cat", "dog", "fox"], "3 classes cat, dog, fox"),
    ([str(c) for c in "abcdefgh"], "8 classes a, b, c, d, e, f, g, h"),  # 8: spelled out
    ([str(c) for c in "abcdefghi"], "9 classes a, b, c, ..., i"),  # 9: first three and the last
])
def test_classes_are_described_short(classes, shown):
    from core.data.classes import describe_classes

    assert describe_classes(classes) == shown
