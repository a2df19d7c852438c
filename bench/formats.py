"""Read speed of the pixel-file layouts other competitions use, against one column per pixel.

    python -m bench.formats                     # FER-2013's size: 28,709 rows of 48x48
    python -m bench.formats --rows 5000 --side 28 --repeats 5

Writes the same random images (and labels) five ways into a temporary folder: one column per pixel
with a header (Digit Recognizer's way), one space-separated `pixels` cell per row (FER-2013's
`emotion,pixels`), without a header (EMNIST's: the label, then the pixels), and the columns file
gzipped (`.csv.gz`) and zipped alone (`.csv.zip`, Kaggle's one-file download). Each is read whole
through the product's reader (`read_pixel_table`, as `train` reads) `--repeats` times, the five
alternating so a busy machine slows them alike; every read is checked against the images written.
Prints one JSON line: the median seconds of each, and each against the columns file in this run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np


def write_layouts(folder: Path, pixels: np.ndarray, labels: np.ndarray) -> dict[str, Path]:
    texts = [[str(v) for v in row] for row in pixels]
    paths = {name: folder / f"{name}.csv" for name in ("columns", "packed", "headerless")}
    with open(paths["columns"], "w") as out:
        out.write("label," + ",".join(f"pixel{i}" for i in range(pixels.shape[1])) + "\n")
        out.writelines(f"{label},{','.join(row)}\n" for label, row in zip(labels, texts))
    with open(paths["packed"], "w") as out:
        out.write("label,pixels\n")
        out.writelines(f"{label},{' '.join(row)}\n" for label, row in zip(labels, texts))
    with open(paths["headerless"], "w") as out:
        out.writelines(f"{label},{','.join(row)}\n" for label, row in zip(labels, texts))
    text = paths["columns"].read_bytes()
    paths["gzip"] = folder / "columns.csv.gz"
    paths["gzip"].write_bytes(gzip.compress(text, compresslevel=6))
    paths["zip"] = folder / "columns.csv.zip"
    with zipfile.ZipFile(paths["zip"], "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("columns.csv", text)
    return paths


def main(argv: list[str] | None = None) -> int:
    from core.data.table import read_pixel_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=28_709)
    parser.add_argument("--side", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(args.rows, args.side * args.side), dtype=np.uint8)
    labels = rng.integers(0, 7, size=args.rows)
    seconds: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="formats-bench-") as tmp:
        paths = write_layouts(Path(tmp), pixels, labels)
        for _ in range(args.repeats):
            for name, path in paths.items():
                started = time.perf_counter()
                table = read_pixel_table(path)
                seconds.setdefault(name, []).append(time.perf_counter() - started)
                assert np.array_equal(table.pixels, pixels), name
        sizes = {name: path.stat().st_size for name, path in paths.items()}
    median = {name: statistics.median(times) for name, times in seconds.items()}
    print(json.dumps({"bench": "formats", "rows": args.rows, "pixels": args.side * args.side,
                      "repeats": args.repeats, "bytes": sizes,
                      "median_s": {name: round(s, 3) for name, s in median.items()},
                      "vs_columns": {name: round(s / median["columns"], 2) for name, s in median.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
