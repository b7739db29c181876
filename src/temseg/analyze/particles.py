"""Particle statistics from a segmentation mask: count, area, equivalent diameter in nm."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from skimage import measure, morphology

from temseg.errors import InputError
from temseg.io.files import atomic_path, write_figure

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


def write_particle_csv(path: str | Path, rows: list[dict], *, frames: bool = False,
                       unit: str = "frame") -> Path:
    """Write a particle table as CSV (atomically); empty nm columns when no sampling.

    With ``frames`` the rows carry the index of their item in a stack, written
    first: ``frame`` (0-based) for ``unit="frame"``; ``series`` and
    ``first_frame`` for ``unit="series"`` (focal series of consecutive frames).
    """
    from temseg.analyze.fourier import FOURIER_COLUMNS

    path = Path(path)
    index, _ = _unit(unit)
    columns = (*index, *COLUMNS) if frames else COLUMNS
    if rows and "peak_ratio" in rows[0]:
        columns = (*columns, *FOURIER_COLUMNS)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in columns})
    return path


def _diameters(rows: list[dict]) -> tuple[np.ndarray, str]:
    """Equivalent diameters of the particles clear of the border, in nm (else px), and the unit."""
    whole = [r for r in rows if not r["touches_border"]]
    if rows and all(r["equivalent_diameter_nm"] is not None for r in rows):
        return np.array([r["equivalent_diameter_nm"] for r in whole], float), "nm"
    return np.array([r["equivalent_diameter_px"] for r in whole], float), "px"


def particle_summary(rows: list[dict], *, n_frames: int | None = None,
                     unit: str = "frame") -> dict:
    """Count and size statistics of a particle table (one image, or a stack's frames).

    Sizes are the equivalent diameters of the particles that do not touch the
    image border (their true size is unknown), in nm when the table has a pixel
    size and in px otherwise.

    Returns
    -------
    dict
        ``particles``, ``touching_border``, ``diameter_unit``, ``diameter_median``,
        ``diameter_mean``, ``diameter_std`` (``None`` without whole particles) and,
        with ``n_frames``, ``particles_per_frame`` (mean count per frame;
        ``particles_per_series`` for ``unit="series"``).
    """
    _unit(unit)
    sizes, size_unit = _diameters(rows)
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


def plot_particles(path: str | Path, rows: list[dict], *, n_frames: int | None = None,
                   title: str | None = None, blank_frames=(), unit: str = "frame") -> Path:
    """PNG of a particle table: the size histogram, or for a stack size and count per frame.

    For one image (``n_frames`` None) a histogram of the equivalent diameters of
    the particles clear of the border. For a stack of ``n_frames`` frames (rows
    with a ``frame`` key): the particle count per frame, and the median
    equivalent diameter per frame with its interquartile band; ``blank_frames``
    (not segmented) are gaps, not zero counts. With ``unit="series"`` the items
    are focal series (rows keyed ``series``), and the axes say so.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogFormatter, MaxNLocator

    (key, *_), word = _unit(unit)
    sizes, size_unit = _diameters(rows)
    n_border = sum(bool(r["touches_border"]) for r in rows)
    heading = (f"{title}\n" if title else "") + \
        f"{len(rows)} particles; {n_border} touching the border are not sized"
    if n_frames is None:
        fig = Figure(figsize=(6.4, 4.0), dpi=120)
        ax = fig.subplots()
        if sizes.size:
            ax.hist(sizes, bins=min(40, max(5, int(np.sqrt(sizes.size)) * 2)), color="0.4")
            ax.axvline(np.median(sizes), color="tab:orange", ls="--",
                       label=f"median {np.median(sizes):.3g} {size_unit}")
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no particle clear of the border", ha="center",
                    transform=ax.transAxes)
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
        bottom.fill_between(frames, quart[:, 0], quart[:, 2], color="tab:blue", alpha=0.25,
                            label="interquartile range")
        bottom.plot(frames, quart[:, 1], ".-", ms=3, color="tab:blue", label="median")
        bottom.set_ylabel(f"equivalent diameter ({size_unit})")
        bottom.legend(fontsize=8)
        if fourier:  # 003: the frames whose particles show resolved columns have low ratios
            axes[2].semilogy(frames, frame_peak_ratios(rows, n_frames, unit=unit), ".-", ms=3,
                             color="tab:purple")
            axes[2].set_ylabel(f"Fourier peak ratio\n(median per {word})")
            axes[2].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axes[2].yaxis.set_minor_formatter(LogFormatter())  # plain numbers, not 1.05×10⁰
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
        top.set_title(heading, fontsize=10)
    fig.tight_layout()
    return write_figure(fig, path)


def plot_fourier_map(path: str | Path, image: np.ndarray, labels: np.ndarray, rows: list[dict],
                     *, title: str | None = None) -> Path:
    """The micrograph with each particle coloured by its Fourier peak ratio (003, fig. 2).

    ``labels`` from :func:`label_particles`, ``rows`` from :func:`particle_table`
    with ``image`` (their ``peak_ratio``). Low ratios (several reflections of
    similar strength: a zone axis, columns resolved) are dark blue, high ones
    (one set of fringes) yellow; particles without a peak are left grey.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    ratio = np.full(labels.shape, np.nan)
    values = {int(r["label"]): r.get("peak_ratio") for r in rows}
    for label, value in values.items():
        if value is not None:
            ratio[labels == label] = value
    finite = ratio[np.isfinite(ratio)]
    h, w = labels.shape
    fig = Figure(figsize=(6.4, 6.4 * h / w + 0.6), dpi=120)
    ax = fig.subplots()
    lo, hi = np.percentile(image, [1, 99])
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
    if finite.size:
        norm = LogNorm(vmin=max(1.0, finite.min()), vmax=max(finite.max(), 1.01 * max(
            1.0, finite.min())))
        shown = ax.imshow(np.ma.masked_invalid(ratio), cmap="viridis", norm=norm, alpha=0.6)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04,
                     label="Fourier peak ratio (strongest pair / strongest elsewhere)")
    for r in rows:
        if r.get("spacing_A") is not None:
            ax.annotate(f"{r['spacing_A']:.2f} Å", (r["centroid_x_px"], r["centroid_y_px"]),
                        color="white", fontsize=7, ha="center")
    ax.set_axis_off()
    ax.set_title(title or f"{len(rows)} particles", fontsize=10)
    fig.tight_layout()
    return write_figure(fig, path)
