"""Which rows of a pixel file each rank reads: contiguous shares, in rank order, so rank 0 can put
the results back in input order by concatenating them.

- Plain CSV: the text after the header is cut into `world` byte ranges of about equal size, each
  cut moved forward to the next line start. The header is read once (by rank 0, with the layout).
- gzip (or zipped) CSV: a compressed stream cannot be entered in the middle, so rank 0 inflates it once to find the
  same kind of cuts (in the uncompressed text, to within CUT_GRANULE bytes), and every rank then
  inflates it from the start, discarding the text before its share. Inflating is repeated on every
  rank; parsing and the model, which cost far more, are shared.
- Parquet: whole row groups, balanced by row count. A file of one row group is read by rank 0 alone.

A rank whose share is empty (more ranks than lines) simply predicts nothing.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable

from core.data.layout import READ_ERRORS, PixelLayout
from core.data.parts import FilePart

CUT_GRANULE = 1 << 16  # gzip: one candidate cut per 64 KiB of text


def plan_parts(layout: PixelLayout, world: int) -> list[FilePart]:
    """One FilePart per rank; the whole file for a single process."""
    if world <= 1:
        return [FilePart()]
    if layout.kind == "parquet":
        return _parquet_parts(layout, world)
    cuts = _inflated_cuts(layout, world) if layout.compressed else _plain_cuts(layout, world)
    # The last share runs to the end of the stream, wherever that turns out to be (a truncated
    # .gz then fails on the last rank with the single-process message).
    return [FilePart(byte_span=(cuts[r], cuts[r + 1] if r + 1 < world else None)) for r in range(world)]


def share(total: int, rank: int, world: int) -> tuple[int, int]:
    """[start, stop) of rank's contiguous share of `total` items; sizes differ by at most one."""
    return total * rank // world, total * (rank + 1) // world


def _cuts(body: int, size: int, world: int, line_start_at: Callable[[int], int]) -> list[int]:
    """Where each rank's share of the text [body, size) starts: the first line start at or after
    an even cut (`line_start_at`), never before the previous rank's."""
    cuts = [body]
    for rank in range(1, world):
        target = body + share(size - body, rank, world)[0]
        cuts.append(max(cuts[-1], line_start_at(target)))
    return cuts


def _plain_cuts(layout: PixelLayout, world: int) -> list[int]:
    size = os.path.getsize(layout.path)
    with open(layout.path, "rb") as handle:
        body = _line_start_after(handle, 0, size) if layout.header else 0  # the header is line 1
        return _cuts(body, size, world, lambda target: _line_start_at(handle, target, size))


def _line_start_at(handle, offset: int, size: int) -> int:
    """The first line start at or after `offset`."""
    if offset <= 0:
        return 0
    handle.seek(offset - 1)
    if handle.read(1) == b"\n":
        return offset
    return _line_start_after(handle, offset, size)


def _line_start_after(handle, offset: int, size: int) -> int:
    """The start of the line after the one holding `offset` (`size` when there is none)."""
    handle.seek(offset)
    while True:
        block = handle.read(1 << 16)
        if not block:
            return size
        newline = block.find(b"\n")
        if newline >= 0:
            return offset + newline + 1
        offset += len(block)


def _inflated_cuts(layout: PixelLayout, world: int) -> list[int]:
    """Line starts in the inflated text: the body's start, and one candidate per CUT_GRANULE."""
    candidates, body, position = [], None if layout.header else 0, 0
    try:
        with layout.open() as stream:
            while block := stream.read(CUT_GRANULE):
                newline = block.find(b"\n")
                if newline >= 0 and body is None:
                    body = position + newline + 1
                    newline = block.find(b"\n", newline + 1)
                if newline >= 0:
                    candidates.append(position + newline + 1)
                position += len(block)
    except READ_ERRORS:
        pass  # cut what could be read; the reader reports the damage with its line number
    size = position

    def candidate_at(target: int) -> int:
        at = bisect.bisect_left(candidates, target)
        return candidates[at] if at < len(candidates) else size

    return _cuts(size if body is None else body, size, world, candidate_at)


def _parquet_parts(layout: PixelLayout, world: int) -> list[FilePart]:
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(layout.path).metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    total, starts, first = sum(sizes), [], 0
    for size in sizes:
        starts.append(first)
        first += size
    parts = []
    for rank in range(world):
        low, high = share(total, rank, world)
        groups = tuple(i for i, start in enumerate(starts) if low <= start < high)
        parts.append(FilePart(row_groups=groups, first_row=starts[groups[0]] if groups else total))
    return parts
