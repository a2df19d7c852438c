"""Class labels as a data set holds them: digits, integers with gaps, or names.

Labels are read as text and compared as text everywhere (a CSV's `7` and a checkpoint's 7 are the
same class). A model's classes are stored in one stable order: integers when every label is a
plain decimal integer (so 2 sorts before 10, and submissions print them as the data did), text in
code-point order otherwise.
"""

from __future__ import annotations

import re

import numpy as np

_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)", re.ASCII)  # "07" or "+7" would not print back as written


_WHOLE_FLOAT = re.compile(r"(-?(?:0|[1-9][0-9]*))\.0*", re.ASCII)
_SCIENTIFIC = re.compile(r"-?[0-9]\.[0-9]*[eE][-+]?[0-9]{1,2}", re.ASCII)  # numpy savetxt's "%.18e"


def _as_integer(text: str) -> str:
    """"3.0" and "3.000000000000000000e+00" as "3"; any other text as it is."""
    if m := _WHOLE_FLOAT.fullmatch(text):
        return m.group(1)
    if _SCIENTIFIC.fullmatch(text) and (value := float(text)).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return text


def cell_texts(cells: np.ndarray) -> np.ndarray:
    """Label or id cells as the text every comparison uses: spaces stripped (" 1" must not become an
    eleventh class) and a float frame's whole numbers as integers ("3.0" is class 3 and id 3, as in
    the sample submission, not a "3.0" that would be written back into submissions; numpy's savetxt
    writes it "3.000000000000000000e+00")."""
    texts = np.char.strip(np.asarray(cells).astype(str))
    dotted = np.flatnonzero(np.char.find(texts, ".") >= 0)  # ids are unique: look only where it can matter
    if len(dotted):
        texts = texts.astype(object)
        texts[dotted] = [_as_integer(t) for t in texts[dotted].tolist()]
        texts = texts.astype(str)
    return texts


def classes_of(labels: np.ndarray) -> list:
    """The distinct labels in their stable order: ints when all are plain integers, else str."""
    distinct = [str(text) for text in np.unique(np.asarray(labels).astype(str))]
    if distinct and all(_INTEGER.fullmatch(text) for text in distinct):
        return sorted(int(text) for text in distinct)
    return distinct


def class_indices(labels: np.ndarray, classes: list) -> np.ndarray:
    """int64 index into `classes` for each label; every label must be one of them."""
    position = {str(c): i for i, c in enumerate(classes)}
    distinct, inverse = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return np.array([position[str(text)] for text in distinct], dtype=np.int64)[inverse.reshape(-1)]


def outside(labels: np.ndarray, classes: list) -> np.ndarray:
    """Positions of the labels that are not among `classes`."""
    known = np.array([str(c) for c in classes])
    return np.flatnonzero(~np.isin(np.asarray(labels).astype(str), known))


def class_array(classes: list) -> np.ndarray:
    """`classes` as the array that labels are taken from: int64 when every class is an integer, text
    (numpy str) otherwise, never Python objects."""
    if all(isinstance(c, int) for c in classes):
        return np.array(classes, dtype=np.int64)
    return np.array([str(c) for c in classes], dtype=str)


SPELLED_OUT = 8  # classes listed by name up to this many; more are shown as a range or first ... last


def describe_classes(classes: list) -> str:
    """`10 classes 0..9` (consecutive integers), `3 classes cat, dog, fox`, or `47 classes 0, 1, 2, ..., z`."""
    count = f"{len(classes)} class{'es' if len(classes) != 1 else ''}"
    if not classes:
        return count
    texts = [str(c) for c in classes]
    if len(classes) > 2 and all(isinstance(c, int) for c in classes) and classes == list(range(classes[0],
                                                                                                classes[-1] + 1)):
        return f"{count} {texts[0]}..{texts[-1]}"
    if len(classes) <= SPELLED_OUT:
        return f"{count} {', '.join(texts)}"
    return f"{count} {', '.join(texts[:3])}, ..., {texts[-1]}"
