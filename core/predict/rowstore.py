"""Per-row results of a streaming run, kept in a few big preallocated blocks.

Why not a list of per-batch arrays: each small result array outlives the batch, and glibc places
it in the hole the model's freed activations just left, so the next batch's activations no longer
fit there and the heap grows by one batch's worth every few batches - peak memory then grows with
the length of the file. Copying each batch's results into a block allocated once per
`block_rows` rows leaves nothing long-lived between the transient buffers, so the heap settles.
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 1 << 16


class RowStore:
    """Append (rows, ...) arrays of one dtype and trailing shape; `array()` returns them joined."""

    def __init__(self, block_rows: int = BLOCK_ROWS):
        self.block_rows = block_rows
        self._blocks: list[np.ndarray] = []
        self._filled = 0  # rows used in the last block
        self.rows = 0

    def append(self, values: np.ndarray) -> None:
        values = np.asarray(values)
        if values.dtype.kind in "USO":  # text widths vary between batches: keep the objects
            values = values.astype(object)
        if self._blocks and not np.can_cast(values.dtype, self._blocks[0].dtype, "safe"):
            # e.g. int labels in the first chunks, text later: widen what is stored so nothing is cut
            self._blocks = [block.astype(object) for block in self._blocks]
            values = values.astype(object)
        start = 0
        while start < len(values):
            if not self._blocks or self._filled == len(self._blocks[-1]):
                dtype = self._blocks[0].dtype if self._blocks else values.dtype
                self._blocks.append(np.empty((self.block_rows, *values.shape[1:]), dtype=dtype))
                self._filled = 0
            block = self._blocks[-1]
            take = min(len(values) - start, len(block) - self._filled)
            block[self._filled:self._filled + take] = values[start:start + take]
            self._filled += take
            start += take
        self.rows += len(values)

    def array(self, empty_shape: tuple[int, ...] = (0,), dtype=np.float32) -> np.ndarray:
        if not self._blocks:
            return np.zeros(empty_shape, dtype)
        used = self._blocks[:-1] + [self._blocks[-1][:self._filled]]
        return np.concatenate(used) if len(used) > 1 else used[0].copy()
