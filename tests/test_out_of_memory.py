"""CUDA out of memory: predict halves its batch and carries on; training stops with one line.

There is no GPU here, so the fault is injected: a wrapped model raises the real
torch.cuda.OutOfMemoryError whenever a batch is larger than it "fits", exactly what torch raises
on a full GPU. Everything around it (the file, the reader, the predictor, the CLI) is the real thing.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.base.errors import BadInput
from core.base.log import Log
from core.model.registry import register
from core.predict.predictor import Predictor
from core.predict.stream import predict_file
from jobs.cli import app
from tests.cli_output import one_error, records


class OomAbove(nn.Module):
    """Fault injection: the real CUDA out-of-memory error for batches above `limit` rows."""

    def __init__(self, model: nn.Module, limit: int):
        super().__init__()
        self.model, self.limit, self.sizes = model, limit, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(len(x))
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {len(x)} rows")
        return self.model(x)


@register("oom-when-training")
class OomWhenTraining(nn.Module):
    """Fault injection for training: any training-mode forward pass runs out of CUDA memory."""

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int):
        super().__init__()
        self.head = nn.Linear(in_channels * height * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.head(x.flatten(1))


def test_predict_halves_the_batch_on_cuda_oom_and_gives_the_same_answers(demo_dir, untrained_checkpoint, capsys):
    expected = predict_file(demo_dir / "test.csv", Predictor.load([untrained_checkpoint], "cpu", 512), Log(fmt="json"))
    predictor = Predictor.load([untrained_checkpoint], "cpu", 512)
    predictor.models = [OomAbove(model, limit=100) for model in predictor.models]
    got = predict_file(demo_dir / "test.csv", predictor, Log(fmt="json"))
    assert np.array_equal(got.labels, expected.labels)
    assert np.allclose(got.probs, expected.probs, atol=1e-6)
    assert predictor.batch_size == 64  # 512 -> 256 -> 128 -> 64, then kept for the rest of the file
    assert max(predictor.models[0].sizes[3:]) == 64 and sum(s for s in predictor.models[0].sizes if s <= 100) == 1000
    halvings = [line for line in capsys.readouterr().err.splitlines() if "predict.batch_halved" in line]
    assert len(halvings) == 3


def test_a_model_in_memory_halves_too_and_tells_only_the_log_it_is_given(demo_dir, untrained_checkpoint, capsys):
    from core.api import load
    from core.data.table import read_pixel_table

    pixels = read_pixel_table(demo_dir / "test.csv", 784).pixels[:300]
    expected = load(untrained_checkpoint, "cpu", 256).score(pixels)
    model = load(untrained_checkpoint, "cpu", 256)
    model.predictor.models = [OomAbove(net, limit=100) for net in model.predictor.models]
    assert np.array_equal(model.score(pixels).labels, expected.labels)  # silent by default
    assert capsys.readouterr().err == "" and model.predictor.batch_size == 64
    model.predictor.batch_size = 256
    assert np.allclose(model.score(pixels, Log(fmt="json")).probs, expected.probs, atol=1e-6)
    assert capsys.readouterr().err.count("predict.batch_halved") == 2


def test_predict_gives_up_in_one_line_when_even_one_row_does_not_fit(demo_dir, untrained_checkpoint):
    predictor = Predictor.load([untrained_checkpoint], "cpu", 4)
    predictor.models = [OomAbove(model, limit=0) for model in predictor.models]
    with pytest.raises(BadInput, match="even one row at a time"):
        predict_file(demo_dir / "test.csv", predictor, Log(fmt="json"))


@pytest.mark.parametrize("batch", ["1", "7"])
def test_predict_batch_size_option_changes_nothing_but_the_batch(runner, tmp_path, demo_dir, untrained_checkpoint,
                                                                  batch):
    small = tmp_path / "small.csv"  # 60 rows: one-row batches stay quick
    small.write_text("".join((demo_dir / "test.csv").read_text().splitlines(keepends=True)[:61]))
    outputs = []
    for extra in ([], ["--batch-size", batch]):
        out = tmp_path / f"out{len(outputs)}.csv"
        got = runner.invoke(app, ["predict", "--checkpoint", str(untrained_checkpoint), "--input",
                                  str(small), "--output", str(out), *extra])
        assert got.exit_code == 0, got.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 61


def test_batch_size_zero_is_refused(runner, tmp_path, demo_dir, untrained_checkpoint):
    got = runner.invoke(app, ["score", str(demo_dir / "test.csv"), "--checkpoint", str(untrained_checkpoint),
                              "--batch-size", "0"])
    assert got.exit_code == 2
    assert "Invalid value for '--batch-size': Input should be greater than or equal to 1" in got.output


def test_training_out_of_memory_is_one_line_suggesting_a_smaller_batch(runner, tmp_path, demo_dir):
    target = tmp_path / "m.pt"
    got = runner.invoke(app, ["train", "--data-dir", str(demo_dir), "--checkpoint", str(target), "--preset", "demo",
                              "--arch", "oom-when-training", "--batch-size", "96", "--epochs", "1",
                              "--home", str(tmp_path), "--log-format", "json"])
    assert got.exit_code == 2, got.output
    message = one_error(got)
    assert "out of memory" in message and "--batch-size" in message and "96" in message and "48" in message
    assert not target.exists()
    assert not [r for r in records(got) if "Traceback" in r.get("msg", "")]
