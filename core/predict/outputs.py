"""Files written from predictions: checked submissions, per-row scores and class-probability Parquet.

All are written beside their target and renamed into place only once complete and checked, so
a failed check or an interrupted run leaves no output and never damages an earlier file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from core.base.atomic import atomic_path, atomic_write
from core.base.errors import BadInput, require_file
from core.base.log import Log
from core.data.columns import DEFAULT_ID, DEFAULT_LABEL
from core.data.competition import CompetitionFiles
from core.data.sample import SampleFormat, check_submission, first_duplicate, order_by_sample, read_sample
from core.predict.stream import Predictions


def find_sample(explicit: Path | None, input_path: Path, data_dir: Path | None) -> tuple[SampleFormat | None, bool]:
    """(sample or None, given explicitly?): --sample, else --data-dir's, else the one beside the input."""
    if explicit is not None:
        require_file(explicit, "--sample")
        return read_sample(explicit), True
    for folder in (data_dir, input_path.parent):
        if folder is not None and (path := CompetitionFiles(Path(folder)).sample).is_file():
            return read_sample(path), data_dir is not None
    return None, False


def id_names(sample: SampleFormat | None) -> tuple[str, ...]:
    """The id column names to recognise in the input besides the usual ones: the sample's."""
    return (sample.id_column,) if sample is not None else ()


def write_checked_submission(output: Path, predictions: Predictions, classes: list, log: Log,
                             sample: SampleFormat | None = None, required: bool = False) -> Path:
    """Write id,label rows in the sample's format, order and ids, checked before the rename.

    Input ids (when the input has an id column) must be the sample's, and the rows follow the
    sample's order; without input ids the rows pair with the sample's ids in order. A sample that
    does not fit is an error when `required` (given explicitly, or the competition's), else a
    warning and the input's own ids and order under the default header.
    """
    rows = _sample_rows(predictions, sample, required, log) if sample is not None else None
    if rows is None and predictions.id_column is not None:
        repeated = first_duplicate(predictions.ids.tolist())
        if repeated is not None:  # scoring may mean it; a Kaggle submission is refused for it
            log.warn(f"{predictions.source}: id {repeated!r} appears more than once; written as in the input "
                     "(Kaggle refuses a submission with repeated ids)", event="predict.repeated_ids", id=repeated)
    with atomic_path(output) as staging:
        if rows is None:
            header = (predictions.id_column or DEFAULT_ID, DEFAULT_LABEL)
            _write_rows(staging, header, zip(predictions.ids, predictions.labels))
        else:
            _write_rows(staging, sample.header, zip(sample.ids, predictions.labels[rows]))
            _check(staging, output, sample, classes)
    return output


def _sample_rows(predictions: Predictions, sample: SampleFormat, required: bool, log: Log) -> np.ndarray | None:
    """Positions of the predictions in the sample's order, or None when the sample does not apply."""
    count = len(predictions.labels)
    try:
        if predictions.id_column is not None:
            return order_by_sample(predictions.ids, sample, predictions.source)
        if len(sample.ids) != count:
            raise BadInput(f"{count} predictions, but {sample.path} has {len(sample.ids)} rows")
        return np.arange(count)
    except BadInput as exc:
        if required:
            raise
        log.warn(f"{exc}; not checking against it", event="predict.sample_skipped")
        return None


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
    """Class probabilities as Parquet: the id, then one float32 column per class (p_<class>)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = predictions.ids.astype(str) if predictions.ids.dtype == object else predictions.ids
    columns = {predictions.id_column or DEFAULT_ID: pa.array(ids)}
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
        writer.writerow([predictions.id_column or DEFAULT_ID, DEFAULT_LABEL, "Confidence"]
                        + (["TrueLabel"] if has_truth else []))
        for i in range(len(predictions.labels)):
            row = [predictions.ids[i], predictions.labels[i], f"{predictions.confidence[i]:.6f}"]
            writer.writerow(row + ([predictions.true_labels[i]] if has_truth else []))
    return path
