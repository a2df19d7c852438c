"""Every test runs in its own temp dir with a clean environment: no real credentials, no real home."""

from __future__ import annotations

import contextlib
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.data.demo import DEMO_ZIP
from core.model.checkpoint import save_checkpoint
from core.model.spec import ModelSpec
from tests.kaggle_emulator import KEY, USERNAME, demo_emulator

ISOLATED_PREFIXES = ("KAGGLE_", "KAGGLE_JOB_")


@pytest.fixture(scope="session")
def dead_endpoint() -> Iterator[str]:
    """A local URL nothing answers: the port is bound for the whole session but never listened on, so a
    connection is refused at once and no other process can take the port."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture(autouse=True)
def no_real_kaggle(monkeypatch, dead_endpoint) -> None:
    """Whatever a test forgets to stub, the real client cannot reach kaggle.com: every environment the
    client may pick (KAGGLE_API_ENVIRONMENT, read by kagglesdk.kaggle_env) points at the dead port.
    The `emu` fixture points the local one at the emulator."""
    from kagglesdk import kaggle_env

    for env in kaggle_env.KaggleEnv:
        monkeypatch.setitem(kaggle_env._env_to_endpoint, env, dead_endpoint)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, no_real_kaggle) -> Path:
    for name in list(os.environ):
        if name.startswith(ISOLATED_PREFIXES):
            monkeypatch.delenv(name)
    fake_home = tmp_path / "userhome"
    fake_home.mkdir()
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(fake_home / ".kaggle"))
    monkeypatch.setenv("KAGGLE_JOB_THREADS", "2")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The embedded demo competition, unpacked once per session (read-only use)."""
    from core.data.archive import extracted

    target = tmp_path_factory.mktemp("demo") / "digit-recognizer-demo"
    with extracted(DEMO_ZIP, target):
        pass  # checked member by member, swapped into place when the block ends
    return target


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, demo_dir) -> Path:
    """A quickly trained baseline model on the demo data: real weights, real accuracy (~90%)."""
    from core.base.log import Log
    from core.train.config import config_for
    from core.train.pipeline import train_to_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    config = config_for("demo", arch="baseline", epochs=2, val_fraction=0.1)
    train_to_checkpoint(demo_dir / "train.csv", path, config, Log(fmt="json"))
    return path


@pytest.fixture
def untrained_checkpoint(tmp_path) -> Path:
    """A randomly initialised checkpoint, for tests that care about plumbing, not accuracy."""
    import torch

    torch.manual_seed(0)
    spec = ModelSpec(arch="baseline", input_shape=(1, 28, 28), classes=list(range(10)), mean=0.13, std=0.31)
    return save_checkpoint(tmp_path / "untrained.pt", spec.build(), spec, {"val_accuracy": 0.1})


@pytest.fixture
def emu(monkeypatch):
    """A started emulator that the real client talks to (KAGGLE_API_ENVIRONMENT=LOCALHOST, our port)."""
    from kagglesdk import kaggle_env

    from core.kaggle import allowance

    # The daily allowance counts the test's day, even for a test that spans midnight UTC: uploads the
    # emulator dates later than this still fall on it.
    today = allowance.utc_now()
    monkeypatch.setattr(allowance, "utc_now", lambda: today)
    emulator = demo_emulator().start()
    monkeypatch.setitem(kaggle_env._env_to_endpoint, kaggle_env.KaggleEnv.LOCAL, emulator.url)
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    monkeypatch.setenv("KAGGLE_JOB_RETRY_SCALE", "0.001")  # 1 s waits become 1 ms
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from kaggle.api.kaggle_api_extended import KaggleApi
    # The client reads KAGGLE_API_ENVIRONMENT once, when first imported in this process.
    monkeypatch.setattr(KaggleApi, "args", ["--local"])
    yield emulator
    emulator.stop()


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", USERNAME)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
