"""core.base.memory: glibc's allocator told to keep the heap for reuse while streaming and training."""

import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_mmap_threshold_pins_on_glibc():
    import platform

    from core.base.memory import keep_heap_for_reuse

    expected = platform.libc_ver()[0] == "glibc"
    assert keep_heap_for_reuse() is expected
