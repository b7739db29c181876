"""Dose-curve runs: segment every frame of a dose series and summarise area against dose.

The series is either an image stack with one dose per frame (given as a dose
file or a list: a stack's own metadata doses are not read), or a simulated
dose series (a zarr dataset from ``temseg simulate`` with ``mode:
dose_series``: doses from ``parameters/dose``, pixel size and the true labels
come with it). Each frame is segmented with a :class:`temseg.infer.Segmenter`, the
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

from temseg.analyze.dose import check_distinct_doses, plain_dose, reference_frames
from temseg.errors import BlankImageError, ConfigError, InputError, format_frames
from temseg.io.files import is_zarr_dataset, write_csv, write_json

#: what Leth Larsen et al. (002) report for their MSD-net on simulated Au/CeO2 series, e/Å²
PAPER_002 = {"dose_half_e_per_A2": (20.0, 30.0), "dose_converged_e_per_A2": 200.0}
#: how plots and messages name the paper behind :data:`PAPER_002`
PAPER_002_NAME = "Leth Larsen et al."

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

    def repeated_doses(self) -> dict[float, list[int]]:
        """Doses (e/Å²) given to more than one frame, each with those frames (0-based).

        Legitimate (the curve sorts by dose and keeps every frame), but often a
        mistake in a dose file, so the CLI warns.
        """
        frames: dict[float, list[int]] = {}
        for i, dose in enumerate(self.doses.tolist()):
            frames.setdefault(dose, []).append(i)
        return {dose: ii for dose, ii in frames.items() if len(ii) > 1}

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as ``(H, W)`` float32.

        Raises
        ------
        InputError
            NaN/inf pixels, naming the source and the frame (0-based), as ``segment`` does.
        """
        frame = np.asarray(self.frames[i], dtype=np.float32)
        finite = np.isfinite(frame)
        if not finite.all():
            raise InputError(f"{self.source or 'series'}: frame {i} has "
                             f"{frame.size - int(np.count_nonzero(finite))} NaN/inf pixel(s) "
                             f"(dose {plain_dose(self.doses[i])} e/Å²)")
        return frame

    def label(self, i: int) -> np.ndarray | None:
        """Known mask of frame ``i`` (bool), or None."""
        return None if self.labels is None else np.asarray(self.labels[i]) > 0


def parse_doses(values: Sequence[str | float], *, name: str = "--dose") -> np.ndarray:
    """Per-frame doses (e/Å²) from a list as typed: numbers, or text holding one number or
    several separated by commas (``--dose 20 --dose 50`` and ``--dose 20,50`` alike).

    Raises
    ------
    InputError
        An entry that is not a number, naming ``name`` (the option).

    Examples
    --------
    >>> parse_doses(["20", "50, 100", 1e3]).tolist()
    [20.0, 50.0, 100.0, 1000.0]
    """
    doses: list[float] = []
    for value in values:
        if not isinstance(value, str):
            doses.append(float(value))
            continue
        for text in value.split(","):
            if not _is_number(text.strip()):
                raise InputError(f"{name}: {value!r} is not a dose; give numbers in e/Å², "
                                 f"one per {name} or separated by commas ({name} 20,50,100)")
            doses.append(float(text))
    return np.asarray(doses, dtype=np.float64)


def read_doses(source: str | Path | Sequence[str | float]) -> np.ndarray:
    """Per-frame doses (e/Å²) from a list or a text/CSV file, in frame order.

    A list is read by :func:`parse_doses` (text may hold comma-separated
    numbers). A file holds one number per line, or a CSV whose header names a ``dose``
    column (``dose``, or else the one column whose name contains "dose",
    e.g. ``dose_e_per_A2``; a column in e/nm², e.g. ``dose_e_per_nm2``, is
    converted, one per pixel or a rate refused: :func:`dose_unit_factor`); blank lines and
    lines starting with ``#`` are
    skipped. The doses may come in any order (the curve is taken against
    dose, not frame number); see :meth:`DoseSeries.repeated_doses` for doses
    given to more than one frame.

    Raises
    ------
    InputError
        Missing file, a CSV without one dose column, a line that is not one
        number, or no doses.
    """
    if not isinstance(source, (str, Path)):
        values = parse_doses(list(source), name="doses")
    else:
        path = Path(source)
        if path.is_dir():
            raise InputError(f"{path}: a folder, not a file of doses")
        if not path.is_file():
            raise InputError(f"{path}: no such dose file")
        try:
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines()]
        except UnicodeDecodeError:
            raise InputError(f"{path}: not a text file of doses (binary content); give one "
                             "dose per line, or a CSV with a 'dose' column") from None
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        if lines and not _is_number(lines[0].split(",")[0]):  # a header line
            values = _csv_doses(path, lines)
        else:
            values = []
            for number, line in enumerate(lines, 1):
                fields = [v.strip() for v in line.split(",")]
                if len(fields) != 1 or not _is_number(fields[0]):
                    raise InputError(f"{path}: not a list of doses (entry {number}: {line!r}; "
                                     "give one dose per line, or a CSV with a 'dose' column)")
                values.append(float(fields[0]))
            values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise InputError(f"{source}: no doses")
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_doses(path: Path, lines: list[str]) -> np.ndarray:
    """The dose column of a CSV with a header line."""
    rows = list(csv.reader(lines))
    header = [h.strip() for h in rows[0]]
    names = [h.lower() for h in header]
    candidates = [i for i, h in enumerate(names) if "dose" in h]
    if "dose" in names:
        key = names.index("dose")
    elif len(candidates) == 1:
        key = candidates[0]
    elif candidates:
        raise InputError(f"{path.name}: {len(candidates)} columns could hold the doses ("
                         f"{', '.join(header[i] for i in candidates)}); name one 'dose'")
    else:
        raise InputError(f"{path.name}: no 'dose' column (columns: {', '.join(header)})")
    factor = dose_unit_factor(header[key], path=path)
    values = []
    for number, row in enumerate(rows[1:], 1):
        value = row[key].strip() if key < len(row) else ""
        if not _is_number(value):
            raise InputError(f"{path}: not a list of doses (row {number}: {header[key]} = "
                             f"{value!r})")
        values.append(float(value))
    return np.asarray(values, dtype=np.float64) * factor


def dose_unit_factor(name: str, *, path: str | Path = "doses") -> float:
    """The factor that turns a dose column named ``name`` into e/Å².

    A name without a unit (``dose``) is taken as e/Å²; e/Å² (``dose_e_per_A2``,
    ``dose (e/Å²)``, ``e/A^2``) gives 1 and e/nm² (``dose_e_per_nm2``) 0.01. A dose per
    pixel or a dose rate cannot be turned into e/Å² from the name: :class:`InputError`.

    Examples
    --------
    >>> dose_unit_factor("dose"), dose_unit_factor("Dose (e/Å²)"), dose_unit_factor("e_per_nm2")
    (1.0, 1.0, 0.01)
    """
    import re

    key = (name.lower().replace(" ", "").replace("²", "2").replace("^", "").replace("**", "")
           .replace("å", "a").replace("angstrom", "a").replace("ang", "a"))
    per = r"(?:/|per_?)"
    if re.search(per + r"(?:s|sec|second)\b|rate|a2s|/\(", key):
        raise InputError(f"{path}: column '{name}' looks like a dose rate; give the dose of "
                         "each frame in e/Å² (rate × exposure)")
    if re.search(per + r"(?:px|pix|pixel)", key):
        raise InputError(f"{path}: column '{name}' is a dose per pixel; give the doses in "
                         "e/Å² (per pixel / sampling², sampling in Å/px)")
    if re.search(r"nm(?:2|-2|⁻2)", key):  # e/nm², e nm^-2, e·nm⁻²
        return 0.01
    if not re.search(r"(?:pm|um|µm|mm|cm)(?:2|-2|⁻2)", key) and (
            re.search(per + r"a2|a-2|a⁻2", key) or not re.search(per, key)):
        return 1.0
    raise InputError(f"{path}: the unit in column '{name}' is not one temseg knows; name "
                     "the column 'dose' (e/Å²) or 'dose_e_per_A2' / 'dose_e_per_nm2'")


def read_series(path: str | Path, *, doses=None, sampling: float | None = None) -> DoseSeries:
    """Open a dose series: a simulated zarr dose series, or a stack with per-frame doses.

    Parameters
    ----------
    path : path
        A zarr dataset (``images``, ``labels``, ``parameters/dose``, attr
        ``sampling``) or a stack file readable by :func:`temseg.io.read_image`.
    doses : path or sequence of float, optional
        One dose (e/Å²) per frame; required for stacks (doses in a stack's
        metadata are not read), overrides a zarr's ``parameters/dose``.
    sampling : float, optional
        Å/px overriding the file's.

    Raises
    ------
    InputError
        Not a stack, no doses, or a count mismatch.
    """
    path = Path(path)
    given = None if doses is None else read_doses(doses)
    if is_zarr_dataset(path):
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


#: fewest frames with an area that a dose curve is taken from
MIN_FRAMES = 6


@dataclass
class DoseRun:
    """Result of :func:`run_dose_curve`.

    Attributes
    ----------
    curve : temseg.analyze.dose.DoseCurve — areas in px, blank frames left out
    rows : list of dict — per frame, by dose: frame, dose_e_per_A2, area_px,
        area_nm2, blank, (true_area_px, f1,) reference (one of the reference
        frames); area and F1 None for a blank frame
    sampling : float or None
    blank_frames : list of int — frames (0-based) left out as blank (constant)
    files : dict of str to Path
    """

    curve: object
    rows: list[dict]
    sampling: float | None
    blank_frames: list[int] = field(default_factory=list)
    files: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-safe numbers: the curve's, nm² areas where known, and 002's next to them.

        ``n_frames`` counts the frames in the curve; ``blank_frames`` lists those left out;
        ``reference_frames`` the reference frames, both as frame numbers of the series
        (0-based).
        """
        out = self.curve.as_dict()
        out["area_unit"] = "px"
        out["blank_frames"] = list(self.blank_frames)
        out["reference_frames"] = self.reference_frames()
        if self.sampling:
            nm2 = (self.sampling / 10.0) ** 2
            out["full_area_nm2"] = out["full_area"] * nm2
            out["band_nm2"] = [b * nm2 for b in out["band"]]
        out["paper_002"] = {k: list(v) if isinstance(v, tuple) else v
                            for k, v in PAPER_002.items()}
        if self.rows and "f1" in self.rows[0]:
            out["true_area_px"] = self.rows[-1]["true_area_px"]
        return out

    def reference_frames(self) -> list[int]:
        """The reference frames as frame numbers of the series (0-based, ascending)."""
        used = [r["frame"] for r in self.rows if not r["blank"]]  # as given to the curve
        return sorted(used[i] for i in self.curve.reference_index)

    def describe_full_area(self) -> str:
        """The full area, ``"5326 px = 4.79 nm² (mean of the 3 highest-dose frames, ...)"``.

        nm² only where the pixel size is known.
        """
        curve = self.curve
        text = f"{curve.full_area:.0f} px"
        if self.sampling:
            text += f" = {curve.full_area * (self.sampling / 10.0) ** 2:.3g} nm²"
        lo, hi = curve.reference_dose_range
        return (f"{text} (mean of the {curve.n_reference} highest-dose frames, "
                f"{plain_dose(lo)}–{plain_dose(hi)} e/Å²)")


def _is_blank(frame: np.ndarray) -> bool:
    return frame.size == 0 or bool(frame.min() == frame.max())


def iter_areas(segmenter, series: DoseSeries, *, threshold: float | None = None,
               callback: Callback | None = None) -> Iterator[dict]:
    """Segment each frame of ``series``; yield one row per frame (area and, with labels, F1).

    A blank frame (constant: beam blanked, a dropped frame, or not one
    electron counted) shows nothing of the specimen, so it has no area:
    its row has ``blank`` True and ``area_px``, ``area_nm2`` and ``f1``
    None, and :func:`run_dose_curve` leaves it out of the curve. (An area of
    0 would read as "nothing segmented" and move the 50 % dose.)
    """
    from temseg.metrics import scores

    thr = segmenter.threshold if threshold is None else float(threshold)
    nm2 = None if not series.sampling else (series.sampling / 10.0) ** 2
    n = len(series)
    for i in range(n):
        frame = series.frame(i)
        mask = None
        if not _is_blank(frame):
            try:
                mask = segmenter.predict(frame, sampling=series.sampling) >= thr
            except BlankImageError:  # constant after the segmenter's preprocessing
                mask = None
        area = None if mask is None else int(np.count_nonzero(mask))
        row = {"frame": i, "dose_e_per_A2": float(series.doses[i]), "area_px": area,
               "area_nm2": None if nm2 is None or area is None else area * nm2,
               "blank": mask is None}
        truth = series.label(i)
        if truth is not None:
            row["true_area_px"] = int(np.count_nonzero(truth))
            row["f1"] = None if mask is None else scores(mask, truth)["f1"]
        if callback is not None:
            callback(i + 1, n)
        yield row


def check_smooth(smooth: int, n_frames: int, *, name: str = "smooth") -> None:
    """The running-median window must span 1 to ``n_frames`` frames (ConfigError naming it)."""
    if not 1 <= smooth <= n_frames:
        raise ConfigError(f"{name}: the running-median window must be 1 to {n_frames} frames "
                          f"(the frames in the curve), got {smooth}")


def check_series(series: DoseSeries, *, smooth: int, smooth_name: str = "smooth",
                 reference_fraction: float = 0.1) -> None:
    """Refuse, before any segmenting, a series that cannot give a curve or a window too long.

    Parameters
    ----------
    series : DoseSeries
    smooth : int
        Running-median window in frames.
    smooth_name : str
        How the error names ``smooth`` (the option as the user gave it).
    reference_fraction : float
        As :func:`temseg.analyze.dose.dose_curve` (for the reference frames' ties).

    Raises
    ------
    InputError
        Fewer than :data:`MIN_FRAMES` frames; fewer than 3 distinct doses
        (:func:`temseg.analyze.dose.check_distinct_doses`: one dose throughout is a
        movie, not a dose series); doses so tied that every frame joins the
        reference (:func:`temseg.analyze.dose.reference_frames`).
    ConfigError
        ``smooth`` outside 1 to the number of frames (the error names ``smooth_name``).
    """
    name = series.source or "series"
    if len(series) < MIN_FRAMES:
        raise InputError(f"{name}: a dose curve needs at least {MIN_FRAMES} frames, "
                         f"got {len(series)}")
    check_distinct_doses(series.doses, name=name)
    reference_frames(series.doses, reference_fraction, name=name)
    check_smooth(smooth, len(series), name=smooth_name)


#: factor by which the doses given and the counts may disagree before :func:`series_warnings`
#: says so (the gain is unknown: 1 count per electron is assumed)
COUNTS_FACTOR = 10.0


def _counts_like(frame: np.ndarray) -> bool:
    """Raw counts: an integer dtype, or floats that are all whole and not negative."""
    if np.issubdtype(frame.dtype, np.integer):
        return True
    return (np.issubdtype(frame.dtype, np.floating) and bool(np.all(frame >= 0))
            and bool(np.all(frame == np.round(frame))))


def series_warnings(series: DoseSeries) -> list[str]:
    """Lines to warn about before segmenting: frames that look like a mask, or doses that
    disagree with the counts. Never an error: reading every frame once.

    * Every frame holds only 0 and one other value (e.g. 0/255, as ``temseg
      segment`` writes a mask): a mask, not micrographs.
    * Where the pixel size is known and the frames are raw counts (an integer
      dtype, or whole non-negative floats), each frame's mean counts per pixel /
      pixel area is its dose in e/Å² at 1 count per electron: the ratio
      ``mean counts / (dose × sampling²)`` that ``fit-noise`` checks over its
      vacuum region (:func:`temseg.analyze.noise_checks.noise_consistency`'s
      ``counts_ratio``). When more than half of the frames (blank ones aside) are
      off by more than :data:`COUNTS_FACTOR` the same way, one line says so. The
      gain is not known here, so a detector with many counts per electron
      gives this line too; gain-normalised (fractional) counts are not checked.
    """
    name = series.source or "series"
    mask_values: set[float] = set()
    is_mask = len(series) > 0
    ratios = []
    n_frames = 0
    for i in range(len(series)):
        frame = np.asarray(series.frames[i])
        if frame.size == 0 or not np.all(np.isfinite(frame)):
            is_mask = False
            continue
        low, high = frame.min(), frame.max()
        if is_mask and (low != 0 or not np.all((frame == 0) | (frame == high))):
            is_mask = False
        if high > 0:
            mask_values.add(float(high))
        if low == high:  # blank: no dose to compare
            continue
        n_frames += 1
        if series.sampling and _counts_like(frame):
            ratios.append(float(frame.mean()) / (series.doses[i] * series.sampling**2))
    if is_mask and mask_values:
        values = ", ".join(f"{v:g}" for v in sorted(mask_values))
        return [f"{name}: every frame holds only 0 and {values}: this looks like a mask "
                "(as `temseg segment` writes), not micrographs"]
    ratios = np.asarray(ratios)
    for off, word in ((ratios * COUNTS_FACTOR < 1, "high"), (ratios > COUNTS_FACTOR, "low")):
        if 2 * np.count_nonzero(off) > n_frames:
            times = np.median(ratios[off])
            times = 1 / times if word == "high" else times
            about = plain_dose(float(f"{times:.2g}"))
            if word == "high":
                cause = ("e/nm² given as e/Å² (divide by 100)? or a gain below 1 count per "
                         "electron, or a wrong pixel size")
                what = f"the doses look {about}× the counts'"
            else:
                cause = (f"a gain of about {about} counts per electron? or doses in another "
                         "unit, or a wrong pixel size")
                what = f"the counts look {about}× the doses'"
            return [f"{name}: {what} (mean counts per pixel / pixel area, e/Å² at 1 count "
                    f"per electron) in {np.count_nonzero(off)} of {n_frames} frames — "
                    f"{cause}"]
    return []


def run_dose_curve(segmenter, series: DoseSeries, out: str | Path, *,
                   threshold: float | None = None, reference_fraction: float = 0.1,
                   tolerance: float = 0.1, smooth: int = 5, title: str | None = None,
                   callback: Callback | None = None) -> DoseRun:
    """Segment a dose series and write ``areas.csv``, ``dose_curve.json`` and ``dose_curve.png``.

    Blank (constant) frames are left out of the curve and listed in
    ``DoseRun.blank_frames`` and ``dose_curve.json``; ``areas.csv`` keeps
    them, with an empty area and ``blank`` True. Its ``reference`` column marks
    the reference frames (``reference_frames`` in ``dose_curve.json``); floats
    are written to 6 significant digits. Nothing is written, and ``out`` is not
    created, when the series cannot give a curve.

    Parameters
    ----------
    segmenter : temseg.infer.Segmenter
    series : DoseSeries
    out : path
        Output folder (created once the curve is known).
    threshold : float, optional
        Foreground probability threshold (default: the segmenter's).
    reference_fraction, tolerance, smooth
        As :func:`temseg.analyze.dose.dose_curve`.
    title : str, optional
        Title of ``dose_curve.png``.
    callback : callable(done, total), optional
        Progress over frames.

    Returns
    -------
    DoseRun

    Raises
    ------
    InputError
        Fewer than :data:`MIN_FRAMES` frames, or non-blank frames; fewer than 3
        distinct doses among them (:func:`check_series`); a frame with NaN/inf
        pixels (naming the series and the frame).
    ConfigError
        ``smooth`` outside 1 to the number of frames; ``reference_fraction`` or
        ``tolerance`` out of range (checked before any segmenting).
    """
    from temseg.analyze.dose import (check_tolerance, dose_curve, plot_dose_curve,
                                     reference_count)

    reference_count(len(series), reference_fraction)  # a bad fraction fails before segmenting
    check_series(series, smooth=smooth, reference_fraction=reference_fraction)
    check_tolerance(tolerance)
    rows = list(iter_areas(segmenter, series, threshold=threshold, callback=callback))
    blank = [r["frame"] for r in rows if r["blank"]]
    rows.sort(key=lambda r: r["dose_e_per_A2"])
    used = [r for r in rows if not r["blank"]]
    if len(used) < MIN_FRAMES:
        raise InputError(f"{series.source or 'series'}: a dose curve needs at least "
                         f"{MIN_FRAMES} frames that are not "
                         f"blank, got {len(used)} of {len(rows)} (blank, i.e. constant: frame "
                         f"{format_frames(blank)}; 0-based)")
    if smooth > len(used):
        raise ConfigError(f"smooth: the running-median window must be 1 to {len(used)} frames "
                          f"(the frames in the curve; {len(blank)} blank left out), got {smooth}")
    used_doses = [r["dose_e_per_A2"] for r in used]
    check_distinct_doses(used_doses, name=f"{series.source or 'series'} (blank frames aside)")
    reference_frames(used_doses, reference_fraction,
                     name=f"{series.source or 'series'} (blank frames aside)")
    curve = dose_curve([r["dose_e_per_A2"] for r in used], [r["area_px"] for r in used],
                       reference_fraction=reference_fraction, tolerance=tolerance, smooth=smooth)
    run = DoseRun(curve, rows, series.sampling, blank_frames=blank)
    reference = set(run.reference_frames())
    for r in rows:
        r["reference"] = r["frame"] in reference
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run.files["csv"] = write_csv(out / "areas.csv", rows, list(rows[0]))
    run.files["json"] = write_json(out / "dose_curve.json", {**run.summary(), "frames": rows})
    lo, hi = PAPER_002["dose_half_e_per_A2"]
    conv = PAPER_002["dose_converged_e_per_A2"]
    paper = {f"{PAPER_002_NAME}: 50 % at {plain_dose(lo)}–{plain_dose(hi)} e/Å²": (lo, hi),
             f"{PAPER_002_NAME}: converged at {plain_dose(conv)} e/Å²": conv}
    run.files["png"] = plot_dose_curve(out / "dose_curve.png", curve, area_unit="px",
                                       title=title, reference=paper,
                                       blank_doses=[r["dose_e_per_A2"] for r in rows
                                                    if r["blank"]],
                                       nm2_per_unit=(series.sampling / 10.0) ** 2
                                       if series.sampling else None,
                                       labelled=([r["dose_e_per_A2"] for r in rows],
                                                 [r["true_area_px"] for r in rows])
                                       if "true_area_px" in rows[0] else None)
    return run
