"""Files written from predictions: checked submissions, per-row scores and class-probability Parquet.

All are written beside their target and renamed into place only once complete and checked, so
a failed check or an interrupted run leaves no output and never damages an earlier file.
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.base.atomic import atomic_path, atomic_write
from core.base.errors import BadInput
from core.base.log import Log
from core.data.competition import SAMPLE_NAME
from core.data.sample import DEFAULT_HEADER, SampleFormat, check_submission, read_sample
from core.predict.stream import Predictions


def find_sample(explicit: Path | None, input_path: Path, data_dir: Path | None) -> tuple[Path | None, bool]:
    """(sample path or None, given explicitly?): --sample, else --data-dir's, else the one beside the input."""
    if explicit is not None:
        if not explicit.is_file():
            raise BadInput(f"--sample {explicit}: no such file")
        return explicit, True
    for folder in (data_dir, input_path.parent):
        if folder is not None and (folder / SAMPLE_NAME).is_file():
            return folder / SAMPLE_NAME, data_dir is not None
    return None, False


def write_checked_submission(output: Path, predictions: Predictions, classes: list, log: Log,
                             sample_path: Path | None = None, required: bool = False) -> Path:
    """Write ImageId,Label in input order; with a sample, match its header, row count and ids first."""
    sample = read_sample(sample_path) if sample_path else None
    if sample is not None and len(sample.ids) != len(predictions.labels):
        message = f"{len(predictions.labels)} predictions, but {sample_path} has {len(sample.ids)} rows"
        if required:
            raise BadInput(message)
        log.warn(f"{message}; not checking against it", event="predict.sample_skipped")
        sample = None
    with atomic_path(output) as staging:
        if sample is None:
            _write_rows(staging, DEFAULT_HEADER, zip(predictions.ids, predictions.labels))
        else:
            _write_rows(staging, sample.header, zip(sample.ids, predictions.labels))
            _check(staging, output, sample, classes)
    return output


def _write_rows(path: Path, header, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _check(staging: Path, output: Path, sample: SampleFormat, classes: list) -> None:
    try:
        check_submission(staging, sample, classes)
    except BadInput as exc:  # name the file the user asked for, not the temp file
        raise BadInput(str(exc).replace(str(staging), str(output))) from None


def write_probs(path: Path, predictions: Predictions, classes: list) -> Path:
    """Class probabilities as Parquet: ImageId, then one float32 column per class (p_<class>)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"ImageId": pa.array(predictions.ids.astype(str) if predictions.ids.dtype == object
                                   else predictions.ids)}
    for index, label in enumerate(classes):
        columns[f"p_{label}"] = pa.array(predictions.probs[:, index])
    with atomic_path(path) as staging:
        pq.write_table(pa.table(columns), staging)
    return path


def write_scores(path: Path, predictions: Predictions) -> Path:
    """Per row: id, predicted label, confidence, and the true label when the input had one."""
    with atomic_write(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        has_truth = predictions.true_labels is not None
        writer.writerow(["ImageId", "Label", "Confidence"] + (["TrueLabel"] if has_truth else []))
        for i in range(len(predictions.labels)):
            row = [predictions.ids[i], predictions.labels[i], f"{predictions.confidence[i]:.6f}"]
            writer.writerow(row + ([predictions.true_labels[i]] if has_truth else []))
    return path
