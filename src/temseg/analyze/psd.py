"""Azimuthally averaged power spectra on the normalised frequency q/q_Nyquist."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.fft
from scipy import ndimage

from temseg.errors import InputError

__all__ = ["RadialSpectrum", "radial_power_spectrum"]


class RadialSpectrum(NamedTuple):
    """Rings of an azimuthally averaged power spectrum (see :func:`radial_power_spectrum`)."""

    q_norm: np.ndarray
    psd: np.ndarray
    n: np.ndarray
    peak: np.ndarray


def _detrend_plane(region: np.ndarray) -> np.ndarray:
    """Subtract the least-squares plane ``a + b·y + c·x`` (illumination gradients)."""
    h, w = region.shape
    yy, xx = np.mgrid[0:h, 0:w]
    design = np.column_stack([np.ones(h * w), yy.ravel(), xx.ravel()])
    coef, *_ = np.linalg.lstsq(design, region.ravel(), rcond=None)
    return region - (design @ coef).reshape(h, w)


def radial_power_spectrum(image: np.ndarray, *, window: str | None = "hann",
                          detrend: str = "plane", q_max: float = 1.0
                          ) -> RadialSpectrum:
    """Azimuthally averaged power spectrum of an image region.

    Parameters
    ----------
    image : (H, W) ndarray
        The region (e.g. vacuum), in counts.
    window : {"hann", None}
        Apodisation against edge leakage, scaled so that white noise keeps its
        power (mean of the squared window is 1).
    detrend : {"plane", "mean"}
        What is subtracted first: the best-fit plane or only the mean.
    q_max : float
        Largest normalised frequency kept (1 is the Nyquist edge, √2 the corner).

    Returns
    -------
    q_norm : (K,) float64
        Mean ``q/q_Nyquist`` of each ring (rings one frequency step wide, the
        zero-frequency ring left out).
    psd : (K,) float64
        Mean of ``|FFT|² / (H·W)`` over the ring: per-pixel variance units, so
        white noise of variance σ² gives ``psd ≈ σ²`` at every ``q``.
    n : (K,) int
        Number of Fourier pixels averaged in each ring.
    peak : (K,) float64
        Largest power in the ring over its mean (estimated robustly as
        median / ln 2). For noise the powers in a ring
        are exponentially distributed, so this stays near ``ln n`` (and above
        ``ln n + 10`` with probability about ``e⁻¹⁰``); lattice fringes give
        Bragg peaks far above it. NaN for rings of fewer than 32 pixels.
    """
    region = np.asarray(image, dtype=np.float64)
    if region.ndim != 2 or min(region.shape) < 4:
        raise InputError(f"image: expected a 2-D region of at least 4×4, got shape {region.shape}")
    if not np.all(np.isfinite(region)):
        raise InputError("image: contains NaN or infinite values")
    if detrend == "plane":
        region = _detrend_plane(region)
    elif detrend == "mean":
        region = region - region.mean()
    else:
        raise InputError(f"detrend: {detrend!r} is not 'plane' or 'mean'")
    if window is not None:
        from skimage.filters import window as make_window

        if window != "hann":
            raise InputError(f"window: {window!r} is not 'hann' or None")
        win = make_window("hann", region.shape)
        region = region * (win / np.sqrt(np.mean(win**2)))
    h, w = region.shape
    power = np.abs(scipy.fft.fft2(region)) ** 2 / (h * w)
    fy = scipy.fft.fftfreq(h)[:, None]
    fx = scipy.fft.fftfreq(w)[None, :]
    q = 2.0 * np.sqrt(fy**2 + fx**2)
    step = 2.0 / min(h, w)  # one frequency pixel of the shorter side, in q/q_N
    ring = np.rint(q / step).astype(np.int64).ravel()
    n = np.bincount(ring)
    q_mean = np.bincount(ring, weights=q.ravel()) / np.maximum(n, 1)
    p_mean = np.bincount(ring, weights=power.ravel()) / np.maximum(n, 1)
    p_max = np.zeros(len(n))
    np.maximum.at(p_max, ring, power.ravel())
    keep = (np.arange(len(n)) > 0) & (n > 0) & (q_mean <= q_max + 1e-12)
    rings = np.flatnonzero(keep)
    # the median is robust to the peaks themselves; for exponential powers mean = median / ln 2
    p_median = np.asarray(ndimage.median(power.ravel(), labels=ring, index=rings))
    peak = p_max[keep] * np.log(2.0) / np.maximum(p_median, np.finfo(float).tiny)
    peak[n[keep] < 32] = np.nan  # a median of a few values says little
    return RadialSpectrum(q_mean[keep], p_mean[keep], n[keep], peak)
