"""The batch loader: bounded batches shaped for the model, in order, and a reader thread that
stops when the consumer does or when the file turns out bad."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.base.errors import BadInput
from core.data.layout import read_layout
from core.predict.loader import batch_loader


def _write(path, rows, bad_row=None):
    header = ",".join(["ImageId"] + [f"pixel{i}" for i in range(16)])
    lines = [header]
    for r in range(rows):
        values = [str((r * 7 + i) % 256) for i in range(16)]
        if r == bad_row:
            values[3] = "x"
        lines.append(",".join([f"id{r}"] + values))
    path.write_text("\n".join(lines) + "\n")
    return path


def _reader_threads():
    return [t for t in threading.enumerate() if t.name == "pixel-reader"]


def test_batches_are_bounded_shaped_and_in_order(tmp_path):
    source = _write(tmp_path / "small.csv", 1000)
    loader = batch_loader(read_layout(source, 16), (1, 4, 4), batch_size=64, block_bytes=4096)
    batches = list(loader)
    assert all(len(b.images) <= 64 for b in batches)
    assert batches[0].images.shape[1:] == (1, 4, 4)
    assert [b.first_row for b in batches] == list(np.cumsum([0] + [len(b.images) for b in batches[:-1]]))
    ids = np.concatenate([b.ids for b in batches])
    assert list(ids) == [f"id{r}" for r in range(1000)]
    pixels = np.concatenate([b.images.reshape(-1, 16).numpy() for b in batches])
    assert pixels[999, 5] == (999 * 7 + 5) % 256
    assert not _reader_threads()


def test_stopping_early_ends_the_reader_thread(tmp_path):
    source = _write(tmp_path / "small.csv", 3000)
    for batch in batch_loader(read_layout(source, 16), (1, 4, 4), batch_size=32, block_bytes=2048):
        break
    assert batch.first_row == 0
    for thread in _reader_threads():
        thread.join(timeout=5)
    assert not _reader_threads()


def test_a_bad_row_surfaces_in_the_consumer_with_its_line(tmp_path):
    source = _write(tmp_path / "bad.csv", 2000, bad_row=1500)
    seen = 0
    with pytest.raises(BadInput, match=r"line 1502, column 5 \(pixel3\): value 'x' is not an integer"):
        for batch in batch_loader(read_layout(source, 16), (1, 4, 4), batch_size=100, block_bytes=4096):
            seen += len(batch.images)
    assert 0 < seen <= 1500
    assert not _reader_threads()


@pytest.mark.parametrize("budget, reads_ahead", [("1", False), ("2", True)])
def test_a_budget_of_one_thread_parses_inline(tmp_path, monkeypatch, budget, reads_ahead):
    """A torchrun rank with OMP_NUM_THREADS=1 must not keep a second core busy reading ahead."""
    monkeypatch.setenv("KAGGLE_JOB_THREADS", budget)
    source = _write(tmp_path / "small.csv", 3000)
    seen_reader, rows = False, 0
    for batch in batch_loader(read_layout(source, 16), (1, 4, 4), batch_size=32, block_bytes=2048):
        seen_reader = seen_reader or bool(_reader_threads())
        rows += len(batch.images)
    assert rows == 3000
    assert seen_reader is reads_ahead
