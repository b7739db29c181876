"""Particle statistics from a segmentation mask: count, area, equivalent diameter in nm."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from skimage import measure, morphology

from temseg.errors import InputError
from temseg.io.files import atomic_path

COLUMNS = ("label", "area_px", "area_nm2", "equivalent_diameter_nm",
           "centroid_y_px", "centroid_x_px", "touches_border")


def particle_table(mask: np.ndarray, *, sampling: float | None = None,
                   min_area_px: int = 16) -> list[dict]:
    """Measure the connected particles of a binary mask.

    Parameters
    ----------
    mask : (H, W) ndarray
        Foreground where > 0.
    sampling : float, optional
        Å per pixel; without it the nm columns are ``None``.
    min_area_px : int
        Connected regions smaller than this many pixels are noise and dropped.

    Returns
    -------
    list of dict
        One row per particle with the keys of :data:`COLUMNS`; the
        equivalent diameter is that of the disc of equal area.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError(f"particle_table: expected a 2-D mask, got shape {mask.shape}")
    binary = morphology.remove_small_objects(mask > 0, max_size=max(min_area_px - 1, 0))
    labels = measure.label(binary, connectivity=2)
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
            "area_nm2": area_nm2,
            "equivalent_diameter_nm": (2.0 * np.sqrt(area_nm2 / np.pi)) if area_nm2 else None,
            "centroid_y_px": float(region.centroid[0]),
            "centroid_x_px": float(region.centroid[1]),
            "touches_border": bool(y0 == 0 or x0 == 0 or y1 == h or x1 == w),
        })
    return rows


def write_particle_csv(path: str | Path, rows: list[dict]) -> Path:
    """Write a particle table as CSV (atomically); empty nm columns when no sampling."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})
    return path
