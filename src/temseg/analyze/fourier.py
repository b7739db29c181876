"""Fourier analysis of segmented particles (Leth Larsen et al., paper 003).

The network's mask crops one particle out of the micrograph, so that the
power spectrum holds the particle's reflections and not the substrate's. From
it :func:`particle_reflections` reads the lattice spacing and direction of the
strongest pair of symmetric peaks, how many pairs stand out, and the ratio of
the strongest pair to the strongest signal in any other direction. A particle
seen along a zone axis, its atomic columns resolved, shows several pairs of
similar brightness (ratio of a few); one seen off axis shows a single set of
fringes (ratio ≫ 1), which is how 003 picks interpretable frames of an in-situ
series.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import scipy.fft
from scipy import ndimage

from temseg.errors import InputError

#: the columns :func:`particle_reflections` adds to a particle table
FOURIER_COLUMNS = ("spacing_A", "spacing_px", "angle_deg", "reflections", "peak_ratio")


@dataclass
class Reflections:
    """The Fourier peaks of one particle (``None`` fields when no peak stands out).

    Attributes
    ----------
    spacing_px : float or None — lattice spacing of the strongest pair of peaks, pixels
    spacing_A : float or None — the same in Å (needs the pixel size)
    angle_deg : float or None — direction of that pair's reciprocal vector, degrees
        counter-clockwise from the image's x axis as displayed (y up), in [0, 180)
    reflections : int — pairs of symmetric peaks above the contrast threshold
    peak_ratio : float or None — strongest pair over the strongest power at least
        ``wedge_deg`` away from its direction (1 = as strong elsewhere; ≫ 1 = one set of fringes)
    """

    spacing_px: float | None
    spacing_A: float | None
    angle_deg: float | None
    reflections: int
    peak_ratio: float | None

    def as_row(self) -> dict:
        return asdict(self)


NO_PEAK = Reflections(None, None, None, 0, None)


def _weighted_crop(image: np.ndarray, region: np.ndarray, margin: int) -> np.ndarray:
    """The particle alone: mean-free inside, tapered to zero over ~2 px at its outline."""
    ys, xs = np.nonzero(region)
    y0, y1 = max(ys.min() - margin, 0), min(ys.max() + margin + 1, region.shape[0])
    x0, x1 = max(xs.min() - margin, 0), min(xs.max() + margin + 1, region.shape[1])
    crop = np.asarray(image[y0:y1, x0:x1], np.float64)
    weight = ndimage.gaussian_filter(region[y0:y1, x0:x1].astype(np.float64), 1.0)
    mean = float((crop * weight).sum() / weight.sum())
    return (crop - mean) * weight


def _centroid(power: np.ndarray, y: int, x: int) -> tuple[float, float]:
    """Sub-bin position of a peak: the power-weighted centroid of its 3 × 3 neighbourhood."""
    ys, xs = slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2)
    patch = power[ys, xs]
    gy, gx = np.mgrid[ys, xs]
    total = patch.sum()
    return float((gy * patch).sum() / total), float((gx * patch).sum() / total)


def particle_reflections(image, region, *, sampling: float | None = None,
                         min_spacing_px: float = 2.0, min_spacing_A: float = 1.0,
                         min_contrast: float = 20.0, wedge_deg: float = 15.0,
                         margin_px: int = 4) -> Reflections:
    """Lattice spacing, direction and peak ratio of one particle from its power spectrum.

    Parameters
    ----------
    image : (H, W) array_like
        The micrograph (raw intensities).
    region : (H, W) bool array_like
        The particle's pixels (one connected region of the mask).
    sampling : float, optional
        Å per pixel, for ``spacing_A``.
    min_spacing_px : float
        Finest spacing searched (2 px = Nyquist).
    min_spacing_A : float
        With ``sampling``: finest spacing searched in Å (1 Å, about the information
        limit of HRTEM), so that counts do not depend on the pixel size (finer pixels
        would add the noise, or an interpolated image's replicas, beyond it).
    min_contrast : float
        A peak must exceed this many times the median power of its ring of
        spatial frequency (the power of noise exceeds 20× its median in about
        one frequency bin in a million).
    wedge_deg : float
        Half-width of the wedge around the strongest pair left out when the
        strongest other direction is sought for ``peak_ratio``.
    margin_px : int
        Pixels kept around the particle's bounding box before tapering.

    Returns
    -------
    Reflections
        :data:`NO_PEAK` when no peak stands out or the particle spans fewer
        than 8 px (too few periods for a spectrum).
    """
    image = np.asarray(image)
    region = np.asarray(region, bool)
    if image.ndim != 2 or image.shape != region.shape:
        raise InputError(f"particle_reflections: image {image.shape} and region "
                         f"{region.shape} must be one 2-D shape")
    if region.sum() == 0:
        return NO_PEAK
    signal = _weighted_crop(image, region, margin_px)
    size = max(signal.shape)
    if size < 8:
        return NO_PEAK
    n = max(64, 1 << math.ceil(math.log2(2 * size)))  # zero-padded: peaks on a finer grid
    power = np.abs(scipy.fft.fftshift(scipy.fft.fft2(signal, s=(n, n)))) ** 2
    k = scipy.fft.fftshift(scipy.fft.fftfreq(n))  # cycles per pixel
    ky, kx = np.meshgrid(k, k, indexing="ij")
    radius = np.hypot(ky, kx)
    # at least two periods across the particle, at most the finest spacing asked for
    finest = min_spacing_px if not sampling else max(min_spacing_px, min_spacing_A / sampling)
    band = (radius >= 2.0 / size) & (radius <= min(0.5, 1.0 / finest))
    # the background falls off with frequency (detector MTF, contrast transfer): compare each
    # bin with the median power of its own ring, two bins wide
    ring = np.minimum((radius * n / 2).astype(int), n // 4)
    medians = ndimage.median(power, labels=ring, index=np.arange(n // 4 + 1))
    floor = np.asarray(medians)[ring]
    if not np.all(floor[band] > 0):
        return NO_PEAK
    searched = np.where(band, power, 0.0)
    # one peak per reflection: a window of the particle's size spreads each into a main lobe
    # and rings about n / size bins apart, so only the strongest within two of those counts
    is_max = searched == ndimage.maximum_filter(searched, size=2 * (2 * n // size) + 1)
    peaks = np.argwhere(is_max & (searched > min_contrast * floor))
    half = [(y, x) for y, x in peaks if ky[y, x] > 0 or (ky[y, x] == 0 and kx[y, x] > 0)]
    if not half:
        return NO_PEAK
    y, x = max(half, key=lambda p: power[p[0], p[1]])
    cy, cx = _centroid(power, int(y), int(x))
    step = 1.0 / n
    gy, gx = (cy - n // 2) * step, (cx - n // 2) * step
    spacing = 1.0 / math.hypot(gy, gx)
    angle = math.degrees(math.atan2(-gy, gx)) % 180.0
    direction = np.degrees(np.arctan2(-ky, kx)) % 180.0
    apart = np.abs((direction - angle + 90.0) % 180.0 - 90.0) > wedge_deg
    others = power[band & apart]
    ratio = float(power[y, x] / others.max()) if others.size and others.max() > 0 else None
    return Reflections(spacing_px=spacing, spacing_A=spacing * sampling if sampling else None,
                       angle_deg=angle, reflections=len(half), peak_ratio=ratio)
