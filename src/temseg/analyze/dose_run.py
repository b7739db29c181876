"""Dose-curve runs: segment every frame of a dose series and summarise area against dose.

The series is either an image stack with one dose per frame (from a file or
a list), or a simulated dose series (a zarr dataset from ``temseg simulate``
with ``mode: dose_series``: doses, pixel size and the true labels come with
it). Each frame is segmented with a :class:`temseg.infer.Segmenter`, the
foreground area is measured, and :func:`temseg.analyze.dose.dose_curve`
gives the dose at 50 % of the full area and the dose of convergence (002
fig. 2–4), written as ``areas.csv``, ``dose_curve.json`` and
``dose_curve.png``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from temseg.errors import BlankImageError, InputError
from temseg.io.files import atomic_path, write_json

#: what Leth Larsen et al. (002) report for their MSD-net on simulated Au/CeO2 series, e/Å²
PAPER_002 = {"dose_half_e_per_A2": (20.0, 30.0), "dose_converged_e_per_A2": 200.0}

Callback = Callable[[int, int], None]


@dataclass
class DoseSeries:
    """Frames of one specimen at increasing (or any) dose.

    Attributes
    ----------
    frames : (N, H, W) array_like
        Counts or intensities; may be lazy (zarr, dask): read one frame at a time.
    doses : (N,) ndarray of float — e/Å² per frame
    sampling : float or None — Å per pixel
    labels : (N, H, W) array_like or None — known foreground (> 0), for simulated series
    source : str — where it came from (for records)
    """

    frames: object
    doses: np.ndarray
    sampling: float | None = None
    labels: object | None = None
    source: str = ""

    def __post_init__(self) -> None:
        self.doses = np.asarray(self.doses, dtype=np.float64).ravel()
        n = int(self.frames.shape[0])
        if self.doses.size != n:
            raise InputError(f"{self.source or 'series'}: {self.doses.size} doses for {n} frames "
                             "(give one dose per frame)")
        if not np.all(np.isfinite(self.doses)) or np.any(self.doses <= 0):
            raise InputError(f"{self.source or 'series'}: doses must be positive e/Å²")

    def __len__(self) -> int:
        return int(self.doses.size)

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as ``(H, W)`` float32."""
        return np.asarray(self.frames[i], dtype=np.float32)

    def label(self, i: int) -> np.ndarray | None:
        """Known mask of frame ``i`` (bool), or None."""
        return None if self.labels is None else np.asarray(self.labels[i]) > 0


def read_doses(source: str | Path | Sequence[float]) -> np.ndarray:
    """Per-frame doses (e/Å²) from a list or a text/CSV file.

    A file holds one number per line, or a CSV with a ``dose`` column (blank
    lines and lines starting with ``#`` are skipped).

    Raises
    ------
    InputError
        Missing file, a line that is not a number, or no doses.
    """
    if not isinstance(source, (str, Path)):
        values = np.asarray(list(source), dtype=np.float64)
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{path}: no such dose file")
        lines = [ln.strip() for ln in path.read_text().splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        if lines and "dose" in lines[0].lower():
            rows = list(csv.DictReader(lines))
            key = next(k for k in rows[0] if k and "dose" in k.lower()) if rows else None
            lines = [row[key] for row in rows] if key else []
        try:
            values = np.asarray([float(v.split(",")[0]) for v in lines], dtype=np.float64)
        except ValueError as exc:
            raise InputError(f"{path}: not a list of doses ({exc})") from None
    if values.size == 0:
        raise InputError(f"{source}: no doses")
    return values


def _is_zarr(path: Path) -> bool:
    return path.is_dir() and (path.suffix == ".zarr" or (path / "zarr.json").exists()
                              or (path / ".zgroup").exists())


def read_series(path: str | Path, *, doses=None, sampling: float | None = None) -> DoseSeries:
    """Open a dose series: a simulated zarr dose series, or a stack with per-frame doses.

    Parameters
    ----------
    path : path
        A zarr dataset (``images``, ``labels``, ``parameters/dose``, attr
        ``sampling``) or a stack file readable by :func:`temseg.io.read_image`.
    doses : path or sequence of float, optional
        One dose (e/Å²) per frame; required for stacks, overrides a zarr's.
    sampling : float, optional
        Å/px overriding the file's.

    Raises
    ------
    InputError
        Not a stack, no doses, or a count mismatch.
    """
    path = Path(path)
    given = None if doses is None else read_doses(doses)
    if _is_zarr(path):
        from temseg.simulate.dataset import open_dataset

        root = open_dataset(path)
        if given is None:
            if "parameters" not in root or "dose" not in root["parameters"]:
                raise InputError(f"{path}: no parameters/dose in the dataset; give --doses")
            given = np.asarray(root["parameters"]["dose"][:], dtype=np.float64)
        file_sampling = root.attrs.get("sampling")
        return DoseSeries(root["images"], given,
                          sampling if sampling is not None else file_sampling,
                          root["labels"], str(path))
    from temseg.io import read_image

    mg = read_image(path, sampling=sampling)
    if not mg.is_stack:
        raise InputError(f"{path}: a single image, not a stack of frames")
    if given is None:
        raise InputError(f"{path}: the stack has no per-frame doses; give them with --doses "
                         "(a file) or --dose (once per frame)")
    return DoseSeries(mg.data, given, mg.sampling, None, str(path))


@dataclass
class DoseRun:
    """Result of :func:`run_dose_curve`.

    Attributes
    ----------
    curve : temseg.analyze.dose.DoseCurve — areas in px
    rows : list of dict — per frame: frame, dose, area_px, area_nm2, (f1, true_area_px)
    sampling : float or None
    files : dict of str to Path
    """

    curve: object
    rows: list[dict]
    sampling: float | None
    files: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-safe numbers: the curve's, nm² areas where known, and 002's next to them."""
        out = self.curve.as_dict()
        out["area_unit"] = "px"
        if self.sampling:
            nm2 = (self.sampling / 10.0) ** 2
            out["full_area_nm2"] = out["full_area"] * nm2
        out["paper_002"] = {k: list(v) if isinstance(v, tuple) else v
                            for k, v in PAPER_002.items()}
        if self.rows and "f1" in self.rows[0]:
            out["true_area_px"] = self.rows[-1]["true_area_px"]
        return out


def iter_areas(segmenter, series: DoseSeries, *, threshold: float | None = None,
               callback: Callback | None = None) -> Iterator[dict]:
    """Segment each frame of ``series``; yield one row per frame (area and, with labels, F1).

    A constant frame (no contrast, e.g. not one electron counted) has area 0.
    """
    from temseg.metrics import scores

    thr = segmenter.threshold if threshold is None else float(threshold)
    nm2 = None if not series.sampling else (series.sampling / 10.0) ** 2
    n = len(series)
    for i in range(n):
        frame = series.frame(i)
        try:
            mask = segmenter.predict(frame, sampling=series.sampling) >= thr
        except BlankImageError:  # e.g. no electron counted at the lowest dose: nothing seen
            mask = np.zeros(frame.shape, bool)
        area = int(np.count_nonzero(mask))
        row = {"frame": i, "dose_e_per_A2": float(series.doses[i]), "area_px": area,
               "area_nm2": None if nm2 is None else area * nm2}
        truth = series.label(i)
        if truth is not None:
            row["true_area_px"] = int(np.count_nonzero(truth))
            row["f1"] = scores(mask, truth)["f1"]
        if callback is not None:
            callback(i + 1, n)
        yield row


def run_dose_curve(segmenter, series: DoseSeries, out: str | Path, *,
                   threshold: float | None = None, reference_fraction: float = 0.1,
                   tolerance: float = 0.0, smooth: int = 5, title: str | None = None,
                   callback: Callback | None = None) -> DoseRun:
    """Segment a dose series and write ``areas.csv``, ``dose_curve.json`` and ``dose_curve.png``.

    Parameters
    ----------
    segmenter : temseg.infer.Segmenter
    series : DoseSeries
    out : path
        Output folder (created).
    threshold : float, optional
        Foreground probability threshold (default: the segmenter's).
    reference_fraction, tolerance, smooth
        As :func:`temseg.analyze.dose.dose_curve`.
    callback : callable(done, total), optional
        Progress over frames.

    Returns
    -------
    DoseRun
    """
    from temseg.analyze.dose import dose_curve, plot_dose_curve

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = list(iter_areas(segmenter, series, threshold=threshold, callback=callback))
    rows.sort(key=lambda r: r["dose_e_per_A2"])
    curve = dose_curve([r["dose_e_per_A2"] for r in rows], [r["area_px"] for r in rows],
                       reference_fraction=reference_fraction, tolerance=tolerance, smooth=smooth)
    run = DoseRun(curve, rows, series.sampling)
    keys = list(rows[0])
    with atomic_path(out / "areas.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows({k: ("" if r[k] is None else r[k]) for k in keys} for r in rows)
    run.files["csv"] = out / "areas.csv"
    run.files["json"] = write_json(out / "dose_curve.json", {**run.summary(), "frames": rows})
    reference = {"002: 50 % at 20–30 e/Å²": 25.0, "002: converged at 200 e/Å²": 200.0}
    run.files["png"] = plot_dose_curve(out / "dose_curve.png", curve, area_unit="px",
                                       title=title, reference=reference)
    return run
