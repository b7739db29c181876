"""Dose curves: segmented area against electron dose (Leth Larsen et al., 002 fig. 2–4).

Over a dose series of one particle, the frames of highest dose give a
pseudo ground truth: their mean segmented area is the full area (the
reference level). Two figures summarise a model's low-dose performance: the
dose at which half the full area is segmented, and the dose of convergence,
defined in :func:`convergence_rule` so that the reference frames cannot by
themselves make a series converged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from temseg.errors import ConfigError, InputError
from temseg.io.files import write_figure

#: fewest highest-dose frames that form the reference level
MIN_REFERENCE = 3
#: fewest distinct doses a dose curve is taken from
MIN_DISTINCT_DOSES = 3


def convergence_rule(tolerance: float = 0.1, n_reference: int | None = None) -> str:
    """The definition of the convergence dose, in words (for help, messages and records).

    ``n_reference`` (when known) is the number of highest-dose frames whose mean
    area is the full area; ``tolerance`` the band's relative half-width.
    """
    which = (f"the {n_reference} highest-dose frames" if n_reference is not None else
             "the highest-dose frames (the reference fraction of the frames, at least "
             f"{MIN_REFERENCE})")
    return (f"the lowest dose from which every frame up to the highest dose has an area "
            f"within ±{100 * tolerance:g} % of the full area, the mean area of {which}; "
            "these reference frames must lie inside too but cannot by themselves count as "
            "converged: at least the frame next below them must, otherwise the area has not "
            "converged within the series")


def check_tolerance(tolerance: float, *, name: str = "tolerance") -> float:
    """``tolerance``, the relative half-width of the convergence band, checked to lie in (0, 1).

    Raises
    ------
    ConfigError
        Outside (0, 1), naming ``name`` (the option as the user gave it).
    """
    if not 0.0 < tolerance < 1.0:
        raise ConfigError(f"{name}: the relative half-width of the band must be in (0, 1), "
                          f"got {tolerance}")
    return float(tolerance)


def reference_count(n_frames: int, reference_fraction: float) -> int:
    """Frames forming the reference: ``round(reference_fraction · n_frames)``, at least 3.

    Raises
    ------
    ConfigError
        ``reference_fraction`` outside (0, 0.5].
    """
    if not 0.0 < reference_fraction <= 0.5:
        raise ConfigError(f"reference_fraction: must be in (0, 0.5], got {reference_fraction}")
    return max(MIN_REFERENCE, round(reference_fraction * n_frames))


def check_distinct_doses(doses, *, name: str = "dose curve") -> None:
    """Refuse doses (e/Å²) with fewer than :data:`MIN_DISTINCT_DOSES` distinct values.

    Frames at one dose, such as a movie at a constant dose rate, have no dose
    axis to take a curve along (their frames differ in cumulative dose, which
    is another question). ``name`` starts the message (the series).

    Raises
    ------
    InputError
        Fewer than :data:`MIN_DISTINCT_DOSES` distinct doses, saying how many.
    """
    doses = np.asarray(doses, dtype=np.float64).ravel()
    values = np.unique(doses)
    if values.size >= MIN_DISTINCT_DOSES:
        return
    given = (f"{plain_dose(values[0])} e/Å² for all {doses.size} frames" if values.size == 1
             else f"{' and '.join(plain_dose(v) for v in values)} e/Å²" if values.size
             else "no doses")
    raise InputError(f"{name}: a dose curve needs at least {MIN_DISTINCT_DOSES} distinct doses, "
                     f"got {values.size} ({given}); a movie at a constant dose rate is not a "
                     "dose series: its frames differ only in cumulative dose (`temseg segment "
                     "--particles --dose-rate` follows the particles against it)")


def reference_frames(doses, reference_fraction: float = 0.1, *,
                     name: str = "dose curve") -> np.ndarray:
    """Indices (into ``doses`` as given, ascending) of the reference frames, whose mean area
    is the full area.

    These are the :func:`reference_count` highest-dose frames and, with them,
    every frame tied at the lowest of their doses: which of the tied frames
    was recorded last decides nothing, so the reference can hold more frames
    than that count.

    Parameters
    ----------
    doses : (N,) array_like
        Dose of each frame in e/Å², any order.
    reference_fraction : float
        As :func:`reference_count`.
    name : str
        Starts the error message (the series).

    Raises
    ------
    InputError
        The tied frames take in every frame, so none lies below the reference.
    ConfigError
        ``reference_fraction`` outside (0, 0.5].

    Examples
    --------
    Of 8 frames the 3 highest-dose ones (5, 5, 9 e/Å²) and the third at 5 e/Å²:

    >>> reference_frames([1, 2, 3, 5, 5, 4, 5, 9]).tolist()
    [3, 4, 6, 7]
    """
    doses = np.asarray(doses, dtype=np.float64).ravel()
    n_ref = reference_count(doses.size, reference_fraction)
    lowest = np.sort(doses)[-min(n_ref, doses.size)] if doses.size else 0.0
    index = np.flatnonzero(doses >= lowest)
    if index.size >= doses.size:
        tied = index.size - n_ref
        raise InputError(f"{name}: the reference (the {n_ref} highest-dose frames"
                         + (f" and the {tied} more tied with them at {plain_dose(lowest)} e/Å²"
                            if tied > 0 else "")
                         + f") holds all {doses.size} frames, leaving none below it: give "
                         "more frames at lower, distinct doses")
    return index


@dataclass(frozen=True)
class DoseCurve:
    """Summary of a dose series.

    Attributes
    ----------
    doses : (N,) ndarray — frame doses in e/Å², sorted ascending
    areas : (N,) ndarray — segmented area per frame (px or nm², as given)
    full_area : float — mean area of the reference (highest-dose) frames
    band : (float, float) — ``full_area · (1 ∓ tolerance)``: where a converged area lies
    dose_half : float or None — dose at 50 % of ``full_area`` (log-interpolated over
        the running median of the area)
    dose_converged : float or None — lowest dose from which every frame's area
        (not smoothed) lies inside ``band``, the reference frames included but
        never by themselves (see :func:`convergence_rule`); None: not converged
        within the series
    half_is_bound, converged_is_bound : bool — the series starts already past
        that point, so the figure is the lowest dose measured: an upper bound
        (the true dose is at most this), not a crossing
    n_reference : int — frames of highest dose forming the reference
    tolerance : float — relative half-width of ``band``
    reference_range : (float, float) — min and max area of the reference frames
    reference_index : tuple of int — the reference frames, as indices into the doses
        as given to :func:`dose_curve` (before sorting; :func:`reference_frames`)
    """

    doses: np.ndarray
    areas: np.ndarray
    full_area: float
    band: tuple[float, float]
    dose_half: float | None
    dose_converged: float | None
    half_is_bound: bool = False
    converged_is_bound: bool = False
    n_reference: int = MIN_REFERENCE
    tolerance: float = 0.1
    reference_range: tuple[float, float] = (0.0, 0.0)
    reference_index: tuple[int, ...] = ()

    @property
    def reference_dose_range(self) -> tuple[float, float]:
        """Lowest and highest dose (e/Å²) of the reference frames (a range, not their doses)."""
        return float(self.doses[-self.n_reference]), float(self.doses[-1])

    def as_dict(self) -> dict:
        return {"full_area": self.full_area, "band": list(self.band),
                "dose_half_e_per_A2": self.dose_half,
                "dose_half_is_upper_bound": self.half_is_bound,
                "dose_converged_e_per_A2": self.dose_converged,
                "dose_converged_is_upper_bound": self.converged_is_bound,
                "n_frames": int(self.doses.size),
                "n_reference_frames": self.n_reference,
                "reference_dose_range_e_per_A2": list(self.reference_dose_range),
                "reference_frames": list(self.reference_index),
                "reference_area_range": list(self.reference_range),
                "tolerance": self.tolerance,
                "convergence_rule": convergence_rule(self.tolerance, self.n_reference)}

    def describe(self, which: str) -> str:
        """``"30.2 e/Å²"``, ``"≤ 10 e/Å² (from the first frame)"``, ``"not reached"`` (50 %)
        or ``"not converged within the series"``.

        ``which`` is ``"half"`` or ``"converged"``.
        """
        dose, bound = ((self.dose_half, self.half_is_bound) if which == "half"
                       else (self.dose_converged, self.converged_is_bound))
        if dose is None:
            return "not reached" if which == "half" else "not converged within the series"
        text = f"{plain_dose(dose)} e/Å²"
        return f"≤ {text} (from the first frame)" if bound else text

    def reference_warning(self) -> str | None:
        """One line when the reference frames are more than a third of the curve, else None."""
        n = int(self.doses.size)
        if 3 * self.n_reference <= n:
            return None
        lo, _ = self.reference_dose_range
        return (f"the full area is the mean of the {self.n_reference} highest-dose frames, "
                f"{self.n_reference} of the {n} in the curve (more than a third): convergence "
                f"can only be found below {plain_dose(lo)} e/Å²; a longer series gives a better "
                "reference")


def dose_curve(doses, areas, *, reference_fraction: float = 0.1,
               tolerance: float = 0.1, smooth: int = 5) -> DoseCurve:
    """Summarise segmented area against dose.

    Parameters
    ----------
    doses : (N,) array_like
        Dose of each frame in e/Å² (any order; positive).
    areas : (N,) array_like
        Segmented area of each frame (finite: leave frames without an area,
        such as blank ones, out of both arrays).
    reference_fraction : float
        Fraction of frames, by highest dose, whose mean area is the full area:
        ``round(reference_fraction · N)`` frames, raised to at least 3 (so
        0.1 of 10 frames is 3), and every frame tied at the lowest of their
        doses (:func:`reference_frames`). In (0, 0.5].
    tolerance : float
        Relative half-width of the band around the full area that the area of
        every frame from the convergence dose on must lie in (0.1: ±10 %).
    smooth : int
        Running-median window (frames, 1 to N) used for the 50 % crossing, so a
        single noisy frame does not decide it. The convergence is tested on the
        areas themselves.

    Returns
    -------
    DoseCurve
        ``dose_converged`` follows :func:`convergence_rule`: the lowest dose
        from which every frame, up to the highest dose, lies within
        ±``tolerance`` of the full area; the reference frames must too, but at
        least the frame of next-highest dose below them must also, or it is
        None (not converged within the series).

    Raises
    ------
    InputError
        Fewer than 6 frames, doses not positive, fewer than 3 distinct doses
        (:func:`check_distinct_doses`), tied doses pulling every frame into the
        reference, areas not finite.
    ConfigError
        ``smooth`` outside 1 to N, ``reference_fraction`` outside (0, 0.5],
        ``tolerance`` outside (0, 1).

    Examples
    --------
    The third-highest frame at 72 % of the top is no convergence:

    >>> c = dose_curve([2, 5, 10, 20, 50, 100, 200, 320, 500, 1000],
    ...                [0, 10, 50, 300, 900, 2000, 3300, 4314, 5500, 5994])
    >>> c.describe("converged")
    'not converged within the series'
    """
    doses = np.asarray(doses, dtype=np.float64)
    areas = np.asarray(areas, dtype=np.float64)
    if doses.ndim != 1 or doses.shape != areas.shape:
        raise InputError(f"dose curve: doses {doses.shape} and areas {areas.shape} must be 1-D "
                         "and of equal length")
    if doses.size < 6:
        raise InputError(f"dose curve: need at least 6 frames, got {doses.size}")
    if not np.all(np.isfinite(doses)) or np.any(doses <= 0):
        raise InputError("dose curve: doses must be positive and finite")
    if not np.all(np.isfinite(areas)):
        raise InputError("dose curve: areas must be finite (leave frames without an area, "
                         "e.g. blank ones, out)")
    if not 1 <= smooth <= doses.size:
        raise ConfigError(f"smooth: the running-median window must be 1 to {doses.size} "
                          f"frames, got {smooth}")
    check_tolerance(tolerance)
    reference_count(doses.size, reference_fraction)  # a bad fraction is a ConfigError first
    check_distinct_doses(doses)
    ref_index = reference_frames(doses, reference_fraction)
    n_ref = int(ref_index.size)  # ties at the lowest reference dose included
    order = np.argsort(doses, kind="stable")
    doses, areas = doses[order], areas[order]
    ref = areas[-n_ref:]
    full = float(ref.mean())
    band = (full * (1 - tolerance), full * (1 + tolerance))
    extra = {"n_reference": n_ref, "tolerance": float(tolerance),
             "reference_range": (float(ref.min()), float(ref.max())),
             "reference_index": tuple(int(i) for i in ref_index)}
    if full <= 0:
        return DoseCurve(doses, areas, full, band, None, None, **extra)

    smoothed = _running_median(areas, smooth)
    above = smoothed >= 0.5 * full
    dose_half, half_bound = None, False
    if above.any():
        i = int(np.argmax(above))
        if i == 0:  # past 50 % from the first frame on: only a bound
            dose_half, half_bound = float(doses[0]), True
        else:  # interpolate the crossing in log dose
            a0, a1 = smoothed[i - 1], smoothed[i]
            t = (0.5 * full - a0) / (a1 - a0) if a1 != a0 else 1.0
            dose_half = float(np.exp(np.log(doses[i - 1]) + t * np.log(doses[i] / doses[i - 1])))

    first = _first_converged(doses, areas, band, n_ref)
    dose_conv = None if first is None else float(doses[first])
    return DoseCurve(doses, areas, full, band, dose_half, dose_conv,
                     half_is_bound=half_bound, converged_is_bound=first == 0, **extra)


def _first_converged(doses: np.ndarray, areas: np.ndarray, band: tuple[float, float],
                     n_ref: int) -> int | None:
    """Index (into ``doses`` sorted ascending) of the first frame from which every area lies in
    ``band``; None when that is only the reference frames (the last ``n_ref``) or no frame.

    Frames of one dose stand or fall together: one outside the band puts the
    convergence above that dose, whichever order they were recorded in.
    """
    inside = (areas >= band[0]) & (areas <= band[1])
    outside = np.flatnonzero(~inside)
    first = 0 if outside.size == 0 else int(
        np.searchsorted(doses, doses[outside[-1]], side="right"))
    return first if first < areas.size - n_ref else None


def _running_median(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return values
    from scipy.ndimage import median_filter

    return median_filter(values, size=window, mode="nearest")


def plain_dose(dose: float) -> str:
    """A dose in e/Å² as people write it, the same in plots and printed lines: whole
    e/Å² with thousands separators from 100 up, else 3 significant digits.

    >>> [plain_dose(d) for d in (1000.0, 12345.0, 30.24, 100.0, 5.0, 0.5)]
    ['1,000', '12,345', '30.2', '100', '5', '0.5']
    """
    dose = float(dose)
    return f"{dose:,.0f}" if abs(dose) >= 100 else f"{dose:.3g}"


def plot_dose_curve(path: str | Path, curve: DoseCurve, *, area_unit: str = "px",
                    title: str | None = None, reference: dict | None = None,
                    blank_doses=(), nm2_per_unit: float | None = None,
                    labelled=None) -> Path:
    """Plot area against dose (log axis) with the convergence band and the two doses, as PNG.

    ``reference`` maps a label to a dose (e.g. the paper's figures), drawn as a dotted line,
    or to a ``(low, high)`` range of doses, drawn shaded;
    ``blank_doses`` (e/Å²) of frames left out as blank are marked on the dose axis;
    ``nm2_per_unit`` (nm² per ``area_unit``, known from the pixel size) adds an nm² axis;
    ``labelled``, ``(doses, areas)`` of the frames' labelled (true) areas in
    ``area_unit`` (a simulated series), is drawn as a second series.

    The area axis starts at 0 and shows the 50 %-of-full-area level. The frames are
    drawn over the lines derived from them (thin, behind); a dose that is only an
    upper bound (the series starts past it) is marked ≤ with an arrow to lower
    doses. The legend sits below the axes, so it covers no data.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.6), dpi=120)
    ax = fig.subplots()
    n_ref = curve.n_reference
    points = {"zorder": 4, "clip_on": False}  # over the lines; a 0 area sits on the axis
    ax.semilogx(curve.doses[:-n_ref], curve.areas[:-n_ref], ".", ms=5, color="0.2",
                label="segmented area", **points)
    ax.semilogx(curve.doses[-n_ref:], curve.areas[-n_ref:], "s", ms=4, mfc="none",
                color="tab:green", label=f"reference frames ({n_ref} highest doses)", **points)
    if labelled is not None:
        true_doses, true_areas = (np.asarray(v, dtype=np.float64) for v in labelled)
        order = np.argsort(true_doses)
        ax.plot(true_doses[order], true_areas[order], "D-", ms=3, lw=0.8, mfc="none",
                color="tab:purple", label="labelled area", zorder=3)
    if len(blank_doses):
        ax.plot(blank_doses, np.zeros(len(blank_doses)), "x", ms=6, color="tab:red", clip_on=False,
                transform=ax.get_xaxis_transform(), label="blank frame (left out)", zorder=4)
    ax.axhspan(*curve.band, color="tab:green", alpha=0.2, lw=0, zorder=0,
               label=f"full area ±{100 * curve.tolerance:g} % (mean of the reference frames)")
    ax.axhline(curve.full_area, color="tab:green", lw=0.8, zorder=1)
    ax.axhline(0.5 * curve.full_area, color="tab:orange", ls=":", lw=1, zorder=1,
               label="50 % of the full area")
    lines = {"lw": 1, "ls": "--", "zorder": 2}
    if curve.dose_half:
        ax.axvline(curve.dose_half, color="tab:orange", label=f"50 % area at "
                   f"{curve.describe('half')}", **lines)
    if curve.dose_converged:
        ax.axvline(curve.dose_converged, color="k", label=f"converged at "
                   f"{curve.describe('converged')}", **lines)
    bounds = [(dose, colour, height) for dose, bound, colour, height in (
        (curve.dose_half, curve.half_is_bound, "tab:orange", 0.97),
        (curve.dose_converged, curve.converged_is_bound, "k", 0.92)) if dose and bound]
    for dose, colour, height in bounds:  # an upper bound: the true dose lies to the left;
        # the arrow starts just off the line, clear of the first frame's point on it
        ax.annotate("", xy=(dose / 3.5, height), xytext=(dose / 1.15, height),
                    xycoords=ax.get_xaxis_transform(),
                    arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.2})
    for name, dose in (reference or {}).items():
        if isinstance(dose, tuple):  # a range of doses
            ax.axvspan(*dose, color="tab:blue", alpha=0.12, lw=0, zorder=0, label=name)
        else:
            ax.axvline(dose, color="tab:blue", ls=":", lw=1, zorder=2, label=name)
    ax.set_xlabel("frame dose (e/Å²)")
    ax.set_ylabel(f"segmented area ({area_unit})")
    ax.set_ylim(bottom=0)
    if bounds:  # room left of the first frame for the arrows
        left, right = ax.get_xlim()
        ax.set_xlim(min(left, min(d for d, _, _ in bounds) / 4), right)
    if nm2_per_unit:
        k = float(nm2_per_unit)
        nm2 = ax.secondary_yaxis("right", functions=(lambda a: a * k, lambda a: a / k))
        nm2.set_ylabel("segmented area (nm²)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              frameon=False)
    fig.tight_layout()  # makes room below the axes for the legend
    return write_figure(fig, path)


def dose_bands(doses, *, per_decade: int = 2) -> list[tuple[float, float]]:
    """Bands ``[low, high)`` in e/Å² covering ``doses``, ``per_decade`` to a decade, on
    round edges (10^(k/per_decade)): 1e3, 3.16e3, 1e4... for the default.

    Non-finite or non-positive doses are left out; no doses give no bands.

    >>> [(round(a), round(b)) for a, b in dose_bands([1500, 9000, 20000])]
    [(1000, 3162), (3162, 10000), (10000, 31623)]
    """
    if per_decade < 1:
        raise ConfigError(f"per_decade: must be ≥ 1, got {per_decade}")
    d = np.asarray([v for v in doses if v is not None], dtype=np.float64)
    d = d[np.isfinite(d) & (d > 0)]
    if not d.size:
        return []
    steps = np.log10(d) * per_decade
    first, last = int(np.floor(steps.min() + 1e-9)), int(np.floor(steps.max() + 1e-9))
    if 10.0 ** (first / per_decade) > d.min():  # a dose a rounding error under an edge
        first -= 1
    if 10.0 ** ((last + 1) / per_decade) <= d.max():
        last += 1
    edges = 10.0 ** (np.arange(first, last + 2) / per_decade)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


def scores_by_dose(doses, matrices, classes, *, per_decade: int = 2) -> list[dict]:
    """Scores pooled over the images of each dose band (002: how a model fares with dose).

    Parameters
    ----------
    doses : sequence of float or None
        Each image's dose in e/Å² (None or non-finite: left out, e.g. a
        labelled micrograph of unknown dose).
    matrices : sequence of (K, K) arrays
        Each image's :func:`temseg.metrics.class_confusion` matrix
        (``[[tn, fp], [fn, tp]]`` for a binary segmentation).
    classes : K class names (index 0 the background)
    per_decade : int
        Dose bands per decade of dose (2: half decades, 100–316–1000 ... e/Å²).

    Returns
    -------
    list of dict
        Per band that holds images: ``dose_low_e_per_A2``, ``dose_high_e_per_A2``,
        ``dose_mean_e_per_A2`` (the arithmetic mean of its images' doses),
        ``images``; for K = 2 ``f1, jaccard, precision, recall`` of the
        foreground; for K ≥ 3 ``f1_<class>``, ``jaccard_<class>`` per
        foreground class and ``mean_f1`` over them.
    """
    from temseg.metrics import class_report

    if len(doses) != len(matrices):
        raise InputError(f"scores by dose: {len(doses)} doses for {len(matrices)} images")
    rows = []
    for low, high in dose_bands(doses, per_decade=per_decade):
        inside = [(d, m) for d, m in zip(doses, matrices)
                  if d is not None and np.isfinite(d) and low <= d < high]
        if not inside:
            continue
        picked = [m for _, m in inside]
        report = class_report(np.sum(picked, axis=0), list(classes))
        row = {"dose_low_e_per_A2": low, "dose_high_e_per_A2": high,
               "dose_mean_e_per_A2": float(np.mean([d for d, _ in inside])),
               "images": len(picked)}
        if len(classes) == 2:
            fg = report["per_class"][1]
            row.update({k: fg[k] for k in ("f1", "jaccard", "precision", "recall")})
        else:
            for fg in report["per_class"][1:]:
                row.update({f"{k}_{fg['class']}": fg[k] for k in ("f1", "jaccard")})
            row["mean_f1"] = report["mean_foreground"]["f1"]
        rows.append(row)
    return rows


def plot_scores_by_dose(path: str | Path, doses, image_f1: dict[str, list], rows: list[dict],
                        *, title: str | None = None, dose_label: str = "dose (e/Å²)") -> Path:
    """Per-image F1 against dose (points) and F1 pooled per dose band (lines), as PNG.

    ``image_f1`` maps a name (the foreground, or each class) to the images'
    F1 in the order of ``doses``; ``rows`` are :func:`scores_by_dose`'s, whose
    ``f1`` (K = 2) or ``f1_<name>`` are drawn at the mean dose of each band's
    images (``dose_mean_e_per_A2``, arithmetic); ``dose_label`` names the dose axis.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=120)
    ax = fig.subplots()
    d = np.array([np.nan if v is None else v for v in doses], dtype=np.float64)
    centres = [r["dose_mean_e_per_A2"] for r in rows]
    for i, (name, values) in enumerate(image_f1.items()):
        colour = f"C{i}"
        f1 = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        ax.semilogx(d, f1, "o", ms=4, alpha=0.55, mfc="none", color=colour, clip_on=False,
                    label=f"{name}: single images")
        key = "f1" if len(image_f1) == 1 and "f1" in (rows[0] if rows else {}) else f"f1_{name}"
        ax.semilogx(centres, [r.get(key, np.nan) for r in rows], "o-", color=colour,
                    label=f"{name}: pooled per band")
    for r in rows:
        ax.axvline(r["dose_low_e_per_A2"], color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel(dose_label)
    ax.set_ylabel("F1")
    values = [v for series in image_f1.values() for v in series if v is not None]
    values += [r[k] for r in rows for k in r if k.startswith("f1")]
    low = np.nanmin(values) if values else 0.0
    bottom = max(0.0, np.floor((low - 0.02) * 10) / 10) - 0.01
    ax.set_ylim(bottom - 0.04, 1.01)  # the range in use, room for the image counts
    for r in rows:  # how many images each pooled point stands for
        ax.annotate(f"n={r['images']}", (r["dose_mean_e_per_A2"], bottom - 0.035), ha="center",
                    va="bottom", fontsize=6, color="0.35")
    if title:
        ax.set_title(title, fontsize=9)
    # below the axes: inside, it hid the low-F1 images it is there to show
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)
    fig.set_size_inches(6.4, 4.6)
    fig.tight_layout()
    return write_figure(fig, path)
