"""Scores for labelled predictions: accuracy, per-class precision/recall/F1, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int  # how many rows truly have this label


DENSE_CONFUSION_LABELS = 100


@dataclass
class Evaluation:
    accuracy: float
    rows: int
    labels: list[str]  # the order of the confusion matrix's rows (true) and columns (predicted)
    per_class: list[ClassScore]
    confusion: np.ndarray  # int (len(labels), len(labels)); [true, predicted]
    macro_f1: float

    def as_dict(self) -> dict:
        return {"accuracy": self.accuracy, "rows": self.rows, "macro_f1": self.macro_f1,
                "labels": self.labels, **self._confusion_fields(),
                "per_class": [vars(score) for score in self.per_class]}

    def _confusion_fields(self) -> dict:
        """The matrix as rows of numbers up to DENSE_CONFUSION_LABELS labels; past them only its
        non-zero cells, [true index, predicted index, count]: 3,000 labels made an 81 MB metrics.json
        of mostly zeros, where the cells that are not zero are at most one per scored row."""
        if len(self.labels) <= DENSE_CONFUSION_LABELS:
            return {"confusion": self.confusion.tolist()}
        true, predicted = np.nonzero(self.confusion)
        return {"confusion_nonzero": [[int(t), int(p), int(self.confusion[t, p])] for t, p in zip(true, predicted)]}


def label_order(classes: list, *extra: np.ndarray) -> list[str]:
    """The model's classes in its own order, then any label only the data has (so nothing is dropped)."""
    order = [str(c) for c in classes]
    seen = set(order)
    for values in extra:
        for value in sorted({str(v) for v in values} - seen):
            order.append(value)
            seen.add(value)
    return order


def evaluate(true_labels: np.ndarray, predicted: np.ndarray, classes: list) -> Evaluation:
    """Compare labels as strings: a CSV's label column and a checkpoint's classes may differ in type."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    truth = np.asarray(true_labels).astype(str)
    guess = np.asarray(predicted).astype(str)
    labels = label_order(classes, truth)
    if len(truth) == 0:
        zeros = np.zeros((len(labels), len(labels)), dtype=np.int64)
        return Evaluation(accuracy=float("nan"), rows=0, labels=labels, per_class=[], confusion=zeros,
                          macro_f1=float("nan"))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, guess, labels=labels, zero_division=0)
    per_class = [ClassScore(label=label, precision=float(p), recall=float(r), f1=float(f), support=int(s))
                 for label, p, r, f, s in zip(labels, precision, recall, f1, support)]
    present = [score.f1 for score in per_class if score.support > 0]
    return Evaluation(accuracy=float(np.mean(truth == guess)), rows=len(truth), labels=labels,
                      per_class=per_class, confusion=confusion_matrix(truth, guess, labels=labels),
                      macro_f1=float(np.mean(present)) if present else float("nan"))


def most_confused(evaluation: Evaluation, top: int = 5) -> list[tuple[str, str, int]]:
    """The biggest off-diagonal cells: (true, predicted, count), largest first."""
    matrix = evaluation.confusion.copy()
    np.fill_diagonal(matrix, 0)
    cells = [(evaluation.labels[i], evaluation.labels[j], int(matrix[i, j]))
             for i, j in zip(*np.nonzero(matrix))]
    return sorted(cells, key=lambda cell: (-cell[2], cell[0], cell[1]))[:top]
