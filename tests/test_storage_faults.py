"""A disk that cannot take an output (full, over quota, read-only, past a size limit) is one line
naming the file and exit 11, with nothing half-written. The limit is set with RLIMIT_FSIZE in a real
`kaggle-job` process: writes past it fail with EFBIG, as a full disk fails them with ENOSPC."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from core.base.errors import ExitCode, storage_error

KAGGLE_JOB = Path(sys.executable).with_name("kaggle-job")


def predict(checkpoint: Path, test_csv: Path, output: Path, max_file_bytes: int | None = None):
    def limit():
        if max_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run([str(KAGGLE_JOB), "predict", "--checkpoint", str(checkpoint), "-i", str(test_csv),
                           "-o", str(output), "--log-format", "json"], capture_output=True, text=True,
                          preexec_fn=limit, env={**os.environ, "KAGGLE_JOB_THREADS": "1"}, timeout=300)


def test_an_output_past_the_file_size_limit_is_one_line_exit_11_and_the_old_file_stays(
        tmp_path, demo_dir, untrained_checkpoint):
    output = tmp_path / "out" / "submission.csv"
    first = predict(untrained_checkpoint, demo_dir / "test.csv", output)
    assert first.returncode == 0, first.stderr
    size, before = output.stat().st_size, output.read_bytes()

    exactly = predict(untrained_checkpoint, demo_dir / "test.csv", output, max_file_bytes=size)
    assert exactly.returncode == 0, exactly.stderr  # the limit is the file's size: it fits

    over = predict(untrained_checkpoint, demo_dir / "test.csv", output, max_file_bytes=size - 1)
    assert over.returncode == int(ExitCode.STORAGE) == 11, over.stderr
    errors = [json.loads(line) for line in over.stderr.splitlines() if '"level": "error"' in line]
    assert len(errors) == 1 and errors[0]["msg"].startswith(f"file too large for this file system or limit "
                                                            f"writing {output}: ")
    assert "internal error" not in over.stderr and "Traceback" not in over.stderr
    assert output.read_bytes() == before  # the earlier submission, whole
    assert sorted(p.name for p in output.parent.iterdir()) == ["submission.csv"]  # no temp file left


@pytest.mark.parametrize("code, expected", [(errno.ENOSPC, "no space left on the device"),
                                            (errno.EDQUOT, "disk quota exceeded"),
                                            (errno.EROFS, "the file system is read-only")])
def test_storage_errors_name_the_cause_and_the_file(code, expected):
    known = storage_error(OSError(code, os.strerror(code), "/data/model.pt"))
    assert known.exit_code == ExitCode.STORAGE
    assert known.message.startswith(f"{expected} writing /data/model.pt: ")


def test_other_os_errors_stay_what_they_are():
    assert storage_error(OSError(errno.EIO, "I/O error")) is None
    assert storage_error(FileNotFoundError(errno.ENOENT, "gone", "x")) is None
    assert storage_error(ValueError("not an OSError")) is None


def _invoke(runner, *args):
    from jobs.cli import app

    return runner.invoke(app, [*args, "--log-format", "json"])


def test_outputs_that_are_folders_or_under_a_file_are_one_line_before_any_work(runner, tmp_path, demo_dir,
                                                                              untrained_checkpoint):
    from tests.cli_output import one_error

    a_file = tmp_path / "taken.csv"
    a_file.write_text("keep me\n")
    test_csv = str(demo_dir / "test.csv")

    folder = _invoke(runner, "predict", "--checkpoint", str(untrained_checkpoint), "-i", test_csv, "-o", str(tmp_path))
    assert folder.exit_code == 2 and one_error(folder) == f"{tmp_path}: is a folder; expected a file name to write"

    under = _invoke(runner, "score", test_csv, "--checkpoint", str(untrained_checkpoint), "-o", str(a_file / "x.csv"))
    assert under.exit_code == 2
    assert one_error(under) == f"{a_file / 'x.csv'}: cannot make its folder: {a_file} is a file"

    report = _invoke(runner, "score", test_csv, "--checkpoint", str(untrained_checkpoint), "--report", str(a_file))
    assert report.exit_code == 2 and one_error(report) == f"{a_file}: is a file; expected a folder to write into"
    assert not any('"score.result"' in line for line in report.output.splitlines())  # refused before scoring

    train = _invoke(runner, "train", "--data-dir", str(demo_dir), "--checkpoint", str(tmp_path), "--preset", "demo")
    assert train.exit_code == 2 and one_error(train) == f"{tmp_path}: is a folder; expected a file name to write"
    assert '"train.start"' not in train.output  # before any training
    assert a_file.read_text() == "keep me\n"


def test_an_output_that_is_a_file_the_command_reads_is_refused_before_any_work(runner, tmp_path, demo_dir,
                                                                               untrained_checkpoint):
    """`-i test.csv -o test.csv` replaced the test file with its own submission (exit 0); so did an
    output named through a link or another spelling, the sample beside the input, or the checkpoint,
    `train --checkpoint` on the training file, and `predict-image --grid` on a picture. Each is one
    line, exit 2, and the file stays whole."""
    import shutil

    import numpy as np
    from PIL import Image

    from tests.cli_output import one_error

    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    test_csv, sample, model = data / "test.csv", data / "sample_submission.csv", tmp_path / "model.pt"
    shutil.copy(untrained_checkpoint, model)
    (tmp_path / "link.csv").symlink_to(test_csv)
    before = {path: path.read_bytes() for path in (test_csv, sample, model, data / "train.csv")}
    cases = [
        (("predict", "-i", str(test_csv), "-o", str(test_csv)), test_csv, "the input file", test_csv),
        (("predict", "-i", str(test_csv), "-o", str(tmp_path / "link.csv")), tmp_path / "link.csv",
         "the input file", test_csv),
        (("predict", "-i", str(test_csv), "-o", f"{data}/../data/test.csv"), Path(f"{data}/../data/test.csv"),
         "the input file", test_csv),
        (("predict", "-i", str(test_csv), "-o", str(sample)), sample, "the sample submission", sample),
        (("predict", "-i", str(test_csv), "-o", str(model)), model, "a checkpoint", model),
        (("score", str(test_csv), "--probs", str(test_csv)), test_csv, "the scored file", test_csv),
        (("score", str(test_csv), "-o", str(model)), model, "a checkpoint", model),
    ]
    for args, written, what, read in cases:
        refused = _invoke(runner, *args, "--checkpoint", str(model))
        assert refused.exit_code == 2, (args, refused.output)
        assert one_error(refused) == (f"{written}: is also {what} ({read}); writing there would destroy it, "
                                      "so give another path")
        assert '"predict.progress"' not in refused.output  # refused before the pass over the file
    train = _invoke(runner, "train", "--data-dir", str(data), "--checkpoint", str(data / "train.csv"),
                    "--preset", "demo")
    assert train.exit_code == 2 and one_error(train).endswith(
        f"is also the training file ({data / 'train.csv'}); writing there would destroy it, so give another path")
    assert '"train.start"' not in train.output
    picture = tmp_path / "seven.png"
    ink = np.zeros((28, 28), np.uint8)
    ink[4:24, 12:16] = 255  # a one
    Image.fromarray(ink).save(picture)
    before[picture] = picture.read_bytes()
    grid = _invoke(runner, "predict-image", str(picture), "--checkpoint", str(model), "--grid", str(picture))
    assert grid.exit_code == 2 and one_error(grid) == (f"{picture}: is also an image ({picture}); writing there "
                                                       "would destroy it, so give another path")
    assert {path: path.read_bytes() for path in before} == before
    other = _invoke(runner, "predict", "-i", str(test_csv), "-o", str(data / "submission.csv"),
                    "--checkpoint", str(model))
    assert other.exit_code == 0, other.output  # a new name beside them is fine


def test_a_log_file_or_home_that_cannot_be_used_is_one_line_exit_2(runner, tmp_path, monkeypatch):
    from tests.cli_output import one_error

    a_file = tmp_path / "taken"
    a_file.write_text("keep me\n")
    folder = _invoke(runner, "run", "--home", str(tmp_path / "h"), "--log-file", str(tmp_path))
    assert folder.exit_code == 2 and one_error(folder) == f"--log-file: {tmp_path}: is a folder; expected a file name to write"
    assert not (tmp_path / "h").exists()  # refused before any work

    # --log-file appends: onto an input it would corrupt the data (log lines appended to test.csv; the
    # run succeeded and the next read of the file failed), onto the checkpoint it broke the model.
    data = tmp_path / "data.csv"
    data.write_text("pixel0,pixel1,pixel2,pixel3\n0,255,0,255\n")
    for option in ("-i", "--checkpoint"):
        args = ["predict", "-i", str(tmp_path / "other.csv"), "--checkpoint", str(tmp_path / "model.pt"),
                "-o", str(tmp_path / "out.csv")]
        args[args.index(option) + 1] = str(data)
        clash = _invoke(runner, *args, "--log-file", str(data))
        long_name = "--input" if option == "-i" else "--checkpoint"
        assert clash.exit_code == 2 and one_error(clash) == (
            f"--log-file: {data}: is also {long_name} ({data}); writing there would destroy it, so give another path")
    assert data.read_text() == "pixel0,pixel1,pixel2,pixel3\n0,255,0,255\n"

    monkeypatch.setenv("KAGGLE_JOB_HOME", str(a_file))
    home = _invoke(runner, "run")
    assert home.exit_code == 2
    assert one_error(home) == (f"--home/KAGGLE_JOB_HOME {a_file}: is a file; expected the folder holding data/, "
                               "checkpoints/ and submissions/")
    assert a_file.read_text() == "keep me\n"
