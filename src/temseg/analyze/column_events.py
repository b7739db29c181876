"""Columns followed and scored between two class maps: pairing by least total distance
(:func:`match_columns`, :func:`column_scores` against a true map), and what became of each
column from one focal series to the next (:func:`column_transitions`, :func:`transition_row`,
:func:`event_places`: kept, appeared, vanished, changed in class; 003's defect events).
Counting columns in one map is :mod:`temseg.analyze.columns`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from temseg.analyze.columns import check_class_map, column_positions
from temseg.errors import InputError


def match_columns(pred, truth, *, classes: Sequence[str], max_distance_px: float,
                  min_area_px: int = 1) -> dict[str, dict]:
    """Columns found against columns labelled, one class at a time.

    A predicted column (a region of the class) matches a labelled column of the
    same class when their centroids lie at most ``max_distance_px`` apart; each
    column is matched once, by the assignment of least total distance. What a
    count of sulphur vacancies needs: a column called S2 where the label says
    S1 is a missed S1 and a false S2.

    Parameters
    ----------
    pred, truth : (H, W) ndarray of int
        Predicted and true class-index masks.
    classes : sequence of str
        The K class names (``classes[0]`` the background).
    max_distance_px : float
        Largest centroid distance of a match, in pixels (less than half the
        nearest column spacing, so that a column cannot match its neighbour).
    min_area_px : int
        Predicted regions smaller than this are specks, not columns.

    Returns
    -------
    dict
        ``{name: {"tp", "fp", "fn", "labelled", "found"}}`` per foreground class.

    Examples
    --------
    >>> t = np.zeros((9, 9), np.uint8); t[1:3, 1:3] = 1; t[6:8, 6:8] = 1
    >>> p = np.zeros_like(t); p[1:3, 2:4] = 1; p[6:8, 1:3] = 1
    >>> match_columns(p, t, classes=["background", "Mo"], max_distance_px=1.5)["Mo"]
    {'tp': 1, 'fp': 1, 'fn': 1, 'labelled': 2, 'found': 2}
    """
    classes = [str(c) for c in classes]
    pred = check_class_map(pred, len(classes))
    truth = check_class_map(truth, len(classes))
    if pred.shape != truth.shape:
        raise InputError(f"prediction: shape {pred.shape} does not match truth {truth.shape}")
    if not max_distance_px > 0:
        raise InputError(f"max_distance_px: must be positive, got {max_distance_px!r}")
    found_all = column_positions(pred, classes=classes, min_area_px=min_area_px)
    labelled_all = column_positions(truth, classes=classes)
    out: dict[str, dict] = {}
    for index, name in enumerate(classes[1:], start=1):
        found = found_all[found_all[:, 0] == index, 1:3]  # (x, y) centres in px
        labelled = labelled_all[labelled_all[:, 0] == index, 1:3]
        tp = len(_pair_up(found, labelled, max_distance_px)[0])
        out[name] = {"tp": tp, "fp": len(found) - tp, "fn": len(labelled) - tp,
                     "labelled": len(labelled), "found": len(found)}
    return out


def _pair_up(a: np.ndarray, b: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i, j)`` of the points of ``a`` and ``b`` paired by the assignment of least
    total distance, keeping pairs at most ``max_distance`` apart; each point in one pair.

    Only points that can pair matter, so the assignment is solved in each connected group
    of candidate pairs (a k-d tree finds them): the same optimum as one dense assignment,
    at near-linear cost (64,000 columns of a 4096² image would need a 33 GB distance matrix).
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    empty = np.zeros(0, int), np.zeros(0, int)
    if not len(a) or not len(b):
        return empty
    near = cKDTree(a).sparse_distance_matrix(cKDTree(b), max_distance, output_type="coo_matrix")
    if not near.nnz:
        return empty
    n = len(a) + len(b)  # one graph: points of a, then points of b
    graph = coo_matrix((np.ones(near.nnz), (near.row, near.col + len(a))), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    rows, cols = [], []
    order = np.argsort(group[near.row], kind="stable")
    starts = np.flatnonzero(np.diff(group[near.row][order], prepend=-1))
    for chunk in np.split(order, starts[1:]):
        i, j, d = near.row[chunk], near.col[chunk], near.data[chunk]
        ui, ii = np.unique(i, return_inverse=True)
        uj, jj = np.unique(j, return_inverse=True)
        cost = np.full((len(ui), len(uj)), 1e9)  # not a candidate: never chosen over one
        cost[ii, jj] = d
        r, c = linear_sum_assignment(cost)
        keep = cost[r, c] < 1e9
        rows.append(ui[r[keep]])
        cols.append(uj[c[keep]])
    return np.concatenate(rows), np.concatenate(cols)


def column_transitions(before: np.ndarray, after: np.ndarray, *, n_classes: int,
                       max_distance_px: float, drift: tuple[float, float] = (0.0, 0.0),
                       shape: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """What became of each column from one series to the next (003: defects forming, moving).

    Columns of any class are paired by centre distance (least total distance,
    at most ``max_distance_px`` once ``drift`` (dy, dx) is applied to
    ``before``); a pair of two classes is a change of species, e.g. S2 → S1,
    a sulphur atom lost.

    Parameters
    ----------
    before, after : (M, 5) arrays of :func:`column_positions` (class, x, y, area,
        touches_border; the first four columns are used, an (M, 4) array will do)
    n_classes : K, the background included
    max_distance_px : float
        Largest centre distance (px) of a pair, after the drift.
    drift : (dy, dx) float
        How far (px) the sample moved from ``before`` to ``after``
        (:func:`series_drift`); default none.
    shape : (H, W), optional
        The images' size: a column without a partner counts as appeared or
        vanished only where its partner would lie inside the other image, two
        match distances from its edge (a drifting field gains and loses
        columns at its edges; those are not events).

    Returns
    -------
    dict
        ``transitions`` (K, K) int: paired columns by class before (row) and
        after (column); ``appeared`` (K,) int: columns of ``after`` with no
        partner, by class; ``vanished`` (K,) int: columns of ``before`` with
        none; ``pairs``: the row indices ``(i, j)`` of the paired columns in
        ``before`` and ``after``; ``unpaired``: the row indices of the columns
        counted as vanished (in ``before``) and as appeared (in ``after``)
        (both to place the events: :func:`event_places`).

    Examples
    --------
    >>> a = np.array([[1, 10.0, 10.0, 9], [2, 20.0, 10.0, 9]])
    >>> b = np.array([[1, 11.0, 10.0, 9], [3, 21.0, 10.0, 9], [2, 40.0, 40.0, 9]])
    >>> t = column_transitions(a, b, n_classes=4, max_distance_px=2, drift=(0.0, 1.0))
    >>> t["transitions"].tolist()[1][1], t["transitions"].tolist()[2][3], t["appeared"].tolist()
    (1, 1, [0, 0, 1, 0])
    """
    if not max_distance_px > 0:
        raise InputError(f"max_distance_px: must be positive, got {max_distance_px!r}")
    before, after = _first_four(before), _first_four(after)
    dy, dx = drift
    moved = before[:, 1:3] + np.array([dx, dy])  # (x, y) where each column should be now
    i, j = _pair_up(moved, after[:, 1:3], max_distance_px)
    k = int(n_classes)
    kind_before, kind_after = before[:, 0].astype(int), after[:, 0].astype(int)
    transitions = np.zeros((k, k), np.int64)
    np.add.at(transitions, (kind_before[i], kind_after[j]), 1)
    lone_after = np.ones(len(after), bool)
    lone_after[j] = False
    lone_before = np.ones(len(before), bool)
    lone_before[i] = False
    if shape is not None:  # where the other image saw the place too
        h, w = shape
        margin = 2 * max_distance_px

        def inside(xy: np.ndarray) -> np.ndarray:
            return ((xy[:, 0] >= margin) & (xy[:, 0] <= w - 1 - margin)
                    & (xy[:, 1] >= margin) & (xy[:, 1] <= h - 1 - margin))

        lone_before &= inside(moved)
        lone_before &= inside(before[:, 1:3])
        lone_after &= inside(after[:, 1:3] - np.array([dx, dy]))
        lone_after &= inside(after[:, 1:3])
    return {"transitions": transitions, "pairs": (i, j),
            "unpaired": (np.flatnonzero(lone_before), np.flatnonzero(lone_after)),
            "appeared": np.bincount(kind_after[lone_after], minlength=k).astype(np.int64),
            "vanished": np.bincount(kind_before[lone_before], minlength=k).astype(np.int64)}


#: the columns of ``NAME_column_events.csv`` (:func:`event_places`)
EVENT_PLACE_FIELDS = ("from_series", "to_series", "event", "from_class", "to_class",
                      "from_column", "to_column", "x_px", "y_px", "x_nm", "y_nm")


def event_places(from_series: int, to_series: int, before, after, found: dict, *,
                 classes: Sequence[str], sampling: float | None = None) -> list[dict]:
    """Where each event of :func:`column_transitions` happened: a row per column that
    changed class, appeared or vanished (columns kept are left out), for
    ``NAME_column_events.csv``.

    A row holds ``from_series``, ``to_series``, ``event`` (``changed``, ``appeared`` or
    ``vanished``), ``from_class``, ``to_class``, ``from_column``, ``to_column`` (the
    ``column`` ids of ``NAME_columns.csv`` in each series; blank where there is none) and
    the place, ``x_px``, ``y_px`` (and ``x_nm``, ``y_nm`` with ``sampling``, Å per pixel):
    in ``to_series``'s image, or for a vanished column in ``from_series``'s.

    Examples
    --------
    >>> a = np.array([[1, 10.0, 10.0, 9], [2, 20.0, 10.0, 9]])
    >>> b = np.array([[1, 10.0, 10.0, 9], [3, 20.0, 10.0, 9]])
    >>> found = column_transitions(a, b, n_classes=4, max_distance_px=2)
    >>> [(r["event"], r["from_class"], r["to_class"], r["to_column"], r["x_px"])
    ...  for r in event_places(0, 1, a, b, found, classes=["bg", "Mo", "S2", "S1"])]
    [('changed', 'S2', 'S1', 1, 20.0)]
    """
    names = [str(c) for c in classes]
    before, after = _first_four(before), _first_four(after)
    nm = None if sampling is None else float(sampling) / 10.0
    rows = []

    def add(event: str, a: int | None, b: int | None) -> None:
        x, y = after[b, 1:3] if b is not None else before[a, 1:3]
        row = {"from_series": int(from_series), "to_series": int(to_series), "event": event,
               "from_class": names[int(before[a, 0])] if a is not None else "",
               "to_class": names[int(after[b, 0])] if b is not None else "",
               "from_column": a if a is not None else "",
               "to_column": b if b is not None else "",
               "x_px": round(float(x), 2), "y_px": round(float(y), 2)}
        if nm is not None:
            row.update(x_nm=round(float(x) * nm, 4), y_nm=round(float(y) * nm, 4))
        rows.append(row)

    for a, b in zip(*found["pairs"]):
        if before[a, 0] != after[b, 0]:
            add("changed", int(a), int(b))
    gone, new = found["unpaired"]
    for b in new:
        add("appeared", None, int(b))
    for a in gone:
        add("vanished", int(a), None)
    return rows


def _first_four(table) -> np.ndarray:
    """class, x, y, area of a :func:`column_positions` table ((M, 4) or (M, 5))."""
    table = np.asarray(table, float)
    return table[:, :4] if table.ndim == 2 and table.shape[1] >= 4 else table.reshape(-1, 4)


def transition_row(from_series: int, to_series: int, drift: tuple[float, float],
                   found: dict[str, np.ndarray], *, classes: Sequence[str],
                   sampling: float | None = None,
                   since_first: tuple[float, float] | None = None) -> dict:
    """One row of ``NAME_events.csv`` from :func:`column_transitions`: the two series, the
    drift, how many columns were paired, and per foreground class ``<c>_kept``,
    ``<c>_appeared``, ``<c>_vanished`` and ``<a>_to_<b>`` for every change of class (e.g.
    ``S2_to_S1``: a sulphur atom lost).

    The drift from ``from_series`` to ``to_series`` is ``drift_y_px``, ``drift_x_px`` (and
    ``drift_y_nm``, ``drift_x_nm`` with ``sampling``, Å per pixel); ``since_first``, the
    ``(dy, dx)`` px summed from the first series followed up to ``to_series``, adds
    ``cum_drift_y_px``, ``cum_drift_x_px`` (and ``cum_drift_y_nm``, ``cum_drift_x_nm``).

    Examples
    --------
    >>> found = {"transitions": np.zeros((2, 2), int), "appeared": np.zeros(2, int),
    ...          "vanished": np.zeros(2, int)}
    >>> row = transition_row(1, 2, (3.0, -4.0), found, classes=["background", "Mo"],
    ...                      sampling=0.5, since_first=(5.0, -6.0))
    >>> row["drift_y_nm"], row["drift_x_nm"], row["cum_drift_y_px"], row["cum_drift_x_nm"]
    (0.15, -0.2, 5.0, -0.3)
    """
    names = [str(c) for c in classes]
    t, k = found["transitions"], len(names)
    row = {"from_series": int(from_series), "to_series": int(to_series),
           "drift_y_px": round(float(drift[0]), 2), "drift_x_px": round(float(drift[1]), 2)}
    nm = None if sampling is None else float(sampling) / 10.0
    if nm is not None:
        row.update(drift_y_nm=round(float(drift[0]) * nm, 4),
                   drift_x_nm=round(float(drift[1]) * nm, 4))
    if since_first is not None:
        row.update(cum_drift_y_px=round(float(since_first[0]), 2),
                   cum_drift_x_px=round(float(since_first[1]), 2))
        if nm is not None:
            row.update(cum_drift_y_nm=round(float(since_first[0]) * nm, 4),
                       cum_drift_x_nm=round(float(since_first[1]) * nm, 4))
    row["paired"] = int(t.sum())
    for c in range(1, k):
        row.update({f"{names[c]}_kept": int(t[c, c]), f"{names[c]}_appeared":
                    int(found["appeared"][c]), f"{names[c]}_vanished": int(found["vanished"][c])})
    for a in range(1, k):
        for b in range(1, k):
            if a != b:
                row[f"{names[a]}_to_{names[b]}"] = int(t[a, b])
    return row


def column_scores(totals: dict[str, dict]) -> dict[str, dict]:
    """Precision, recall and F1 of column detection per class from summed :func:`match_columns`
    counts, with the relative count error ``(found − labelled) / labelled``.

    Empty cases follow :mod:`temseg.metrics`: nothing labelled and nothing found
    scores 1; nothing labelled but something found gives recall 0 (and F1 0).
    """
    out = {}
    for name, c in totals.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        precision = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
        recall = tp / (tp + fn) if tp + fn else (1.0 if not fp else 0.0)
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
        error = (c["found"] - c["labelled"]) / c["labelled"] if c["labelled"] else None
        out[name] = {**c, "precision": precision, "recall": recall, "f1": f1,
                     "count_error": error}
    return out
