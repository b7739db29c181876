"""X-ray / hot-pixel removal (Sytwu et al., paper 000, dataset creation).

A direct x-ray hit or a hot detector pixel is a single bright pixel (or a tiny
cluster) far above its surroundings. It is found as a pixel whose value
exceeds the median of its neighbourhood by more than ``threshold`` robust
standard deviations and replaced by that median.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from temseg.errors import ConfigError
from temseg.preprocess._checks import as_image

#: side of the window whose mean is the expected count of a counting image
SHOT_WINDOW = 7
#: scale of the median absolute deviation to the standard deviation of a Gaussian
MAD_TO_STD = 1.482602218505602


def outlier_mask(image, *, threshold: float = 6.0, size: int = 3) -> np.ndarray:
    """Pixels far above their local median.

    Parameters
    ----------
    image : (H, W) array_like
        Micrograph (any real dtype); must be finite.
    threshold : float
        How far above the median of its neighbours, in robust standard deviations
        (1.4826 × the median absolute deviation of ``image − median``), a pixel
        must lie to count as an outlier.
    size : int
        Odd side of the square median window in pixels (≥ 3).

    Returns
    -------
    mask : (H, W) ndarray of bool
        True where a pixel is an outlier.

    Notes
    -----
    The local median leaves the centre pixel out, so a pixel's residual is
    independent of its own noise (Gaussian noise gives near-Gaussian
    residuals). The spread is estimated once for the whole image from the residual to the
    local median, so outliers themselves barely move it. When more than half the
    residuals are exactly zero (e.g. a sparse low-dose counting image) the MAD
    is 0 and the residual's plain standard deviation is used instead; an image
    with no residual at all has no outliers.

    A counting image (non-negative whole numbers, as electron counts are) is
    also judged against shot noise: a pixel counts as an outlier only if, in
    addition, a Poisson count at the mean of its 7 × 7 neighbours (at least
    the image mean) would reach
    its value less often than a Gaussian beyond ``threshold`` σ. So the
    Poisson tail of a frame at a fraction of a count per pixel (where a lone
    2 or 3 is many image-wide standard deviations) is kept, while an x-ray
    hit of tens of counts is still removed. This can only remove fewer pixels
    than the Gaussian rule, so integer images in detector units (gain ≠ 1)
    are treated as before.
    """
    return _detect(image, threshold, size)[0]


def _work_dtype(array: np.ndarray) -> type:
    """float32 when it holds the input exactly (float32, 8/16-bit ints), else float64."""
    exact32 = array.dtype == np.float32 or (array.dtype.kind in "iub" and array.dtype.itemsize <= 2)
    return np.float32 if exact32 else np.float64


def _detect(image, threshold: float, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(outlier mask, neighbour median, data) — the median is computed once."""
    _check_options(threshold, size)
    array = as_image(image)
    data = array.astype(_work_dtype(array), copy=False)
    local = _neighbour_median(data, size)
    residual = (data - local).astype(np.float64)
    spread = MAD_TO_STD * float(np.median(np.abs(residual - np.median(residual))))
    if spread == 0.0:
        spread = float(residual.std())
    if spread == 0.0:
        return np.zeros(data.shape, dtype=bool), local, data
    mask = residual > threshold * spread
    if mask.any() and _is_counting(data):
        mask &= _poisson_unlikely(data, mask, threshold)
    return mask, local, data


def _poisson_unlikely(data: np.ndarray, candidates: np.ndarray, threshold: float) -> np.ndarray:
    """Where a count is less likely under shot noise than a Gaussian beyond ``threshold`` σ.

    The expected count at a pixel is the mean of its 7 × 7 neighbours (the
    pixel itself left out), at least the image mean (a sparse frame's
    neighbours are often all zero); only ``candidates`` are tested.
    """
    from scipy import stats

    n = SHOT_WINDOW * SHOT_WINDOW
    window = ndimage.uniform_filter(data.astype(np.float64), SHOT_WINDOW, mode="mirror") * n
    expected = (window[candidates] - data[candidates]) / (n - 1)
    out = np.zeros(data.shape, dtype=bool)
    expected = np.maximum(expected, max(float(data.mean()), 1e-3))  # all-zero neighbours
    out[candidates] = (stats.poisson.sf(data[candidates] - 1.0, expected)
                       < stats.norm.sf(threshold))
    return out


def _is_counting(data: np.ndarray) -> bool:
    """Whether every value is a non-negative whole number (an electron-counting frame)."""
    if data.dtype.kind in "ub":
        return True
    if data.dtype.kind == "i":
        return bool(data.min() >= 0)
    return bool(data.min() >= 0 and np.array_equal(data, np.round(data)))


def remove_outliers(image, *, threshold: float = 6.0, size: int = 3,
                    return_mask: bool = False):
    """Replace x-ray / hot pixels by the median of their neighbourhood.

    Parameters
    ----------
    image : (H, W) array_like
        Micrograph; must be finite.
    threshold : float
        Outlier threshold in robust standard deviations above the local median
        (see :func:`outlier_mask`). The default 6 leaves a clean Gaussian-noise
        image of 4k × 4k pixels untouched with high probability.
    size : int
        Odd side of the median window in pixels; 3 handles single pixels,
        5 handles 2 × 2 clusters.
    return_mask : bool
        Also return the boolean mask of replaced pixels.

    Returns
    -------
    cleaned : (H, W) ndarray of float32
        Copy of ``image`` with the outliers replaced; all other pixels unchanged.
    mask : (H, W) ndarray of bool
        Only with ``return_mask=True``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.ones((32, 32)); image[5, 7] = 1e4
    >>> float(remove_outliers(image)[5, 7])
    1.0
    """
    mask, local, data = _detect(image, threshold, size)
    cleaned = np.array(data, dtype=np.float32, copy=True)
    cleaned[mask] = local[mask]
    return (cleaned, mask) if return_mask else cleaned


def _neighbour_median(data: np.ndarray, size: int) -> np.ndarray:
    """Median of each pixel's ``size × size`` neighbourhood without the pixel itself."""
    footprint = np.ones((size, size), dtype=bool)
    footprint[size // 2, size // 2] = False
    return ndimage.median_filter(data, footprint=footprint, mode="mirror")


def _check_options(threshold: float, size: int) -> None:
    if not (isinstance(threshold, (int, float)) and np.isfinite(threshold) and threshold > 0):
        raise ConfigError(f"outlier_threshold: must be a positive number, got {threshold!r}")
    if not (isinstance(size, (int, np.integer)) and size >= 3 and size % 2 == 1):
        raise ConfigError(f"outlier size: must be an odd integer >= 3, got {size!r}")
