"""Atomic columns per class from a class-index mask: counts and areas per focal series (003).

Leth Larsen et al. (003) segment monolayer MoS₂ into Mo, S2 (two S atoms) and
S1 (one S: an S2 column that lost an atom, a single vacancy) columns and count them in every frame of an
in-situ series. Here every connected region (4-connected, so that discs
meeting at a corner stay two columns) of a foreground class is one column:
:func:`count_columns` counts one mask, :func:`count_row` makes it a CSV row,
:func:`write_counts_csv` and :func:`plot_counts` write a series of them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from skimage import measure

from temseg.errors import InputError
from temseg.io.files import atomic_path, write_figure


#: regions of a class smaller than this many pixels *at the model's pixel size* are specks
SPECK_PX = 3

#: the largest area, in Å², that one atomic column can cover: a column's image is 1–2 Å
#: across (a disc of ~1–3 Å²), and MoS₂'s unit cell (a = 3.16 Å, 8.7 Å², a Mo and an S2
#: column) is smaller than this, so a larger region is several columns or a blob
COLUMN_AREA_MAX_A2 = 20.0

#: without a pixel size: a region more than this many times its series' median column area
#: is not one column
COLUMN_AREA_MAX_MEDIAN = 20


def speck_px(given: int | None, *, model_sampling: float | None,
             sampling: float | None) -> int:
    """The smallest region counted as a column, in the input's pixels.

    ``given`` (``--min-column-px``) is taken as it is; without it,
    :data:`SPECK_PX` pixels of the model's pixel size, scaled to the input's
    (the mask is at the input's size): 12 px for an input twice as fine as
    the model, 1 px for one twice as coarse. Unscaled where a pixel size is
    unknown.

    >>> speck_px(None, model_sampling=0.125, sampling=0.0625), speck_px(5, model_sampling=0.125,
    ...                                                              sampling=0.0625)
    (12, 5)
    """
    if given is not None:
        return int(given)
    if not model_sampling or not sampling:
        return SPECK_PX
    return max(1, round(SPECK_PX * (model_sampling / sampling) ** 2))


def check_class_map(mask, n_classes: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise InputError(f"class mask: expected a 2-D array, got shape {mask.shape}")
    if mask.dtype.kind not in "iub":
        raise InputError(f"class mask: expected integer class indices, got {mask.dtype}")
    if mask.min() < 0 or mask.max() >= n_classes:
        raise InputError(f"class mask: values {int(mask.min())}..{int(mask.max())} outside the "
                         f"{n_classes} classes 0..{n_classes - 1}")
    return mask


def _check_options(classes: Sequence[str], min_area_px) -> list[str]:
    classes = [str(c) for c in classes]
    if len(classes) < 2:
        raise InputError(f"classes: need a background and at least one class, got {classes}")
    if isinstance(min_area_px, bool) or not isinstance(min_area_px, (int, np.integer)) \
            or min_area_px < 1:
        raise InputError(f"min_area_px: must be a positive integer, got {min_area_px!r}")
    return classes


def count_columns(mask, *, classes: Sequence[str], sampling: float | None = None,
                  min_area_px: int = 1) -> dict[str, dict]:
    """Connected regions (columns) of each foreground class and their area.

    Parameters
    ----------
    mask : (H, W) ndarray of int
        Class indices, 0 the background, ``1..K−1`` the classes of ``classes``.
    classes : sequence of str
        The K class names, index = class (``classes[0]`` is the background).
    sampling : float, optional
        Å per pixel; adds the areas in nm².
    min_area_px : int
        Regions smaller than this many pixels are not counted (nor their area).

    Returns
    -------
    dict
        ``{name: {"count": int, "area_px": int, "area_nm2": float or None}}``
        for every foreground class, in class order.

    Examples
    --------
    >>> m = np.zeros((8, 8), np.uint8); m[1:3, 1:3] = 1; m[5:7, 5:7] = 1; m[1, 6] = 2
    >>> count_columns(m, classes=["background", "Mo", "S2"])["Mo"]
    {'count': 2, 'area_px': 8, 'area_nm2': None}
    """
    classes = _check_options(classes, min_area_px)
    return counts_from_positions(column_positions(mask, classes=classes, min_area_px=min_area_px),
                                 classes=classes, sampling=sampling)


def counts_from_positions(positions: np.ndarray, *, classes: Sequence[str],
                          sampling: float | None = None) -> dict[str, dict]:
    """:func:`count_columns`' result from a :func:`column_positions` table (one labelling
    of the mask for both the counts and the places)."""
    nm2_per_px = None if sampling is None else (float(sampling) / 10.0) ** 2
    out: dict[str, dict] = {}
    for index, name in enumerate(list(classes)[1:], start=1):
        areas = positions[positions[:, 0] == index, 3]
        area = int(areas.sum())
        out[str(name)] = {"count": int(areas.size), "area_px": area,
                          "area_nm2": None if nm2_per_px is None else round(area * nm2_per_px, 9)}
    return out


def count_fields(classes: Sequence[str], *, sampling: float | None = None) -> list[str]:
    """The CSV columns of :func:`count_row`: ``series``, ``first_frame``, ``blank``, then
    ``NAME_count`` (every column, those cut by the image edge too), ``NAME_count_whole``
    (those clear of the edge), ``NAME_area_px`` (and ``NAME_area_nm2`` with a pixel size)
    per class."""
    fields = ["series", "first_frame", "blank"]
    for name in list(classes)[1:]:
        fields += [f"{name}_count", f"{name}_count_whole", f"{name}_area_px"]
        if sampling is not None:
            fields.append(f"{name}_area_nm2")
    return fields


def count_row(series: int, mask, *, classes: Sequence[str], sampling: float | None = None,
              min_area_px: int = 1, frames_per_series: int = 1,
              positions: np.ndarray | None = None) -> dict:
    """One row of a counts table: the columns of ``mask``, series ``series`` of a stack.

    ``mask`` None marks a blank series (not segmented): its counts are None.
    ``first_frame`` is ``series · frames_per_series``, the stack frame it starts at.
    ``positions`` (:func:`column_positions` of ``mask`` at ``min_area_px``), when the
    caller has it, spares labelling the mask again. ``NAME_count`` counts every column,
    ``NAME_count_whole`` those that do not touch the image edge (a column cut by the edge
    is counted whole in ``NAME_count``: over-counts a density).
    """
    row: dict = {"series": int(series), "first_frame": int(series) * int(frames_per_series),
                 "blank": mask is None}
    counts = None
    if mask is not None:
        if positions is None:
            positions = column_positions(mask, classes=_check_options(classes, min_area_px),
                                         min_area_px=min_area_px)
        positions = np.asarray(positions, float)
        counts = counts_from_positions(positions, classes=classes, sampling=sampling)
    for index, name in enumerate(list(classes)[1:], start=1):
        c = None if counts is None else counts[name]
        row[f"{name}_count"] = None if c is None else c["count"]
        row[f"{name}_count_whole"] = (None if c is None or positions.shape[1] < 5 else int(
            ((positions[:, 0] == index) & (positions[:, 4] == 0)).sum()))
        row[f"{name}_area_px"] = None if c is None else c["area_px"]
        if sampling is not None:
            row[f"{name}_area_nm2"] = None if c is None else c["area_nm2"]
    return row


def write_counts_csv(path: str | Path, rows: Sequence[dict], *, classes: Sequence[str],
                     sampling: float | None = None, extra: Sequence[str] = ()) -> Path:
    """Write :func:`count_row` rows as CSV, atomically (blank series: empty cells).

    ``extra`` names keys of the rows written after ``series`` (e.g. ``name``)."""
    path = Path(path)
    fields = count_fields(classes, sampling=sampling)
    fields[1:1] = list(extra)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in fields})
    return path


def counts_summary(rows: Sequence[dict], *, classes: Sequence[str]) -> dict:
    """Mean, minimum and maximum count per class over the segmented series (for records)."""
    out: dict = {}
    for name in list(classes)[1:]:
        values = [r[f"{name}_count"] for r in rows if r.get(f"{name}_count") is not None]
        out[name] = ({"mean": float(np.mean(values)), "min": int(min(values)),
                      "max": int(max(values))} if values else None)
    return out


#: at most this many series are named on :func:`plot_counts`'s x axis (more: numbers)
MAX_NAMED_TICKS = 24


def plot_counts(path: str | Path, rows: Sequence[dict], *, classes: Sequence[str],
                title: str | None = None, unit: str = "focal series",
                names: Sequence[str] | None = None) -> Path:
    """PNG of the column count of each foreground class against the series index.

    ``unit`` names what a row is on the x axis (``"frame"`` for a one-channel model).
    ``names`` (one per series index, e.g. the first file of each series of
    ``--series-files``) label the x axis instead of the indices, up to
    :data:`MAX_NAMED_TICKS` series.

    Blank series are gaps, not zero counts. Class colours are those of the
    class overlay (:func:`temseg.io.writers.class_color`).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from temseg.io.writers import class_color

    index = np.array([r["series"] for r in rows])
    fig = Figure(figsize=(6.4, 4.0), dpi=120)
    ax = fig.subplots()
    for c, name in enumerate(list(classes)[1:], start=1):
        counts = np.array([math.nan if r[f"{name}_count"] is None else r[f"{name}_count"]
                           for r in rows], float)
        ax.plot(index, counts, ".-", ms=4, color=np.asarray(class_color(c)) / 255, label=name)
    ax.set_ylabel("columns (connected regions)")
    if names is not None and len(index) <= MAX_NAMED_TICKS:
        def short(name: str, keep: int = 9) -> str:  # long exports: their start and end
            return name if len(name) <= 2 * keep + 1 else f"{name[:keep]}…{name[-keep:]}"

        ax.set_xticks(index, [short(str(names[int(i)])) for i in index], rotation=30,
                      ha="right", fontsize=7 if len(index) <= 12 else 6)
        ax.set_xlabel(unit)
    else:
        ax.set_xlabel(f"{unit} (index in the stack)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return write_figure(fig, path)


def series_drift(before, after, *, upsample: int = 10) -> tuple[float, float]:
    """How far the sample moved from image ``before`` to ``after``: ``(dy, dx)`` in px (a
    feature at ``(y, x)`` in ``before`` lies at ``(y + dy, x + dx)`` in ``after``), by phase
    correlation to 1/``upsample`` px. For matching columns of consecutive series of a drifting
    in-situ recording: give it the class maps of the two series, whose look does not change
    with defocus or dose as the micrographs' does (``benchmarks/focal_events.py``)."""
    import warnings

    from skimage.registration import phase_cross_correlation

    before, after = np.asarray(before, np.float32), np.asarray(after, np.float32)
    if np.ptp(before) == 0 or np.ptp(after) == 0:  # nothing to align (no column found)
        return 0.0, 0.0
    with warnings.catch_warnings():  # its RMS error, unused, warns for sparse maps
        warnings.simplefilter("ignore", UserWarning)
        shift = phase_cross_correlation(before, after, upsample_factor=upsample)[0]
    return float(-shift[0]), float(-shift[1])


def column_positions(mask, *, classes: Sequence[str], min_area_px: int = 1) -> np.ndarray:
    """Every column of a class-index mask: ``(M, 5)`` float64 rows of class index, centre
    ``x`` and ``y`` in px (column and row of the centroid), area in px and ``touches_border``
    (1 where the region reaches the image edge: a column cut by it, its centre and area
    biased; 0 for a whole column), by class.

    The regions are those :func:`count_columns` counts (4-connected, at least
    ``min_area_px``), so per class the rows number its count. For tracking
    columns, e.g. sulphur vacancies, from one focal series to the next (003).

    Examples
    --------
    >>> m = np.zeros((6, 6), np.uint8); m[0:2, 2:4] = 1; m[3:5, 3:5] = 1
    >>> column_positions(m, classes=["background", "Mo"])[:, 4].tolist()
    [1.0, 0.0]
    """
    classes = [str(c) for c in classes]
    mask = check_class_map(mask, len(classes))
    h, w = mask.shape
    rows = []
    for index in range(1, len(classes)):
        labels = measure.label(mask == index, connectivity=1)
        for region in measure.regionprops(labels):
            if region.area >= min_area_px:
                y, x = region.centroid
                y0, x0, y1, x1 = region.bbox
                rows.append((index, x, y, region.area,
                             float(y0 == 0 or x0 == 0 or y1 == h or x1 == w)))
    return np.array(rows, float).reshape(-1, 5)


def oversized_columns(positions, *, sampling: float | None = None) -> np.ndarray:
    """Which regions of a :func:`column_positions` table are too large to be one column.

    With ``sampling`` (Å per pixel): an area above :data:`COLUMN_AREA_MAX_A2` (20 Å², i.e.
    0.2 nm²; one column's image is 1–2 Å across). Without: above
    :data:`COLUMN_AREA_MAX_MEDIAN` (20) times the median area of the table's columns (all
    classes). Such a region (an undertrained model's blob, merged columns) is still counted
    as one column by :func:`count_row`: a warning, not a correction.

    Returns
    -------
    (M,) ndarray of bool

    Examples
    --------
    >>> t = np.array([[1, 5.0, 5.0, 12, 0], [1, 40.0, 40.0, 900, 0]])
    >>> oversized_columns(t, sampling=0.2).tolist(), oversized_columns(t).tolist()
    ([False, True], [False, False])
    """
    table = np.asarray(positions, float)
    areas = table[:, 3] if table.ndim == 2 and len(table) else np.zeros(0)
    if sampling is not None:
        return areas * float(sampling) ** 2 > COLUMN_AREA_MAX_A2
    if not areas.size:
        return np.zeros(0, bool)
    return areas > COLUMN_AREA_MAX_MEDIAN * np.median(areas)


def oversized_summary(tables: Sequence[np.ndarray], *,
                      sampling: float | None = None) -> dict | None:
    """The regions of an input's :func:`column_positions` tables (one per series) that
    :func:`oversized_columns` finds too large: ``{"regions", "series", "largest_px",
    "largest_nm2" (None without a pixel size), "rule"}``, or None where there is none."""
    flagged = [np.asarray(t, float)[oversized_columns(t, sampling=sampling), 3]
               for t in tables]
    hit = [a for a in flagged if a.size]
    if not hit:
        return None
    largest = int(max(a.max() for a in hit))
    rule = (f"area > {COLUMN_AREA_MAX_A2 / 100:g} nm²" if sampling is not None else
            f"area > {COLUMN_AREA_MAX_MEDIAN}× the median column area")
    return {"regions": int(sum(a.size for a in hit)), "series": len(hit), "largest_px": largest,
            "largest_nm2": None if sampling is None else round(largest * (sampling / 10) ** 2, 4),
            "rule": rule}


def write_positions_csv(path: str | Path, positions: Sequence[tuple[int, np.ndarray]], *,
                        classes: Sequence[str], sampling: float | None = None) -> Path:
    """``NAME_columns.csv``: one row per column, ``series, column, class, x_px, y_px,
    area_px`` (and ``x_nm, y_nm, area_nm2`` with a pixel size), then ``touches_border`` (True
    for a column cut by the image edge), from ``(series, column_positions)`` pairs.
    ``column`` numbers the columns of a series from 0 (the rows of its table), the ids
    ``NAME_column_events.csv`` names them by. Written atomically."""
    path = Path(path)
    classes = [str(c) for c in classes]
    fields = ["series", "column", "class", "x_px", "y_px", "area_px"]
    if sampling is not None:
        fields += ["x_nm", "y_nm", "area_nm2"]
        nm = float(sampling) / 10.0
    fields.append("touches_border")
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for series, table in positions:
            for column, (index, x, y, area, *edge) in enumerate(table):
                row = [int(series), column, classes[int(index)], round(x, 2), round(y, 2),
                       int(area)]
                if sampling is not None:
                    row += [round(x * nm, 4), round(y * nm, 4), round(area * nm * nm, 6)]
                row.append(bool(edge[0]) if edge else "")
                writer.writerow(row)
    return path
