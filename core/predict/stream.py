"""Batch prediction over a pixel file: the work behind `predict`, `score`, `submit` and `run`.

Under torchrun every rank predicts its own contiguous share of the rows (core.dist.shards) and rank
0 puts the shares together in input order; a single process reads the whole file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.base.log import Log
from core.base.memory import keep_heap_for_reuse
from core.data.classes import outside
from core.data.layout import PixelLayout, headerless, ignoring, read_layout
from core.data.parts import FilePart
from core.data.reader import progress_total, progress_unit
from core.data.sample import default_ids
from core.dist.shards import plan_parts
from core.dist.world import World, current_world
from core.predict.loader import batch_loader
from core.predict.pixel_range import PixelTally, check_range
from core.predict.predictor import Predictor
from core.predict.rowstore import RowStore

SHOWN = 3  # examples quoted for labels outside the model's classes


@dataclass
class Predictions:
    ids: np.ndarray
    labels: np.ndarray  # predicted class labels
    confidence: np.ndarray  # probability of the predicted class
    probs: np.ndarray  # (rows, classes)
    true_labels: np.ndarray | None  # present when the input had a label column (as text)
    id_column: str | None = None  # the input's id column, when `ids` came from it
    source: Path | None = None  # the file predicted

    @property
    def accuracy(self) -> float | None:
        if self.true_labels is None:
            return None
        return float(np.mean(self.labels.astype(str) == self.true_labels.astype(str)))

    def unknown_labels(self, classes: list) -> np.ndarray:
        """Rows whose true label is none of the model's classes: always counted as wrong."""
        return np.zeros(0, np.int64) if self.true_labels is None else outside(self.true_labels, classes)


def unknown_labels_note(path: Path, predictions: Predictions, rows: np.ndarray, classes: list) -> str | None:
    """One line on the rows whose labels the model cannot predict (`rows`, from
    `Predictions.unknown_labels`), or None when there are none."""
    if not len(rows):
        return None
    examples = ", ".join(f"data row {i + 1}: {predictions.true_labels[i]!r}" for i in rows[:SHOWN])
    return (f"{path}: {len(rows)} of {len(predictions.labels)} rows have labels outside the model's "
            f"{len(classes)} classes ({examples}{', ...' if len(rows) > SHOWN else ''}); the accuracy counts "
            "them as wrong")


@dataclass
class _Share:
    """One reader's rows: probabilities, and the label / id columns when the file has them."""

    probs: np.ndarray
    truth: np.ndarray | None
    ids: np.ndarray | None
    seen: PixelTally


def predict_file(path: Path, predictor: Predictor, log: Log, *, ignore_extra: bool = False,
                 id_names: Iterable[str] = (), label_names: Iterable[str] = (), labels: bool = True,
                 world: World | None = None, out_of_range: str = "warn") -> Predictions | None:
    """Stream `path` (.csv, .csv.gz or .parquet) through the model; rows keep their input order.

    The header is validated before any row is parsed; any bad row raises BadInput naming it.
    `id_names` (the sample submission's id column) are recognised as the id column too, and
    `label_names` (--label-column) as the label column. `labels=False` leaves the label column
    unread, as a submission needs no labels: a test file shipped with an empty one is no error.
    Under torchrun every rank must call this; the whole file's Predictions come back on rank 0,
    None on the other ranks, and a bad row on any rank raises the same error on all of them.
    Pixel values outside the model's trained range are told once, after the last row: a warning, or
    BadInput on every rank when `out_of_range` is "error" (core.predict.pixel_range).
    """
    world = world or current_world()
    names = {"id_names": tuple(id_names), "label_names": tuple(label_names)}
    layout, parts = world.from_rank0(lambda: _layout_and_parts(path, predictor, ignore_extra, names, world.size,
                                                               labels))
    if layout.ignored:
        log.warn(ignoring(path, layout.ignored), event="predict.ignored_columns",
                 columns=layout.ignored)
    if not layout.header:
        log.warn(headerless(layout), event="predict.headerless")
    share = world.agree(lambda: _predict_share(layout, parts[world.rank], predictor, log, world))
    shares = world.gather(share)
    return world.on_rank0(lambda: _checked(shares, layout, predictor, path, log, out_of_range))


def _layout_and_parts(path: Path, predictor: Predictor, ignore_extra: bool, names: dict, world: int,
                      labels: bool):
    layout = read_layout(path, predictor.spec.num_pixels, ignore_extra=ignore_extra, **names)
    if not labels:  # still known to be the label (not pixels, not an extra column), but not read
        layout = replace(layout, label_column=None)
    return layout, plan_parts(layout, world)


def _predict_share(layout: PixelLayout, part: FilePart, predictor: Predictor, log: Log, world: World) -> _Share:
    keep_heap_for_reuse()
    loader = batch_loader(layout, predictor.spec.input_shape, predictor.batch_size,
                          pin_memory=predictor.device.type == "cuda", part=part, pixel_order=predictor.spec.pixel_order)
    probs, truth, ids, seen = RowStore(), RowStore(), RowStore(), predictor.tally()
    what = f"predict {Path(layout.path).name}" + (f" (rank 0's share of {world.size})" if world.distributed else "")
    total = progress_total(layout, part) if log.speaks else None  # rank 0 alone reports
    rows = 0
    with log.progress(what, total=total, unit=progress_unit(layout), event="predict.progress") as bar:
        for batch in loader:
            probs.append(predictor.predict_proba(batch.images, log, seen))
            if layout.label_column:
                truth.append(batch.labels)
            if layout.id_column:
                ids.append(batch.ids)
            rows += len(batch.images)
            bar.advance(round(batch.read_to) - bar.done, rows=rows)
        if total:  # read to the end: a zip's own index after the member was never read, but counts as done
            bar.advance(total - bar.done)
    return _Share(probs=probs.array((0, predictor.spec.num_classes)),
                  truth=truth.array(dtype=object) if layout.label_column else None,
                  ids=ids.array() if layout.id_column else None, seen=seen)


def _checked(shares: list[_Share], layout: PixelLayout, predictor: Predictor, path: Path, log: Log,
             out_of_range: str) -> Predictions:
    """On rank 0, which holds every share: the whole file's pixel values checked, then its predictions."""
    check_range(PixelTally.merged([share.seen for share in shares]), str(path), log, out_of_range)
    return _joined(shares, layout, predictor, path)


def _joined(shares: list[_Share], layout: PixelLayout, predictor: Predictor, path: Path) -> Predictions:
    """The shares, in rank order, as the whole file's predictions."""
    def joined(name):
        arrays = [getattr(share, name) for share in shares]
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)

    all_probs = joined("probs")
    rows = len(all_probs)
    return Predictions(ids=joined("ids") if layout.id_column else default_ids(rows),
                       labels=predictor.labels_for(all_probs),
                       confidence=all_probs.max(axis=1) if rows else np.zeros(0, np.float32),
                       probs=all_probs,
                       true_labels=joined("truth") if layout.label_column else None,
                       id_column=layout.id_column, source=Path(path))
