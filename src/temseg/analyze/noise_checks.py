"""Plausibility checks of a detector noise fit (:mod:`temseg.analyze.noise`).

A vacuum region that holds specimen, a gain not given or doses in the wrong unit
all give a fit that converges; these checks tell. What ``c1``, ``c2`` (``C =
c2/c1``), ``c0`` and ``c3`` mean is in :mod:`temseg.analyze.noise`'s docstring:
``c1² − c2² = G·mean`` (counts²) is the shot-noise variance of a detector with
``G`` counts per electron.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from temseg.analyze.noise import FrameFit

__all__ = ["BOUNDS", "CONSISTENCY_FACTOR", "GAIN_FACTOR", "GAIN_FACTOR_PIXELS", "READOUT_DOSE_SPAN",
           "READOUT_R2_MIN", "SMALL_REGION_PX", "VARIANCE_EXPONENT_MAX", "gain_limits",
           "noise_consistency", "readout_check"]

#: the optimiser's bounds on (c0 [q/q_Nyquist], c1 [counts], C, c3) in :func:`fit_spectrum`
BOUNDS = ((1e-3, 0.0, 0.0, 0.3), (3.0, np.inf, 1.0, 20.0))
#: factor by which gain or doses may disagree with the noise before a warning; regions
#: under SMALL_REGION_PX a side pin c1 (the q → 0 noise) loosely: twice the factor there
CONSISTENCY_FACTOR = 2.0
SMALL_REGION_PX = 64
#: how far ``noise_gain`` may read above ``counts_per_electron`` where the shot noise is measured
#: over at least GAIN_FACTOR_PIXELS pixels (region × frames); over fewer, the limit widens as the
#: estimate's scatter does (∝ 1/√pixels) up to CONSISTENCY_FACTOR (:func:`gain_limits`).
#: Measured: seeded vacuum (Poisson electrons at 50–1600 e/Å², 0.3 Å/px, a Gaussian MTF of
#: σ = 0.5–2 px or eq. A.1's, Gaussian or Poisson readout, C ≈ 0.1–0.5), 6 frames of 64² px:
#: noise_gain / true gain 0.71–1.28 over 240 fits (Gaussian MTFs read low: 0.86 on average at
#: σ = 0.8 px, 0.75 at 2 px; 1.47 once in 20 at 100 e/Å², C ≈ 0.45); 4 frames of 64² or one of
#: 128²: 0.62–1.44; one of 64²: 0.59–1.26; one of 32²: 0.47–1.49. So a gain of 2 left out
#: reads ≥ 1.41 on 6 × 64² px. The lower limit stays 1/CONSISTENCY_FACTOR: blurred detectors
#: read down to 0.58.
GAIN_FACTOR = 1.4
GAIN_FACTOR_PIXELS = 6 * 64 * 64
#: largest exponent k of shot-noise variance ∝ mean counts^k taken for vacuum (1 ideally)
VARIANCE_EXPONENT_MAX = 1.3
#: a readout fit (eq. 2) of lower R² is warned of: its N0 says little
READOUT_R2_MIN = 0.5
#: frames whose doses span less than this factor (max/min) are one dose: there the R² of eq. 2
#: across them is noise over noise (0.02 on a constant-dose stack whose N0 came out right)
READOUT_DOSE_SPAN = 1.1


def readout_check(N0: float, N0_r2: float, dose_per_pixel: Sequence[float]
                  ) -> tuple[bool, str | None]:
    """Whether the readout fit (eq. 2) was at one dose, and a line if it is poor.

    ``dose_per_pixel`` (e/px) of the frames fitted; they are one dose when they span
    less than :data:`READOUT_DOSE_SPAN` (max/min). Across doses an R² under
    :data:`READOUT_R2_MIN` gives the line; at one dose the R² means nothing and
    no line is given.

    Examples
    --------
    >>> readout_check(2.3, 0.02, [45.0, 44.8, 45.1])
    (True, None)
    >>> readout_check(2.3, 0.02, [4.5, 45.0])[1].split(";")[0]
    'the readout fit (eq. 2) is poor: R² = 0.02, N0 = 2.3 e/px'
    """
    one_dose = max(dose_per_pixel) < READOUT_DOSE_SPAN * min(dose_per_pixel)
    if one_dose or not (math.isfinite(N0_r2) and N0_r2 < READOUT_R2_MIN):
        return one_dose, None
    return one_dose, (f"the readout fit (eq. 2) is poor: R² = {N0_r2:.2f}, N0 = {N0:.3g} e/px; "
                      "the frames' C does not fall with dose as readout noise makes it, so N0 "
                      "(and the simulated readout noise) is unreliable: more frames over a "
                      "wider dose range, or check the doses")


def _at_bound(params: dict[str, float], q_low: float, *, rel: float = 0.01) -> str:
    """Which of ``c0``, ``c3``, ``C`` sits within ``rel`` of a bound in :data:`BOUNDS`, as text.

    ``c0`` below half of ``q_low`` (the lowest frequency fitted, q/q_Nyquist)
    counts as well: the MTF has fallen below 1/(1 + 2^c3) at the first ring,
    so no measured ring pins its plateau (c1) or half-point. ``C = 0`` (no
    readout floor) is a possible detector and is not flagged; at ``C = 1`` (no
    shot noise: too few counts) ``c0`` and ``c3`` mean nothing and only ``C`` is
    named. ``""`` if none.
    """
    (c0_lo, _, _, c3_lo), (c0_hi, _, c_hi, c3_hi) = BOUNDS
    c0, c3, C = params["c0"], params["c3"], params["C"]
    if C >= c_hi * (1 - rel):
        return f"C = {C:.3g} at its bound {c_hi:g} (readout noise only)"
    found = []
    if c0 <= c0_lo * (1 + rel) or c0 >= c0_hi * (1 - rel):
        found.append(f"c0 = {c0:.3g} q/q_Nyquist at a bound ({c0_lo:g} or {c0_hi:g})")
    elif c0 < q_low / 2:
        found.append(f"c0 = {c0:.3g} q/q_Nyquist below half the lowest frequency fitted "
                     f"({q_low:.3g})")
    if c3 <= c3_lo * (1 + rel) or c3 >= c3_hi * (1 - rel):
        found.append(f"c3 = {c3:.3g} at a bound ({c3_lo:g} or {c3_hi:g})")
    return ", ".join(found)


def _bound_of(frame: FrameFit) -> str:
    return next((r[len("bound: "):] for r in frame.reasons if r.startswith("bound: ")), "")


def _specimen_like(frame: FrameFit) -> bool:
    """``c0``/``c3`` at a bound in a fair fit (R² ≥ 0.5, no peaks): low-q power the MTF cannot
    hold. Noise-dominated frames that hit a bound fit far worse (R² ≲ 0.3)."""
    bound = _bound_of(frame)
    return (bool(bound) and not bound.startswith("C =") and frame.r2 >= 0.5
            and "peaks" not in frame.reasons)


def gain_limits(n_pixels: int | None, factor: float = CONSISTENCY_FACTOR) -> tuple[float, float]:
    """The band of ``noise_gain / counts_per_electron`` taken as agreeing, for a shot-noise
    estimate over ``n_pixels`` pixels (region × frames; None: unknown).

    The upper limit is :data:`GAIN_FACTOR` from :data:`GAIN_FACTOR_PIXELS` pixels on,
    ``1 + (GAIN_FACTOR − 1)·√(GAIN_FACTOR_PIXELS / n_pixels)`` below (the estimate scatters
    ∝ 1/√pixels), at most ``factor``; the lower limit is ``1/factor``.

    Examples
    --------
    >>> gain_limits(6 * 64 * 64)
    (0.5, 1.4)
    >>> gain_limits(64 * 64)
    (0.5, 1.98)
    >>> gain_limits(None)
    (0.5, 2.0)
    """
    if not n_pixels:
        return 1 / factor, factor
    scale = math.sqrt(max(GAIN_FACTOR_PIXELS / n_pixels, 1.0))
    return 1 / factor, round(min(factor, 1 + (GAIN_FACTOR - 1) * scale), 2)


def noise_consistency(frames: Sequence[FrameFit], *, counts_per_electron: float = 1.0,
                      doses_given: bool = False, region_px: int | None = None,
                      region_pixels: int | None = None) -> dict:
    """The shot noise of the fits against the gain and doses given; numbers and a message.

    In vacuum ``c1² − c2²`` (counts²) is the shot-noise variance ``G·mean`` of a
    detector with ``G`` counts per electron (module docstring), so
    ``noise_gain = Σ(c1² − c2²) / Σ mean`` (counts/e), over the accepted frames
    where shot noise shows (``C ≤ 0.9``, mean > 0), measures ``G`` (the noise
    gain: a scintillator's spread of counts per electron adds to it). Checked:

    * ``gain_ratio = noise_gain / counts_per_electron`` (1 when the gain is right);
    * ``counts_ratio = Σ mean / Σ(dose × sampling² × counts_per_electron)`` over
      all frames fitted: mean counts over the counts the doses (e/Å²), pixel size
      and gain imply (1 by construction when the doses came from the counts);
    * ``variance_exponent``: ``k`` of ``c1² − c2² ∝ mean^k`` (least squares in
      logs; at least 3 frames spanning 4× in mean): 1 for shot noise, towards 2
      where specimen contrast (its variance ∝ counts²) adds to it.

    ``counts_ratio`` outside ``[1/factor, factor]`` (``factor`` is
    :data:`CONSISTENCY_FACTOR`, doubled when ``region_px``, the region's shorter side
    in pixels, is under :data:`SMALL_REGION_PX`: there the few low-``q`` rings left c1
    up to 3× off in seeded vacuum), ``gain_ratio`` outside :func:`gain_limits` for the
    pixels behind it (``region_pixels`` × frames: 1.4× above from 6 frames of 64² px)
    or an exponent above :data:`VARIANCE_EXPONENT_MAX` gives ``message``: one line
    naming the likely cause (None when all agree, or when the doses given agree with
    the noise gain, so a wrong ``counts_per_electron`` changes nothing in the fit).
    Where any frame shows structure (spectral peaks, or a fair fit at an optimiser
    bound) the message advises no gain: the region likely holds specimen and the
    gain and N0 figures are unreliable (``specimen``).

    Returns
    -------
    dict
        ``noise_gain``, ``counts_per_electron``, ``gain_ratio``, ``counts_ratio``,
        ``variance_exponent`` (None where not measurable), ``n_frames`` (frames
        behind ``noise_gain``), ``doses_given``, ``factor``, ``gain_limits``,
        ``specimen`` (the message blames specimen in the region), ``dose_unit_error``
        (doses 100× above the counts at the given gain, which agrees with the shot
        noise: e/nm² typed for e/Å²), ``message``.
    """
    F, G = CONSISTENCY_FACTOR, float(counts_per_electron)
    if region_px is not None and region_px < SMALL_REGION_PX:
        F *= 2
    shot = [f for f in frames if f.accepted and f.C <= 0.9 and f.mean_counts > 0
            and f.c1 > f.c2]
    var = np.array([f.c1**2 - f.c2**2 for f in shot])
    mean = np.array([f.mean_counts for f in shot])
    noise_gain = float(var.sum() / mean.sum()) if shot else None
    gain_ratio = noise_gain / G if noise_gain is not None else None
    counted = [f for f in frames if f.mean_counts > 0]
    counts_ratio = (sum(f.mean_counts for f in counted)
                    / (G * sum(f.dose_per_pixel for f in counted))) if counted else None
    k = None
    if len(shot) >= 3 and mean.max() >= 4 * mean.min():
        k = float(np.polyfit(np.log(mean), np.log(var), 1)[0])
    low, high = gain_limits(region_pixels * len(shot) if region_pixels else None, F)

    def off(ratio):
        return ratio is not None and not 1 / F <= ratio <= F

    def about(x):  # two significant figures, never in e-notation: 9.9, 100, 1200
        return f"{float(f'{x:.2g}'):g}"

    def times(ratio):
        return f"{about(ratio)}× too high" if ratio > 1 else f"{about(1 / ratio)}× too low"

    gain_off = gain_ratio is not None and not low <= gain_ratio <= high
    message, specimen, unit_error = None, False, False
    peaks = sum("peaks" in f.reasons for f in frames)
    bound = sum(map(_specimen_like, frames))
    n_rejected = sum(not f.accepted for f in frames)
    if k is not None and k > VARIANCE_EXPONENT_MAX:
        specimen = True
        message = (f"vacuum: the noise variance grows as mean counts^{k:.2f}, not ∝ counts as "
                   "shot noise does: the region likely holds specimen (a thin film or an "
                   "object) — choose a clean vacuum region")
    elif (peaks or bound) and (gain_off or doses_given and off(counts_ratio)):
        specimen = True  # the structure inflates the shot noise: no gain to advise
        shows = ", ".join([f"{peaks} with spectral peaks"] * bool(peaks)
                          + [f"{bound} fit at an optimiser bound"] * bool(bound))
        implied = (f"the shot noise of the rest implies {about(noise_gain)} counts per "
                   f"electron, not counts_per_electron = {G:g}" if gain_off else
                   f"the mean counts are {counts_ratio:.3g}× dose × sampling² × {G:g}")
        message = (f"vacuum: {peaks + bound} of {len(frames)} frames show structure ({shows}) "
                   f"and {implied}: the region likely holds specimen, so the gain and N0 "
                   "figures are unreliable — choose a clean vacuum region")
    elif not doses_given and gain_off:
        unset = " (not given?)" if G == 1 else ""
        message = (f"gain: the shot noise (variance over mean counts) implies about "
                   f"{about(noise_gain)} counts per electron, not counts_per_electron = {G:g}"
                   f"{unset}: doses and N0 are {times(gain_ratio)}"
                   + (" (or the counts carry an offset)" if gain_ratio < 1 else "")
                   + f"; give counts_per_electron ≈ {about(noise_gain)} (--counts-per-electron)"
                   + (f", or choose a clean vacuum region ({n_rejected} of {len(frames)} frames "
                      "rejected: specimen?)" if 2 * n_rejected > len(frames) else ""))
    elif doses_given and off(counts_ratio) and not gain_off:
        unit_error = 100 / F <= 1 / counts_ratio <= 100 * F
        likely = (": they look like e/nm², not e/Å² (divide by 100), or the pixel size is "
                  "10× off" if unit_error else ": check the doses (e/Å²) and the pixel size")
        noise = (f"the shot noise agrees with counts_per_electron = {G:g}"
                 if gain_ratio is not None else
                 "no frame showed enough shot noise to check counts_per_electron")
        message = (f"doses: the mean counts are {counts_ratio:.3g}× dose × sampling² × "
                   f"counts_per_electron ({noise}){likely}; N0 is {times(1 / counts_ratio)}")
    elif doses_given and gain_off and not (off(counts_ratio)
                                           and 1 / F <= counts_ratio / gain_ratio <= F):
        message = (f"doses: the shot noise implies about {about(noise_gain)} counts per electron "
                   f"and the mean counts are {counts_ratio:.3g}× dose × sampling² × "
                   f"{G:g}: check the doses (e/Å²), pixel size and counts_per_electron")
    return {"noise_gain": noise_gain, "counts_per_electron": G, "gain_ratio": gain_ratio,
            "counts_ratio": counts_ratio, "variance_exponent": k, "n_frames": len(shot),
            "doses_given": bool(doses_given), "factor": F, "gain_limits": [low, high],
            "specimen": specimen, "dose_unit_error": bool(unit_error), "message": message}
