"""Small competitions built in the tests: learnable synthetic images as pixel CSVs, zipped as Kaggle
ships them, for the emulator to serve (`emu.add_competition(c.slug, c.zip_bytes, c.answers)`).

Class k is a bright square at its own place on a grid, with a pixel of jitter and faint noise: a
small CNN tells them apart after a few epochs on a few hundred rows, so end-to-end tests can check
real accuracy in seconds.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass, field

import numpy as np


def images(classes: np.ndarray, n_classes: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (rows, side*side): row i shows class classes[i] (an index)."""
    grid = math.ceil(math.sqrt(n_classes))
    cell = side // grid
    blob = max(2, cell - 2)
    out = rng.integers(0, 30, size=(len(classes), side, side)).astype(np.uint8)
    for row, k in enumerate(classes):
        top = (k // grid) * cell + 1 + rng.integers(-1, 2)
        left = (k % grid) * cell + 1 + rng.integers(-1, 2)
        top, left = int(np.clip(top, 0, side - blob)), int(np.clip(left, 0, side - blob))
        out[row, top:top + blob, left:left + blob] = 255
    return out.reshape(len(classes), side * side)


def pixel_csv(pixels: np.ndarray, *, labels=None, ids=None, label_name="label", id_name="id", base=0) -> bytes:
    """A pixel CSV: [id,] [label,] pixel<base>..; cells as Kaggle writes them."""
    header = ([id_name] if ids is not None else []) + ([label_name] if labels is not None else [])
    header += [f"pixel{i + base}" for i in range(pixels.shape[1])]
    lines = [",".join(header)]
    for row in range(len(pixels)):
        lead = ([str(ids[row])] if ids is not None else []) + ([str(labels[row])] if labels is not None else [])
        lines.append(",".join(lead + [str(v) for v in pixels[row]]))
    return ("\n".join(lines) + "\n").encode()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@dataclass
class Built:
    slug: str
    files: dict[str, bytes]  # name in the zip -> bytes
    answers: dict[str, str]  # test id -> true label
    classes: list
    side: int
    extra: dict = field(default_factory=dict)

    @property
    def zip_bytes(self) -> bytes:
        return zip_of(self.files)


def build(slug: str, class_names: list, side: int, *, train_per_class=30, test_rows=60, base=0,
          test_id: str | None = None, first_id=1, sample_header=("ImageId", "Label"), folder="",
          extra_files: tuple[str, ...] = (), seed=0, label_name="label") -> Built:
    """A competition: train.csv (label + pixels), test.csv (optional id + pixels), a sample, extras."""
    rng = np.random.default_rng(seed)
    k = len(class_names)
    train_idx = rng.permutation(np.repeat(np.arange(k), train_per_class))
    test_idx = rng.integers(0, k, size=test_rows)
    names = np.array(class_names, dtype=object)
    ids = np.arange(first_id, first_id + test_rows)
    files = {
        f"{folder}train.csv": pixel_csv(images(train_idx, k, side, rng), labels=names[train_idx], base=base,
                                        label_name=label_name),
        f"{folder}test.csv": pixel_csv(images(test_idx, k, side, rng), ids=ids if test_id else None,
                                       id_name=test_id or "id", base=base),
        f"{folder}sample_submission.csv": (",".join(sample_header) + "\n" + "".join(
            f"{i},{class_names[0]}\n" for i in ids)).encode(),
    }
    for name in extra_files:  # another labelled set, as Kannada-MNIST's Dig-MNIST.csv
        extra_idx = rng.integers(0, k, size=test_rows)
        files[f"{folder}{name}"] = pixel_csv(images(extra_idx, k, side, rng), labels=names[extra_idx], base=base,
                                             label_name=label_name)
    answers = {str(i): str(names[j]) for i, j in zip(ids, test_idx)}
    return Built(slug, files, answers, list(class_names), side)


def kannada_like() -> Built:
    """Kannada-MNIST's shape: test.csv starts with `id` (from 0), the sample is `id,label`, plus Dig-MNIST.csv."""
    return build("kannada-like", list(range(10)), 28, test_id="id", first_id=0, sample_header=("id", "label"),
                 extra_files=("Dig-MNIST.csv",), train_per_class=15)


def one_based_gapped() -> Built:
    """Sign Language MNIST's shape: pixel1..pixel784, 24 labels out of 0..25 (no 9, no 25), in a folder."""
    labels = [i for i in range(26) if i not in (9, 25)]
    return build("gapped-like", labels, 28, base=1, folder="gapped-like/", train_per_class=8, test_rows=48)


def small_strings() -> Built:
    """14x14 images, three named classes, an `Id` test column and an `Id,Category` sample."""
    return build("strings-like", ["cat", "dog", "owl"], 14, test_id="Id", sample_header=("Id", "Category"),
                 train_per_class=40)


def target_named() -> Built:
    """A competition that calls the label `target` in its sample (`id,target`) and its train.csv."""
    return build("target-like", list(range(4)), 16, test_id="id", first_id=0, sample_header=("id", "target"),
                 label_name="target", extra_files=("extra.csv",), train_per_class=40)
