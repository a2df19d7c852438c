"""The torchrun world this process belongs to, and the few collectives the job needs.

`torchrun` starts one process per rank with RANK, WORLD_SIZE and LOCAL_RANK in the environment;
`session()` (entered once per command, by the CLI) joins them into a process group: NCCL with
device cuda:LOCAL_RANK when the command runs on CUDA, gloo otherwise. Control messages (who failed,
what rank 0 decided) always go through a gloo group, so a rank waiting for rank 0 to download or
upload waits on the CPU, not inside an NCCL kernel.

The rule that keeps every rank ending the same way: work that may fail runs inside `agree` (every
rank) or `from_rank0` / `on_rank0` (rank 0 alone); their outcome is exchanged, so a bad row on
rank 1 raises the same one-line JobError, with the same exit code, on every rank. Every
collective has a timeout (KAGGLE_JOB_DIST_TIMEOUT seconds): a rank that died without a word ends
the others with exit 10 instead of a hang; torchrun also stops the rest when one exits.
Outside torchrun (or with WORLD_SIZE=1) the world is a single process and all of this is a plain
function call: no torch.distributed, no process group.
"""

from __future__ import annotations

import contextlib
import gc
import os
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from core.base.env import positive_seconds, whole_number
from core.base.errors import BadInput, ExitCode, JobError, first_line, internal_error, storage_error

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 1800.0  # torch's own default for gloo; waits for a download or an upload fit in it
TIMEOUT_ENV = "KAGGLE_JOB_DIST_TIMEOUT"


@dataclass(frozen=True)
class World:
    """Who this process is among the ranks. `size == 1` is an ordinary single-process run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    timeout_s: float = DEFAULT_TIMEOUT_S
    control: Any = field(default=None, compare=False, repr=False)  # gloo group for control messages

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "World":
        """The ranks torchrun announced (RANK, WORLD_SIZE, LOCAL_RANK); a single process otherwise."""
        size = _int_env(environ, "WORLD_SIZE", 1)
        if size <= 1:
            return cls()
        rank, local_rank = _int_env(environ, "RANK", None), _int_env(environ, "LOCAL_RANK", 0)
        if rank is None:
            raise BadInput(f"WORLD_SIZE={size} but RANK is not set; start the ranks with torchrun")
        if not 0 <= rank < size:
            raise BadInput(f"RANK={rank} is outside 0..{size - 1} (WORLD_SIZE={size}); start ranks with torchrun")
        return cls(rank=rank, size=size, local_rank=local_rank, timeout_s=_timeout(environ))

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def leader(self) -> bool:
        return self.rank == 0

    # -- outcomes shared between ranks ---------------------------------------------------------
    def agree(self, work: Callable[[], T]) -> T:
        """Run `work` on every rank; if it failed anywhere, raise the lowest failing rank's error on all."""
        if not self.distributed:
            return work()
        value, failure = None, None
        try:
            value = work()
        except Exception as exc:  # noqa: BLE001 - every failure must reach the other ranks
            failure = _failure(exc)
        failures = self._all_gather_objects(failure)
        _raise_first(failures)
        return value

    def from_rank0(self, work: Callable[[], T]) -> T:
        """Run `work` on rank 0 only; every rank gets its result, or raises its error."""
        return self._rank0(work, share=True)

    def on_rank0(self, work: Callable[[], T]) -> T | None:
        """Run `work` on rank 0 only (writing files, talking to Kaggle); the others get None, or its error."""
        return self._rank0(work, share=False)

    def gather(self, value: T) -> list[T] | None:
        """Every rank's `value`, in rank order, on rank 0; None on the other ranks."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist

        received = [None] * self.size if self.leader else None
        self._collective(lambda: dist.gather_object(value, received, dst=0, group=self.control))
        return received

    # -- tensors of the data-parallel group ------------------------------------------------------
    def all_reduce(self, tensor, op: str = "sum"):
        """Sum (or max) `tensor` over the ranks, in place; a no-op in a single process."""
        if self.distributed:
            import torch.distributed as dist

            reduce_op = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}[op]
            self._collective(lambda: dist.all_reduce(tensor, op=reduce_op))
        return tensor

    def broadcast_(self, tensor):
        """Rank 0's values of `tensor` on every rank, in place."""
        if self.distributed:
            import torch.distributed as dist

            self._collective(lambda: dist.broadcast(tensor, src=0))
        return tensor

    @contextlib.contextmanager
    def peer_failures(self) -> Iterator[None]:
        """Turn a collective's failure raised inside the block (DDP's own all-reduce) into exit 10."""
        try:
            yield
        except RuntimeError as exc:
            if not self.distributed or not _from_collective(exc):
                raise
            raise self._lost(exc) from None

    # -- plumbing --------------------------------------------------------------------------------
    def _rank0(self, work: Callable[[], T], share: bool) -> T | None:
        if not self.distributed:
            return work()
        import torch.distributed as dist

        value, message = None, [None]
        if self.leader:
            try:
                value = work()
                message = [("ok", value if share else None)]
            except Exception as exc:  # noqa: BLE001 - the other ranks must hear of it
                message = [("failed", _failure(exc))]
        self._collective(lambda: dist.broadcast_object_list(message, src=0, group=self.control))
        status, payload = message[0]
        if status == "failed":
            _raise_first([payload])
        return value if self.leader else payload

    def _all_gather_objects(self, value) -> list:
        import torch.distributed as dist

        received = [None] * self.size
        self._collective(lambda: dist.all_gather_object(received, value, group=self.control))
        return received

    def _collective(self, call: Callable[[], Any]) -> None:
        try:
            call()
        except RuntimeError as exc:  # gloo/NCCL: a timeout, or a peer that went away
            raise self._lost(exc) from None

    def _lost(self, exc: RuntimeError) -> JobError:
        if "timed out" in str(exc).lower():
            why = f"no answer from the other ranks within {self.timeout_s:g}s ({TIMEOUT_ENV})"
        else:
            why = f"lost contact with the other ranks ({first_line(exc, 160)})"
        return JobError(f"rank {self.rank}: {why}; a rank died or is stalled", ExitCode.PEERS)


SINGLE = World()
_active: World | None = None


def current_world() -> World:
    """The world of the running command: set by `session()`; a single process outside it."""
    return _active if _active is not None else SINGLE


@contextlib.contextmanager
def session(device: str = "auto", environ: Mapping[str, str] = os.environ) -> Iterator[World]:
    """Join torchrun's process group for the block (init/destroy in try/finally); a no-op outside torchrun."""
    global _active
    world = World.from_env(environ)
    if not world.distributed:
        yield world
        return
    import datetime

    import torch
    import torch.distributed as dist

    backend = "nccl" if _wants_cuda(device) else "gloo"
    timeout = datetime.timedelta(seconds=world.timeout_s)
    if backend == "nccl":
        torch.cuda.set_device(world.local_rank)  # "cuda" now means cuda:LOCAL_RANK everywhere in the job
    try:
        dist.init_process_group(backend, timeout=timeout, rank=world.rank, world_size=world.size)
    except (RuntimeError, ValueError, TimeoutError) as exc:
        raise JobError(f"rank {world.rank}: cannot join the torchrun group ({first_line(exc, 200)})",
                       ExitCode.PEERS) from None
    try:
        control = dist.new_group(backend="gloo", timeout=timeout) if backend != "gloo" else None
        _active = replace(world, control=control)
        try:
            yield _active
        except AgreedError:
            # Every rank raised this one (World.agree), so every peer is alive and leaving: leave together
            # as below (a bad row on rank 1 of 2 ended in a SIGABRT at exit about 1 run in 10)
            with contextlib.suppress(RuntimeError, ValueError):
                _leave_together(dist)
            raise
        _leave_together(dist)
    finally:
        _active = None
        dist.destroy_process_group()


def _leave_together(dist) -> None:
    """A rank that tore its group down while a peer was still finishing (rank 0 writing the
    checkpoint) aborted at exit about 1 run in 8 ("terminate called without an active exception",
    SIGABRT) once bf16 made its steps quicker. Not after an error only one rank saw: a dead peer
    would hold the barrier until the timeout."""
    dist.barrier()
    gc.collect()  # release what still refers to the group (the DDP wrapper) before destroying it


def _wants_cuda(device: str) -> bool:
    import torch

    device = (device or "auto").lower()
    return (device == "auto" or device.startswith("cuda")) and torch.cuda.is_available()


def _from_collective(exc: RuntimeError) -> bool:
    import torch.distributed as dist

    text = str(exc)
    return isinstance(exc, getattr(dist, "DistError", ())) or "gloo" in text or "NCCL" in text


def _failure(exc: Exception) -> tuple[str, int]:
    exc = storage_error(exc) or exc
    if isinstance(exc, JobError):
        return exc.message, int(exc.exit_code)
    if os.environ.get("KAGGLE_JOB_DEBUG"):
        traceback.print_exc()
    return internal_error(exc), int(ExitCode.FAILURE)


class AgreedError(JobError):
    """An error raised on every rank alike (World.agree and the rank-0 helpers): all ranks are alive."""


def _raise_first(failures: list) -> None:
    for failure in failures:
        if failure is not None:
            message, code = failure
            raise AgreedError(message, ExitCode(code))


def _int_env(environ: Mapping[str, str], name: str, default: int | None) -> int | None:
    return whole_number(name, default, environ, expected="an integer (set by torchrun)")


def _timeout(environ: Mapping[str, str]) -> float:
    return positive_seconds(TIMEOUT_ENV, DEFAULT_TIMEOUT_S, environ)
