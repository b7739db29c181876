"""Segmentation scores: dice (hard and soft), F1, Jaccard, accuracy, balanced accuracy, precision, recall.

Definitions follow Sytwu et al. (paper 000, eq. 2) and Sadre et al. (paper
004, tables 1–2), with TP, FP, FN, TN counted over pixels (foreground = 1):

=================  =============================================
dice, f1           2 TP / (2 TP + FP + FN)   (identical for binary masks)
soft_dice          2 Σ p·y / (Σ p + Σ y), p the foreground probability
jaccard            TP / (TP + FP + FN)
accuracy           (TP + TN) / N
balanced_accuracy  (TP / (TP + FN) + TN / (TN + FP)) / 2
precision          TP / (TP + FP)
recall             TP / (TP + FN)
=================  =============================================

Edge cases (no NaN ever leaks out):

* **empty truth and empty prediction**: dice = f1 = jaccard = precision =
  recall = soft_dice = 1.0 (a perfect answer to "where is the particle?");
* a ratio whose denominator is 0 otherwise is 0.0 (e.g. precision of an
  empty prediction when the truth is not empty: nothing found, 0);
  recall with an empty truth is 1.0 if nothing was predicted, else 0.0;
* balanced accuracy averages the recall of the classes *present in the
  truth* (as scikit-learn does), so with an all-background truth it is TN/N.

Two ways to summarise a set of images (:func:`score_set`):

* **pooled** (``"pooling": "pixels"``): the confusion counts of all images are
  summed and the scores computed once — large images weigh more;
* **per image** (``"pooling": "image"``): one score dict per image;
  :func:`mean_std` averages them (``"pooling": "mean over images"``), as
  papers 000 and 004 report dice ± std.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from temseg.errors import InputError

#: score names, in the order they are reported
SCORE_KEYS = ("dice", "soft_dice", "f1", "jaccard", "accuracy", "balanced_accuracy",
              "precision", "recall")


class Confusion(NamedTuple):
    """Pixel counts of a binary comparison (Python ints, no overflow)."""

    tp: int
    fp: int
    fn: int
    tn: int

    def __add__(self, other):  # type: ignore[override]
        return Confusion(*(a + b for a, b in zip(self, other)))

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def refuse_probabilities(array: np.ndarray, name: str) -> None:
    """:class:`InputError` for a float ``array`` with values strictly between 0 and 1 where a
    mask is wanted: of a probability map, > 0 is nearly every pixel."""
    if array.dtype.kind == "f" and ((array > 0) & (array < 1)).any():
        raise InputError(f"{name}: holds values between 0 and 1 (a probability map?); "
                         "threshold it first, e.g. prob >= 0.5")


def _mask(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.size == 0:
        raise InputError(f"{name}: empty array")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InputError(f"{name}: contains NaN/inf")
        refuse_probabilities(array, name)
    return array > 0


def confusion(pred, truth) -> Confusion:
    """Count TP, FP, FN, TN between a predicted and a true binary mask.

    Parameters
    ----------
    pred, truth : (H, W) array_like (any shape, equal)
        Masks; values > 0 are foreground.

    Returns
    -------
    Confusion
        ``(tp, fp, fn, tn)`` pixel counts.
    """
    p, t = _mask(pred, "prediction"), _mask(truth, "truth")
    if p.shape != t.shape:
        raise InputError(f"prediction: shape {p.shape} does not match truth {t.shape}")
    tp = int(np.count_nonzero(p & t))
    fp = int(np.count_nonzero(p)) - tp
    fn = int(np.count_nonzero(t)) - tp
    return Confusion(tp, fp, fn, p.size - tp - fp - fn)


def _ratio(num: float, den: float, empty: float) -> float:
    return float(num / den) if den > 0 else float(empty)


def scores_from_confusion(c: Confusion) -> dict[str, float]:
    """All hard scores from confusion counts (soft dice is not among them)."""
    tp, fp, fn, tn = c
    both_empty = tp + fp + fn == 0
    dice = _ratio(2 * tp, 2 * tp + fp + fn, 1.0)
    recall = _ratio(tp, tp + fn, 1.0 if fp == 0 else 0.0)
    specificity = _ratio(tn, tn + fp, 1.0)
    present = [r for r, n in ((recall, tp + fn), (specificity, tn + fp)) if n > 0]
    return {
        "dice": dice,
        "f1": dice,
        "jaccard": _ratio(tp, tp + fp + fn, 1.0),
        "accuracy": _ratio(tp + tn, c.total, 1.0),
        "balanced_accuracy": float(np.mean(present)) if present else 1.0,
        "precision": _ratio(tp, tp + fp, 1.0 if both_empty else 0.0),
        "recall": recall,
    }


def _soft_sums(prob, truth) -> tuple[float, float, float]:
    """(Σ p·y, Σ p, Σ y) for the soft dice."""
    p = np.asarray(prob, dtype=np.float64)
    t = _mask(truth, "truth")
    if p.shape != t.shape:
        raise InputError(f"prob: shape {p.shape} does not match truth {t.shape}")
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise InputError("prob: probabilities must be finite and in [0, 1]")
    return float(p[t].sum()), float(p.sum()), float(np.count_nonzero(t))


def _soft_dice(inter: float, psum: float, tsum: float) -> float:
    """Soft dice (000 eq. 2 with probabilities); 1.0 when both sums are 0."""
    return _ratio(2.0 * inter, psum + tsum, 1.0)


def scores(pred, truth, *, prob=None) -> dict[str, float | None]:
    """All scores of one predicted mask against the truth.

    Parameters
    ----------
    pred : (H, W) array_like
        Predicted mask (> 0 is foreground).
    truth : (H, W) array_like
        True mask (> 0 is foreground).
    prob : (H, W) array_like of float in [0, 1], optional
        Predicted foreground probability, for the soft dice.

    Returns
    -------
    dict
        Keys :data:`SCORE_KEYS`, values floats in [0, 1]; ``soft_dice`` is None
        when ``prob`` is not given. See the module notes for empty masks.
    """
    out: dict[str, float | None] = dict(scores_from_confusion(confusion(pred, truth)))
    out["soft_dice"] = None if prob is None else _soft_dice(*_soft_sums(prob, truth))
    return {k: out[k] for k in SCORE_KEYS}


def score_set(preds: Sequence, truths: Sequence, probs: Sequence | None = None
              ) -> tuple[dict, list[dict]]:
    """Scores of a set of images, pooled over all pixels and per image.

    Parameters
    ----------
    preds, truths : sequence of (H_i, W_i) array_like
        Predicted and true masks, pairwise equal in shape.
    probs : sequence of (H_i, W_i) array_like, optional
        Foreground probabilities, for the soft dice.

    Returns
    -------
    pooled : dict
        Scores from the summed confusion counts (and summed soft-dice terms),
        plus ``"pooling": "pixels"``, ``"n_images"`` and the counts
        ``"tp", "fp", "fn", "tn"``.
    per_image : list of dict
        :func:`scores` of each image plus ``"pooling": "image"`` and its counts
        ``"tp", "fp", "fn", "tn"``.
    """
    preds, truths = list(preds), list(truths)
    if len(preds) != len(truths):
        raise InputError(f"predictions: {len(preds)} masks for {len(truths)} truths")
    if not preds:
        raise InputError("predictions: no images to score")
    if probs is not None:
        probs = list(probs)
        if len(probs) != len(preds):
            raise InputError(f"probs: {len(probs)} maps for {len(preds)} predictions")
    total = Confusion(0, 0, 0, 0)
    soft = np.zeros(3)
    per_image = []
    for i, (pred, truth) in enumerate(zip(preds, truths)):
        try:
            c = confusion(pred, truth)
            sums = None if probs is None else _soft_sums(probs[i], truth)
        except InputError as exc:
            raise InputError(f"image {i}: {exc}") from None
        total = total + c
        row: dict = dict(scores_from_confusion(c))
        row["soft_dice"] = None
        if sums is not None:
            soft += sums
            row["soft_dice"] = _soft_dice(*sums)
        per_image.append({**{k: row[k] for k in SCORE_KEYS}, "pooling": "image", **c._asdict()})
    pooled: dict = dict(scores_from_confusion(total))
    pooled["soft_dice"] = None if probs is None else _soft_dice(*soft)
    pooled = {k: pooled[k] for k in SCORE_KEYS}
    pooled.update(pooling="pixels", n_images=len(preds), **total._asdict())
    return pooled, per_image


def mean_std(per_image: Sequence[dict]) -> dict:
    """Mean and standard deviation of each score over images.

    Parameters
    ----------
    per_image : sequence of dict
        Score dicts, e.g. the second result of :func:`score_set`.

    Returns
    -------
    dict
        ``{score: {"mean": float, "std": float, "n": int}}`` for every
        numeric score (``None`` values are skipped; a score that is None
        everywhere is None), plus ``"pooling": "mean over images"``. The std
        is the sample std (ddof = 1), 0.0 for a single image.
    """
    if not per_image:
        raise InputError("per_image: no scores to average")
    out: dict = {}
    for key in SCORE_KEYS:
        values = np.array([r[key] for r in per_image if r.get(key) is not None], dtype=float)
        if values.size == 0:
            out[key] = None
            continue
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        out[key] = {"mean": float(values.mean()), "std": std, "n": int(values.size)}
    out["pooling"] = "mean over images"
    return out


def multiclass_scores(pred, truth, *, n_classes: int, prob=None) -> dict:
    """One-vs-rest scores of each class of an integer label map, and their macro average.

    Parameters
    ----------
    pred, truth : (H, W) array_like of int
        Class indices 0..n_classes−1.
    n_classes : int
        Number of classes (≥ 2).
    prob : (n_classes, H, W) array_like, optional
        Class probabilities, for the soft dice of each class.

    Returns
    -------
    dict
        ``{"per_class": [scores of class 0, ...], "macro": {score: mean over
        classes}}``; ``accuracy`` in ``"macro"`` is the overall pixel accuracy
        (fraction of pixels with the right class), not a mean.
    """
    p, t = np.asarray(pred), np.asarray(truth)
    if p.shape != t.shape:
        raise InputError(f"prediction: shape {p.shape} does not match truth {t.shape}")
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise InputError(f"n_classes: must be an integer ≥ 2, got {n_classes!r}")
    for name, a in (("prediction", p), ("truth", t)):
        if a.size == 0 or a.dtype.kind not in "iub" or a.min() < 0 or a.max() >= n_classes:
            raise InputError(f"{name}: expected integer classes in 0..{n_classes - 1}")
    if prob is not None:
        prob = np.asarray(prob)
        if prob.shape != (n_classes,) + t.shape:
            raise InputError(f"prob: expected shape {(n_classes,) + t.shape}, got {prob.shape}")
    per_class = [scores(p == c, t == c, prob=None if prob is None else prob[c])
                 for c in range(n_classes)]
    macro: dict = {}
    for key in SCORE_KEYS:
        values = [r[key] for r in per_class if r[key] is not None]
        macro[key] = float(np.mean(values)) if values else None
    macro["accuracy"] = float(np.mean(p == t))
    return {"per_class": per_class, "macro": macro}


def class_confusion(pred, truth, *, n_classes: int) -> np.ndarray:
    """The K × K confusion matrix of two class-index maps: ``[true class, predicted class]``.

    Parameters
    ----------
    pred, truth : (H, W) array_like of int
        Class indices in ``0..n_classes − 1``.
    n_classes : int

    Returns
    -------
    (K, K) ndarray of int64
        Pixel counts; sum the matrices of several images to pool them.

    Raises
    ------
    InputError
        Shapes differ, a non-integer map, or a value outside ``0..n_classes − 1``.
    """
    p, t = np.asarray(pred), np.asarray(truth)
    if p.shape != t.shape:
        raise InputError(f"prediction: shape {p.shape} does not match truth {t.shape}")
    for name, a in (("prediction", p), ("truth", t)):
        if a.dtype.kind not in "iub":
            raise InputError(f"{name}: expected integer class indices, got {a.dtype}")
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise InputError(f"{name}: class indices {int(a.min())}..{int(a.max())} outside "
                             f"the {n_classes} classes 0..{n_classes - 1}")
    flat = t.astype(np.int64).ravel() * n_classes + p.astype(np.int64).ravel()
    return np.bincount(flat, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def class_counts(matrix: np.ndarray, c: int) -> Confusion:
    """One-vs-rest pixel counts of class ``c`` from a :func:`class_confusion` matrix."""
    tp = int(matrix[c, c])
    fn = int(matrix[c].sum()) - tp
    fp = int(matrix[:, c].sum()) - tp
    return Confusion(tp, fp, fn, int(matrix.sum()) - tp - fp - fn)


#: one-vs-rest scores reported per class of a K-class confusion matrix
CLASS_SCORE_KEYS = ("f1", "jaccard", "precision", "recall")


def class_report(matrix: np.ndarray, classes: Sequence[str], *,
                 keys: Sequence[str] = CLASS_SCORE_KEYS, name: str = "classes") -> dict:
    """Each class scored one against the rest from a :func:`class_confusion` matrix.

    Parameters
    ----------
    matrix : (K, K) ndarray — :func:`class_confusion`, summed over images to pool them
    classes : K class names, index = class (0 the background)
    keys : scores of :func:`scores_from_confusion` to report
    name : what ``classes`` is called in the error of a size mismatch

    Returns
    -------
    dict
        ``per_class``: a dict per class (background included) with ``class``,
        ``index``, the ``keys`` scores and ``tp, fp, fn, tn``;
        ``mean_foreground``: each score's mean over classes 1..K−1 (the
        background fills most pixels and would lift a mean over all towards 1);
        ``accuracy``: the fraction of pixels given their true class.
    """
    k = len(classes)
    if matrix.shape != (k, k):
        raise InputError(f"{name}: {k} names for a {matrix.shape} confusion matrix")
    total = int(matrix.sum())
    per_class = []
    for c, label in enumerate(classes):
        counts = class_counts(matrix, c)
        scores = scores_from_confusion(counts)
        per_class.append({"class": str(label), "index": c,
                          **{key: float(scores[key]) for key in keys}, **counts._asdict()})
    mean = {key: float(np.mean([row[key] for row in per_class[1:]])) for key in keys}
    return {"per_class": per_class, "mean_foreground": mean,
            "accuracy": float(np.trace(matrix) / total) if total else 1.0}
