"""Per-class scores of K-class label maps, pooled over pixels (species networks, 003).

A K-class prediction is scored one class against the rest: for class ``c``
a pixel is positive where its label is ``c``. The counts of all images are
summed before the scores are computed (pooled, as
:func:`temseg.metrics.score_set` does for binary masks), so the per-class F1
of a set is not a mean of per-image F1s. The macro score is the mean over
the *foreground* classes (1..K−1): background dominates the pixels and
would push a mean over all classes towards 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from temseg.metrics import CLASS_SCORE_KEYS, class_confusion, class_counts, class_report

__all__ = ["CLASS_SCORE_KEYS", "class_confusion", "class_counts", "class_scores"]


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
