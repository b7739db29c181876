"""Fourier band-pass filtering (Sytwu et al., paper 000, "Fourier Filtering").

FFT of the image → keep an annulus around the dominant first-order lattice
peaks → inverse FFT → amplitude → Gaussian blur → Otsu threshold. Lattice
fringes survive the band-pass and light up; amorphous regions do not.

The band is found from the spectrum (the ring whose strongest peak stands
highest above the ring's median power: Bragg spots are sharp in angle,
amorphous texture is isotropic) or given in px⁻¹, or in Å⁻¹ with the image's
``sampling`` (Å/px). Frequencies are always cycles per pixel (px⁻¹) inside.

The helpers shared with :mod:`temseg.baselines.bragg` (frequency grids,
the no-lattice warning) live here too.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.fft as sfft
from scipy import ndimage
from skimage.filters import threshold_otsu

from temseg.errors import ConfigError, InputError

Foreground = Literal["crystal", "amorphous"]

#: FWHM → Gaussian σ
_FWHM = 2.0 * np.sqrt(2.0 * np.log(2.0))


class NoLatticeWarning(UserWarning):
    """An image shows no lattice peaks: the baseline's mask is all amorphous, so all
    foreground when the foreground is the amorphous side, all background when it is the
    crystal."""


def no_lattice(foreground: str, why: str) -> tuple[np.ndarray, float]:
    """Warn that ``why`` (no lattice found) and give the threshold of the mask it means:
    ``-inf`` (every pixel foreground) for an amorphous foreground, ``+inf`` for a crystal one.
    """
    whole = "amorphous: an all-foreground mask" if foreground == "amorphous" else \
        "not crystal: an all-background mask"
    warnings.warn(f"{why}: every pixel is {whole}", NoLatticeWarning, stacklevel=4)
    return -np.inf if foreground == "amorphous" else np.inf


#: the smallest image side the Fourier and Bragg filters work on (px)
MIN_SIDE_PX = 8


def check_image(image, *, name: str = "image") -> np.ndarray:
    """The image as a finite ``(H, W) float64`` array, or a clear :class:`InputError`.

    ``name`` (e.g. the file) starts the error message.
    """
    arr = np.asarray(image)
    if arr.ndim != 2 or min(arr.shape) < MIN_SIDE_PX:
        raise InputError(f"{name}: expected a 2-D image of at least {MIN_SIDE_PX}×{MIN_SIDE_PX} "
                         f"pixels, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise InputError(f"{name}: contains NaN or infinite pixels")
    return arr


def check_foreground(foreground: str) -> str:
    if foreground not in ("crystal", "amorphous"):
        raise ConfigError(f"foreground: {foreground!r} is not 'crystal' or 'amorphous'")
    return foreground


@functools.lru_cache(maxsize=16)
def frequency_grid(shape: tuple[int, int], *, half: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Spatial frequencies (px⁻¹) of an FFT of ``shape``: ``(qy (H, 1), qx (1, W'))``.

    ``half=True`` gives the ``rfft2`` layout (``W' = W // 2 + 1``, ``qx ≥ 0``).
    The arrays are cached and read-only.
    """
    h, w = shape
    qy = sfft.fftfreq(h)[:, None]
    qx = (sfft.rfftfreq(w) if half else sfft.fftfreq(w))[None, :]
    qy.setflags(write=False)
    qx.setflags(write=False)
    return qy, qx


@functools.lru_cache(maxsize=16)
def _hann2d(shape: tuple[int, int]) -> np.ndarray:
    win = np.outer(np.hanning(shape[0]), np.hanning(shape[1]))
    win.setflags(write=False)
    return win


def _ring_statistics(arr: np.ndarray, smooth_px: float, q_min: float | None):
    n = min(arr.shape)
    power = np.abs(sfft.fft2((arr - arr.mean()) * _hann2d(arr.shape), workers=1)) ** 2
    power = ndimage.gaussian_filter(power, smooth_px, mode="wrap")
    qy, qx = frequency_grid(arr.shape)
    qabs = np.hypot(qy, qx)
    ring = np.rint(qabs * n).astype(np.intp)
    labels = np.arange(n // 2 + 1)
    peak = np.asarray(ndimage.maximum(power, ring, labels))
    median = np.asarray(ndimage.median(power, ring, labels))
    q = labels / n
    low = q < (4.0 / n if q_min is None else q_min)
    # a floor under the median keeps noise-free images (median ≈ 0) from
    # rating faint leakage rings above the lattice ring
    floor = 1e-4 * float(peak[~low].max(initial=0.0)) + np.finfo(float).tiny
    contrast = peak / (median + floor)
    contrast[low] = 0.0
    return q, contrast, power, qabs, ring


def lattice_rings(image, *, smooth_px: float = 1.5, q_min: float | None = None):
    """Per-ring peak contrast of the power spectrum.

    Parameters
    ----------
    image : (H, W) array_like
    smooth_px : float
        σ (in FFT bins) of the Gaussian that smooths the power spectrum first.
    q_min : float, optional
        Lowest frequency considered (px⁻¹); default 4 bins (``4 / min(H, W)``).

    Returns
    -------
    q : (R,) ndarray — ring centre frequencies in px⁻¹ (bins of ``1 / min(H, W)``)
    contrast : (R,) ndarray — max / median of the smoothed power in each ring;
        about 3 for isotropic (amorphous) texture, well above for Bragg spots.
        Rings below ``q_min`` get 0.
    """
    q, contrast, *_ = _ring_statistics(check_image(image), smooth_px, q_min)
    return q, contrast


def strongest_ring(image, *, q_range: tuple[float, float] | None = None,
                   min_contrast: float = 4.0) -> float | None:
    """Frequency (px⁻¹) of the image's strongest lattice ring, or ``None`` if it has none.

    Parameters
    ----------
    image : (H, W) array_like
    q_range : (low, high), optional
        Search only rings in this range (px⁻¹), e.g. around a known lattice spacing.
    min_contrast : float
        A ring counts as a lattice only if its peak power exceeds this multiple
        of its median power (see :func:`lattice_rings`).
    """
    q, contrast, power, qabs, ring = _ring_statistics(check_image(image), 1.5, None)
    if q_range is not None:
        contrast = np.where((q >= q_range[0]) & (q <= q_range[1]), contrast, 0.0)
    k = int(np.argmax(contrast))
    if contrast[k] < min_contrast:
        return None
    # the contrast favours the ring just outside the peaks (its median is lower):
    # take |q| of the strongest pixel within ±3 rings instead
    near = np.abs(ring - k) <= 3
    return float(qabs[near][np.argmax(power[near])])


def find_band(image, *, rel_width: float = 0.2, q_range: tuple[float, float] | None = None,
              min_contrast: float = 4.0) -> tuple[float, float] | None:
    """The band ``(q₀(1 − w), q₀(1 + w))`` (px⁻¹) around :func:`strongest_ring` q₀.

    ``w`` is ``rel_width``; ``None`` when the image has no lattice ring.
    """
    q0 = strongest_ring(image, q_range=q_range, min_contrast=min_contrast)
    return None if q0 is None else (q0 * (1.0 - rel_width), q0 * (1.0 + rel_width))


@dataclass(frozen=True)
class FourierParams:
    """Parameters of :func:`fourier_filter`.

    band : (low, high) in px⁻¹, or ``None`` to find it per image (:func:`find_band`).
    rel_width : half-width of an automatic band relative to its centre.
    blur_px : FWHM (pixels) of the Gaussian blur of the filtered amplitude
        (paper 000: a 9-pixel filter).
    min_contrast : lattice detection threshold of :func:`find_band`.
    foreground : "crystal" (the lattice regions are foreground, e.g.
        nanoparticles) or "amorphous".
    """

    band: tuple[float, float] | None = None
    rel_width: float = 0.2
    blur_px: float = 9.0
    min_contrast: float = 4.0
    foreground: Foreground = "crystal"

    def __post_init__(self):
        if self.band is not None:
            lo, hi = self.band
            if not 0.0 <= lo < hi <= 0.5 * np.sqrt(2.0):
                raise ConfigError(f"band: need 0 ≤ low < high ≤ 0.71 px⁻¹, got {self.band}")
        if not 0.0 < self.rel_width < 1.0:
            raise ConfigError(f"rel_width: must be in (0, 1), got {self.rel_width}")
        if not self.blur_px >= 0.0:
            raise ConfigError(f"blur_px: must be ≥ 0, got {self.blur_px}")
        if not self.min_contrast > 0.0:
            raise ConfigError(f"min_contrast: must be > 0, got {self.min_contrast}")
        check_foreground(self.foreground)


def band_from_angstrom(band_per_angstrom: tuple[float, float], sampling: float | None
                       ) -> tuple[float, float]:
    """Convert a band in Å⁻¹ to px⁻¹ with ``sampling`` (Å/px)."""
    if sampling is None or not sampling > 0:
        raise ConfigError("band_per_angstrom: needs the image's sampling (Å/px)")
    return (band_per_angstrom[0] * sampling, band_per_angstrom[1] * sampling)


def fourier_amplitude(image, *, band: tuple[float, float], blur_px: float = 9.0) -> np.ndarray:
    """Blurred amplitude of the band-passed image: high where lattice fringes are.

    Parameters
    ----------
    image : (H, W) array_like
    band : (low, high)
        Pass band in px⁻¹ (a hard annulus).
    blur_px : float
        FWHM of the Gaussian blur in pixels.

    Returns
    -------
    (H, W) ndarray of float64
    """
    arr = check_image(image)
    spectrum = sfft.rfft2(arr - arr.mean(), workers=1)
    qy, qx = frequency_grid(arr.shape, half=True)
    q = np.hypot(qy, qx)
    spectrum[(q < band[0]) | (q > band[1])] = 0.0
    amplitude = np.abs(sfft.irfft2(spectrum, s=arr.shape, workers=1))
    if blur_px > 0:
        amplitude = ndimage.gaussian_filter(amplitude, blur_px / _FWHM, mode="reflect")
    return amplitude


def fourier_filter(image, *, band: tuple[float, float] | None = None,
                   band_per_angstrom: tuple[float, float] | None = None,
                   sampling: float | None = None, rel_width: float = 0.2,
                   blur_px: float = 9.0, min_contrast: float = 4.0,
                   foreground: Foreground = "crystal") -> np.ndarray:
    """Segment lattice regions by Fourier band-pass filtering and Otsu's threshold.

    Parameters
    ----------
    image : (H, W) array_like
    band : (low, high), optional
        Pass band in px⁻¹. Default: found per image (:func:`find_band`).
    band_per_angstrom : (low, high), optional
        Pass band in Å⁻¹; needs ``sampling``.
    sampling : float, optional
        Å per pixel.
    rel_width, blur_px, min_contrast, foreground
        See :class:`FourierParams`.

    Returns
    -------
    mask : (H, W) ndarray of bool — the ``foreground`` side. An image without a
        lattice ring is all amorphous (all background for ``"crystal"``, all
        foreground for ``"amorphous"``), with a :class:`NoLatticeWarning`.

    Examples
    --------
    >>> from temseg.synthetic import particle_image
    >>> image, truth = particle_image((128, 128), spacing_px=5.0, seed=0)
    >>> mask = fourier_filter(image)
    """
    if band_per_angstrom is not None:
        if band is not None:
            raise ConfigError("band: give band (px⁻¹) or band_per_angstrom (Å⁻¹), not both")
        band = band_from_angstrom(band_per_angstrom, sampling)
    params = FourierParams(band=band, rel_width=rel_width, blur_px=blur_px,
                           min_contrast=min_contrast, foreground=foreground)
    score, threshold = fourier_score(image, params)
    return score > threshold


def fourier_score(image, params: FourierParams, *, ring: float | None = -1.0
                  ) -> tuple[np.ndarray, float]:
    """The blurred band-pass amplitude oriented so that foreground is high, and its Otsu threshold.

    ``ring`` is the image's lattice frequency when already known (``None``: no
    lattice); the default ``-1`` finds it (only when ``params.band`` is ``None``).

    Returns
    -------
    score : (H, W) ndarray of float64
    threshold : float — ``score > threshold`` is the foreground; without a lattice
        (a :class:`NoLatticeWarning`) ``+inf`` (none) for a crystal foreground,
        ``-inf`` (all) for an amorphous one.
    """
    arr = check_image(image)
    band = params.band
    if band is None:
        q0 = strongest_ring(arr, min_contrast=params.min_contrast) if ring == -1.0 else ring
        if q0 is not None:
            band = (q0 * (1.0 - params.rel_width), q0 * (1.0 + params.rel_width))
    if band is None:
        return np.zeros(arr.shape), no_lattice(params.foreground,
                                               "no lattice ring found in the image")
    amplitude = fourier_amplitude(arr, band=band, blur_px=params.blur_px)
    if np.ptp(amplitude) <= 1e-12 * max(np.abs(amplitude).max(), 1e-300):
        return np.zeros(arr.shape), no_lattice(params.foreground,
                                               "the band-passed image is flat")
    threshold = float(threshold_otsu(amplitude))
    if params.foreground == "amorphous":
        return -amplitude, -threshold
    return amplitude, threshold
