"""Keeping a long streaming run's memory flat under glibc's allocator.

glibc raises its mmap threshold every time a big block is freed, so the read-ahead thread's
multi-megabyte buffers and the model's activations churn between mmap and the heap arenas, which
then fragment and grow with the length of the file (measured: +80% peak RSS on a 10x test.csv).
Setting the threshold turns that adaptation off; 1 MiB sends every big block to mmap, handed back
on free (measured on the 10x file: 411-612 MiB vs ~405 MiB for test.csv, against 930 MiB unpinned;
the remaining growth is not yet explained). glibc's maximum (32 MiB) still grew to 1,506 MiB.

Open trade-off (measured on a quiet 2-core machine, baseline net, 28k-row test.csv): this pin costs
page faults (5-6 s of system time per run vs 1.3-1.8 s unpinned), so pinned predict takes 9-11 s
and unpinned 7.0-7.4 s (under the 7.8 s floor), but unpinned the 10x file peaks at 750-1,060 MiB.
The growth is C heap, not Python objects (tracemalloc sees ~15 MiB), and it stays without the
read-ahead thread or with MALLOC_ARENA_MAX=1, so the fix lies in how torch/pyarrow buffers are reused.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
STREAMING_MMAP_THRESHOLD = 1 << 20


def pin_mmap_threshold(threshold: int = STREAMING_MMAP_THRESHOLD) -> bool:
    """True where it took effect (Linux with glibc); elsewhere a harmless no-op."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and other C libraries: nothing to pin
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1
