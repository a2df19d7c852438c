"""Every way a checkpoint can be bad is exit 2 and one line naming the file, before any big allocation.

The spec is checked (known architecture, positive capped sizes) and the model is built on the meta
device (no memory) so the weights' shapes can be compared with it before anything real is made:
a 1 KB file cannot ask for terabytes.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from core.base.errors import BadInput
from core.model.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from core.model.spec import ModelSpec
from jobs.cli import app
from tests.cli_output import one_error

SPEC = {"arch": "baseline", "input_shape": [1, 28, 28], "classes": list(range(10)), "arch_kwargs": {},
        "mean": 0.13, "std": 0.31}


def good_payload() -> dict:
    torch.manual_seed(0)
    spec = ModelSpec(arch="baseline", input_shape=(1, 28, 28), classes=list(range(10)))
    return {"format": FORMAT, "spec": dict(SPEC), "state_dict": spec.build().state_dict(),
            "metrics": {"val_accuracy": 0.5}, "meta": {}}


def saved(tmp_path, payload, name="bad.pt"):
    path = tmp_path / name
    torch.save(payload, path)
    return path


def with_spec(**changes) -> dict:
    payload = good_payload()
    payload["spec"] = {**SPEC, **changes}
    return payload


def truncated(tmp_path, untrained_checkpoint):
    data = untrained_checkpoint.read_bytes()
    path = tmp_path / "bad.pt"
    path.write_bytes(data[: len(data) // 2])
    return path


def raw(content: bytes):
    def make(tmp_path, _):
        path = tmp_path / "bad.pt"
        path.write_bytes(content)
        return path
    return make


def payload_of(make_payload):
    return lambda tmp_path, _: saved(tmp_path, make_payload())


def wrong_weights():
    payload = good_payload()
    payload["state_dict"]["classifier.3.weight"] = torch.zeros(12, 500)  # 12 classes in a 10-class spec
    return payload


def missing_weight():
    payload = good_payload()
    del payload["state_dict"]["features.0.weight"]
    return payload


def zip_without_pickle(tmp_path, _):
    path = tmp_path / "bad.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/version", "3\n")
    return path


CASES = {
    "truncated": truncated,
    "empty": raw(b""),
    "not-a-zip": raw(b"this is not a checkpoint at all\n" * 4),
    "six-byte-pickle": raw(pickle.dumps(5, protocol=2) + b"\n"),
    "tiny-pickles": raw(pickle.dumps(300, protocol=2)),
    "zip-without-pickle": zip_without_pickle,
    "not-a-dict": payload_of(lambda: [1, 2, 3]),
    "weights-not-a-dict": payload_of(lambda: {**good_payload(), "state_dict": [1, 2]}),
    "metrics-not-a-dict": payload_of(lambda: {**good_payload(), "metrics": "high"}),
    "val-accuracy-text": payload_of(lambda: {**good_payload(), "metrics": {"val_accuracy": "high"}}),
    "val-accuracy-above-1": payload_of(lambda: {**good_payload(), "metrics": {"val_accuracy": 1.0001}}),
    "val-accuracy-negative": payload_of(lambda: {**good_payload(), "metrics": {"val_accuracy": -0.0001}}),
    "val-accuracy-infinite": payload_of(lambda: {**good_payload(), "metrics": {"val_accuracy": float("inf")}}),
    "wrong-weight-shape": payload_of(wrong_weights),
    "missing-weight": payload_of(missing_weight),
    "unknown-arch": payload_of(lambda: with_spec(arch="transformer9000")),
    "terabyte-input": payload_of(lambda: with_spec(input_shape=[1, 10**7, 10**7])),
    "zero-side": payload_of(lambda: with_spec(input_shape=[1, 0, 28])),
    "negative-channels": payload_of(lambda: with_spec(input_shape=[-1, 28, 28])),
    "two-dims": payload_of(lambda: with_spec(input_shape=[28, 28])),
    "text-dims": payload_of(lambda: with_spec(input_shape=["1", "28", "28x"])),
    "no-classes": payload_of(lambda: with_spec(classes=[])),
    "absurd-class-count": payload_of(lambda: with_spec(classes=list(range(100_001)))),
    "one-kilobyte-asks-for-terabytes": payload_of(lambda: {"format": FORMAT, "state_dict": {}, "spec": {
        **SPEC, "arch": "leannet", "input_shape": [16, 1024, 1024], "arch_kwargs": {"stages": [10**6, 10**6]}}}),
    "duplicate-classes": payload_of(lambda: with_spec(classes=[0, 1, 1])),
    "zero-std": payload_of(lambda: with_spec(std=0.0)),
    "nan-mean": payload_of(lambda: with_spec(mean=float("nan"))),
    "terabyte-kwargs": payload_of(lambda: with_spec(arch="baseline", arch_kwargs={"hidden": 10**12})),
    "huge-leannet": payload_of(lambda: with_spec(arch="leannet", arch_kwargs={"stages": [10**6, 10**6]})),
    "odd-kwargs": payload_of(lambda: with_spec(arch="leannet", arch_kwargs={"stages": "wide"})),
    "kwargs-not-a-dict": payload_of(lambda: with_spec(arch_kwargs=[1])),
    "unknown-pixel-order": payload_of(lambda: with_spec(pixel_order="whc")),
    "pixel-order-not-text": payload_of(lambda: with_spec(pixel_order=["hwc"])),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_bad_checkpoint_is_exit_2_one_line_naming_the_file(runner, tmp_path, demo_dir, untrained_checkpoint,
                                                                 case):
    path = CASES[case](tmp_path, untrained_checkpoint)
    if case == "one-kilobyte-asks-for-terabytes":
        assert path.stat().st_size < 2048
    got = runner.invoke(app, ["predict", "--checkpoint", str(path), "--input", str(demo_dir / "test.csv"),
                              "--output", str(tmp_path / "out.csv"), "--log-format", "json"])
    assert got.exit_code == 2, got.output
    assert str(path) in one_error(got)
    assert not (tmp_path / "out.csv").exists()


def test_the_limits_are_pinned_at_their_boundary(tmp_path):
    from core.model.spec import MAX_CLASSES, MAX_SIDE

    ok = ModelSpec(arch="bncnn", input_shape=(1, MAX_SIDE, 8), classes=list(range(MAX_CLASSES)),
                   arch_kwargs={"width_mult": 0.25})
    path = save_checkpoint(tmp_path / "edge.pt", ok.build(), ok)
    assert load_checkpoint(path).spec.input_shape == (1, MAX_SIDE, 8)
    refusals = [({"input_shape": [1, MAX_SIDE + 1, 8]},
                 f"input shape [1, {MAX_SIDE + 1}, 8]: expected channels 1..16 and sides 1..{MAX_SIDE}"),
                ({"classes": list(range(MAX_CLASSES + 1))}, f"class list of {MAX_CLASSES + 1}: expected 1..{MAX_CLASSES} classes")]
    for too_big, expected in refusals:
        payload = torch.load(path, weights_only=True)
        payload["spec"].update(too_big)
        bad = saved(tmp_path, payload, "over.pt")  # not over edge.pt: each case starts from the good file
        with pytest.raises(BadInput) as raised:
            load_checkpoint(bad)
        assert str(raised.value) == f"checkpoint {bad}: {expected}"


@pytest.mark.parametrize("stored, loaded", [(0.0, 0.0), (1.0, 1.0), (1, 1.0), (None, None), (float("nan"), None)])
def test_val_accuracy_loads_as_a_fraction_or_none(tmp_path, stored, loaded):
    """NaN: what a model trained on every row stored before that case was handled; it means none."""
    payload = good_payload()
    payload["metrics"] = {"val_accuracy": stored, "epochs_run": 3}
    metrics = load_checkpoint(saved(tmp_path, payload)).metrics
    assert metrics == {"val_accuracy": loaded, "epochs_run": 3}


def test_a_good_checkpoint_still_loads_and_predicts(untrained_checkpoint):
    model = load_checkpoint(untrained_checkpoint).model()
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_pyproject_requires_a_torch_whose_weights_only_cannot_be_bypassed():
    import tomllib
    from pathlib import Path

    deps = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch_dep,) = [d for d in deps if d.startswith("torch")]
    assert ">=2.6" in torch_dep and "<" in torch_dep  # a range, never a bare name


@pytest.mark.parametrize("content", [b"this is not a checkpoint at all\n" * 4, pickle.dumps(5, protocol=2) + b"\n", b""],
                         ids=["not-a-zip", "six-byte-pickle", "empty"])
def test_a_bad_resume_state_is_one_line_too(tmp_path, content):
    from core.base.errors import BadInput
    from core.model.checkpoint import beside
    from core.train.resume import load_state

    target = tmp_path / "model.pt"
    beside(target).state.write_bytes(content)
    with pytest.raises(BadInput, match="model.state.pt"):
        load_state(target, {})


def test_a_checkpoint_carrying_a_huge_extra_tensor_is_refused_without_reading_it(tmp_path):
    """A hostile file of gigabytes (here 512 MiB) past what the spec needs: refused before it is in memory."""
    import subprocess
    import sys

    payload = good_payload()
    payload["state_dict"]["junk"] = torch.ones(128 << 20)  # 512 MiB of float32
    path = saved(tmp_path, payload)
    # VmHWM, not ru_maxrss: the peak of this process's own memory (ru_maxrss carries the forking parent's).
    probe = ("import sys\n"
             "from core.model.checkpoint import load_checkpoint\n"
             "from core.base.errors import BadInput\n"
             "def peak_kib():\n"
             "    return next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
             "before = peak_kib()\n"
             "try:\n    load_checkpoint(sys.argv[1])\nexcept BadInput as exc:\n    print(exc)\n"
             "print((peak_kib() - before) >> 10)\n")
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120,
                         cwd=str(Path(__file__).resolve().parents[1]))
    message, grown_mib = out.stdout.strip().splitlines()
    assert "unexpected ['junk']" in message
    assert int(grown_mib) < 128  # read whole, the peak grows by 512 MiB
