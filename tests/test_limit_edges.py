"""Limits pinned at their edge: the value that passes and the first that is refused, with the message,
and no output left behind when refused."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import core.model.checkpoint as checkpoint_module
from core.base.errors import BadInput
from core.data.images import MIN_SIDE, load_grayscale
from core.data.reader import DEFAULT_BLOCK_BYTES, read_pixels
from core.data.sample import HEADER_BYTES, sample_label_column
from core.model.checkpoint import load_checkpoint, save_checkpoint
from core.model.spec import MAX_CHANNELS, MAX_SIDE, ModelSpec, checked_input_shape
from jobs.cli import app
from tests.cli_output import one_error, records

# -- MAX_CHANNELS ----------------------------------------------------------------------------------

def test_sixteen_channels_pass_and_seventeen_are_refused():
    assert checked_input_shape([MAX_CHANNELS, 28, 28]) == (16, 28, 28)
    with pytest.raises(BadInput) as raised:
        checked_input_shape([MAX_CHANNELS + 1, 28, 28])
    assert str(raised.value) == f"input shape [17, 28, 28]: expected channels 1..16 and sides 1..{MAX_SIDE}"


def test_a_checkpoint_of_seventeen_channels_is_refused_naming_the_file(tmp_path):
    spec = ModelSpec(arch="baseline", input_shape=(MAX_CHANNELS, 8, 8), classes=["a", "b"])
    path = save_checkpoint(tmp_path / "wide.pt", spec.build(), spec)
    assert load_checkpoint(path).spec.input_shape == (16, 8, 8)
    payload = torch.load(path, weights_only=True)
    payload["spec"]["input_shape"] = [MAX_CHANNELS + 1, 8, 8]
    torch.save(payload, path)
    with pytest.raises(BadInput) as raised:
        load_checkpoint(path)
    assert str(raised.value) == (f"checkpoint {path}: input shape [17, 8, 8]: expected channels 1..16 and "
                                 f"sides 1..{MAX_SIDE}")


# -- MAX_PARAMETERS (check_weights reads the module's cap when it runs) -------------------------------

def test_a_model_at_the_parameter_cap_loads_and_one_above_is_refused(tmp_path, monkeypatch):
    spec = ModelSpec(arch="baseline", input_shape=(1, 28, 28), classes=list(range(10)))
    model = spec.build()
    count = sum(p.numel() for p in model.state_dict().values())
    path = save_checkpoint(tmp_path / "edge.pt", model, spec)
    monkeypatch.setattr(checkpoint_module, "MAX_PARAMETERS", count)  # the model is exactly at the cap
    assert load_checkpoint(path).spec == spec
    monkeypatch.setattr(checkpoint_module, "MAX_PARAMETERS", count - 1)  # ... and one parameter above it
    with pytest.raises(BadInput) as raised:
        load_checkpoint(path)
    assert str(raised.value) == (f"checkpoint {path}: baseline with settings {{}} would have {count:,} parameters "
                                 f"(at most {count - 1:,})")


# -- HEADER_BYTES: the sample's header read by train and inspect ------------------------------------

@pytest.mark.parametrize("size", [HEADER_BYTES, HEADER_BYTES + 1])
def test_a_sample_header_up_to_header_bytes_names_the_label_and_a_longer_one_names_none(tmp_path, size):
    label = "L" * (size - len("ImageId,\n"))
    sample = tmp_path / "sample_submission.csv"
    sample.write_text(f"ImageId,{label}\n1,0\n")
    assert len(sample.read_text().split("\n")[0]) + 1 == size
    # Over the cap the header is not read whole: a cut name would be a wrong label column, so none is named.
    assert sample_label_column(sample) == (label if size <= HEADER_BYTES else None)


# -- MIN_SIDE: images for predict-image ------------------------------------------------------------

def _square(path, side: int):
    image = Image.new("L", (side, side), 255)
    ImageDraw.Draw(image).line([(side // 2, 1), (side // 2, side - 2)], fill=0)
    image.save(path)
    return path


def test_an_eight_pixel_image_is_read_and_a_seven_pixel_one_is_refused(tmp_path):
    assert load_grayscale(_square(tmp_path / "eight.png", MIN_SIDE)).shape == (8, 8)
    small = _square(tmp_path / "seven.png", MIN_SIDE - 1)
    with pytest.raises(BadInput) as raised:
        load_grayscale(small)
    assert str(raised.value) == f"{small}: image is 7x7 pixels; expected at least 8x8"


def test_seven_pixels_through_predict_image_is_one_line_and_exit_2(runner, tmp_path, untrained_checkpoint):
    small = _square(tmp_path / "seven.png", MIN_SIDE - 1)
    got = runner.invoke(app, ["predict-image", str(small), "--checkpoint", str(untrained_checkpoint),
                              "--log-format", "json"])
    assert got.exit_code == 2
    assert one_error(got) == f"{small}: image is 7x7 pixels; expected at least 8x8"


# -- a row ending exactly at a read-block boundary ---------------------------------------------------

@pytest.mark.parametrize("shift", [-1, 0, 1])
def test_a_row_ending_at_the_read_block_boundary_is_read_once(tmp_path, shift):
    """Rows "10,2,3,4" (9 bytes) and "1,2,3,4" (8): the header and rows end exactly at the default
    4 MiB block's end (shift 0), a byte before it, or a byte after it; then 5 more rows follow."""
    header = b"pixel0,pixel1,pixel2,pixel3\n"
    nines, eights = 4 + shift, (DEFAULT_BLOCK_BYTES - len(header) - 9 * 4) // 8 - shift
    body = b"10,2,3,4\n" * nines + b"1,2,3,4\n" * eights
    assert len(header) + len(body) == DEFAULT_BLOCK_BYTES + shift
    tail = b"".join(b"%d,9,9,9\n" % value for value in range(200, 205))
    source = tmp_path / "edge.csv"
    source.write_bytes(header + body + tail)
    pixels = np.concatenate([batch.pixels for batch in read_pixels(source)])
    assert len(pixels) == nines + eights + 5
    np.testing.assert_array_equal(pixels[nines + eights:, 0], [200, 201, 202, 203, 204])
    assert int(pixels[:, 0].astype(np.int64).sum()) == 10 * nines + eights + sum(range(200, 205))


# -- a one-row predict ------------------------------------------------------------------------------

def test_a_one_row_predict_succeeds(runner, tmp_path, demo_dir, tiny_checkpoint):
    with open(demo_dir / "test.csv") as handle:
        header, row = next(handle), next(handle)
    source = tmp_path / "one.csv"
    source.write_text(header + row)
    sample = tmp_path / "sample_submission.csv"
    sample.write_text("ImageId,Label\n1,0\n")
    out = tmp_path / "out.csv"
    got = runner.invoke(app, ["predict", "--checkpoint", str(tiny_checkpoint), "--input", str(source),
                              "--sample", str(sample), "--output", str(out), "--log-format", "json"])
    assert got.exit_code == 0, got.output
    lines = out.read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 2
    assert re.fullmatch(r"1,[0-9]", lines[1])
    assert any(r.get("rows") == 1 for r in records(got)), got.output
