"""Rebinning and resampling with the pixel size (sampling, Å/px) kept in step."""

from __future__ import annotations

import numpy as np
from skimage.measure import block_reduce
from skimage.transform import resize

from temseg.errors import ConfigError, InputError
from temseg.preprocess._checks import as_image

#: a resampled frame above this many pixels (8 GiB as float64) is a pixel-size slip, not data
MAX_RESAMPLED_PIXELS = 2**30

#: resampling by this factor or more (either way) is worth a warning: a pixel size off by a
#: unit prefix or a binning step, or images the model cannot resolve (S columns at 1 Å/px)
RESAMPLE_WARN = 4.0


def resampling_note(name: str, sampling: float, target_sampling: float,
                    shape: tuple[int, int], *, what: str = "model",
                    hint: str = "check the pixel size") -> str | None:
    """The warning for an ``(H, W)`` image of ``sampling`` Å/px that a ``what`` (a network,
    a fitted filter) of ``target_sampling`` Å/px resamples :data:`RESAMPLE_WARN`× or more
    either way; None for less.

    Examples
    --------
    >>> resampling_note("a.tif", 0.03, 0.3, (128, 128))
    "a.tif: 0.03 Å/px is 10× finer than the model's 0.3 Å/px; resampled to 13×13 px (check the pixel size)"
    """
    ratio = float(sampling) / float(target_sampling)
    if 1 / RESAMPLE_WARN < ratio < RESAMPLE_WARN:
        return None
    h, w = resampled_shape(tuple(shape)[-2:], sampling=sampling, target_sampling=target_sampling)
    way = f"{ratio:.3g}× coarser" if ratio > 1 else f"{1 / ratio:.3g}× finer"
    return (f"{name}: {sampling:g} Å/px is {way} than the {what}'s {target_sampling:g} Å/px; "
            f"resampled to {h}×{w} px ({hint})")


def resampled_shape(shape: tuple[int, int], *, sampling: float,
                    target_sampling: float) -> tuple[int, int]:
    """The ``(H', W')`` :func:`resample_to` gives an ``(H, W)`` image.

    Raises
    ------
    InputError
        More than :data:`MAX_RESAMPLED_PIXELS`: a pixel-size slip (nm given as Å), not data.
    """
    h, w = shape
    zoom = sampling / target_sampling
    new_h, new_w = max(1, int(round(h * zoom))), max(1, int(round(w * zoom)))
    if new_h * new_w > MAX_RESAMPLED_PIXELS:
        raise InputError(f"resampling {h}×{w} px at {sampling:g} Å/px to {target_sampling:g} "
                         f"Å/px would give {new_h}×{new_w} px; check the pixel size (nm or Å?)")
    return new_h, new_w


def _check_sampling(name: str, value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name}: expected a number (Å/px), got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ConfigError(f"{name}: must be a positive number of Å/px, got {value!r}")
    return float(value)


def rebin(image, factor: int, *, sampling: float | None = None):
    """Average ``factor × factor`` pixel blocks (the remainder rows/columns are cropped).

    Parameters
    ----------
    image : (H, W) or (C, H, W) array_like
        Image (or channel stack; blocks are taken over the last two axes).
    factor : int
        Block side in pixels, ≥ 1 and ≤ min(H, W).
    sampling : float, optional
        Input pixel size in Å/px.

    Returns
    -------
    binned : (H // factor, W // factor) or (C, ...) ndarray of float32
        Block means (this also averages the noise down by ``factor``).
    sampling : float or None
        ``sampling × factor`` Å/px, or None when the input had none.

    Notes
    -----
    For label masks use :func:`resample_to` with ``order=0`` instead of block means.
    """
    data = as_image(image, ndim=(2, 3))
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ConfigError(f"factor: must be a positive integer, got {factor!r}")
    sampling = _check_sampling("sampling", sampling)
    h, w = data.shape[-2:]
    if factor > min(h, w):
        raise ConfigError(f"factor: {factor} is larger than the image ({h}×{w})")
    cropped = data[..., : h - h % factor, : w - w % factor].astype(np.float64, copy=False)
    block = (1,) * (data.ndim - 2) + (factor, factor)
    binned = block_reduce(cropped, block_size=block, func=np.mean).astype(np.float32)
    return binned, (None if sampling is None else sampling * factor)


def resample_to(image, *, sampling: float, target_sampling: float, order: int = 1,
                anti_aliasing: bool | None = None):
    """Resize an image from one pixel size to (as close as possible to) another.

    Parameters
    ----------
    image : (H, W) or (C, H, W) array_like
        Image, or a label mask with ``order=0``.
    sampling, target_sampling : float
        Current and wanted pixel size in Å/px.
    order : int
        Spline order of the interpolation (0 = nearest neighbour, for labels;
        1 = bilinear, the default for images; up to 5).
    anti_aliasing : bool, optional
        Gaussian pre-filter when shrinking; default True for ``order > 0``
        when downsampling, always False for ``order=0``.

    Returns
    -------
    resampled : (H', W') or (C, H', W') ndarray
        float32 for ``order > 0``; for ``order=0`` the input dtype (label values
        are preserved exactly). ``H' = round(H · sampling / target_sampling)``.
    sampling : float
        The pixel size actually achieved, ``sampling · H / H'`` (the shape is
        rounded to whole pixels, so it differs slightly from
        ``target_sampling``). For non-square images the two axes can differ by
        rounding; the mean of the row and column values is returned.
    """
    data = as_image(image, ndim=(2, 3))
    sampling = _check_sampling("sampling", sampling)
    target = _check_sampling("target_sampling", target_sampling)
    if sampling is None or target is None:
        raise ConfigError("sampling: resample_to needs both sampling and target_sampling")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 0 <= order <= 5:
        raise ConfigError(f"order: must be an integer in 0..5, got {order!r}")
    h, w = data.shape[-2:]
    zoom = sampling / target
    new_h, new_w = resampled_shape((h, w), sampling=sampling, target_sampling=target)
    achieved = 0.5 * (sampling * h / new_h + sampling * w / new_w)
    if (new_h, new_w) == (h, w):
        out = data.copy() if order == 0 else data.astype(np.float32)
        return out, achieved
    if order == 0:
        out = resize(data, data.shape[:-2] + (new_h, new_w), order=0, mode="edge",
                     anti_aliasing=False, preserve_range=True)
        return out.astype(data.dtype), achieved
    if anti_aliasing is None:
        anti_aliasing = zoom < 1
    out = resize(data.astype(np.float64, copy=False), data.shape[:-2] + (new_h, new_w),
                 order=order, mode="reflect", anti_aliasing=anti_aliasing,
                 preserve_range=True)
    return out.astype(np.float32), achieved
