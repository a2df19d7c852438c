"""The README stays true to the CLI: its tour runs as written, its command table names every command,
its docs/ links resolve, and it stays short.

The tour's runnable blocks are the fenced ```bash and ```python blocks right after a `<!-- tour -->`
line; blocks after `<!-- not run: why -->` need a Kaggle account and are only shown. The runnable ones
run in order, each in a fresh bash or python process, in one temporary folder laid out like a checkout
(`cron/` linked in), with HOME and KAGGLE_JOB_HOME there, no Kaggle credentials and the Kaggle API
pointed at a local port where nothing listens, so nothing reaches the network.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from jobs.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_LINES = 300
BLOCK = re.compile(r"^<!-- (tour|not run: [^>]+) -->\n```(bash|python)\n(.*?)^```$", re.M | re.S)


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(marker, language, code) of every marked block, in README order."""
    return [(marker, language, code) for marker, language, code in BLOCK.findall(text)]


def tour_blocks() -> list[tuple[str, str]]:
    return [(language, code) for marker, language, code in blocks(README.read_text(encoding="utf-8"))
            if marker == "tour"]


def test_readme_is_at_most_300_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_every_fenced_tour_block_is_marked():
    """A fence in the tour without a marker would be neither run nor declared unrun."""
    text = README.read_text(encoding="utf-8")
    tour = text.split("## Tour", 1)[1].split("\n## ", 1)[0]
    fences = re.findall(r"^```(?:bash|python)$", tour, re.M)
    assert len(fences) == len(blocks(tour)) >= 6
    assert {marker for marker, _, _ in blocks(tour)} - {"tour"}, "the unrun blocks are marked as such"


def test_the_command_table_names_every_command():
    commands = set(typer.main.get_command(app).commands)
    assert {"download", "train", "predict", "score", "submit", "submissions", "run", "inspect",
            "predict-image"} <= commands
    text = README.read_text(encoding="utf-8")
    table = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.M))
    assert listed == commands


def test_every_docs_link_resolves():
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", text)
    assert len(set(links)) >= 8
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert missing == []


def test_docs_pages_link_to_pages_that_exist():
    for page in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([a-z-]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (ROOT / "docs" / link).is_file(), f"{page.name} links to {link}"


@pytest.fixture
def checkout_like(tmp_path) -> tuple[Path, dict[str, str]]:
    """A temporary folder standing in for the checkout, and an environment that keeps the tour offline."""
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "cron").symlink_to(ROOT / "cron")
    env = {name: value for name, value in os.environ.items() if not name.startswith("KAGGLE")}
    env.update({
        "HOME": str(tmp_path / "home"),
        "KAGGLE_CONFIG_DIR": str(tmp_path / "home" / ".kaggle"),
        "KAGGLE_API_ENVIRONMENT": "LOCALHOST",  # http://localhost:80: nothing listens there
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        "KAGGLE_JOB_THREADS": "2",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": str(ROOT),
    })
    (tmp_path / "home").mkdir()
    return work, env


def test_the_tour_runs_as_written(checkout_like):
    work, env = checkout_like
    failed = []
    for number, (language, code) in enumerate(tour_blocks(), start=1):
        command = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            first = code.strip().splitlines()[0]
            failed.append(f"block {number} ({first!r}) exit {done.returncode}: {done.stderr.strip()[-800:]}")
    assert failed == [], "\n\n".join(failed)
    assert (work / "submission.csv").read_text().startswith("ImageId,Label\n")
    assert (work / "report" / "report.html").is_file()
    assert (work / "checkpoints" / "my-digits" / "model.pt").is_file()  # the default follows the data folder
    assert not (work / "reports").exists()  # inspect without a named output draws under ~/.cache
    assert list((work.parent / "home" / ".cache" / "kaggle-job" / "reports" / "my-digits").glob("*.png"))
    assert list((work / "submissions" / "digit-recognizer").iterdir())
