"""Choosing the device: the one place that decides between CUDA, Apple MPS and the CPU."""

from __future__ import annotations

import torch

from core.base.errors import BadInput
from core.base.threads import thread_budget

CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def check_device_name(requested: str) -> str:
    """The --device value in lower case, or BadInput naming the choices; whether it is there is pick_device's."""
    requested = (requested or "auto").lower()
    if requested not in CHOICES and not requested.startswith("cuda:"):
        raise BadInput(f"--device: expected one of {', '.join(CHOICES)} (or cuda:N), got {requested!r}")
    return requested


def pick_device(requested: str = "auto") -> torch.device:
    """auto: CUDA, then MPS, then CPU. A named device that is not there is a user error."""
    requested = check_device_name(requested)
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"--device {requested}: CUDA is not available on this machine (try --device auto)")
    if requested == "mps" and not _mps_available():
        raise BadInput("--device mps: Apple MPS is not available on this machine (try --device auto)")
    return torch.device(requested)


def training_precision(device: torch.device, requested: str = "auto") -> torch.dtype | None:
    """The autocast dtype training runs under on `device`; None: plain fp32.

    auto: bf16 (fp16 where a GPU lacks bf16) on CUDA, and bf16 on CPUs with bf16 units (AMX or
    AVX512-BF16), where oneDNN runs the convolutions in bf16: a training step of leannet 48-96-192
    measured 1.9x faster (109 -> 58 ms at 2 threads, 183 -> 95 ms at 1, channels_last, batch 128), and
    an epoch of it on 37,800 rows 1.6x (27.3 -> 17.2 s, augmentation and validation included).
    CPUs without those units emulate bf16: the same step took 2.2x longer (oneDNN held to
    AVX512_CORE), so auto keeps them in fp32. Weights, optimizer state and the loss stay fp32.
    """
    requested = parse_precision(requested)
    if requested == "fp32" or (requested == "auto" and device.type == "mps"):
        return None
    if device.type == "mps":
        raise BadInput("--precision bf16: not supported on mps (use fp32 or auto)")
    if device.type == "cuda":
        if requested == "auto" and not torch.cuda.is_bf16_supported():
            return torch.float16
        return torch.bfloat16
    return torch.bfloat16 if requested == "bf16" or _cpu_has_bf16_units() else None


def precision_name(amp_dtype: torch.dtype | None) -> str:
    """training_precision's answer as PRECISIONS spell it (fp16 for a GPU without bf16)."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp_dtype]


def parse_precision(requested: str) -> str:
    """One of PRECISIONS (any case), or a user error."""
    chosen = (requested or "auto").lower()
    if chosen not in PRECISIONS:
        raise BadInput(f"--precision: expected one of {', '.join(PRECISIONS)}, got {requested!r}")
    return chosen


def _cpu_has_bf16_units() -> bool:
    cpu = torch.cpu
    probes = [getattr(cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(probe() for probe in probes if probe is not None)


def prefers_channels_last(device: torch.device) -> bool:
    """channels_last lets cuDNN (tensor cores) and oneDNN pick their fastest kernels: on 2 CPU cores a
    training step of these small nets measured 1.15-1.45x faster than in NCHW. MPS gains nothing."""
    return device.type in ("cuda", "cpu")


def in_device_layout(x, device: torch.device):
    """A tensor or a model in the memory layout `device` runs fastest."""
    if not prefers_channels_last(device):
        return x
    if isinstance(x, torch.Tensor):
        return x.contiguous(memory_format=torch.channels_last)
    return x.to(memory_format=torch.channels_last)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def configure_threads() -> int:
    """Intra-op threads: the process's thread budget (core.base.threads), so N ranks under torchrun
    (OMP_NUM_THREADS=1 each unless told otherwise) do not each claim every core."""
    torch.set_num_threads(thread_budget())
    return torch.get_num_threads()
