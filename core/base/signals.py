"""SIGTERM (systemd stop, CI cancel, `timeout`) and SIGHUP (the terminal or SSH session went away)
handled like Ctrl-C: clean up temp files, exit 130."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

# SIGHUP where the platform has it. Its default action kills the process on the spot: no clean-up,
# temp files left beside the outputs.
_TERMINATING = [signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
_INTERRUPTS = {signal.SIGINT, *_TERMINATING}


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        # A signal set to be ignored stays ignored: under `nohup` a hang-up must not stop the run.
        previous = {sig: signal.getsignal(sig) for sig in _TERMINATING}
        for sig in _TERMINATING:
            if previous[sig] is not signal.SIG_IGN:
                signal.signal(sig, handler)
    except ValueError:  # not the main thread (e.g. some test runners): leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)


def import_torch() -> None:
    """Import torch with SIGINT, SIGTERM and SIGHUP held (why: held_interrupts). A command that will use
    torch calls it once it holds the home's lock, so a run that only downloads, or that finds the
    lock taken, never pays for the import."""
    with held_interrupts():
        import torch  # noqa: F401


@contextlib.contextmanager
def held_interrupts() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then let them arrive.

    An exception raised by a signal handler while torch's C++ extension is importing its Python
    modules does not unwind: pybind11 calls std::terminate and the process aborts (exit 134, a core
    dump, no "interrupted" line, no clean-up). A scheduler's SIGTERM in the second or two of `import
    torch` did exactly that (tests/test_cron_wrapper.py, under load). Held, the signal is delivered
    as soon as the import is done, in plain Python, and the run ends as interrupted (exit 130).
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
