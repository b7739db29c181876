"""Pixel-exact labels from the atoms: projected convex hull and atomic-column discs (002 §2),
atomic-species discs of MoS2 columns (003), and contamination patches on graphene (004).

Pixel ``(i, j)`` of an image with sampling ``s`` and ``origin`` ``(x0, y0)``
is the point ``(x0 + i·s, y0 + j·s)`` (axis 0 along ``x``, abTEM's order),
the same grid points the simulated images are sampled on.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError, cKDTree
from skimage.draw import polygon


def _pixel_coords(xy: np.ndarray, *, sampling: float, origin) -> np.ndarray:
    return (np.asarray(xy, dtype=np.float64) - np.asarray(origin, dtype=np.float64)) / sampling


def hull_mask(xy: np.ndarray, shape: tuple[int, int], *, sampling: float, origin=(0.0, 0.0),
              grow: float = 0.0) -> np.ndarray:
    """Mask of the convex hull of projected atom positions, optionally grown.

    Parameters
    ----------
    xy : (M, 2) ndarray of float
        Projected positions in Å.
    shape : (H, W)
        Output shape.
    sampling : float
        Å per pixel.
    origin : (float, float)
        Position in Å of pixel ``(0, 0)``.
    grow : float
        Grow the hull outward by this distance in Å (its Minkowski sum with a disc).

    Returns
    -------
    (H, W) ndarray of uint8, 1 inside the hull.
    """
    xy = np.asarray(xy, dtype=np.float64)
    mask = np.zeros(shape, np.uint8)
    if len(xy) == 0:
        return mask
    if grow > 0:
        angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        ring = grow * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        xy = (xy[:, None, :] + ring[None]).reshape(-1, 2)
    try:
        vertices = xy[ConvexHull(xy).vertices]
    except QhullError:  # fewer than three atoms or all on a line: no area
        return mask
    px = _pixel_coords(vertices, sampling=sampling, origin=origin)
    rr, cc = polygon(px[:, 0], px[:, 1], shape=shape)
    mask[rr, cc] = 1
    return mask


def column_mask(xy: np.ndarray, shape: tuple[int, int], *, sampling: float, origin=(0.0, 0.0),
                radius: float = 0.7) -> np.ndarray:
    """Mask with a disc of ``radius`` Å around every projected atom (atomic columns).

    Atoms of one column project onto (nearly) one point, so their discs
    coincide; a small tilt elongates them as it does the real column.
    Arguments as :func:`hull_mask`; returns ``(H, W)`` uint8.
    """
    return species_mask(xy, np.ones(len(xy), np.uint8), shape, sampling=sampling,
                        origin=origin, radius=radius)


def species_mask(xy: np.ndarray, classes: np.ndarray, shape: tuple[int, int], *,
                 sampling: float, origin=(0.0, 0.0), radius: float = 0.7) -> np.ndarray:
    """Class-index mask: discs of ``radius`` Å around columns, each with its column's class.

    A pixel within ``radius`` of several columns takes the nearest column's
    class (a Voronoi split of overlapping discs); a column of class 0 (an
    empty S site) claims its disc for the background.

    Parameters
    ----------
    xy : (K, 2) ndarray of float
        Projected column positions in Å.
    classes : (K,) ndarray of int
        Each column's class index (0 .. 255).
    shape, sampling, origin
        As :func:`hull_mask`.
    radius : float
        Disc radius in Å.

    Returns
    -------
    (H, W) ndarray of uint8, class indices, 0 away from every column.
    """
    mask = np.zeros(shape, np.uint8)
    if len(xy) == 0:
        return mask
    classes = np.asarray(classes, dtype=np.uint8)
    tree = cKDTree(np.asarray(xy, dtype=np.float64))
    ii, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    points = np.stack([ii.ravel(), jj.ravel()], axis=1) * sampling + np.asarray(origin)
    dist, nearest = tree.query(points, distance_upper_bound=radius * (1 + 1e-9))  # inclusive
    hit = np.isfinite(dist)
    mask.ravel()[hit] = classes[nearest[hit]]
    return mask


def cover_mask(cover, shape: tuple[int, int], *, sampling: float,
               origin=(0.0, 0.0)) -> np.ndarray:
    """Mask of the pixels under a contamination patch of ``cover``
    (:class:`temseg.simulate.structures.Cover`), read at each pixel's point.

    Arguments as :func:`hull_mask`; returns ``(H, W)`` uint8, 1 under a patch.
    """
    ii, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    points = np.stack([ii.ravel(), jj.ravel()], axis=1) * sampling + np.asarray(origin)
    return cover.covered(points).reshape(shape).astype(np.uint8)
