"""A part of a pixel file's rows, for readers that share one file between processes (core.dist.shards)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FilePart:
    """The whole file by default.

    `byte_span`: CSV text [start, stop) in the uncompressed bytes, both at line starts after the
    header. `row_groups`: Parquet row groups; `first_row` is the 0-based index of their first row
    in the file, so messages name the file's own row numbers.
    """

    byte_span: tuple[int, int | None] | None = None  # stop None: to the end of the text
    row_groups: tuple[int, ...] | None = None
    first_row: int = 0

    @property
    def whole(self) -> bool:
        return self.byte_span is None and self.row_groups is None
