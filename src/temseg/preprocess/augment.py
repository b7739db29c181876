"""Augmentation: the 8 dihedral symmetries of the square and random intensity changes."""

from __future__ import annotations

import numpy as np

from temseg.errors import ConfigError
from temseg.preprocess._checks import as_image
from temseg.rng import as_generator

#: number of elements of the dihedral group D4
N_DIHEDRAL = 8


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < N_DIHEDRAL:
        raise ConfigError(f"k: dihedral index must be an integer in 0..7, got {k!r}")
    return int(k)


def dihedral(array, k: int) -> np.ndarray:
    """Apply the k-th of the 8 symmetries of the square to the last two axes.

    ``k = 0..3`` rotate by ``k × 90°`` counter-clockwise (``np.rot90``);
    ``k = 4..7`` rotate by ``(k − 4) × 90°`` and then mirror left–right.

    Parameters
    ----------
    array : (..., H, W) array_like
        Image, label, (C, H, W) channels or (N, C, H, W) batch; NumPy only.
    k : int
        Index of the symmetry, 0 (identity) to 7.

    Returns
    -------
    (..., H, W) or (..., W, H) ndarray
        A C-contiguous copy (safe for ``torch.from_numpy``).
    """
    k = _check_k(k)
    array = np.asarray(array)
    if array.ndim < 2:
        raise ConfigError(f"array: dihedral needs at least 2 dimensions, got shape {array.shape}")
    out = np.rot90(array, k % 4, axes=(-2, -1))
    if k >= 4:
        out = np.flip(out, axis=-1)
    return np.ascontiguousarray(out)


def dihedral_inverse(k: int) -> int:
    """Index of the inverse symmetry: ``dihedral(dihedral(a, k), dihedral_inverse(k)) == a``.

    Rotations invert to the opposite rotation; the four mirrors are their own inverse.
    """
    k = _check_k(k)
    return (4 - k) % 4 if k < 4 else k


def dihedral_stack(array) -> np.ndarray:
    """All 8 symmetric copies of a square array, stacked on a new first axis: (8, ..., H, W)."""
    array = np.asarray(array)
    if array.shape[-1] != array.shape[-2]:
        raise ConfigError(f"array: dihedral_stack needs square last axes, got shape {array.shape}")
    return np.stack([dihedral(array, k) for k in range(N_DIHEDRAL)])


def random_dihedral(image, label=None, *, seed: int | np.random.Generator | None,
                    keep_shape: bool = False):
    """The same random dihedral symmetry applied to an image and (optionally) its label.

    Parameters
    ----------
    image : (..., H, W) array_like
    label : (H, W) array_like, optional
    seed : int or Generator
    keep_shape : bool
        Draw only the 4 symmetries that keep an (H, W) array (H, W): identity,
        180° rotation and the two mirrors (k = 0, 2, 4, 6), so non-square
        images of one batch keep one shape. The draw is the same as without
        it (one integer in 0..7), an odd k taken as the even one below it, so
        the generator's later draws do not change.

    Returns
    -------
    image : ndarray
    label : ndarray or None
    k : int
        The symmetry that was applied.
    """
    k = int(as_generator(seed).integers(N_DIHEDRAL))
    if keep_shape:
        k -= k % 2  # rotations by 90°/270° and the transposes swap H and W
    return dihedral(image, k), (None if label is None else dihedral(label, k)), k


def random_intensity(image, *, seed: int | np.random.Generator | None,
                     gain: tuple[float, float] = (0.8, 1.25),
                     offset: tuple[float, float] = (-0.2, 0.2),
                     gamma: tuple[float, float] | None = None,
                     noise_sigma: tuple[float, float] = (0.0, 0.0),
                     blur_px: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Random image-quality change for training: gamma, blur, gain/offset, then noise.

    Parameters
    ----------
    image : (H, W) or (C, H, W) array_like
        Image (usually standardized: mean 0, std 1).
    seed : int or Generator
        Source of randomness (required: every random step takes a seed).
    gain : (low, high)
        Multiplier drawn log-uniformly in this range.
    offset : (low, high)
        Additive shift drawn uniformly, in units of the image's std.
    gamma : (low, high), optional
        Exponent drawn log-uniformly and applied to the image rescaled to
        [0, 1] (then mapped back to its range); None skips it.
    noise_sigma : (low, high)
        Std of added white Gaussian noise, drawn uniformly, in units of the
        image's std; (0, 0) adds none.
    blur_px : (low, high)
        Std of a Gaussian blur (pixels), drawn uniformly: a softer transfer
        function (defocus, detector MTF) than the training image's; (0, 0)
        blurs nothing and draws nothing. A (C, H, W) stack is blurred per channel.

    Returns
    -------
    ndarray of float32, same shape as ``image``
    """
    rng = as_generator(seed)
    data = as_image(image, ndim=(2, 3)).astype(np.float64)
    for name, rng_range, positive in (("gain", gain, True), ("offset", offset, False),
                                      ("gamma", gamma, True), ("noise_sigma", noise_sigma, False),
                                      ("blur_px", blur_px, False)):
        if rng_range is None:
            continue
        low, high = (float(v) for v in rng_range)
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise ConfigError(f"{name}: expected (low, high) with low <= high, got {rng_range!r}")
        if (positive and low <= 0) or (name in ("noise_sigma", "blur_px") and low < 0):
            raise ConfigError(f"{name}: range must be positive, got {rng_range!r}")
    scale = float(data.std()) or 1.0
    if gamma is not None:
        lo, hi = float(data.min()), float(data.max())
        if hi > lo:
            g = float(np.exp(rng.uniform(np.log(gamma[0]), np.log(gamma[1]))))
            data = lo + (hi - lo) * ((data - lo) / (hi - lo)) ** g
    if float(blur_px[1]) > 0:
        from scipy import ndimage

        width = float(rng.uniform(*blur_px))
        axes_sigma = (0.0, width, width) if data.ndim == 3 else width
        data = ndimage.gaussian_filter(data, axes_sigma, mode="mirror")
    g = float(np.exp(rng.uniform(np.log(gain[0]), np.log(gain[1]))))
    data = g * data + rng.uniform(*offset) * scale
    sigma = rng.uniform(*noise_sigma) * scale
    if sigma > 0:
        data = data + rng.normal(0.0, sigma, size=data.shape)
    return data.astype(np.float32)


def random_zoom(image, label=None, *, seed: int | np.random.Generator | None,
                zoom: tuple[float, float] = (0.8, 1.25),
                shape: tuple[int, int] | None = None):
    """A random magnification change: resample a randomly placed window.

    The factor ``s`` is drawn log-uniformly in ``zoom``; ``s > 1`` magnifies
    (the output shows a window of ``shape / s`` input pixels), ``s < 1``
    shrinks (the image is mirrored at its edges to fill the output). The
    image is interpolated linearly, the label takes the nearest class, so the
    two stay aligned. Used in training to make a network tolerate a
    magnification (Å/pixel) a little off the one it was trained at.
    A (C, H, W) stack (a focal series) is resampled channel by channel
    through the same window, with the same random draws as one image.

    Parameters
    ----------
    image : (H, W) or (C, H, W) array_like
    label : (H, W) array_like of int, optional
    seed : int or Generator
    zoom : (low, high)
        Range of the magnification factor, positive.
    shape : (h, w), optional
        Output shape (a training crop); default the image's shape.

    Returns
    -------
    image : (h, w) or (C, h, w) ndarray of float32
    label : (h, w) ndarray of the label's dtype, or None
    s : float
        The factor that was drawn.
    """
    from scipy import ndimage

    rng = as_generator(seed)
    data = as_image(image, ndim=(2, 3))
    plane = data.shape[-2:]
    low, high = (float(v) for v in zoom)
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high):
        raise ConfigError(f"zoom: expected positive (low, high) with low <= high, got {zoom!r}")
    out_shape = tuple(int(n) for n in (shape or plane))
    if label is not None and np.shape(label) != plane:
        raise ConfigError(f"label: shape {np.shape(label)} differs from the image's {plane}")
    s = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    # centre of the source window: anywhere it fits, else the image centre
    centre = []
    for n_in, n_out in zip(plane, out_shape):
        half = 0.5 * n_out / s
        lo_c, hi_c = half - 0.5, n_in - half - 0.5
        centre.append(float(rng.uniform(lo_c, hi_c)) if hi_c > lo_c else 0.5 * (n_in - 1))
    offset = [c - 0.5 * (n_out - 1) / s for c, n_out in zip(centre, out_shape)]
    matrix = np.full(2, 1.0 / s)
    def resample(channel: np.ndarray) -> np.ndarray:
        return ndimage.affine_transform(channel.astype(np.float32), matrix, offset=offset,
                                        output_shape=out_shape, order=1, mode="mirror")

    out = resample(data) if data.ndim == 2 else np.stack([resample(c) for c in data])
    lab = None
    if label is not None:
        label = np.asarray(label)
        lab = ndimage.affine_transform(label, matrix, offset=offset, output_shape=out_shape,
                                       order=0, mode="mirror").astype(label.dtype)
    return out, lab, s
