"""The embedded demo competition: a small Digit Recognizer in exactly Kaggle's layout.

It lets `kaggle-job run` work end to end with no credentials and no network. The demo's test
labels ship beside the zip (never inside it, as on Kaggle) so the demo can report an honest
accuracy. Rebuild it with `python -m core.data.demo SOURCE_ZIP` from the real competition zip.
"""

from __future__ import annotations

import csv
import sys
import zipfile
from pathlib import Path

import numpy as np

from core.base.errors import BadInput
from core.base.workspace import DEFAULT_COMPETITION
from core.data.sample import DEFAULT_HEADER

DEMO_COMPETITION = DEFAULT_COMPETITION  # the embedded demo is a small Digit Recognizer
DEMO_DIR = Path(__file__).parent / "demo_data"
DEMO_ZIP = DEMO_DIR / "digit-recognizer-demo.zip"
DEMO_LABELS = DEMO_DIR / "digit-recognizer-demo-test-labels.csv"
N_TRAIN, N_TEST = 5000, 1000


def require_demo_for(competition: str) -> None:
    if competition != DEMO_COMPETITION:
        raise BadInput(f"--demo: the embedded demo is {DEMO_COMPETITION}'s; there is none for {competition}")


def demo_test_labels() -> np.ndarray:
    with open(DEMO_LABELS, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return np.array([int(row[DEFAULT_HEADER[1]]) for row in rows], dtype=np.int64)


def build_demo(source_zip: Path, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0) -> None:
    """Draw disjoint train/test rows from the labelled train.csv, stratified by label."""
    from sklearn.model_selection import train_test_split

    with zipfile.ZipFile(source_zip) as archive:
        lines = archive.read("train.csv").decode("utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    labels = [row.split(",", 1)[0] for row in rows]
    index = np.arange(len(rows))
    chosen, _ = train_test_split(index, train_size=n_train + n_test, stratify=labels, random_state=seed)
    train_idx, test_idx = train_test_split(chosen, train_size=n_train, test_size=n_test,
                                           stratify=[labels[i] for i in chosen], random_state=seed)
    train_csv = "\n".join([header] + [rows[i] for i in train_idx]) + "\n"
    test_csv = "\n".join([header.split(",", 1)[1]] + [rows[i].split(",", 1)[1] for i in test_idx]) + "\n"
    submission_header = ",".join(DEFAULT_HEADER) + "\n"  # the demo is a Digit Recognizer: the default header
    sample = submission_header + "".join(f"{i},0\n" for i in range(1, n_test + 1))
    answers = submission_header + "".join(f"{i},{labels[j]}\n" for i, j in enumerate(test_idx, start=1))

    DEMO_DIR.mkdir(exist_ok=True)
    with zipfile.ZipFile(DEMO_ZIP, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in (("sample_submission.csv", sample), ("test.csv", test_csv), ("train.csv", train_csv)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
    DEMO_LABELS.write_text(answers)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m core.data.demo PATH/TO/digit-recognizer.zip")
    build_demo(Path(sys.argv[1]))
    print(f"wrote {DEMO_ZIP} ({DEMO_ZIP.stat().st_size} bytes) and {DEMO_LABELS}")
