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
