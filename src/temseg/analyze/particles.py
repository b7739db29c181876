"""Particle statistics from a segmentation mask: count, area, equivalent diameter in nm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage import measure, morphology

from temseg.errors import InputError
from temseg.io.files import write_figure

COLUMNS = ("label", "area_px", "equivalent_diameter_px", "area_nm2", "equivalent_diameter_nm",
           "centroid_y_px", "centroid_x_px", "touches_border")

#: what the items of a stack are: frames, or focal series of C frames (003); their index
#: columns in the particle CSV and their words in plots
UNITS = {"frame": (("frame",), "frame"), "series": (("series", "first_frame"), "focal series")}


def _unit(unit: str) -> tuple[tuple[str, ...], str]:
    if unit not in UNITS:
        raise InputError(f"unit: expected one of {', '.join(UNITS)}, got {unit!r}")
    return UNITS[unit]


def area_px(area_nm2: float, *, sampling: float) -> int:
    """The pixels (at least 1) of an area of ``area_nm2`` nm² at ``sampling`` Å/px, rounded up.

    >>> area_px(1.0, sampling=0.5)  # 1 nm² = 100 Å² = 400 px of 0.25 Å²
    400
    """
    import math

    return max(1, math.ceil(area_nm2 * 100.0 / sampling**2 - 1e-9))


#: the smallest particle counted by default: 16 px, or this area where the pixel size makes
#: it larger (0.1 nm², a disc 0.36 nm across, about two atomic columns: a speck of 16 px at
#: 0.3 Å/px is 0.014 nm², smaller than one column)
MIN_AREA_PX, MIN_AREA_NM2 = 16, 0.1


def smallest_particle_px(sampling: float | None, *, min_area_px: int | None = None,
                         min_area_nm2: float | None = None) -> int:
    """Pixels of the smallest particle to count at ``sampling`` Å/px: ``min_area_nm2`` where
    given (needs the pixel size), else ``min_area_px``, else :data:`MIN_AREA_PX` or
    :data:`MIN_AREA_NM2`, whichever is more pixels.

    >>> smallest_particle_px(0.3), smallest_particle_px(1.0), smallest_particle_px(None)
    (112, 16, 16)
    >>> smallest_particle_px(0.3, min_area_px=4), smallest_particle_px(0.5, min_area_nm2=1.0)
    (4, 400)
    """
    if min_area_nm2 is not None:
        if sampling is None:
            raise InputError("min_area_nm2: needs a pixel size")
        return area_px(min_area_nm2, sampling=sampling)
    if min_area_px is not None:
        return int(min_area_px)
    return max(MIN_AREA_PX, area_px(MIN_AREA_NM2, sampling=sampling) if sampling else 0)


def label_particles(mask: np.ndarray, *, min_area_px: int = 16) -> np.ndarray:
    """The connected particles of a mask (8-connected) as labels 1..N; smaller regions dropped."""
    binary = morphology.remove_small_objects(np.asarray(mask) > 0,
                                             max_size=max(min_area_px - 1, 0))
    return measure.label(binary, connectivity=2)


def particle_table(mask: np.ndarray, *, sampling: float | None = None,
                   min_area_px: int = 16, image: np.ndarray | None = None) -> list[dict]:
    """Measure the connected particles of a binary mask.

    Parameters
    ----------
    mask : (H, W) ndarray
        Foreground where > 0.
    sampling : float, optional
        Å per pixel; without it the nm columns are ``None``.
    min_area_px : int
        Connected regions smaller than this many pixels are noise and dropped.
    image : (H, W) ndarray, optional
        The micrograph the mask came from: adds the Fourier columns of
        :func:`temseg.analyze.fourier.particle_reflections` (lattice spacing,
        direction, reflections, peak ratio) to each particle.

    Returns
    -------
    list of dict
        One row per particle with the keys of :data:`COLUMNS`; the
        equivalent diameter is that of the disc of equal area.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError(f"particle_table: expected a 2-D mask, got shape {mask.shape}")
    from temseg.metrics import refuse_probabilities

    refuse_probabilities(mask, "particle_table: mask")
    if image is not None:
        image = np.asarray(image)
        if image.shape != mask.shape:
            raise InputError(f"particle_table: image {image.shape} and mask {mask.shape} "
                             "differ in shape")
    labels = label_particles(mask, min_area_px=min_area_px)
    h, w = mask.shape
    nm2_per_px = (sampling / 10.0) ** 2 if sampling else None
    rows = []
    for region in measure.regionprops(labels):
        area = int(region.area)
        area_nm2 = area * nm2_per_px if nm2_per_px else None
        y0, x0, y1, x1 = region.bbox
        rows.append({
            "label": int(region.label),
            "area_px": area,
            "equivalent_diameter_px": float(2.0 * np.sqrt(area / np.pi)),
            "area_nm2": area_nm2,
            "equivalent_diameter_nm": (2.0 * np.sqrt(area_nm2 / np.pi)) if area_nm2 else None,
            "centroid_y_px": float(region.centroid[0]),
            "centroid_x_px": float(region.centroid[1]),
            "touches_border": bool(y0 == 0 or x0 == 0 or y1 == h or x1 == w),
        })
        if image is not None:  # the particle's neighbourhood only: cheap on a 4096² image
            from temseg.analyze.fourier import particle_reflections

            near = np.s_[max(y0 - 4, 0):y1 + 4, max(x0 - 4, 0):x1 + 4]
            rows[-1].update(particle_reflections(image[near], labels[near] == region.label,
                                                 sampling=sampling, margin_px=4).as_row())
    return rows


#: columns a stack's rows may carry after their index: when the item began, from the first
#: frame's start (s), and the dose received by its end (e/Å², from a dose rate)
TIMING = ("time_s", "dose_e_per_A2")


def write_particle_csv(path: str | Path, rows: list[dict], *, frames: bool = False,
                       unit: str = "frame") -> Path:
    """Write a particle table as CSV (atomically); empty nm columns when no sampling.

    With ``frames`` the rows carry the index of their item in a stack, written
    first: ``frame`` (0-based) for ``unit="frame"``; ``series`` and
    ``first_frame`` for ``unit="series"`` (focal series of consecutive frames);
    then the :data:`TIMING` columns the rows have. A ``track`` (the particle
    followed through the stack, :mod:`temseg.analyze.tracking`) follows ``label``.
    Floats are written to 6 significant digits.
    """
    from temseg.analyze.fourier import FOURIER_COLUMNS
    from temseg.io.files import write_csv

    index, _ = _unit(unit)
    first = rows[0] if rows else {}
    timing = tuple(k for k in TIMING if k in first) if frames else ()
    body = (("label", "track", *COLUMNS[1:]) if "track" in first else COLUMNS)
    columns = (*index, *timing, *body) if frames else body
    if "peak_ratio" in first:
        columns = (*columns, *FOURIER_COLUMNS)
    return write_csv(path, rows, columns)


def row_sampling(rows: list[dict]) -> float | None:
    """The Å per pixel a particle table was measured at (from its nm² areas), or None."""
    for r in rows:
        if r.get("area_nm2") and r.get("area_px"):
            return 10.0 * float(np.sqrt(r["area_nm2"] / r["area_px"]))
    return None


def _diameters(rows: list[dict], sampling: float | None = None) -> tuple[np.ndarray, str]:
    """Equivalent diameters of the particles clear of the border, in nm (else px), and the unit.

    nm where every row has its nm diameter, and for no rows at all where ``sampling``
    (Å/px) is known: an empty table keeps the unit of its image."""
    whole = [r for r in rows if not r["touches_border"]]
    if (all(r["equivalent_diameter_nm"] is not None for r in rows)
            and (rows or sampling is not None)):
        return np.array([r["equivalent_diameter_nm"] for r in whole], float), "nm"
    return np.array([r["equivalent_diameter_px"] for r in whole], float), "px"


def _counted(n: int, noun: str) -> str:
    """``"1 particle"``, ``"3 particles"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def particle_summary(rows: list[dict], *, n_frames: int | None = None,
                     unit: str = "frame", sampling: float | None = None) -> dict:
    """Count and size statistics of a particle table (one image, or a stack's frames).

    Sizes are the equivalent diameters of the particles that do not touch the
    image border (their true size is unknown), in nm when the table has a pixel
    size and in px otherwise (an empty table: nm where ``sampling``, Å/px, is given).

    Returns
    -------
    dict
        ``particles``, ``touching_border``, ``diameter_unit``, ``diameter_median``,
        ``diameter_mean``, ``diameter_std`` (``None`` without whole particles) and,
        with ``n_frames``, ``particles_per_frame`` (mean count per frame;
        ``particles_per_series`` for ``unit="series"``).
    """
    _unit(unit)
    sizes, size_unit = _diameters(rows, sampling)
    stats = {"particles": len(rows),
             "touching_border": sum(bool(r["touches_border"]) for r in rows),
             "diameter_unit": size_unit,
             "diameter_median": float(np.median(sizes)) if sizes.size else None,
             "diameter_mean": float(sizes.mean()) if sizes.size else None,
             "diameter_std": float(sizes.std(ddof=1)) if sizes.size > 1 else None}
    if n_frames is not None:
        stats[f"particles_per_{unit}"] = len(rows) / n_frames if n_frames else None
    return stats


def frame_peak_ratios(rows: list[dict], n_frames: int, *, unit: str = "frame") -> np.ndarray:
    """Median Fourier peak ratio of each frame's (or series') particles (NaN where none has
    one); rows carry their index under ``unit``."""
    key = _unit(unit)[0][0]
    values: list[list[float]] = [[] for _ in range(n_frames)]
    for row in rows:
        if row.get("peak_ratio") is not None and int(row[key]) < n_frames:
            values[int(row[key])].append(row["peak_ratio"])
    return np.array([np.median(v) if v else np.nan for v in values], float)


def _plain(value: float, _pos=None) -> str:
    """A tick label as a plain number: ``0.64``, ``2``, ``20`` (never ``6.4×10⁻¹``)."""
    return f"{value:g}"


def _ratio_log(values: np.ndarray) -> bool:
    """Whether positive peak ratios span a decade or more (a log scale), NaN ignored."""
    finite = values[np.isfinite(values)]
    return bool(finite.size and finite.min() > 0 and finite.max() >= 10 * finite.min())


def _ratio_ticks(axis, *, log: bool) -> None:
    """Label the ticks of ``axis`` (a y axis, or a colour bar's) as plain numbers; on a log
    scale at 1, 2 and 5 × 10ⁿ, so that a span under a few decades has several labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    if log:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_minor_formatter(NullFormatter())
    else:
        axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(_plain))


def _band_shows(low: np.ndarray, high: np.ndarray) -> bool:
    """Whether ``fill_between(x, low, high)`` paints anything: two neighbouring points with
    values, of which at least one has ``high > low``."""
    width = high - low
    pair = np.isfinite(width[:-1]) & np.isfinite(width[1:])
    return bool(np.any(pair & (width[:-1] + width[1:] > 0)))


def time_axis(ax, interval_s: float):
    """Above ``ax``, whose x axis counts frames, the time in seconds from the first frame
    (``interval_s`` seconds per frame); in minutes where the stack runs over 10 min."""
    lo, hi = ax.get_xlim()
    minutes = max(abs(lo), abs(hi)) * interval_s > 600
    scale = interval_s / 60.0 if minutes else interval_s
    axis = ax.secondary_xaxis("top", functions=(lambda f: f * scale, lambda t: t / scale))
    axis.set_xlabel("time (min)" if minutes else "time (s)", fontsize=9)
    axis.tick_params(labelsize=8)
    return axis


def plot_particles(path: str | Path, rows: list[dict], *, n_frames: int | None = None,
                   title: str | None = None, blank_frames=(), unit: str = "frame",
                   sampling: float | None = None,
                   interval_s: float | None = None) -> Path:
    """PNG of a particle table: the size histogram, or for a stack size and count per frame.

    For one image (``n_frames`` None) a histogram of the equivalent diameters of
    the particles clear of the border. For a stack of ``n_frames`` frames (rows
    with a ``frame`` key): the particle count per frame, and the median
    equivalent diameter per frame with its interquartile band (listed in the
    legend only where it shows: frames with one particle have none); ``blank_frames``
    (not segmented) are gaps, not zero counts. With ``unit="series"`` the items
    are focal series (rows keyed ``series``), and the axes say so. With Fourier
    columns a third panel gives the median peak ratio per frame, on a linear axis
    where the medians span less than a decade. ``sampling`` (Å/px) keeps the
    sizes in nm for a table without particles. ``interval_s``, the seconds from one
    frame (or series) to the next, adds a time axis above the plots.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    (key, *_), word = _unit(unit)
    sizes, size_unit = _diameters(rows, sampling)
    n_border = sum(bool(r["touches_border"]) for r in rows)
    counted = _counted(len(rows), "particle")
    if n_frames is not None:  # a particle seen in 12 frames is 12 rows
        per = len(rows) / max(n_frames, 1)
        counted += f" in {_counted(n_frames, word)} ({per:.3g} per {word})"
    heading = (f"{title}\n" if title else "") + counted
    if n_border:
        heading += (f"; {n_border} touching the border "
                    f"{'is' if n_border == 1 else 'are'} not sized")
    if n_frames is None:
        fig = Figure(figsize=(6.4, 4.0), dpi=120)
        ax = fig.subplots()
        if sizes.size:
            ax.hist(sizes, bins=min(40, max(5, int(np.sqrt(sizes.size)) * 2)), color="0.4")
            ax.axvline(np.median(sizes), color="tab:orange", ls="--",
                       label=f"median {np.median(sizes):.3g} {size_unit}")
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no particle clear of the border" if rows else "no particles",
                    ha="center", transform=ax.transAxes)
        ax.set_xlabel(f"equivalent diameter ({size_unit})")
        ax.set_ylabel("particles")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(heading, fontsize=10)
    else:
        frames = np.arange(n_frames)
        counts = np.bincount([int(r[key]) for r in rows],
                             minlength=n_frames)[:n_frames].astype(float)
        counts[list(blank_frames)] = np.nan
        quart = np.full((n_frames, 3), np.nan)
        per_frame: dict[int, list] = {}
        for row in rows:
            per_frame.setdefault(int(row[key]), []).append(row)
        for i, frame_rows in per_frame.items():
            d, _ = _diameters(frame_rows)
            if d.size and i < n_frames:
                quart[i] = np.percentile(d, [25, 50, 75])
        fourier = any(r.get("peak_ratio") is not None for r in rows)
        fig = Figure(figsize=(6.4, 8.0 if fourier else 5.6), dpi=120)
        axes = fig.subplots(3 if fourier else 2, 1, sharex=True)
        top, bottom = axes[0], axes[1]
        top.plot(frames, counts, ".-", ms=3, color="0.3")
        top.set_ylabel(f"particles per {word}")
        top.yaxis.set_major_locator(MaxNLocator(integer=True))
        if _band_shows(quart[:, 0], quart[:, 2]):
            bottom.fill_between(frames, quart[:, 0], quart[:, 2], color="tab:blue", alpha=0.25,
                                label="interquartile range")
        bottom.plot(frames, quart[:, 1], ".-", ms=3, color="tab:blue", label="median")
        bottom.set_ylabel(f"equivalent diameter ({size_unit})")
        bottom.legend(fontsize=8)
        if fourier:  # 003: the frames whose particles show resolved columns have low ratios
            medians = frame_peak_ratios(rows, n_frames, unit=unit)
            axes[2].plot(frames, medians, ".-", ms=3, color="tab:purple")
            log = _ratio_log(medians)  # linear within a decade: 0.6 and 0.8 both labelled
            axes[2].set_yscale("log" if log else "linear")
            _ratio_ticks(axes[2].yaxis, log=log)
            axes[2].set_ylabel(f"Fourier peak ratio\n(median per {word})")
        for ax in axes:  # every frame on the axis, the blank ones shaded
            for i, b in enumerate(sorted(blank_frames)):
                ax.axvspan(b - 0.5, b + 0.5, color="0.85", lw=0,
                           label=f"blank {word}" if ax is top and i == 0 else None)
        if len(blank_frames):
            top.legend(fontsize=8)
        top.set_ylim(bottom=0)
        axes[-1].set_xlim(-0.5, n_frames - 0.5)
        axes[-1].set_xlabel(word)
        axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
        if interval_s:
            time_axis(top, interval_s)
        top.set_title(heading, fontsize=10)
    fig.tight_layout()
    return write_figure(fig, path)


def _wrap(text: str, width: int) -> str:
    """``text`` broken into lines of at most ``width`` characters (at ``": "`` and spaces
    first)."""
    import textwrap

    lines = []
    for line in text.split("\n"):
        if len(line) > width and ": " in line:
            head, tail = line.split(": ", 1)
            line = f"{head}:\n{tail}"
        for part in line.split("\n"):
            lines += textwrap.wrap(part, width) or [""]
    return "\n".join(lines)


def plot_scale_bar(ax, shape: tuple[int, int], sampling: float | None) -> None:
    """A scale bar bottom left of an image drawn by ``ax.imshow``: where and how long
    :func:`temseg.io.writers.scale_bar_geometry` puts it on the overlays; none without
    ``sampling`` or room."""
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    from temseg.io.writers import scale_bar_geometry

    geo = scale_bar_geometry(shape, sampling) if sampling else None
    if geo is None:
        return
    x, y, n, t = (geo[k] for k in ("x", "y", "length_px", "thickness_px"))
    ax.add_patch(Rectangle((x - 0.5, y - 0.5), n, t, facecolor="white", edgecolor="black",
                           lw=0.8, gid="scale bar"))
    ax.text(x - 0.5 + n + max(3, t), y - 0.5 + t / 2, geo["label"], color="white",
            fontsize=9, va="center", ha="left",
            path_effects=[patheffects.withStroke(linewidth=2, foreground="black")])


def plot_fourier_map(path: str | Path, image: np.ndarray, labels: np.ndarray, rows: list[dict],
                     *, title: str | None = None, sampling: float | None = None) -> Path:
    """The micrograph with each particle coloured by its Fourier peak ratio (003, fig. 2).

    ``labels`` from :func:`label_particles`, ``rows`` from :func:`particle_table`
    with ``image`` (their ``peak_ratio``). Low ratios (several reflections of
    similar strength: a zone axis, columns resolved) are dark blue, high ones
    (one set of fringes) yellow, on a colour bar spanning the ratios shown
    (logarithmic where they span a decade or more); a single ratio is one colour
    with its value in the legend. Particles without a peak (no lattice found) are
    outlined in grey. ``sampling`` (Å/px; else read from the rows' nm² areas) adds
    a scale bar.
    """
    from matplotlib import colormaps, patheffects
    from matplotlib.colors import ListedColormap, LogNorm, Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    labels = np.asarray(labels)
    sampling = sampling if sampling is not None else row_sampling(rows)
    ratio = np.full(labels.shape, np.nan)
    unmeasured = np.zeros(labels.shape, bool)
    for r in rows:
        if r.get("peak_ratio") is None:
            unmeasured |= labels == int(r["label"])
        else:
            ratio[labels == int(r["label"])] = r["peak_ratio"]
    values = np.array([r["peak_ratio"] for r in rows if r.get("peak_ratio") is not None], float)
    scaled = values.size > 1 and values.max() - values.min() > 1e-6 * abs(values.max())
    # the layout in inches: title, image (with the colour bar right of it), legend
    h, w = labels.shape
    img_w = 5.0 if scaled else 5.8
    img_h = img_w * h / w
    if img_h > 6.4:
        img_w, img_h = 6.4 * w / h, 6.4
    bar_w = 1.2 if scaled else 0.0
    fig_w = max(img_w + bar_w + 0.2, 4.8)
    heading = _wrap(title or _counted(len(rows), "particle"), int(fig_w * 12))
    title_h = 0.15 + 0.2 * (heading.count("\n") + 1)
    handles = []
    if unmeasured.any():
        handles.append(Line2D([], [], color="0.75", lw=1.5, label="no lattice peak",
                              path_effects=[patheffects.withStroke(linewidth=3,
                                                                   foreground="black")]))
    if values.size and not scaled:
        handles.append(Patch(facecolor=colormaps["viridis"](0.5), alpha=0.6,
                             label=f"Fourier peak ratio {values[0]:.3g}"))
    legend_h = 0.35 if handles else 0.1
    fig_h = title_h + img_h + legend_h
    x0 = (fig_w - img_w - bar_w) / 2
    fig = Figure(figsize=(fig_w, fig_h), dpi=120)
    ax = fig.add_axes((x0 / fig_w, legend_h / fig_h, img_w / fig_w, img_h / fig_h))
    lo, hi = np.percentile(image, [1, 99])
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
    if values.size and scaled:
        log = _ratio_log(values)
        norm = (LogNorm if log else Normalize)(vmin=values.min(), vmax=values.max())
        shown = ax.imshow(np.ma.masked_invalid(ratio), cmap="viridis", norm=norm, alpha=0.6)
        cax = fig.add_axes(((x0 + img_w + 0.15) / fig_w, legend_h / fig_h, 0.18 / fig_w,
                            img_h / fig_h))
        bar = fig.colorbar(shown, cax=cax)
        _ratio_ticks(bar.ax.yaxis, log=log)
        bar.set_label("Fourier peak ratio" + ("\n(strongest pair / strongest elsewhere)"
                                              if img_h >= 2.6 else ""), fontsize=8)
        bar.ax.tick_params(labelsize=8)
    elif values.size:  # one ratio: one colour, its value in the legend
        ax.imshow(np.ma.masked_invalid(ratio), alpha=0.6,
                  cmap=ListedColormap([colormaps["viridis"](0.5)]))
    if unmeasured.any():
        ax.contour(unmeasured, levels=[0.5], colors="0.75", linewidths=1.5,
                   path_effects=[patheffects.withStroke(linewidth=3, foreground="black")])
    for r in rows:
        if r.get("spacing_A") is not None:
            ax.annotate(f"{r['spacing_A']:.2f} Å", (r["centroid_x_px"], r["centroid_y_px"]),
                        color="white", fontsize=7, ha="center",
                        path_effects=[patheffects.withStroke(linewidth=1.5, foreground="black")])
    plot_scale_bar(ax, labels.shape, sampling)
    ax.set_axis_off()
    fig.text(0.5, 1 - 0.08 / fig_h, heading, ha="center", va="top", fontsize=10)
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
                   frameon=False, bbox_to_anchor=((x0 + img_w / 2) / fig_w, 0.0))
    return write_figure(fig, path)
