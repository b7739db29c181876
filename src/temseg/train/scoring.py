"""Scores of a predictor on labelled images, and the tables a training writes.

:func:`evaluate_pairs` scores any predictor (a held-out fold's model, ``temseg
evaluate``'s segmenter) pooled over pixels and per image; :func:`image_means`
averages the per-image rows; :func:`mean_std` summarises runs; :func:`write_table`
writes rows as CSV.

Per-class scores of K-class label maps (species networks, 003) are pooled over
pixels too: a K-class prediction is scored one class against the rest (for class
``c`` a pixel is positive where its label is ``c``), the counts of all images
summed before the scores are computed (as :func:`temseg.metrics.score_set` does
for binary masks), so the per-class F1 of a set is not a mean of per-image F1s.
The macro score is the mean over the *foreground* classes (1..K−1): background
dominates the pixels and would push a mean over all classes towards 1.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from temseg.errors import InputError
from temseg.io.files import atomic_path
from temseg.metrics import CLASS_SCORE_KEYS, class_confusion, class_counts, class_report
from temseg.train.data import default_class_names

__all__ = ["CLASS_SCORE_KEYS", "TABLE1", "class_confusion", "class_counts", "class_scores",
           "evaluate_pairs", "image_means", "mean_std", "write_table"]


def class_scores(matrix: np.ndarray, class_names: Sequence[str], *,
                 keys: Sequence[str] = CLASS_SCORE_KEYS) -> dict[str, float]:
    """``<score>_<class>`` for every foreground class and ``macro_<score>``, their mean.

    Parameters
    ----------
    matrix : (K, K) ndarray — :func:`class_confusion` (summed over images to pool)
    class_names : sequence of K str — index = class; the first (background) is not reported
    keys : scores of :func:`temseg.metrics.scores_from_confusion` to report (default
        :data:`temseg.metrics.CLASS_SCORE_KEYS`; the epoch log keeps only ``f1``)

    Examples
    --------
    >>> m = class_confusion([[0, 1], [2, 2]], [[0, 1], [2, 1]], n_classes=3)
    >>> class_scores(m, ["background", "Mo", "S2"], keys=("f1",))
    {'f1_Mo': 0.6666666666666666, 'f1_S2': 0.6666666666666666, 'macro_f1': 0.6666666666666666}
    """
    report = class_report(matrix, class_names, keys=keys, name="class_names")
    out = {f"{key}_{name}": row[key]
           for key in keys for name, row in zip(class_names[1:], report["per_class"][1:])}
    out.update({f"macro_{key}": report["mean_foreground"][key] for key in keys})
    return out


#: the six scores of Sadre et al. 2021 (004) table 1, in its order
TABLE1 = ("accuracy", "balanced_accuracy", "jaccard", "f1", "precision", "recall")


def evaluate_pairs(predict: Callable[[np.ndarray], np.ndarray], images: Sequence[np.ndarray],
                   labels: Sequence[np.ndarray], *, threshold: float = 0.5,
                   names: Sequence[str] | None = None,
                   class_names: Sequence[str] | None = None,
                   callback: Callable[[int, int], None] | None = None
                   ) -> tuple[dict, list[dict], list[np.ndarray]]:
    """Score a predictor on labelled images, pooled over all pixels and per image.

    Parameters
    ----------
    predict : callable image → (H, W) or (K, H, W) float32
        Foreground probability (or score in [0, 1]) of one image; or the
        probabilities of K ≥ 3 classes (a species network, 003), whose
        foreground is 1 − p(background) and whose most probable class per
        pixel is scored class by class too.
    images : sequence
        Images as the predictor expects them ((H, W), (C, H, W) channels, ...).
    labels : sequence of (H, W) arrays
        Class indices; labels > 0 are foreground.
    threshold : float
        Foreground where probability ≥ ``threshold``.
    names : sequence of str, optional
        One per image, copied into the per-image rows.
    class_names : sequence of K str, optional
        Names of the K classes (default ``background, class_1, ...``).
    callback : callable(done, total), optional

    Returns
    -------
    pooled : dict — :func:`temseg.metrics.score_set` over all pixels, with the
        pixel counts ``tp, fp, fn, tn`` (``accuracy``, ``f1``... of foreground against
        background); for K ≥ 3 classes also ``<score>_<class>`` of each foreground
        class, ``macro_<score>`` (:func:`temseg.train.scoring.class_scores`, counts
        pooled over images) and ``pixel_accuracy`` (pixels given their own class)
    per_image : list of dict — one row per image (``name`` + scores; for K ≥ 3
        also ``f1_<class>``, ``macro_f1`` and ``pixel_accuracy`` of the image)
    probs : list of (H, W) or (K, H, W) float32 — the predictions as returned
    """
    from temseg.metrics import SCORE_KEYS, score_set

    if len(images) != len(labels) or not len(images):
        raise InputError("evaluate: need the same, non-zero number of images and labels")
    probs, preds, truths, fg_probs, matrices = [], [], [], [], []
    for i, (image, label) in enumerate(zip(images, labels)):
        prob = np.asarray(predict(image), dtype=np.float32)
        fg = prob
        if prob.ndim == 3 and prob.shape[1:] == np.shape(label):
            fg = 1.0 - prob[0]  # class probabilities: foreground is any class but background
        if fg.shape != np.shape(label):
            raise InputError(f"evaluate: prediction {prob.shape} and label {np.shape(label)} "
                             f"of image {names[i] if names else i} differ in shape")
        if prob.ndim == 3 and len(prob) >= 3:
            try:
                matrices.append(class_confusion(prob.argmax(0), label, n_classes=len(prob)))
            except InputError as exc:
                raise InputError(f"evaluate: image {names[i] if names else i}: {exc}") from None
        probs.append(prob)
        fg_probs.append(fg)
        preds.append(fg >= threshold)
        truths.append(np.asarray(label) > 0)
        if callback is not None:
            callback(i + 1, len(images))
    pooled, per_image = score_set(preds, truths, probs=fg_probs)
    names = list(names) if names is not None else [str(i) for i in range(len(images))]

    def numbers(row: dict) -> dict:
        return {k: float(row[k]) for k in SCORE_KEYS if row.get(k) is not None}

    def counts(row: dict) -> dict:
        return {k: int(row[k]) for k in ("tp", "fp", "fn", "tn") if k in row}

    rows = [{"name": n, **numbers(s), **counts(s)} for n, s in zip(names, per_image)]
    pooled = {**numbers(pooled), **counts(pooled)}
    if matrices:
        if len({m.shape for m in matrices}) != 1 or len(matrices) != len(rows):
            raise InputError("evaluate: the predictions differ in their number of classes")
        k = len(matrices[0])
        labels_k = default_class_names(class_names, k)
        for row, matrix in zip(rows, matrices):
            row.update(class_scores(matrix, labels_k, keys=("f1",)))
            row["pixel_accuracy"] = pixel_accuracy(matrix)
        pooled.update(class_scores(sum(matrices), labels_k))
        pooled["pixel_accuracy"] = pixel_accuracy(sum(matrices))
    return pooled, rows, probs


def pixel_accuracy(matrix: np.ndarray) -> float:
    """The share of pixels given their own class, of a (K, K) :func:`class_confusion` matrix
    (``accuracy`` beside it in the tables is the foreground-vs-background one)."""
    from temseg.metrics import class_report

    return class_report(matrix, [str(i) for i in range(len(matrix))])["accuracy"]


def image_means(rows: Sequence[dict]) -> dict[str, float]:
    """Each score's mean over the per-image rows of :func:`evaluate_pairs` (counts left out).

    The other way to summarise a set: every image weighs the same, however
    much foreground it has (Sadre et al. 2021 appear to average so: their
    Jaccard 0.812 exceeds F1/(2 − F1) of their F1 0.884, which pooled
    counts would give). Scores missing from some rows are averaged over the rest.
    """
    from temseg.metrics import SCORE_KEYS

    means = {}
    for key in SCORE_KEYS:
        values = [float(r[key]) for r in rows if r.get(key) is not None]
        if values:
            means[key] = float(np.mean(values))
    return means


def write_table(path: str | Path, rows: Sequence[dict], *,
                fields: Sequence[str] | None = None) -> Path:
    """Rows of dicts as a CSV file (atomic); columns in order of first appearance, or
    ``fields`` when given (a header for no rows)."""
    keys: list[str] = list(fields or [])
    for row in rows:
        keys += [k for k in row if k not in keys]
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return path


def mean_std(rows: Sequence[dict], keys: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation (ddof=1; 0 for one run) of ``keys`` over ``rows``."""
    out = {}
    for key in keys:
        values = np.array([r[key] for r in rows if key in r and r[key] is not None], float)
        if values.size:
            out[key] = (float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0)
    return out
