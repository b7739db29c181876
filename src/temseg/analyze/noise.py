"""The detector noise model fitted from a vacuum region (002 §3.2, eq. A.1 and eq. 2).

Per frame: the azimuthally averaged power spectrum of the vacuum region, its
square root (the noise amplitude spectrum of the noise method, ∝ MTF for shot
noise) fitted with eq. A.1 (``c0..c3``) and its R², the normalised MTF with
``C = c2/c1``; then ``N0`` from ``C`` against the dose per pixel with eq. 2,
``C² = N0/(N0 + N_D)``. The result is a :class:`~temseg.simulate.detector.DetectorConfig`
that ``simulate`` takes as its detector model.

Two forms of eq. A.1 (``form=``):

``"quadrature"`` (default)
    ``S(q̃) = sqrt((c1² − c2²)·L(q̃)² + c2²)`` with ``L = 1/(1 + (q̃/c0)^c3)``:
    shot noise spread by the MTF and white readout noise add as variances, as
    they do in :func:`~temseg.simulate.detector.apply_detector`. Same
    parameters and limits as A.1 (``c1`` at ``q̃ → 0``, ``c2`` at high ``q̃``).
``"linear"``
    002 eq. A.1 literally, ``S = (c1 − c2)·L + c2``. Where readout and shot
    noise are comparable (``C`` ≈ 0.2–0.8) it is only an approximation and
    its ``c0`` comes out low (the dose dependence of ``c0`` seen in 002 fig. 5);
    the ``c0``/``c3`` ranges are then taken from frames with ``C ≤ shape_c_max``.

What the parameters mean, for a detector giving ``G`` counts per electron (the
PSD is in per-pixel variance units, counts²): ``c1² = G²·(N_D + N0)`` is the
noise power at ``q̃ → 0`` (shot noise, whose MTF is 1 there, plus readout),
``c2² = G²·N0`` the white readout floor, so ``c1² − c2² = G²·N_D = G·mean``
(counts²) is the shot-noise variance: Poisson electrons, ``G`` counts each.
``c0`` (q/q_Nyquist) and ``c3`` shape the MTF. Two checks follow the fit:

* A frame whose ``c0``, ``c3`` or ``C`` sits at a bound of the optimiser (``c0``
  also below half the lowest frequency fitted, where nothing pins it) is
  rejected as a low-R² frame is (``FrameFit.reasons``): specimen in the region
  puts power at low ``q`` that the MTF cannot hold.
* :func:`noise_consistency`: ``(c1² − c2²)/mean`` against ``counts_per_electron``
  (the gain), the mean counts against ``dose × sampling² × counts_per_electron``
  (the doses), and how the shot-noise variance grows with the counts
  (∝ counts¹ in vacuum, towards counts² with specimen contrast). A gain
  that disagrees by more than 1.4× (from 6 frames of 64² px; more over fewer
  pixels), doses by more than 2×, or an exponent above 1.3 is warned; doses 100×
  above the counts (e/nm² typed for e/Å²) are an error unless forced.
Frames of one dose (spanning under 10 %) give ``N0`` from their mean ``C``; the
R² of eq. 2 across them says nothing and is not warned (``readout_one_dose``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from temseg.analyze.noise_checks import (BOUNDS, _at_bound, _bound_of, _specimen_like,
                                         noise_consistency, readout_check)
from temseg.analyze.psd import radial_power_spectrum
from temseg.errors import ConfigError, InputError
from temseg.simulate.detector import DetectorConfig

__all__ = ["FrameFit", "NoiseFit", "parse_roi", "fit_spectrum", "fit_noise", "fit_readout",
           "noise_consistency"]  # (its figure and files: temseg.analyze.noise_plot)

Form = Literal["quadrature", "linear"]

def parse_roi(text: str) -> tuple[slice, slice]:
    """``"Y0:Y1,X0:X1"`` (pixels, end exclusive) → ``(slice(Y0, Y1), slice(X0, X1))``."""
    try:
        parts = [p.split(":") for p in str(text).split(",")]
        if len(parts) != 2 or any(len(p) != 2 for p in parts):
            raise ValueError
        (y0, y1), (x0, x1) = [[int(v) for v in p] for p in parts]
    except ValueError:
        raise ConfigError(f"vacuum: {text!r} is not a region Y0:Y1,X0:X1 in pixels") from None
    if y0 < 0 or x0 < 0 or y1 <= y0 or x1 <= x0:
        raise ConfigError(f"vacuum: {text!r} is empty or reversed")
    return slice(y0, y1), slice(x0, x1)


def as_roi(roi) -> tuple[slice, slice]:
    """A region as ``(rows, cols)`` slices from ``"Y0:Y1,X0:X1"``, ``(y0, y1, x0, x1)`` or two
    slices (:func:`parse_roi` checks the text)."""
    if isinstance(roi, str):
        return parse_roi(roi)
    if len(roi) == 2 and all(isinstance(s, slice) for s in roi):
        return tuple(roi)  # type: ignore[return-value]
    if len(roi) == 4:
        return parse_roi(f"{roi[0]}:{roi[1]},{roi[2]}:{roi[3]}")
    raise ConfigError(f"vacuum: {roi!r} is not (y0, y1, x0, x1) or two slices")


def check_roi_inside(roi, shape: tuple[int, ...]) -> None:
    """Refuse a vacuum region (:func:`as_roi`'s forms) that reaches beyond a frame of
    ``shape`` (H, W)."""
    ys, xs = as_roi(roi)
    if ys.stop > shape[-2] or xs.stop > shape[-1]:
        raise InputError(f"vacuum: region {ys.start}:{ys.stop},{xs.start}:{xs.stop} lies "
                         f"outside the {shape[-2]}×{shape[-1]} frame")


def spectrum_model(form: Form):
    """The noise-amplitude model of a vacuum spectrum against q/q_Nyquist, ``f(q, c0, c1, C,
    c3)``: ``"linear"`` (002 eq. A.1 as written) or ``"quadrature"`` (readout added in power)."""

    def linear(q, c0, c1, C, c3):
        return c1 * ((1.0 - C) / (1.0 + (q / c0) ** c3) + C)

    def quadrature(q, c0, c1, C, c3):
        lor = 1.0 / (1.0 + (q / c0) ** c3)
        return c1 * np.sqrt((1.0 - C**2) * lor**2 + C**2)

    if form == "linear":
        return linear
    if form == "quadrature":
        return quadrature
    raise ConfigError(f"form: {form!r} is not 'quadrature' or 'linear'")


def fit_spectrum(q_norm: np.ndarray, amplitude: np.ndarray, *, weights: np.ndarray | None = None,
                 form: Form = "quadrature") -> tuple[dict[str, float], float]:
    """Fit eq. A.1 to a noise amplitude spectrum; return ``({c0, c1, c2, c3, C}, R²)``.

    Parameters
    ----------
    q_norm : (K,) ndarray
        Normalised frequency q/q_Nyquist of each ring.
    amplitude : (K,) ndarray
        ``sqrt(PSD)`` of each ring, in counts.
    weights : (K,) ndarray, optional
        Relative weights (e.g. pixels per ring); R² is weighted the same way.
    form : {"quadrature", "linear"}
        See the module docstring.
    """
    model = spectrum_model(form)
    q = np.asarray(q_norm, dtype=np.float64)
    y = np.asarray(amplitude, dtype=np.float64)
    wts = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
    sigma = 1.0 / np.sqrt(wts)
    head = max(float(np.mean(y[: max(2, len(y) // 20)])), 1e-12)
    tail = float(np.mean(y[-max(2, len(y) // 10):]))
    c_start = min(max(tail / head, 0.01), 0.95)
    lower, upper = list(BOUNDS[0]), list(BOUNDS[1])
    best, best_sse = None, np.inf
    for maxfev in (600, 6000):  # the long budget only if no short fit converged
        for c0_start in (0.15, 0.35, 0.7):  # c0 and c3 trade off on noisy spectra
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", OptimizeWarning)
                    warnings.simplefilter("ignore", RuntimeWarning)
                    popt, _ = curve_fit(model, q, y, p0=[c0_start, head, c_start, 2.5],
                                        sigma=sigma, bounds=(lower, upper), maxfev=maxfev)
            except (RuntimeError, ValueError):
                continue
            sse = float(np.sum(wts * (model(q, *popt) - y) ** 2))
            if sse < best_sse:
                best, best_sse = popt, sse
        if best is not None:
            break
    if best is None:
        raise InputError("spectrum: the fit of eq. A.1 did not converge")
    mean = np.sum(wts * y) / np.sum(wts)
    sst = float(np.sum(wts * (y - mean) ** 2))
    r2 = 1.0 - best_sse / sst if sst > 0 else 0.0
    c0, c1, C, c3 = (float(v) for v in best)
    return {"c0": c0, "c1": c1, "c2": C * c1, "c3": c3, "C": C}, float(r2)


@dataclass
class FrameFit:
    """Eq. A.1 fit of one frame's vacuum noise spectrum.

    ``dose`` in e/Å², ``dose_per_pixel`` (N_D) in e/px, ``c1``/``c2`` in counts
    (amplitude), ``c0`` in q/q_Nyquist, ``C = c2/c1``, ``mean_counts`` the mean
    of the region in counts; ``reasons`` why the frame is (or, forced, would
    be) rejected: ``"r2"``, ``"peaks"``, ``"bound: ..."``; ``q_norm``/``amplitude``
    hold the measured spectrum (not written to JSON).
    """

    index: int
    dose: float
    dose_per_pixel: float
    c0: float
    c1: float
    c2: float
    c3: float
    C: float
    r2: float
    peak_score: float = 0.0
    accepted: bool = True
    mean_counts: float = math.nan
    reasons: tuple[str, ...] = ()
    q_norm: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    amplitude: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def to_dict(self) -> dict:
        keys = ("index", "dose", "dose_per_pixel", "c0", "c1", "c2", "c3", "C", "r2", "peak_score",
                "accepted", "mean_counts")
        return {**{k: getattr(self, k) for k in keys}, "reasons": list(self.reasons)}


@dataclass
class NoiseFit:
    """Per-frame fits and the detector model derived from them.

    ``N0`` in e/px (eq. 2) with the R² of that fit (meaningless where
    ``readout_one_dose``: the frames' doses span under 10 %); ``c0``/``c3`` the
    medians of the frames used for the shape; ``detector`` the ranges for
    simulation (``c0``/``c3`` over those frames, ``N0 ± n0_spread``, the dose range
    seen); ``warnings`` the lines warned of while fitting (the caller may add its own).
    """

    frames: list[FrameFit]
    N0: float
    N0_r2: float
    c0: float
    c3: float
    shape_frames: list[int]
    detector: DetectorConfig
    sampling: float
    vacuum_roi: tuple[slice, slice]
    form: str
    r2_min: float
    blank_frames: list[int] = field(default_factory=list)
    check: dict = field(default_factory=dict)  # noise_consistency(): gain and dose numbers
    readout_one_dose: bool = False  # frame doses span under 10 %: N0_r2 means nothing
    warnings: list[str] = field(default_factory=list)  # the lines warned of, kept in the JSON

    def rejection_summary(self) -> str | None:
        """One line on the rejected frames by reason (and those kept by ``force`` at a bound).

        None when there are none. A bound on ``c0`` or ``c3`` in an otherwise fair
        fit (R² ≥ 0.5, no peaks) is named as likely specimen.
        """
        rejected = [f for f in self.frames if not f.accepted]
        forced = [f for f in self.frames if f.accepted and _bound_of(f)]
        if not rejected and not forced:
            return None
        parts = []
        bound = [f for f in rejected if _bound_of(f)]
        if bound:
            likely = "; specimen in the region?" if any(map(_specimen_like, bound)) else ""
            parts.append(f"{len(bound)} fit at an optimiser bound (e.g. {_bound_of(bound[0])}"
                         f"{likely})")
        for key, what in (("r2", f"with R² < {self.r2_min}"), ("peaks", "with spectral peaks")):
            n = sum(key in f.reasons for f in rejected)
            parts += [f"{n} {what}"] * bool(n)
        text = (f"{len(rejected)} of {len(self.frames)} frames rejected: {', '.join(parts)}"
                if rejected else "")
        if forced:
            text += "; " * bool(text) + (f"{len(forced)} frame(s) kept by force fit at an "
                                         f"optimiser bound (e.g. {_bound_of(forced[0])})")
        return text

    def to_dict(self) -> dict:
        """Plain, strict-JSON-ready dict (the layout of ``detector.json``).

        Non-finite numbers (e.g. ``N0_r2`` from a single frame) become None.
        """
        (ys, xs) = self.vacuum_roi
        return finite_or_none({
            "kind": "detector",
            "format_version": 1,
            "detector": self.detector.to_dict(),
            "warnings": list(self.warnings),
            "fit": {
                "N0": self.N0, "N0_r2": self.N0_r2, "c0": self.c0, "c3": self.c3,
                "readout_one_dose": self.readout_one_dose, "readout": (
                    "eq. 2 fitted at one dose: N0 from the mean C, N0_r2 means nothing"
                    if self.readout_one_dose else "eq. 2 fitted across the frame doses"),
                "shape_frames": self.shape_frames, "form": self.form, "r2_min": self.r2_min,
                "sampling": self.sampling, "vacuum_roi": [ys.start, ys.stop, xs.start, xs.stop],
                "n_frames": len(self.frames),
                "n_accepted": sum(f.accepted for f in self.frames),
                "blank_frames": self.blank_frames, "noise_check": self.check,
                "units": {"dose": "e/Å²", "dose_per_pixel": "e/px", "N0": "e/px",
                          "c0": "q/q_Nyquist", "sampling": "Å/px", "mean_counts": "counts",
                          "noise_gain": "counts/e", "counts_per_electron": "counts/e"},
            },
            "frames": [f.to_dict() for f in self.frames],
        })


def finite_or_none(value):
    """``value`` with every NaN or infinite float (in dicts and lists) replaced by None."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return None
    return value


def fit_readout(C: np.ndarray, dose_per_pixel: np.ndarray) -> tuple[float, float]:
    """``N0`` (e/px) from eq. 2, ``C² = N0/(N0 + N_D)``, by least squares in ``C``; and R².

    One frame gives the closed form ``N0 = C²·N_D/(1 − C²)``.
    """
    c = np.asarray(C, dtype=np.float64)
    nd = np.asarray(dose_per_pixel, dtype=np.float64)
    ok = (c > 0) & (c < 0.999) & (nd > 0)
    if not ok.any():
        raise InputError("vacuum: no frame has a usable noise floor C in (0, 1) to fit N0")
    c, nd = c[ok], nd[ok]
    direct = c**2 * nd / (1.0 - c**2)
    if len(c) == 1:
        return float(direct[0]), float("nan")

    def model(x, log_n0):  # sqrt(N0/(N0 + x)), finite for any trial log N0
        return 1.0 / np.sqrt(1.0 + x * np.exp(-log_n0))

    start = float(np.log(np.median(direct)))
    with np.errstate(over="ignore"):  # exp(log N0) of trial steps far off; C → 1 there
        popt, _ = curve_fit(model, nd, c, p0=[start], maxfev=2000)
    resid = c - model(nd, *popt)
    sst = float(np.sum((c - c.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / sst if sst > 0 else float("nan")
    return float(np.exp(popt[0])), r2


def fit_noise(
    frames: np.ndarray | Iterable[np.ndarray],
    *,
    vacuum_roi: str | tuple,
    sampling: float,
    doses: Sequence[float] | None = None,
    counts_per_electron: float = 1.0,
    form: Form = "quadrature",
    r2_min: float = 0.9,
    peak_max: float = 20.0,
    min_size: int = 32,
    shape_c_max: float = 0.5,
    n0_spread: float = 0.5,
    window: str | None = None,
    q_max: float = math.sqrt(2.0),
    force: bool = False,
    callback: Callable[[int], None] | None = None,
) -> NoiseFit:
    """Fit the detector noise model (eq. A.1 per frame, eq. 2 across frames) from vacuum.

    Parameters
    ----------
    frames : (F, H, W) or (H, W) ndarray, or iterable of (H, W) arrays
        Frames in counts; an iterable (e.g. ``Micrograph.frames()``) is read lazily.
    vacuum_roi : str or (y0, y1, x0, x1) or (slice, slice)
        The vacuum region in pixels, ``"Y0:Y1,X0:X1"`` (end exclusive).
    sampling : float
        Pixel size in Å/px, to convert between e/Å² and e/px.
    doses : sequence of float, optional
        Frame doses in e/Å², one per frame, or a single value for every frame (a
        movie at constant dose). By default from the mean counts of the region:
        ``dose = mean / counts_per_electron / sampling²``.
    counts_per_electron : float
        Detector gain in counts per electron, for the default doses (1 for
        counted or calibrated data) and checked against the shot noise
        (:func:`noise_consistency`).
    form : {"quadrature", "linear"}
        Form of eq. A.1 (module docstring).
    r2_min : float
        Frames whose fit has a lower R² are rejected (structure in the region,
        or too few counts); so are frames whose ``c0``, ``c3`` or ``C`` sits at a
        bound of the optimiser (specimen in the region, module docstring). If all
        are, the region is refused unless ``force``.
    peak_max : float
        Frames with a spectral peak this far above noise statistics (ring max
        over ring mean minus ln of the ring size, see
        :func:`~temseg.analyze.psd.radial_power_spectrum`) are rejected: lattice
        fringes in the region. Pure noise stays below ~12.
    min_size : int
        Smallest side of the region in pixels.
    shape_c_max : float
        Frames with ``C`` above this (readout-dominated) do not set the ``c0``/``c3``
        ranges; if none qualifies, the lowest-``C`` third of the accepted frames do.
    n0_spread : float
        Relative half-width of the ``N0`` range written (002: ±50 %).
    window : {None, "hann"}
        Apodisation of the region before the FFT. Off by default: the plane is
        subtracted anyway, and a window lowers the number of independent
        Fourier samples (per-frame fits scatter about twice as much).
    q_max : float
        Largest q/q_Nyquist fitted; √2 keeps the corners, where the readout
        floor shows best.
    force : bool
        Keep frames whatever their R², spectral peaks and bounds, and return the
        fit where the doses look 100× off (warned, not raised). A frame that is
        constant in the region (a blank frame: no noise) is left out even so
        (listed in ``NoiseFit.blank_frames``); all of them blank is an error.
    callback : callable(int), optional
        Called with the frame index after each frame (progress bars).

    Returns
    -------
    NoiseFit
        ``check`` holds :func:`noise_consistency`'s numbers, ``warnings`` the lines
        warned of.

    Raises
    ------
    InputError
        Unless ``force``: the doses given are 100× above the counts at a gain
        the shot noise agrees with (e/nm² typed for e/Å², or the pixel size 10×
        off), which would make ``N0`` 100× too high.

    Warns
    -----
    UserWarning
        One line when gain, doses and shot noise disagree (the gain by more than
        1.4× from 6 frames of 64² px, :func:`~temseg.analyze.noise_checks.gain_limits`;
        the doses by more than 2×), the noise grows faster with the counts than
        shot noise does, or the readout fit across doses spanning 10 % or more is poor.
    """
    if not (math.isfinite(sampling) and sampling > 0):
        raise ConfigError(f"sampling: must be > 0 Å/px, got {sampling}")
    if not counts_per_electron > 0:
        raise ConfigError(f"counts_per_electron: must be > 0, got {counts_per_electron}")
    if not 0 <= r2_min <= 1:
        raise ConfigError(f"r2_min: must lie in [0, 1], got {r2_min}")
    spectrum_model(form)
    ys, xs = as_roi(vacuum_roi)
    if min(ys.stop - ys.start, xs.stop - xs.start) < min_size:
        raise InputError(f"vacuum: region {ys.stop - ys.start}×{xs.stop - xs.start} px is too "
                         f"small to fit a noise spectrum (at least {min_size}×{min_size})")
    if isinstance(frames, np.ndarray) and frames.ndim == 2:
        frames = [frames]
    if doses is not None:
        doses = [float(d) for d in doses]
        if any(not (math.isfinite(d) and d > 0) for d in doses):
            raise ConfigError("doses: every frame dose must be > 0 e/Å²")
        if len(doses) > 1 and hasattr(frames, "__len__") and len(doses) != len(frames):
            raise ConfigError(f"doses: {len(doses)} doses for {len(frames)} frames "
                              "(give one per frame, or one for every frame)")

    fits: list[FrameFit] = []
    blank: list[int] = []
    for index, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.ndim != 2:
            raise InputError(f"frames: frame {index} has shape {frame.shape}, expected (H, W)")
        check_roi_inside((ys, xs), frame.shape)
        region = frame[ys, xs].astype(np.float64)
        if region.min() == region.max():  # beam blanked, a dropped frame: no noise to fit
            blank.append(index)
            continue
        mean = float(region.mean())
        if doses is not None:
            if index >= len(doses) > 1:
                raise ConfigError(f"doses: {len(doses)} doses for more frames than that "
                                  "(give one per frame, or one for every frame)")
            dose = doses[min(index, len(doses) - 1)]
        else:
            if not mean > 0:
                raise InputError(f"vacuum: frame {index} has mean {mean:.3g} counts; doses cannot "
                                 "be taken from the counts, give them")
            dose = mean / counts_per_electron / sampling**2
        q, psd, n, peak = radial_power_spectrum(region, window=window, q_max=q_max)
        amplitude = np.sqrt(psd)
        params, r2 = fit_spectrum(q, amplitude, weights=n, form=form)
        score = float(np.nanmax(peak - np.log(n))) if np.isfinite(peak).any() else 0.0
        bound = _at_bound(params, float(q[0]))
        reasons = (("r2",) * (r2 < r2_min) + ("peaks",) * (score > peak_max)
                   + (f"bound: {bound}",) * bool(bound))
        fits.append(FrameFit(index=index, dose=dose, dose_per_pixel=dose * sampling**2,
                             r2=r2, peak_score=score, accepted=force or not reasons,
                             mean_counts=mean, reasons=reasons, q_norm=q, amplitude=amplitude,
                             **params))
        if callback is not None:
            callback(index)
    if doses is not None and len(doses) not in (1, len(fits) + len(blank)):
        raise ConfigError(f"doses: {len(doses)} doses for {len(fits) + len(blank)} frames "
                          "(give one per frame, or one for every frame)")
    if not fits:
        raise InputError(f"vacuum: every frame is constant in the region ({len(blank)} blank "
                         "frame(s)): no noise to fit" if blank else "frames: no frames to fit")

    accepted = [f for f in fits if f.accepted]
    if not accepted:
        best = max(f.r2 for f in fits)
        bound = [f for f in fits if _specimen_like(f)]
        if bound:  # fitted well, yet the MTF cannot hold the power at low q: not detector noise
            raise InputError(
                f"vacuum: no frame left: {len(bound)} of {len(fits)} frames fit at a bound of "
                f"the optimiser (e.g. {_bound_of(bound[0])}; best R² = {best:.2f}, need "
                f"{r2_min}) — the region likely holds specimen or is not vacuum; choose a "
                "clean vacuum region or force the fit")
        if all(f.peak_score > peak_max for f in fits):
            raise InputError(
                f"vacuum: the region shows lattice peaks in its spectrum in all {len(fits)} "
                "frames (not vacuum) — choose a clean vacuum region or force the fit")
        raise InputError(
            f"vacuum: no frame's noise spectrum fits eq. A.1 well enough (best R² = {best:.2f}, "
            f"need {r2_min}) or is free of peaks; the region holds structure or too few counts "
            "— choose a clean vacuum region or force the fit")
    N0, N0_r2 = fit_readout(np.array([f.C for f in accepted]),
                            np.array([f.dose_per_pixel for f in accepted]))
    shape = [f for f in accepted if f.C <= shape_c_max]
    if not shape:
        shape = sorted(accepted, key=lambda f: f.C)[: max(1, len(accepted) // 3)]
    c0s = np.array([f.c0 for f in shape])
    c3s = np.array([f.c3 for f in shape])
    all_doses = [f.dose for f in fits]
    detector = DetectorConfig(
        c0=(float(c0s.min()), float(c0s.max())), c3=(float(c3s.min()), float(c3s.max())),
        N0=(N0 * (1.0 - n0_spread), N0 * (1.0 + n0_spread)),
        dose=(min(all_doses), max(all_doses)))
    check = noise_consistency(fits, counts_per_electron=counts_per_electron,
                              doses_given=doses is not None,
                              region_px=min(ys.stop - ys.start, xs.stop - xs.start),
                              region_pixels=(ys.stop - ys.start) * (xs.stop - xs.start))
    if check["dose_unit_error"] and not force:  # N0 100× off: refuse rather than warn
        raise InputError(f"{check['message']} — give the doses in e/Å², or force the fit")
    one_dose, readout = readout_check(N0, N0_r2, [f.dose_per_pixel for f in accepted])
    said = [line for line in (check["message"], readout) if line]
    for line in said:  # (kept in NoiseFit.warnings, for detector.json)
        warnings.warn(line, UserWarning, stacklevel=2)
    return NoiseFit(frames=fits, N0=N0, N0_r2=N0_r2, c0=float(np.median(c0s)),
                    c3=float(np.median(c3s)), shape_frames=[f.index for f in shape],
                    detector=detector, sampling=float(sampling), vacuum_roi=(ys, xs),
                    form=form, r2_min=r2_min, blank_frames=blank, check=check,
                    readout_one_dose=one_dose, warnings=said)
