"""Parsed pixel batches for inference: an IterableDataset whose parsing runs ahead of the model.

pyarrow releases the GIL while it parses, so one background thread reading the next blocks while
torch computes on the current batch overlaps the two without worker processes (which would each
import torch and copy batches between processes). A small bounded queue keeps memory flat.

With a thread budget of one (core.base.threads: a torchrun rank's OMP_NUM_THREADS=1) the blocks are
parsed inline instead: a busy second thread would take its core from another rank. Measured on 2
cores, predict on 280,000 rows: one process reading ahead ran at 126% CPU, inline at ~100%.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from core.base.pixel_order import images_from_rows
from core.base.threads import thread_budget
from core.data.layout import PixelLayout
from core.data.parts import FilePart
from core.data.reader import DEFAULT_BLOCK_BYTES, PixelBatch, iter_batches

PREFETCH_BLOCKS = 2
_DONE = object()


@dataclass
class InputBatch:
    images: torch.Tensor  # uint8 (rows, C, H, W)
    labels: np.ndarray | None
    ids: np.ndarray | None
    first_row: int
    read_to: float = 0  # reading progress once this batch is read (core.data.reader.progress_total's unit)

    def pin_memory(self) -> "InputBatch":
        """Called by DataLoader(pin_memory=True) for faster host-to-GPU copies."""
        self.images = self.images.pin_memory()
        return self


class PixelBatches(IterableDataset):
    """Batches of at most `batch_size` rows of `part` (default: the whole file), in file order,
    shaped to `input_shape` from rows in `pixel_order` (core.base.pixel_order.images_from_rows)."""

    def __init__(self, layout: PixelLayout, input_shape: tuple[int, int, int], batch_size: int,
                 block_bytes: int = DEFAULT_BLOCK_BYTES, prefetch: int = PREFETCH_BLOCKS,
                 part: FilePart = FilePart(), pixel_order: str = "chw"):
        self.layout, self.input_shape, self.batch_size = layout, tuple(input_shape), batch_size
        self.block_bytes, self.prefetch, self.part, self.pixel_order = block_bytes, prefetch, part, pixel_order

    def __iter__(self) -> Iterator[InputBatch]:
        read_from = 0  # progress before the block: a block's batches share its progress by their rows
        for block in _read_ahead(iter_batches(self.layout, self.block_bytes, self.part), self.prefetch):
            rows = len(block.pixels)
            for start in range(0, rows, self.batch_size):
                stop = min(start + self.batch_size, rows)
                yield self._slice(block, start, stop, read_from + (block.read_to - read_from) * stop / rows)
            read_from = block.read_to

    def _slice(self, block: PixelBatch, start: int, stop: int, read_to: float) -> InputBatch:
        pixels = block.pixels[start:stop]
        return InputBatch(images=images_from_rows(torch.from_numpy(pixels), self.input_shape, self.pixel_order),
                          labels=None if block.labels is None else block.labels[start:stop],
                          ids=None if block.ids is None else block.ids[start:stop],
                          first_row=block.first_row + start, read_to=read_to)


def batch_loader(layout: PixelLayout, input_shape, batch_size: int, pin_memory: bool = False,
                 block_bytes: int = DEFAULT_BLOCK_BYTES, part: FilePart = FilePart(),
                 pixel_order: str = "chw") -> DataLoader:
    # batch_size=None: the dataset already yields whole batches; the loader adds pinning only.
    prefetch = PREFETCH_BLOCKS if thread_budget() > 1 else 0
    return DataLoader(PixelBatches(layout, input_shape, batch_size, block_bytes, prefetch, part, pixel_order),
                      batch_size=None, num_workers=0, pin_memory=pin_memory, collate_fn=_keep)


def _keep(batch: InputBatch) -> InputBatch:
    return batch


def _read_ahead(blocks: Iterator[PixelBatch], depth: int) -> Iterator[PixelBatch]:
    """Run `blocks` in a daemon thread, `depth` blocks ahead (0: inline, no thread); its exceptions
    surface here, in order."""
    if depth <= 0:
        yield from blocks
        return
    channel: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                channel.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for block in blocks:
                if not put(block):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it in order
            put(exc)

    thread = threading.Thread(target=produce, name="pixel-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = channel.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
