"""Defaults that follow the data: where `train` saves without --checkpoint, which models `run` takes, and
commands that publish nothing leaving the current directory as they found it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core import api
from core.base.errors import ExitCode, JobError
from core.base.workspace import Workspace
from core.model.checkpoint import load_checkpoint, save_checkpoint
from core.model.spec import ModelSpec
from core.run.lock import LOCK_NAME, hold_lock
from jobs.cli import app
from tests.cli_output import one_error, records

DEMO = "digit-recognizer-demo"


def invoke(runner, *args):
    return runner.invoke(app, [*args, "--log-format", "json"])


def small_copy(demo_dir: Path, folder: Path, rows: int = 300) -> Path:
    """A folder of the user's own: the demo's first `rows` training rows, its test and sample files."""
    folder.mkdir(parents=True)
    with open(demo_dir / "train.csv") as source:
        lines = [next(source) for _ in range(rows + 1)]
    (folder / "train.csv").write_text("".join(lines))
    for name in ("test.csv", "sample_submission.csv"):
        shutil.copy(demo_dir / name, folder / name)
    return folder


def foreign_checkpoint(path: Path, dataset: str | None) -> Path:
    """A 28x28 model that says it was trained on `dataset` (None: saved before that was recorded)."""
    spec = ModelSpec(arch="baseline", input_shape=(1, 28, 28), classes=list(range(10)))
    return save_checkpoint(path, spec.build(), spec, {"val_accuracy": 0.5}, dataset=dataset, data_sha256="0" * 64)


def test_the_default_checkpoint_follows_the_data():
    workspace = Workspace(Path("/h"), "digit-recognizer")
    assert workspace.default_checkpoint() == Path("/h/checkpoints/digit-recognizer/model.pt")
    assert workspace.default_checkpoint("/h/data/digit-recognizer") == workspace.checkpoint_path
    assert workspace.default_checkpoint("/somewhere/digits") == Path("/h/checkpoints/digits/model.pt")
    assert workspace.default_checkpoint("/h/data/digit-recognizer-demo") == Path(
        "/h/checkpoints/digit-recognizer-demo/model.pt")  # another slug's folder: its own name, never this one's
    demo = Workspace(Path("/h"), "digit-recognizer", demo=True)
    assert demo.default_checkpoint("/h/data/digit-recognizer-demo") == Path(f"/h/checkpoints/{DEMO}/model.pt")
    assert demo.dataset_name() == DEMO and workspace.dataset_name("/x/digits/") == "digits"


def test_train_on_a_folder_saves_under_its_name_and_leaves_the_competitions_model(runner, isolated, demo_dir):
    competition = isolated / "checkpoints" / "digit-recognizer" / "model.pt"
    foreign_checkpoint(competition, "digit-recognizer")
    before = competition.read_bytes()
    small_copy(demo_dir, isolated / "digits")
    trained = invoke(runner, "train", "--data-dir", "digits", "--preset", "demo", "--epochs", "1")
    assert trained.exit_code == 0, trained.output
    (result,) = [r for r in records(trained) if r.get("event") == "train.result"]
    saved = isolated / "checkpoints" / "digits" / "model.pt"
    assert Path(result["checkpoint"]) == saved and load_checkpoint(saved).dataset == "digits"
    assert competition.read_bytes() == before


def test_the_api_trains_into_the_competitions_folder_for_its_own_data(isolated, demo_dir):
    home = isolated / "home"
    shutil.copytree(demo_dir, home / "data" / DEMO)
    trained = api.train(preset="demo", demo=True, home=home, epochs=1)
    assert trained.checkpoint == home / "checkpoints" / DEMO / "model.pt"
    assert load_checkpoint(trained.checkpoint).dataset == DEMO
    own = api.train(small_copy(demo_dir, isolated / "mine"), preset="demo", home=home, epochs=1, members=2)
    assert own.checkpoint == home / "checkpoints" / "mine" / "model.pt"
    assert load_checkpoint(own.checkpoint).dataset == "mine"  # an ensemble's bundle records it too


def test_run_refuses_a_given_checkpoint_made_for_other_data(runner, isolated):
    given = foreign_checkpoint(isolated / "digits.pt", "digits")
    result = invoke(runner, "run", "--demo", "--checkpoint", str(given))
    assert result.exit_code == ExitCode.BAD_INPUT == 2
    assert one_error(result) == (f"--checkpoint {given}: trained on 'digits', not on {DEMO}'s data; give a model "
                                 f"trained on {DEMO}'s data, or leave out --checkpoint to have run train one")
    assert not (isolated / "submissions").exists()
    with pytest.raises(JobError) as refused:  # the API says the same
        api.run(demo=True, checkpoint=given)
    assert refused.value.exit_code == ExitCode.BAD_INPUT and "trained on 'digits'" in refused.value.message


def test_run_takes_a_given_checkpoint_that_records_no_data_with_a_note(runner, isolated):
    older = foreign_checkpoint(isolated / "older.pt", None)
    result = invoke(runner, "run", "--demo", "--checkpoint", str(older))
    assert result.exit_code == 0, result.output
    (note,) = [r for r in records(result) if r.get("event") == "run.checkpoint_data_unknown"]
    assert "does not record which data it was trained on" in note["msg"]


def test_run_takes_a_given_checkpoint_of_its_own_data(runner, isolated, tiny_checkpoint):
    own = isolated / "own.pt"
    checkpoint = load_checkpoint(tiny_checkpoint)
    save_checkpoint(own, checkpoint.model(), checkpoint.spec, checkpoint.metrics, dataset=DEMO)
    result = invoke(runner, "run", "--demo", "--checkpoint", str(own))
    assert result.exit_code == 0, result.output
    assert not [r for r in records(result) if r.get("event") == "run.checkpoint_data_unknown"]


def test_run_sets_aside_a_model_of_other_data_at_its_own_path_and_trains(runner, isolated):
    found = isolated / "checkpoints" / DEMO / "model.pt"
    foreign_checkpoint(found, "digits")
    foreign_checkpoint(found.with_name("model.for-digits.pt"), "digits")  # set aside before: kept too
    before = found.read_bytes()
    result = invoke(runner, "run", "--demo")
    assert result.exit_code == 0, result.output
    (warned,) = [r for r in records(result) if r.get("event") == "run.retrain"]
    assert warned["level"] == "warning" and "was trained on 'digits'" in warned["msg"]
    assert (found.parent / "model.for-digits-2.pt").read_bytes() == before
    assert load_checkpoint(found).dataset == DEMO and load_checkpoint(found).metrics["val_accuracy"] > 0.9


def test_train_and_inspect_leave_the_current_directory_empty(runner, isolated, demo_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert not list(isolated.iterdir())
    model = tmp_path / "models" / "m.pt"
    trained = invoke(runner, "train", "--data-dir", str(demo_dir), "--checkpoint", str(model), "--preset", "demo",
                     "--epochs", "1")
    assert trained.exit_code == 0, trained.output
    inspected = invoke(runner, "inspect", "--data-dir", str(demo_dir))
    assert inspected.exit_code == 0, inspected.output
    assert not list(isolated.iterdir())
    (grid,) = [r for r in records(inspected) if r.get("event") == "inspect.grid"]
    assert Path(grid["path"]) == tmp_path / "cache" / "kaggle-job" / "reports" / DEMO / "first_look.png"
    assert Path(grid["path"]).is_file() and model.is_file()


def test_inspect_puts_pictures_under_a_named_home_or_the_default_cache(isolated, demo_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    summary = api.inspect(demo_dir)
    assert summary.grid == Path.home() / ".cache" / "kaggle-job" / "reports" / DEMO / "first_look.png"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as XDG says
    assert api.inspect(demo_dir).grid == summary.grid
    home = tmp_path / "home"
    assert api.inspect(demo_dir, home=home).grid == home / "reports" / DEMO / "first_look.png"
    monkeypatch.setenv("KAGGLE_JOB_HOME", str(home / "env"))
    assert api.inspect(demo_dir).grid == home / "env" / "reports" / DEMO / "first_look.png"
    assert not list(isolated.iterdir())


def test_train_in_the_homes_folders_still_waits_for_its_lock(runner, isolated, demo_dir, tmp_path):
    mine = small_copy(demo_dir, tmp_path / "mine")
    with hold_lock(isolated, command="run"):
        into_home = invoke(runner, "train", "--data-dir", str(mine), "--preset", "demo", "--epochs", "1")
        from_home = invoke(runner, "train", "--demo", "--checkpoint", str(tmp_path / "m.pt"))
        apart = invoke(runner, "train", "--data-dir", str(mine), "--checkpoint", str(tmp_path / "own.pt"),
                       "--preset", "demo", "--epochs", "1")
    for excluded in (into_home, from_home):  # writes HOME/checkpoints/mine/; reads HOME/data/<demo>/
        assert excluded.exit_code == ExitCode.LOCKED == 7 and "`kaggle-job run`" in one_error(excluded)
    assert apart.exit_code == 0, apart.output  # its own folders: nothing of the home's to guard
    assert (tmp_path / "own.pt").is_file() and not (isolated / "checkpoints").exists()
    assert [path.name for path in isolated.iterdir()] == [LOCK_NAME]  # the holder's, not train's
