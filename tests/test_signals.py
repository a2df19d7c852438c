"""SIGTERM handled like Ctrl-C, and never delivered while torch's C++ extension is importing."""

import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from core.base.signals import held_interrupts, terminate_as_interrupt

ROOT = Path(__file__).resolve().parents[1]


def to_this_thread(sig: int) -> None:
    """Send `sig` to this (the main) thread. os.kill would let the kernel pick any thread whose mask
    allows it, and torch, imported by conftest, has started a thread that blocks nothing: the signal
    then skipped held_interrupts' mask now and then (a flaky test, not a product fault: the CLI
    imports torch under the mask, and threads inherit it)."""
    signal.pthread_kill(threading.main_thread().ident, sig)


def test_sigterm_becomes_keyboard_interrupt_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with terminate_as_interrupt():
            to_this_thread(signal.SIGTERM)
            signal.sigtimedwait([], 0)  # nothing to wait for: a boundary where Python runs handlers
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_hang_up_interrupts_unless_it_is_ignored_as_under_nohup():
    before = signal.getsignal(signal.SIGHUP)
    try:
        # A terminal's default, whatever this run inherited (a suite started under nohup ignores SIGHUP).
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        with pytest.raises(KeyboardInterrupt):
            with terminate_as_interrupt():
                to_this_thread(signal.SIGHUP)
                signal.sigtimedwait([], 0)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does before starting the command
        with terminate_as_interrupt():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            to_this_thread(signal.SIGHUP)
            signal.sigtimedwait([], 0)  # ignored: the block runs on
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


def test_held_interrupts_deliver_after_the_block_and_restore_the_mask():
    reached_end = False
    with pytest.raises(KeyboardInterrupt):
        with terminate_as_interrupt():
            with held_interrupts():
                to_this_thread(signal.SIGTERM)
                assert signal.SIGTERM in signal.sigpending()
                reached_end = True
    assert reached_end
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


# A SIGTERM sent the moment `import torch` starts importing torch.nn (from a meta-path hook) must
# wait for the import to finish, then end the run as an interrupt: before, the handler raised inside
# torch's C++ import and the process aborted (exit 134).
MID_IMPORT = textwrap.dedent("""
    import os, signal, sys
    class KillOnImport:
        def find_spec(self, name, path=None, target=None):
            if name == "torch.nn":
                os.kill(os.getpid(), signal.SIGTERM)
            return None
    sys.meta_path.insert(0, KillOnImport())
    from core.base.signals import import_torch, terminate_as_interrupt
    try:
        with terminate_as_interrupt():
            import_torch()
            print("body ran")
    except KeyboardInterrupt:
        torch = sys.modules["torch"]
        print("interrupted; torch whole:", hasattr(torch, "Tensor") and hasattr(torch.nn, "Module"))
        sys.exit(130)
""")


def test_sigterm_during_the_torch_import_waits_for_it_then_interrupts():
    done = subprocess.run([sys.executable, "-c", MID_IMPORT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, done.stderr[-2000:]
    assert done.stdout.strip() == "interrupted; torch whole: True"


def test_download_does_not_import_torch(tmp_path):
    """Only commands that use torch pay for importing it (1-2 s here) under the held signals."""
    code = ("import sys; from typer.testing import CliRunner; from jobs.cli import app; "
            f"r = CliRunner().invoke(app, ['download', '--demo', '--home', {str(tmp_path)!r}]); "
            "print(r.exit_code, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stdout + done.stderr
