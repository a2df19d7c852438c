import pytest
import torch

from core.base.errors import BadInput
from core.model.devices import pick_device


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("core.model.devices._mps_available", lambda: True)
    assert pick_device("auto").type == "mps"
    monkeypatch.setattr("core.model.devices._mps_available", lambda: False)
    assert pick_device("auto").type == "cpu"


def test_cpu_always_works():
    assert pick_device("cpu") == torch.device("cpu")


def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BadInput, match="CUDA is not available"):
        pick_device("cuda")


def test_unknown_device_name():
    with pytest.raises(BadInput, match="expected one of"):
        pick_device("tpu")


# -- training precision --------------------------------------------------------------------------

from core.model.devices import training_precision  # noqa: E402

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")


@pytest.mark.parametrize("has_units, expected", [(True, torch.bfloat16), (False, None)])
def test_auto_uses_bf16_on_a_cpu_only_when_it_has_bf16_units(monkeypatch, has_units, expected):
    monkeypatch.setattr("core.model.devices._cpu_has_bf16_units", lambda: has_units)
    assert training_precision(CPU, "auto") is expected


def test_fp32_and_bf16_are_obeyed_on_the_cpu(monkeypatch):
    monkeypatch.setattr("core.model.devices._cpu_has_bf16_units", lambda: True)
    assert training_precision(CPU, "FP32") is None
    monkeypatch.setattr("core.model.devices._cpu_has_bf16_units", lambda: False)
    assert training_precision(CPU, "bf16") is torch.bfloat16


@pytest.mark.parametrize("bf16_gpu, expected", [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_on_cuda_falls_back_to_fp16_without_bf16(monkeypatch, bf16_gpu, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_gpu)
    assert training_precision(CUDA, "auto") is expected


def test_mps_trains_in_fp32_and_refuses_bf16():
    assert training_precision(MPS, "auto") is None
    with pytest.raises(BadInput, match="not supported on mps"):
        training_precision(MPS, "bf16")


@pytest.mark.parametrize("name", ["fp16", "bf", "float32"])
def test_unknown_precision_is_a_clear_error(name):
    with pytest.raises(BadInput, match="--precision: expected one of auto, fp32, bf16"):
        training_precision(CPU, name)


def _cpuinfo_flags() -> set[str] | None:
    try:
        with open("/proc/cpuinfo") as info:
            return next((set(line.split(":", 1)[1].split()) for line in info if line.startswith("flags")), None)
    except OSError:
        return None


def test_the_cpu_probe_agrees_with_the_kernels_cpu_flags():
    """An independent fact: the kernel lists AMX tiles and AVX-512 BF16 among the CPU's flags."""
    import platform

    flags = _cpuinfo_flags()
    if flags is None or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("needs an x86 Linux /proc/cpuinfo")
    from core.model.devices import _cpu_has_bf16_units
    assert _cpu_has_bf16_units() == bool({"amx_tile", "avx512_bf16"} & flags)
