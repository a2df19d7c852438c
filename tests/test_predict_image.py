"""predict-image: hand-drawn-like digits of any size, polarity and format are named correctly."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.base.errors import BadInput
from core.data.images import prepare_image
from jobs.cli import app
from tests.handdrawn import draw_digit

# (suffix, canvas, digit height, top-left of the digit box, ink, paper, mode, pen px or None)
STYLES = {
    "pen-on-paper": (".png", (400, 400), 240, (90, 30), (20, 20, 20), (255, 255, 255), "RGB", None),
    "photo-jpeg": (".jpg", (640, 480), 300, (330, 140), (30, 40, 120), (235, 228, 212), "RGB", None),
    "small-chalk": (".png", (200, 260), 90, (15, 150), (250, 250, 250), (0, 0, 0), "L", 11),
    "transparent": (".png", (300, 500), 380, (20, 100), (10, 10, 10, 255), (0, 0, 0, 0), "RGBA", None),
}


@pytest.fixture(scope="session")
def digit_model(tmp_path_factory, demo_dir) -> Path:
    """A small model trained on the demo data with fixed settings (not a preset that may be retuned)."""
    from core.base.log import Log
    from core.train.config import config_for
    from core.train.pipeline import train_to_checkpoint

    path = tmp_path_factory.mktemp("digits") / "digits.pt"
    # Augmentation pinned too: hand-drawn digits are shifted, slanted and scaled unlike the CSV rows.
    config = config_for("demo", arch="baseline", arch_kwargs={}, epochs=5, batch_size=64, lr=4e-3,
                        val_fraction=0.05, seed=0, shift_px=2.0, rotate_deg=8.0, zoom=0.08)
    train_to_checkpoint(demo_dir / "train.csv", path, config, Log(fmt="json"))
    return path


def _draw(style: str, digit: int, folder: Path) -> Path:
    suffix, canvas, height, origin, ink, paper, mode, pen = STYLES[style]
    return draw_digit(digit, folder / f"{style}-{digit}{suffix}", canvas=canvas, height=height, origin=origin,
                      ink=ink, paper=paper, mode=mode, width_px=pen)


def test_hand_drawn_digits_are_named(runner, tmp_path, digit_model):
    images = [_draw(style, digit, tmp_path) for style in STYLES for digit in range(10)]
    grid = tmp_path / "prepared.png"
    result = runner.invoke(app, ["predict-image", *map(str, images), "--checkpoint", str(digit_model),
                                 "--grid", str(grid), "--log-format", "rich"])
    assert result.exit_code == 0, result.output
    lines = {Path(m.group(1)).name: m for m in re.finditer(
        r"^(\S+): (\S+)  \(top-3: (\S+) ([\d.]+), (\S+) ([\d.]+), (\S+) ([\d.]+)\)$", result.output, re.M)}
    assert len(lines) == len(images)
    wrong = []
    for path in images:
        match = lines[path.name]
        expected = path.stem.rsplit("-", 1)[1]
        probs = [float(match.group(i)) for i in (4, 6, 8)]
        assert match.group(2) == match.group(3)  # the answer is the top-1 class
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0005
        if match.group(2) != expected:
            wrong.append(f"{path.name} -> {match.group(2)}")
    assert not wrong, wrong
    with Image.open(grid) as picture:
        assert picture.size == (720, 7 * 140 + 40)  # 40 images in 6 columns


def test_bad_image_is_one_line_and_exit_2(runner, tmp_path, untrained_checkpoint):
    good = _draw("pen-on-paper", 3, tmp_path)
    fake = tmp_path / "notes.png"
    fake.write_text("this is not a picture\n")
    result = runner.invoke(app, ["predict-image", str(good), str(fake), "--checkpoint", str(untrained_checkpoint),
                                 "--log-format", "rich"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "notes.png" in result.output and "not a readable image" in result.output
    assert "Traceback" not in result.output

    blank = tmp_path / "blank.jpg"
    Image.new("RGB", (300, 300), (250, 250, 250)).save(blank)
    result = runner.invoke(app, ["predict-image", str(blank), "--checkpoint", str(untrained_checkpoint)])
    assert result.exit_code == 2
    assert "blank.jpg" in result.output and "no digit found" in result.output

    result = runner.invoke(app, ["predict-image", str(tmp_path / "missing.png"), "--checkpoint",
                                 str(untrained_checkpoint)])
    assert result.exit_code == 2 and "no such file" in result.output


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(image.shape)
    mass = image.astype(float).sum()
    return (ys * image).sum() / mass, (xs * image).sum() / mass


def test_preparation_is_the_mnist_way(tmp_path):
    dark_on_light = prepare_image(_draw("pen-on-paper", 7, tmp_path), (1, 28, 28))
    assert dark_on_light.shape == (1, 28, 28) and dark_on_light.dtype == np.uint8
    digit = dark_on_light[0]
    # Light ink on a black frame, the digit box at most 20 pixels, centred by its centre of mass.
    assert digit[0].max() == 0 and digit[-1].max() == 0 and digit[:, 0].max() == 0 and digit[:, -1].max() == 0
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) in (20, 21)  # 20 plus an anti-aliased edge
    cy, cx = _centre_of_mass(digit)
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1
    assert digit.max() == 255

    # The same digit light-on-dark, elsewhere on a differently sized canvas, is prepared alike.
    light_on_dark = draw_digit(7, tmp_path / "inverse.png", canvas=(900, 500), height=240, origin=(600, 200),
                               ink=(255, 255, 255), paper=(0, 0, 0))
    other = prepare_image(light_on_dark, (1, 28, 28))[0]
    assert np.abs(other.astype(int) - digit.astype(int)).mean() < 8

    # Other input shapes: the frame follows the checkpoint.
    framed = prepare_image(_draw("photo-jpeg", 7, tmp_path), (1, 32, 40))
    assert framed.shape == (1, 32, 40)
    rows = np.flatnonzero(framed[0].any(axis=1))
    assert rows[-1] - rows[0] + 1 <= round(32 * 20 / 28) + 1
    # A colour model's picture is resized as it is: the paper stays light, nothing is cropped to ink.
    colour = prepare_image(_draw("photo-jpeg", 7, tmp_path), (3, 32, 40))
    assert colour.shape == (3, 32, 40) and colour.dtype == np.uint8
    assert np.median(colour) > 128 and colour[:, 0].min() > 0


def test_preparation_refuses_what_is_not_a_digit(tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.new("L", (4, 4), 0).save(tiny)
    with pytest.raises(BadInput, match="at least"):
        prepare_image(tiny, (1, 28, 28))
    truncated = tmp_path / "cut.jpg"
    full = _draw("photo-jpeg", 2, tmp_path)
    truncated.write_bytes(full.read_bytes()[:200])
    with pytest.raises(BadInput, match="cut.jpg"):
        prepare_image(truncated, (1, 28, 28))


def test_blown_up_mnist_digits_get_the_same_answer_as_their_rows(tmp_path, demo_dir, digit_model):
    """Demo rows saved as 280x280 dark-on-light PNGs must come back through the preparation intact."""
    from core.data.table import read_pixel_table
    from core.predict.images import predict_images
    from core.predict.predictor import Predictor

    pixels = read_pixel_table(demo_dir / "test.csv").pixels[:100]
    paths = []
    for i, row in enumerate(pixels):
        image = Image.fromarray(255 - row.reshape(28, 28)).resize((280, 280), Image.Resampling.BICUBIC)
        paths.append(tmp_path / f"row{i}.png")
        image.save(paths[-1])
    predictor = Predictor.load([digit_model], "cpu")
    from_rows = predictor.labels_for(predictor.predict_proba(pixels)).astype(str)
    from_images = np.array([r.label for r in predict_images(paths, predictor)])
    assert np.mean(from_rows == from_images) >= 0.93


def _png_header(path: Path, width: int, height: int, data: bytes = b"") -> Path:
    """A grayscale PNG claiming width x height; `data` is its (compressed) pixel stream."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("width, height, too_large", [(10_000, 5_000, False), (10_001, 5_000, True),
                                                      (10_000, 10_000, True), (30_000, 30_000, True)])
def test_images_over_50_megapixels_are_refused_before_decoding(tmp_path, width, height, too_large):
    """The size is read from the header: 50 megapixels is the limit (this one then fails to decode,
    having no pixels), above it one line, never Pillow's bomb error (100 MP: its warning) as a crash."""
    path = _png_header(tmp_path / "big.png", width, height)
    with pytest.raises(BadInput) as refused:
        prepare_image(path, (1, 28, 28))
    if too_large:
        assert re.search(r"big\.png: image (is \d+x\d+ pixels|too large to decode); expected at most 50 megapixels",
                         refused.value.message)
    else:
        assert "not a readable image" in refused.value.message


def test_a_decompression_bomb_is_one_line_through_the_cli(runner, tmp_path, untrained_checkpoint):
    import zlib

    bomb = _png_header(tmp_path / "bomb.png", 20_000, 20_000, zlib.compress(b"\x00" * 20_001 * 20_000, 9))
    result = runner.invoke(app, ["predict-image", "--checkpoint", str(untrained_checkpoint), str(bomb),
                                 "--log-format", "json"])
    assert result.exit_code == 2, result.output
    assert "bomb.png: image" in result.output and "expected at most 50 megapixels" in result.output
