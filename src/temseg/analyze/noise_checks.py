"""Plausibility checks of a detector noise fit (:mod:`temseg.analyze.noise`).

A vacuum region that holds specimen, a gain not given or doses in the wrong unit
all give a fit that converges; these checks tell. What ``c1``, ``c2`` (``C =
c2/c1``), ``c0`` and ``c3`` mean is in :mod:`temseg.analyze.noise`'s docstring:
``c1² − c2² = G·mean`` (counts²) is the shot-noise variance of a detector with
``G`` counts per electron.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from temseg.analyze.noise import FrameFit

__all__ = ["BOUNDS", "CONSISTENCY_FACTOR", "SMALL_REGION_PX", "VARIANCE_EXPONENT_MAX",
           "noise_consistency"]

#: the optimiser's bounds on (c0 [q/q_Nyquist], c1 [counts], C, c3) in :func:`fit_spectrum`
BOUNDS = ((1e-3, 0.0, 0.0, 0.3), (3.0, np.inf, 1.0, 20.0))
#: factor by which gain or doses may disagree with the noise before a warning; regions
#: under SMALL_REGION_PX a side pin c1 (the q → 0 noise) loosely: twice the factor there
CONSISTENCY_FACTOR = 2.0
SMALL_REGION_PX = 64
#: largest exponent k of shot-noise variance ∝ mean counts^k taken for vacuum (1 ideally)
VARIANCE_EXPONENT_MAX = 1.3


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


def noise_consistency(frames: Sequence[FrameFit], *, counts_per_electron: float = 1.0,
                      doses_given: bool = False, region_px: int | None = None) -> dict:
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

    A ratio outside ``[1/factor, factor]`` (``factor`` is :data:`CONSISTENCY_FACTOR`,
    doubled when ``region_px``, the region's shorter side in pixels, is under
    :data:`SMALL_REGION_PX`: there the few low-``q`` rings left c1 up to 3× off
    in seeded vacuum) or an exponent above :data:`VARIANCE_EXPONENT_MAX` gives
    ``message``: one line naming the likely cause (None when all agree, or
    when the doses given agree with the noise gain, so a wrong
    ``counts_per_electron`` changes nothing in the fit).

    Returns
    -------
    dict
        ``noise_gain``, ``counts_per_electron``, ``gain_ratio``, ``counts_ratio``,
        ``variance_exponent`` (None where not measurable), ``n_frames`` (frames
        behind ``noise_gain``), ``doses_given``, ``factor``, ``message``.
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

    def off(ratio):
        return ratio is not None and not 1 / F <= ratio <= F

    def about(x):  # two significant figures, never in e-notation: 9.9, 100, 1200
        return f"{float(f'{x:.2g}'):g}"

    def times(ratio):
        return f"{about(ratio)}× too high" if ratio > 1 else f"{about(1 / ratio)}× too low"

    message = None
    n_bound = sum(map(_specimen_like, frames))
    n_rejected = sum(not f.accepted for f in frames)
    if k is not None and k > VARIANCE_EXPONENT_MAX:
        message = (f"vacuum: the noise variance grows as mean counts^{k:.2f}, not ∝ counts as "
                   "shot noise does: the region likely holds specimen (a thin film or an "
                   "object) — choose a clean vacuum region")
    elif n_bound and (off(gain_ratio) or doses_given and off(counts_ratio)):
        implied = (f"the mean counts are {counts_ratio:.3g}× dose × sampling² × {G:g}"
                   if gain_ratio is None or not off(gain_ratio) else
                   f"the shot noise of the rest implies {about(noise_gain)} counts per electron, "
                   f"not {G:g}")
        message = (f"vacuum: {n_bound} of {len(frames)} frames fit at an optimiser bound and "
                   f"{implied}: the region likely holds specimen — choose a clean vacuum region")
    elif not doses_given and off(gain_ratio):
        unset = " (not given?)" if G == 1 else ""
        message = (f"gain: the shot noise (variance over mean counts) implies about "
                   f"{about(noise_gain)} counts per electron, not counts_per_electron = {G:g}"
                   f"{unset}: doses and N0 are {times(gain_ratio)}"
                   + (" (or the counts carry an offset)" if gain_ratio < 1 else "")
                   + f"; give counts_per_electron ≈ {about(noise_gain)} (--counts-per-electron)"
                   + (f", or choose a clean vacuum region ({n_rejected} of {len(frames)} frames "
                      "rejected: specimen?)" if 2 * n_rejected > len(frames) else ""))
    elif doses_given and off(counts_ratio) and not off(gain_ratio):
        likely = (": they look like e/nm², not e/Å² (divide by 100), or the pixel size is "
                  "10× off" if 100 / F <= 1 / counts_ratio <= 100 * F else
                  ": check the doses (e/Å²) and the pixel size")
        noise = (f"the shot noise agrees with counts_per_electron = {G:g}"
                 if gain_ratio is not None else
                 "no frame showed enough shot noise to check counts_per_electron")
        message = (f"doses: the mean counts are {counts_ratio:.3g}× dose × sampling² × "
                   f"counts_per_electron ({noise}){likely}; N0 is {times(1 / counts_ratio)}")
    elif doses_given and off(gain_ratio) and not (off(counts_ratio)
                                                   and 1 / F <= counts_ratio / gain_ratio <= F):
        message = (f"doses: the shot noise implies about {about(noise_gain)} counts per electron "
                   f"and the mean counts are {counts_ratio:.3g}× dose × sampling² × "
                   f"{G:g}: check the doses (e/Å²), pixel size and counts_per_electron")
    return {"noise_gain": noise_gain, "counts_per_electron": G, "gain_ratio": gain_ratio,
            "counts_ratio": counts_ratio, "variance_exponent": k, "n_frames": len(shot),
            "doses_given": bool(doses_given), "factor": F, "message": message}
