"""Bézier-surface flat-field correction (Sadre et al., paper 004, eq. 1–3).

The slowly varying illumination ``I0(r)`` of a micrograph is modelled by a
tensor-product Bézier surface (eq. 1)::

    I0(u, v) = Σ_i Σ_j k_ij · B_i^m(u) · B_j^n(v),   B_i^m(u) = C(m, i) u^i (1 − u)^(m−i)

with ``(u, v)`` the row and column coordinates normalised to [0, 1]. The
coefficients ``k_ij`` are fitted to the image by linear least squares and the
image is divided by the surface (eq. 2), after which its mean is ≈ 1.
Standardization (eq. 3) is :func:`temseg.preprocess.standardize`;
:func:`flatfield_standardize` does both in one pass.

The paper fits a "2x2" surface, i.e. order 2 in each direction (3 × 3
coefficients); ``order`` is configurable.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import comb

from temseg.errors import ConfigError, InputError
from temseg.preprocess._checks import as_image

DEFAULT_ORDER = 2


def bernstein(order: int, t) -> np.ndarray:
    """Bernstein basis polynomials ``B_i^order(t)`` for i = 0..order.

    Parameters
    ----------
    order : int
        Polynomial degree m ≥ 0.
    t : (N,) array_like
        Coordinates in [0, 1].

    Returns
    -------
    (N, order + 1) ndarray of float64
        Column i is ``C(m, i) t^i (1 − t)^(m − i)``; rows sum to 1.
    """
    t = np.asarray(t, dtype=np.float64)[:, None]
    i = np.arange(order + 1)[None, :]
    return comb(order, i) * t**i * (1.0 - t) ** (order - i)


@functools.lru_cache(maxsize=16)
def _basis(shape: tuple[int, int], order: int) -> tuple[np.ndarray, ...]:
    """Row and column bases ``Bu (H, m+1)``, ``Bv (W, m+1)`` and their pseudo-inverses.

    They depend only on the shape and order, so they are cached (read-only):
    the SVDs behind ``pinv`` would otherwise dominate the fit of a small image.
    """
    h, w = shape
    bu = bernstein(order, np.linspace(0.0, 1.0, h))
    bv = bernstein(order, np.linspace(0.0, 1.0, w))
    out = (bu, bv, np.linalg.pinv(bu), np.linalg.pinv(bv))
    for a in out:
        a.setflags(write=False)
    return out


def _checked_basis(shape: tuple[int, int], order: int) -> tuple[np.ndarray, ...]:
    """:func:`_basis` after checking the order and that the image is large enough."""
    _check_order(order)
    if min(shape) < order + 1:
        raise InputError(
            f"image: {shape[0]}×{shape[1]} is too small for a Bézier surface "
            f"of order {order} (needs ≥ {order + 1} pixels per axis)")
    return _basis(tuple(shape), order)


def bezier_surface(coefficients, shape: tuple[int, int]) -> np.ndarray:
    """Evaluate eq. 1 for coefficients ``k`` of shape (m + 1, n + 1) on an (H, W) pixel grid.

    Returns
    -------
    (H, W) ndarray of float64
    """
    k = np.asarray(coefficients, dtype=np.float64)
    if k.ndim != 2:
        raise ConfigError(f"coefficients: expected a 2-D array, got shape {k.shape}")
    h, w = shape
    bu = bernstein(k.shape[0] - 1, np.linspace(0.0, 1.0, h))
    bv = bernstein(k.shape[1] - 1, np.linspace(0.0, 1.0, w))
    return bu @ k @ bv.T


def fit_bezier_surface(image, *, order: int = DEFAULT_ORDER,
                       return_coefficients: bool = False):
    """Least-squares fit of a Bézier surface of the given order to an image (eq. 1).

    Parameters
    ----------
    image : (H, W) array_like
        Micrograph; finite, at least ``order + 1`` pixels along each axis.
    order : int
        Degree in each direction (0 = constant, 2 = the paper's "2x2" surface).
    return_coefficients : bool
        Also return the fitted ``k_ij``.

    Returns
    -------
    surface : (H, W) ndarray of float64
        The fitted illumination ``I0``.
    coefficients : (order + 1, order + 1) ndarray of float64
        Only with ``return_coefficients=True``.

    Notes
    -----
    The design matrix of a tensor-product surface on a full pixel grid is the
    Kronecker product of the row and column bases, so the least-squares
    solution separates exactly: ``K = pinv(Bu) · I · pinv(Bv)ᵀ``. This costs
    O(H·W·order) instead of a dense (H·W) × (order+1)² solve.
    """
    data = as_image(image).astype(np.float64, copy=False)
    bu, bv, pinv_u, pinv_v = _checked_basis(data.shape, order)
    k = pinv_u @ data @ pinv_v.T
    surface = bu @ k @ bv.T
    return (surface, k) if return_coefficients else surface


def flatfield(image, *, order: int = DEFAULT_ORDER, return_surface: bool = False):
    """Divide an image by its fitted Bézier illumination surface (eq. 1–2).

    Parameters
    ----------
    image : (H, W) array_like
        Raw intensities (counts or any positive scale); finite.
    order : int
        Degree of the Bézier surface in each direction.
    return_surface : bool
        Also return the fitted surface ``I0`` (for plots and checks).

    Returns
    -------
    corrected : (H, W) ndarray of float32
        ``image / I0``; its mean is ≈ 1 and slow illumination gradients are gone.
    surface : (H, W) ndarray of float64
        Only with ``return_surface=True``.

    Raises
    ------
    InputError
        When the fitted surface is not strictly positive somewhere, which
        happens for images that are not intensities (e.g. already
        standardized to mean 0): apply flat-field before standardizing.
    """
    data = as_image(image).astype(np.float64, copy=False)
    surface = fit_bezier_surface(data, order=order)
    _check_surface(surface)
    corrected = (data / surface).astype(np.float32)
    return (corrected, surface) if return_surface else corrected


def flatfield_standardize(image, *, order: int = DEFAULT_ORDER) -> np.ndarray:
    """Flat-field (eq. 1–2) and standardize (eq. 3) in one pass over the image.

    The same as ``standardize(flatfield(image, order=order))`` up to float32
    rounding (the division is done in float64 and the statistics accumulate
    in float64), but with one image-sized float32 array instead of five
    temporaries — the step every Bragg-filter call begins with.

    Parameters
    ----------
    image : (H, W) array_like
        Raw intensities (counts or any positive scale); finite.
    order : int
        Degree of the Bézier surface in each direction.

    Returns
    -------
    (H, W) ndarray of float32
        ``(image / I0 − mean) / std``: mean 0, standard deviation 1.

    Raises
    ------
    InputError
        When the fitted surface is not strictly positive (see :func:`flatfield`)
        or the corrected image is constant.
    """
    data = as_image(image).astype(np.float64, copy=False)
    bu, bv, pinv_u, pinv_v = _checked_basis(data.shape, order)
    k = pinv_u @ data @ pinv_v.T
    # the surface is smooth and only divides: float32 is enough, and halves the memory
    out = (bu @ k).astype(np.float32) @ bv.T.astype(np.float32)
    _check_surface(out)
    np.divide(data, out, out=out)  # computed in float64, stored as float32
    mean = float(out.mean(dtype=np.float64))
    var = float(np.einsum("ij,ij->", out, out, dtype=np.float64)) / out.size - mean**2
    std = float(np.sqrt(max(var, 0.0)))
    if not std > 1e-6 * max(1.0, abs(mean)):
        raise InputError(f"image: constant after flat-field (value {mean:g}); cannot standardize")
    out -= np.float32(mean)
    out *= np.float32(1.0 / std)
    return out


def _check_surface(surface: np.ndarray) -> None:
    """Raise :class:`InputError` unless the fitted illumination is strictly positive."""
    low = float(surface.min())
    if not low > 1e-12 * max(1.0, abs(low), abs(float(surface.max()))):
        raise InputError(
            f"image: fitted illumination surface reaches {low:.3g} ≤ 0; flat-field "
            "correction needs positive intensities (apply it before standardizing)")


def _check_order(order) -> None:
    if not (isinstance(order, (int, np.integer)) and not isinstance(order, bool)
            and 0 <= order <= 12):
        raise ConfigError(f"flatfield_order: must be an integer in 0..12, got {order!r}")
