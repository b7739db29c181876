"""Blending windows for tiled inference: Hamming (as paper 003), Gaussian and flat.

A window weighs each pixel of a tile's prediction before the tiles are summed;
the sum is then divided by the summed weights. Every window here is
*separable* — the 2-D window is the outer product of two 1-D windows — and
strictly positive, so

* every pixel a tile covers has a non-zero weight (the division is safe), and
* the summed weights over a regular grid of tiles is itself the outer product
  of two 1-D sums, so tiled prediction never needs an (H, W) weight image.
"""

from __future__ import annotations

import numpy as np

from temseg.errors import ConfigError

#: names accepted by :func:`window_1d` and :func:`window_2d`
WINDOWS = ("hamming", "gaussian", "flat")

#: relative floor added to every window value, so none is ever zero
WINDOW_FLOOR = 1e-3


def window_1d(length: int, kind: str = "hamming", *, floor: float = WINDOW_FLOOR) -> np.ndarray:
    """A positive 1-D blending window of ``length`` samples, peak 1.

    Parameters
    ----------
    length : int
        Number of samples (pixels), at least 1.
    kind : {"hamming", "gaussian", "flat"}
        ``"hamming"``: ``0.54 - 0.46 cos(2πn/(N-1))`` (ends at 0.08, never
        zero); ``"gaussian"``: σ = N/8 about the centre, as MONAI's default;
        ``"flat"``: all ones (plain averaging of overlaps).
    floor : float
        Added to every value before renormalising the peak to 1, so the
        window stays positive even where the formula approaches zero.

    Returns
    -------
    (length,) ndarray of float64, all values in (0, 1]
    """
    if kind not in WINDOWS:
        raise ConfigError(f"window: unknown window {kind!r} (use {', '.join(WINDOWS)})")
    length = int(length)
    if length < 1:
        raise ConfigError(f"window: length must be at least 1, got {length}")
    if kind == "flat" or length == 1:
        return np.ones(length)
    if kind == "hamming":
        w = np.hamming(length)
    else:
        centre = (length - 1) / 2.0
        sigma = length / 8.0
        w = np.exp(-0.5 * ((np.arange(length) - centre) / sigma) ** 2)
    w = w + floor
    return w / w.max()


def window_2d(shape: tuple[int, int], kind: str = "hamming", *,
              floor: float = WINDOW_FLOOR) -> np.ndarray:
    """The separable 2-D window ``w[y, x] = w_y[y] · w_x[x]`` of a tile.

    Parameters
    ----------
    shape : (th, tw)
        Tile size in pixels.
    kind : {"hamming", "gaussian", "flat"}
    floor : float
        See :func:`window_1d`.

    Returns
    -------
    (th, tw) ndarray of float32, all values in (0, 1]
    """
    wy = window_1d(shape[0], kind, floor=floor)
    wx = window_1d(shape[1], kind, floor=floor)
    return np.outer(wy, wx).astype(np.float32)
