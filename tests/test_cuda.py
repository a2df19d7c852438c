"""The CUDA path through the CLI, on a real GPU: skipped without one (bench/gpu_check.sh runs it there).

KAGGLE_JOB_TEST_DEVICE=cpu runs the same checks with the CPU standing in for the GPU, which is how
they are kept working on machines without one; the script's own check runs everywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from jobs.cli import app
from tests.cli_output import records

DEVICE = os.environ.get("KAGGLE_JOB_TEST_DEVICE", "cuda")
needs_device = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(),
                                  reason="no CUDA device (bench/gpu_check.sh runs these on one)")


def invoke(runner, *args):
    return runner.invoke(app, [*args, "--log-format", "json"])


@needs_device
def test_a_model_trained_on_the_gpu_answers_alike_there_and_on_the_cpu(runner, tmp_path, demo_dir):
    """Trained on the device (data, mixed precision and channels-last there), saved, then loaded by
    a CPU-only reader: both devices give the same classes, and probabilities within TF32's rounding."""
    model = tmp_path / "model.pt"
    trained = invoke(runner, "train", "--data-dir", str(demo_dir), "--checkpoint", str(model), "--preset", "demo",
                     "--epochs", "2", "--device", DEVICE)
    assert trained.exit_code == 0, trained.output
    result = next(r for r in records(trained) if r.get("event") == "train.result")
    assert result["device"] == DEVICE and result["val_accuracy"] > 0.9

    probs = {}
    for device in (DEVICE, "cpu"):
        probs[device] = tmp_path / f"{device}.parquet"
        scored = invoke(runner, "score", str(demo_dir / "test.csv"), "--checkpoint", str(model),
                        "--probs", str(probs[device]), "--device", device)
        assert scored.exit_code == 0, scored.output
    there, here = (pd.read_parquet(probs[d]) for d in (DEVICE, "cpu"))
    assert list(there.columns) == list(here.columns) and len(there) == len(here) > 0
    classes = [c for c in here.columns if c != here.columns[0]]
    p_there, p_here = there[classes].to_numpy(), here[classes].to_numpy()
    assert np.abs(p_there - p_here).max() < 0.01
    assert (p_there.argmax(1) != p_here.argmax(1)).sum() <= len(here) // 1000


@needs_device
def test_an_ensemble_trained_on_the_gpu_predicts_a_checked_submission(runner, tmp_path, demo_dir):
    model = tmp_path / "pair.pt"
    trained = invoke(runner, "train", "--data-dir", str(demo_dir), "--checkpoint", str(model), "--preset", "demo",
                     "--epochs", "1", "--members", "2", "--device", DEVICE)
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "submission.csv"
    predicted = invoke(runner, "predict", "--checkpoint", str(model), "-i", str(demo_dir / "test.csv"),
                       "-o", str(out), "--data-dir", str(demo_dir), "--device", DEVICE)
    assert predicted.exit_code == 0, predicted.output
    sample = pd.read_csv(demo_dir / "sample_submission.csv")
    written = pd.read_csv(out)
    assert list(written.columns) == list(sample.columns)
    assert (written.iloc[:, 0] == sample.iloc[:, 0]).all()
    assert set(written.iloc[:, 1]) <= set(range(10))


def test_the_gpu_check_script_parses_and_names_files_that_exist():
    """bench/gpu_check.sh runs only where a GPU is lent, rarely: a renamed bench or test must fail here."""
    root = Path(__file__).resolve().parents[1]
    script = root / "bench" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    named = set(re.findall(r"\b(?:tests|bench)/[\w./]+\.(?:py|sh)\b", text))
    named |= {module.replace(".", "/") + ".py" for module in re.findall(r"-m (bench\.\w+)", text)}
    assert {"tests/test_cuda.py", "bench/accuracy.py", "bench/train.py"} <= named
    assert [n for n in sorted(named) if not (root / n).is_file()] == []
