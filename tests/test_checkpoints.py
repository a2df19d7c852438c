import pickle

import pytest
import torch

from core.base.errors import BadInput
from core.model.checkpoint import load_checkpoint, save_checkpoint
from core.model.spec import ModelSpec


def test_round_trip_rebuilds_the_same_model(tmp_path):
    torch.manual_seed(1)
    spec = ModelSpec(arch="bncnn", input_shape=(1, 20, 24), classes=["cat", "dog", "eel"],
                     arch_kwargs={"width_mult": 0.5}, mean=0.2, std=0.3)
    model = spec.build().eval()
    path = save_checkpoint(tmp_path / "m.pt", model, spec, {"val_accuracy": 0.5}, data_sha256="abc")
    loaded = load_checkpoint(path)
    assert loaded.spec == spec
    assert loaded.metrics["val_accuracy"] == 0.5
    assert loaded.meta["data_sha256"] == "abc"
    assert loaded.meta["versions"]["torch"] == str(torch.__version__)
    x = torch.rand(3, 1, 20, 24)
    with torch.no_grad():
        assert torch.equal(model(x), loaded.model()(x))


def test_any_input_size_and_class_count(tmp_path):
    for arch in ("baseline", "bncnn", "leannet"):
        for shape in ((3, 32, 30), (1, 28, 28), (1, 9, 13)):
            spec = ModelSpec(arch=arch, input_shape=shape, classes=list(range(7)))
            out = spec.build().eval()(torch.rand(2, *shape))
            assert out.shape == (2, 7), (arch, shape)


def test_leannet_stage_lists_add_depth_and_survive_a_checkpoint(tmp_path):
    spec = ModelSpec(arch="leannet", input_shape=(1, 28, 28), classes=list(range(10)),
                     arch_kwargs={"stages": [8, [16, 16]], "first_kernel": 3})
    model = spec.build().eval()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 16]
    assert convs[0].kernel_size == (3, 3)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, spec, {"val_accuracy": 0.5}))
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), loaded.model()(x))


def test_code_in_a_checkpoint_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "kaggle-job/1", "payload": Evil()}, path)
    with pytest.raises(BadInput, match="not a loadable"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"garbage", pickle.dumps({"a": 1}, protocol=2)], ids=["empty", "garbage", "plain-pickle"])
def test_broken_files_are_one_line_errors(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(BadInput, match=str(path)):
        load_checkpoint(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")


def test_failed_save_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch):
    spec = ModelSpec(arch="baseline", input_shape=(1, 28, 28), classes=list(range(10)))
    path = save_checkpoint(tmp_path / "ckpts" / "m.pt", spec.build(), spec, {"val_accuracy": 0.9})
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("core.base.atomic.os.replace", explode)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, spec.build(), spec, {"val_accuracy": 0.1})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]


def test_atomic_files_get_the_umask_mode_not_mkstemps_0600(tmp_path):
    import os
    import stat

    from core.base.atomic import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "out.csv", "a\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o644


def test_loading_a_checkpoint_stays_off_torch_dynamo(tmp_path):
    """The weights' shapes are checked on the meta device, where the first ReLU imports torch._dynamo: 2.0 s
    of every predict/score/submit/run start before (a 5-row predict: 5.1-6.2 s before, 3.4-3.8 s after)."""
    import subprocess
    import sys

    spec = ModelSpec(arch="leannet", input_shape=(1, 28, 28), classes=list(range(10)))
    path = save_checkpoint(tmp_path / "m.pt", spec.build(), spec)
    ensemble = ModelSpec(arch="ensemble", input_shape=(1, 28, 28), classes=list(range(10)),
                         arch_kwargs={"members": [{"arch": "leannet", "arch_kwargs": {}}] * 2})
    bundle = save_checkpoint(tmp_path / "e.pt", ensemble.build(), ensemble)
    code = ("import sys; from core.model.checkpoint import load_checkpoint; "
            f"[load_checkpoint(p).model() for p in ({str(path)!r}, {str(bundle)!r})]; "
            "print('torch._dynamo' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # a 2x2 image flattens to none
def test_a_checkpoint_whose_images_are_too_small_for_its_network_names_the_file(tmp_path):
    spec = ModelSpec(arch="leannet", input_shape=(1, 2, 2), classes=[0, 1])
    path = save_checkpoint(tmp_path / "small.pt", spec.build(check_fits=False), spec)
    with pytest.raises(BadInput, match=rf"checkpoint {path}: images of 1x2x2 .* are too small for leannet"):
        load_checkpoint(path).model()
    fits = ModelSpec(arch="leannet", input_shape=(1, 4, 4), classes=[0, 1])  # the smallest leannet takes
    assert load_checkpoint(save_checkpoint(tmp_path / "fits.pt", fits.build(), fits)).model() is not None
