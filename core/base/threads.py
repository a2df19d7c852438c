"""The process's CPU thread budget: one number that torch's intra-op pool and pyarrow's CSV parser share.

Under torchrun every rank is told its share through OMP_NUM_THREADS (torchrun sets 1 unless told
otherwise); a rank that still parsed with pyarrow's pool on every core, or read ahead in a second
busy thread, would take turns with the other ranks' models for the same cores. Measured on 2 cores
with OMP_NUM_THREADS=1: one predict process spent 127% CPU when pyarrow parsed on its whole pool.
"""

from __future__ import annotations

import os

from core.base.env import whole_number

THREAD_VARIABLES = ("KAGGLE_JOB_THREADS", "OMP_NUM_THREADS")  # the first one set wins


def available_cores() -> int:
    """Cores this process may run on: affinity masks (taskset, cgroups) rather than the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def thread_budget() -> int:
    """KAGGLE_JOB_THREADS, else OMP_NUM_THREADS, else every core we are allowed; at most the allowed
    cores (the `train.start` line says how many were used). KAGGLE_JOB_THREADS=0 is refused;
    OMP_NUM_THREADS=0, which other programs may have set, counts as 1.

    Why the cap: threads beyond the cores only take turns, and OpenMP's waiting threads spin. On 2
    busy cores 4 threads made the 15-second demo take 117 s, 8 threads outlasted 200 s, and
    KAGGLE_JOB_THREADS=100000 crashed OpenMP (a segfault)."""
    for name in THREAD_VARIABLES:
        ours = name == THREAD_VARIABLES[0]  # OMP_NUM_THREADS is other tools' too: 0 there is taken as 1
        threads = whole_number(name, None, expected="a whole number of threads" + (", 1 or more" if ours else ""),
                               minimum=1 if ours else None)
        if threads is not None:
            return min(max(1, threads), available_cores())
    return available_cores()
