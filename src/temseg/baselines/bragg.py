"""Bragg filtering (Sadre et al., paper 004, eq. 4–6, "Segmentation by Fourier Filtering").

1. Pad the (flat-fielded, standardized) image by reflection and taper the
   padding to zero with a cosine window W(r) that is 1 over the image itself
   — so one FFT serves both eq. 4 (F{I·W}) and eq. 5 (F{I}) on the image area.
2. Weighted spectrum G(q) = |q|·|F{I·W}| (eq. 4), smoothed with a Gaussian of
   σ = ``peak_smooth_px`` FFT bins and divided by its (clipped) mean over the
   ring of equal |q|, so that ``g_thresh`` is dimensionless: how many times a peak
   stands above the typical amplitude at its own frequency (independent of
   image size, intensity scale and the 1/|q| fall-off of amorphous texture).
3. Local maxima of G above ``g_thresh``: at most ``max_peaks`` (kept as
   ``max_peaks // 2`` symmetric pairs ±qₙ, so I_Bragg is real).
4. Gaussian apertures of width ``sigma`` (px⁻¹) at every ±qₙ, inverse FFT →
   I_Bragg (eq. 5).
5. F_LP[|I − I_Bragg|] with a Gaussian of σ = ``lowpass_px`` pixels; pixels
   above ``m_thresh`` are non-crystalline (eq. 6).

The work is split so that :mod:`temseg.baselines.fit` can cache step 1–3 per
image: :func:`analyse` (the spectrum and all candidate peaks) and
:func:`difference_map` (steps 3–5 for given parameters).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from temseg.baselines.fourier import (Foreground, check_foreground, no_lattice,
                                      check_image, frequency_grid)
from temseg.errors import ConfigError


@dataclass(frozen=True)
class BraggParams:
    """Parameters of the Bragg filter.

    sigma : aperture width in px⁻¹ (004: 0.0156 ± 0.0005).
    g_thresh : peak threshold on G(q) in multiples of its mean at the same |q|.
    m_thresh : threshold on the low-passed difference of the standardized
        image (units of the image's standard deviation).
    max_peaks : at most this many peaks (an even number: symmetric pairs; 004: 24).
    peak_smooth_px : σ of the smoothing of G(q), in FFT bins (004: 2).
    lowpass_px : σ of the low-pass of |I − I_Bragg| in pixels (004: 5).
    pad_px : reflection padding on each side, in pixels.
    flatfield_order : order of the Bézier flat-field (004: 2), ``None`` to skip it.
    foreground : "amorphous" (contamination is foreground, as graphene in 004)
        or "crystal" (e.g. nanoparticles).
    """

    sigma: float = 0.0156
    g_thresh: float = 1.6
    m_thresh: float = 0.6
    max_peaks: int = 24
    peak_smooth_px: float = 2.0
    lowpass_px: float = 5.0
    pad_px: int = 16
    flatfield_order: int | None = 2
    foreground: Foreground = "amorphous"

    def __post_init__(self):
        if not 0.0 < self.sigma < 0.5:
            raise ConfigError(f"sigma: aperture width must be in (0, 0.5) px⁻¹, got {self.sigma}")
        if not self.g_thresh > 0.0:
            raise ConfigError(f"g_thresh: must be > 0, got {self.g_thresh}")
        if not np.isfinite(self.m_thresh):
            raise ConfigError(f"m_thresh: must be finite, got {self.m_thresh}")
        if not (isinstance(self.max_peaks, int) and self.max_peaks >= 2 and self.max_peaks % 2 == 0):
            raise ConfigError(f"max_peaks: must be an even integer ≥ 2, got {self.max_peaks}")
        if not self.peak_smooth_px >= 0.0:
            raise ConfigError(f"peak_smooth_px: must be ≥ 0, got {self.peak_smooth_px}")
        if not self.lowpass_px >= 0.0:
            raise ConfigError(f"lowpass_px: must be ≥ 0, got {self.lowpass_px}")
        if not (isinstance(self.pad_px, int) and self.pad_px >= 0):
            raise ConfigError(f"pad_px: must be an integer ≥ 0, got {self.pad_px}")
        if self.flatfield_order is not None and not (
                isinstance(self.flatfield_order, int) and self.flatfield_order >= 0):
            raise ConfigError(f"flatfield_order: must be None or an integer ≥ 0, got "
                              f"{self.flatfield_order}")
        check_foreground(self.foreground)


def prepare(image, *, flatfield_order: int | None = 2) -> np.ndarray:
    """Flat-field (Bézier, 004 eq. 1–2) and standardize (eq. 3) an image.

    The flat-field divides by the fitted illumination, so it is applied only to
    images of non-negative intensities (counts, 8-bit images); an image with
    negative values is taken as already normalized and only standardized.

    Returns
    -------
    (H, W) ndarray of float32 with mean 0 and standard deviation 1 (a flat
    image stays 0).
    """
    from temseg.preprocess import flatfield_standardize, standardize

    arr = check_image(image)
    low, high = float(arr.min()), float(arr.max())
    if low == high:  # vacuum or a blank frame: nothing to normalize, no lattice
        return np.zeros(arr.shape, dtype=np.float32)
    if flatfield_order is not None and low >= 0:  # non-negative and not flat: mean > 0
        return flatfield_standardize(arr, order=flatfield_order)
    return standardize(arr)


@functools.lru_cache(maxsize=16)
def _taper(shape: tuple[int, int], pad: tuple[int, int, int, int]) -> np.ndarray:
    """Window W(r): 1 on the image, a half-cosine to 0 across the padding (float32, read-only)."""
    def axis(n, before, after):
        w = np.ones(n)
        if before:
            w[:before] = 0.5 - 0.5 * np.cos(np.pi * np.arange(before) / before)
        if after:
            w[n - after:] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(after) + 1) / after)
        return w

    win = np.outer(axis(shape[0], pad[0], pad[1]), axis(shape[1], pad[2], pad[3]))
    win = win.astype(np.float32)
    win.setflags(write=False)
    return win


@functools.lru_cache(maxsize=16)
def _qabs(shape: tuple[int, int]) -> np.ndarray:
    """|q| (px⁻¹) on the rfft2 half plane of ``shape``, float32, read-only."""
    qy, qx = frequency_grid(shape, half=True)
    q = np.hypot(qy, qx).astype(np.float32)
    q.setflags(write=False)
    return q


@functools.lru_cache(maxsize=16)
def _rings(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Ring index (|q| in bins of 1/min(shape)) on the rfft2 half plane, and pixels per ring."""
    ring = np.rint(_qabs(shape) * min(shape)).astype(np.intp)
    counts = np.maximum(np.bincount(ring.ravel()), 1).astype(np.float64)
    ring.setflags(write=False)
    counts.setflags(write=False)
    return ring, counts


@functools.lru_cache(maxsize=16)
def _candidates(shape: tuple[int, int], image_shape: tuple[int, int]) -> np.ndarray:
    """Half-plane bins that may hold a peak, whatever the image (bool, read-only).

    One member per symmetric pair: qx > 0, or qx == 0 with qy > 0 (not DC, not
    the Nyquist column); and |q| of at least four bins of the image — below
    that is the flat-field residue, not a lattice.
    """
    ph, pw = shape
    ok = _qabs(shape) >= 4.0 / min(image_shape)
    ok[:, 0] &= (np.arange(ph) > 0) & (np.arange(ph) < (ph + 1) // 2)
    if pw % 2 == 0:
        ok[:, -1] = False
    ok.setflags(write=False)
    return ok


def _local_max(a: np.ndarray, first: int) -> np.ndarray:
    """``a == maximum_filter(a, 5, mode=("wrap", "nearest"))`` for the columns from ``first`` on.

    Four shifted ``np.maximum`` passes per axis instead of scipy's
    running-maximum filter, which is slow for a window this small.
    Needs ``first >= 2``.
    """
    h, w = a.shape
    # along columns ("nearest" at the right edge; ``first >= 2`` keeps the left edge inside)
    ext = np.empty((h, w - first + 4), dtype=a.dtype)
    ext[:, :-2] = a[:, first - 2:]
    ext[:, -2:] = a[:, -1:]
    n = w - first
    cols = np.maximum(ext[:, 0:n], ext[:, 1:n + 1])
    for k in (2, 3, 4):
        np.maximum(cols, ext[:, k:n + k], out=cols)
    # along rows, periodic
    rows = np.concatenate([cols[-2:], cols, cols[:2]], axis=0)
    out = np.maximum(rows[0:h], rows[1:h + 1])
    for k in (2, 3, 4):
        np.maximum(out, rows[k:h + k], out=out)
    return out == a[:, first:]


@functools.lru_cache(maxsize=16)
def _lowpass(shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Fourier transform of a Gaussian of σ = ``sigma_px`` pixels on the rfft2 half plane.

    As :func:`scipy.ndimage.fourier_gaussian` (``n`` = the full width), as a
    cached float32 array.
    """
    qy, qx = frequency_grid(shape, half=True)
    a = 2.0 * (np.pi * sigma_px) ** 2
    lp = (np.exp(-a * qy**2) * np.exp(-a * qx**2)).astype(np.float32)
    lp.setflags(write=False)
    return lp


@dataclass
class Spectrum:
    """Steps 1–2 of the Bragg filter for one image, reusable for any parameters.

    image : (H, W) standardized image (float32); padded : (P, Q) padded, tapered
    image; spectrum : its rfft2, shape ``(P, Q // 2 + 1)``; crop : slices of the
    image inside the padded frame; peaks : (K, 2) candidate maxima as FFT
    bins (row, column) of the half plane, strongest first; strength : (K,)
    their G / (mean G at the same |q|).
    """

    image: np.ndarray
    padded: np.ndarray
    spectrum: np.ndarray
    crop: tuple[slice, slice]
    peaks: np.ndarray
    strength: np.ndarray

    @property
    def padded_shape(self) -> tuple[int, int]:
        return self.padded.shape


def analyse(image, *, peak_smooth_px: float = 2.0, pad_px: int = 16,
            flatfield_order: int | None = 2, prepared: bool = False) -> Spectrum:
    """Pad, taper, FFT and list every local maximum of the weighted spectrum G(q).

    Parameters
    ----------
    image : (H, W) array_like
    peak_smooth_px, pad_px, flatfield_order
        See :class:`BraggParams`.
    prepared : bool
        ``True`` if ``image`` is already flat-fielded and standardized.
    """
    if prepared:
        arr = check_image(image).astype(np.float32)
    else:
        arr = prepare(image, flatfield_order=flatfield_order)
    h, w = arr.shape
    ph, pw = sfft.next_fast_len(h + 2 * pad_px, True), sfft.next_fast_len(w + 2 * pad_px, True)
    pad = ((ph - h) // 2, ph - h - (ph - h) // 2, (pw - w) // 2, pw - w - (pw - w) // 2)
    mode = "reflect" if min(h, w) > max(pad) else "symmetric"
    padded = np.pad(arr, ((pad[0], pad[1]), (pad[2], pad[3])), mode=mode)
    if max(pad):
        padded *= _taper((ph, pw), pad)
    spectrum = sfft.rfft2(padded, workers=1)
    # G = |q|·|F| (float32) on the half plane, written after m mirrored columns
    # (G(-q) = G(q)) so that smoothing and the maximum filter see the
    # neighbours across qx = 0
    half = spectrum.shape[1]
    m = min(max(3, int(np.ceil(3 * peak_smooth_px))), half - 1)
    ext = np.empty((ph, m + half), dtype=np.float32)
    np.abs(spectrum, out=ext[:, m:])
    ext[:, m:] *= _qabs((ph, pw))
    ext[0, :m] = ext[0, 2 * m:m:-1]  # the row of -qy is (ph - qy) % ph
    ext[1:, :m] = ext[:0:-1, 2 * m:m:-1]
    if peak_smooth_px > 0:
        ndimage.gaussian_filter(ext, peak_smooth_px, mode=("wrap", "nearest"), truncate=3.0,
                                output=ext)
    g = ext[:, m:]
    # level of G on each ring of equal |q|: a clipped mean, so that the peaks
    # themselves do not raise their ring's level (one scratch array for all passes)
    ring, counts = _rings((ph, pw))
    flat_ring = ring.ravel()
    flat_g = g.astype(np.float64).ravel()
    level = np.bincount(flat_ring, flat_g, minlength=counts.size) / counts
    clipped = np.empty_like(flat_g)
    for _ in range(2):
        np.take(3.0 * level, flat_ring, out=clipped)
        np.minimum(flat_g, clipped, out=clipped)
        level = np.bincount(flat_ring, clipped, minlength=counts.size) / counts
    # a floor keeps rings of a noise-free image (level ≈ 0) from rating rounding noise
    floor = 1e-3 * float(level[int(np.ceil(4.0 * min(ph, pw) / min(h, w))):].max(initial=0.0))
    level += floor + np.finfo(np.float32).tiny
    # local maxima of the smoothed G among the candidate bins, rated against their ring
    rows, cols = np.nonzero(_local_max(ext, m) & _candidates((ph, pw), (h, w)))
    strength = g[rows, cols] / level[ring[rows, cols]]
    keep = strength > 1.0
    rows, cols, strength = rows[keep], cols[keep], strength[keep]
    order = np.argsort(-strength, kind="stable")
    return Spectrum(image=arr, padded=padded, spectrum=spectrum,
                    crop=(slice(pad[0], pad[0] + h), slice(pad[2], pad[2] + w)),
                    peaks=np.stack([rows[order], cols[order]], axis=1), strength=strength[order])


def select_peaks(spec: Spectrum, *, g_thresh: float, max_peaks: int = 24) -> np.ndarray:
    """Peaks above ``g_thresh``, strongest first, one per symmetric pair, as (N, 2) bins."""
    keep = spec.peaks[spec.strength > g_thresh]
    return keep[: max_peaks // 2]


def peak_frequencies(spec: Spectrum, bins: np.ndarray) -> np.ndarray:
    """(N, 2) half-plane bins → (2N, 2) frequencies (qy, qx) in px⁻¹, with both pair members."""
    ph, pw = spec.padded_shape
    qy = sfft.fftfreq(ph)[bins[:, 0]]
    qx = bins[:, 1] / pw
    q = np.stack([qy, qx], axis=1)
    return np.concatenate([q, -q], axis=0)


def aperture(spec: Spectrum, bins: np.ndarray, sigma: float, *,
             dtype=np.float64) -> np.ndarray:
    """Σₙ exp(−|q − qₙ|²/2σ²) over both members of each pair, on the rfft half plane.

    Separable: the sum of outer products of 1-D Gaussians is one matrix product
    (the exponentials and the product are done in ``dtype``; float32 is
    several times faster, as most exponents lie far below its range).
    """
    qy, qx = frequency_grid(spec.padded_shape, half=True)
    q = peak_frequencies(spec, bins)

    def gauss(d):
        return np.exp((-(d**2) / (2 * sigma**2)).astype(dtype))

    ay = gauss(qy[:, 0][None, :] - q[:, :1])  # (2N, P)
    ax = gauss(qx[0][None, :] - q[:, 1:])  # (2N, Q')
    # the qy axis is periodic: also count the images of each Gaussian one period away
    for shift in (-1.0, 1.0):
        ay += gauss(qy[:, 0][None, :] + shift - q[:, :1])
    return ay.T @ ax


def _inverse(spec: Spectrum, bins: np.ndarray, sigma: float) -> np.ndarray:
    """I_Bragg on the whole padded frame (float32)."""
    filtered = spec.spectrum * aperture(spec, bins, sigma, dtype=np.float32)
    return sfft.irfft2(filtered, s=spec.padded_shape, overwrite_x=True, workers=1)


def bragg_image(spec: Spectrum, bins: np.ndarray, sigma: float) -> np.ndarray:
    """I_Bragg on the image area (eq. 5) for the given peaks; zeros when there are none."""
    if len(bins) == 0:
        return np.zeros_like(spec.image)
    return _inverse(spec, bins, sigma)[spec.crop]


def difference_map(spec: Spectrum, *, sigma: float, g_thresh: float, max_peaks: int = 24,
                   lowpass_px: float = 5.0) -> np.ndarray | None:
    """F_LP[|I − I_Bragg|] on the image area (eq. 6 before the threshold), float32.

    The low-pass is a Gaussian multiplication in Fourier space on the padded
    frame (the padding keeps the periodic wrap away from the image).
    Returns ``None`` when no peak exceeds ``g_thresh`` (no lattice).
    """
    bins = select_peaks(spec, g_thresh=g_thresh, max_peaks=max_peaks)
    if len(bins) == 0:
        return None
    diff = _inverse(spec, bins, sigma)
    np.subtract(spec.padded, diff, out=diff)
    np.abs(diff, out=diff)
    if lowpass_px > 0:
        smooth = sfft.rfft2(diff, workers=1)
        smooth *= _lowpass(spec.padded_shape, float(lowpass_px))
        diff = sfft.irfft2(smooth, s=spec.padded_shape, overwrite_x=True, workers=1)
    return diff[spec.crop]


def bragg_peaks(image, *, g_thresh: float = 1.6, max_peaks: int = 24,
                peak_smooth_px: float = 2.0, pad_px: int = 16,
                flatfield_order: int | None = 2) -> tuple[np.ndarray, np.ndarray]:
    """The Bragg peaks the filter would use.

    Returns
    -------
    q : (2N, 2) ndarray — (qy, qx) in px⁻¹, both members ±qₙ of each pair
        (the first N rows are one member each, strongest first)
    strength : (N,) ndarray — G(qₙ) / (mean G at the same |q|)
    """
    spec = analyse(image, peak_smooth_px=peak_smooth_px, pad_px=pad_px,
                   flatfield_order=flatfield_order)
    bins = select_peaks(spec, g_thresh=g_thresh, max_peaks=max_peaks)
    return peak_frequencies(spec, bins), spec.strength[: len(bins)]


def bragg_difference(image, params: BraggParams | None = None) -> np.ndarray | None:
    """F_LP[|I − I_Bragg|] of ``image``, ``(H, W)`` float32, or ``None`` without lattice peaks."""
    p = params or BraggParams()
    spec = analyse(image, peak_smooth_px=p.peak_smooth_px, pad_px=p.pad_px,
                   flatfield_order=p.flatfield_order)
    return difference_map(spec, sigma=p.sigma, g_thresh=p.g_thresh, max_peaks=p.max_peaks,
                          lowpass_px=p.lowpass_px)


def bragg_score(image, params: BraggParams | None = None) -> tuple[np.ndarray, float]:
    """The difference map oriented so that foreground is high, and the threshold.

    Returns
    -------
    score : (H, W) ndarray of float32 (float64 zeros without lattice peaks)
    threshold : float — ``score > threshold`` is the foreground; when no peak exceeds
        ``g_thresh`` (a :class:`NoLatticeWarning`) the image is all amorphous:
        ``-inf`` (all) for an amorphous foreground, ``+inf`` (none) for a crystal one.
    """
    p = params or BraggParams()
    diff = bragg_difference(image, p)
    if diff is None:
        return np.zeros(np.shape(image), dtype=np.float64), no_lattice(
            p.foreground, "no Bragg peak above g_thresh")
    if p.foreground == "crystal":
        return -diff, -p.m_thresh
    return diff, p.m_thresh


def bragg_filter(image, *, sigma: float = 0.0156, g_thresh: float = 1.6, m_thresh: float = 0.6,
                 max_peaks: int = 24, peak_smooth_px: float = 2.0, lowpass_px: float = 5.0,
                 pad_px: int = 16, flatfield_order: int | None = 2,
                 foreground: Foreground = "amorphous") -> np.ndarray:
    """Segment an image by Bragg filtering (004 eq. 4–6).

    Parameters
    ----------
    image : (H, W) array_like
        Raw image; it is flat-fielded and standardized here.
    sigma, g_thresh, m_thresh, max_peaks, peak_smooth_px, lowpass_px, pad_px,
    flatfield_order, foreground
        See :class:`BraggParams`.

    Returns
    -------
    mask : (H, W) ndarray of bool — the ``foreground`` side ("amorphous": where
        F_LP|I − I_Bragg| > m_thresh). No peak above ``g_thresh``: no lattice,
        all amorphous (all foreground; all background for ``"crystal"``), with a
        :class:`NoLatticeWarning`.

    Examples
    --------
    >>> from temseg.synthetic import particle_image
    >>> image, crystal = particle_image((128, 128), spacing_px=5.0, seed=0)
    >>> mask = bragg_filter(image, foreground="crystal")
    """
    params = BraggParams(sigma=sigma, g_thresh=g_thresh, m_thresh=m_thresh,
                         max_peaks=max_peaks, peak_smooth_px=peak_smooth_px,
                         lowpass_px=lowpass_px, pad_px=pad_px,
                         flatfield_order=flatfield_order, foreground=foreground)
    score, threshold = bragg_score(image, params)
    return score > threshold
