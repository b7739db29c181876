"""Synthetic test images: crystalline lattice patches inside amorphous noise, with exact masks.

Used by the tests of every stage (baselines, models, training, inference) and
by quick examples; no physics beyond a lattice of the right spacing. For
physically simulated HRTEM images see :mod:`temseg.simulate`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from temseg.rng import as_generator


def lattice(shape: tuple[int, int], *, spacing_px: float, angle_deg: float = 0.0,
            kind: str = "hexagonal") -> np.ndarray:
    """A unit-amplitude lattice fringe pattern of period ``spacing_px`` (pixels).

    ``kind="hexagonal"`` sums three cosines 60° apart (a close-packed
    projection, peaks at 1/spacing in six directions); ``"square"`` sums two
    at 90°. The result lies in [-1, 1].
    """
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    n_dirs, step = {"hexagonal": (3, 60.0), "square": (2, 90.0)}[kind]
    out = np.zeros(shape)
    for i in range(n_dirs):
        theta = np.deg2rad(angle_deg + i * step)
        out += np.cos(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / spacing_px)
    return (out / n_dirs).astype(np.float32)


def particle_image(
    shape: tuple[int, int] = (128, 128),
    *,
    n_particles: int = 1,
    radius_px: tuple[float, float] = (14.0, 24.0),
    spacing_px: float = 5.0,
    kind: str = "hexagonal",
    lattice_amplitude: float = 1.0,
    amorphous_sigma: float = 0.5,
    noise_sigma: float = 0.3,
    mass_contrast: float = 0.0,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lattice discs (particles) on an amorphous background, plus the exact mask.

    Parameters
    ----------
    shape : (H, W)
        Image size in pixels.
    n_particles : int
        Number of discs, placed without overlap where possible.
    radius_px : (min, max)
        Disc radius range in pixels, drawn uniformly.
    spacing_px : float
        Lattice period in pixels; the FFT peaks sit at ``1/spacing_px`` px⁻¹.
    kind : {"hexagonal", "square"}
        Lattice symmetry; each particle gets a random in-plane rotation.
    lattice_amplitude, amorphous_sigma, noise_sigma : float
        Fringe amplitude, std of the smooth amorphous texture (σ≈1.5 px
        correlated noise) and of white noise; set ``noise_sigma`` high for a
        hard image.
    mass_contrast : float
        Mean intensity drop inside particles (amplitude contrast); 0 gives
        pure phase contrast, where only the lattice tells particles apart.
    seed : int or Generator

    Returns
    -------
    image : (H, W) ndarray of float32
    mask : (H, W) ndarray of uint8, 1 inside particles
    """
    rng = as_generator(seed)
    h, w = shape
    amorphous = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    amorphous *= amorphous_sigma / max(amorphous.std(), 1e-12)
    image = amorphous.astype(np.float64)
    mask = np.zeros(shape, dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(n_particles):
        r = rng.uniform(*radius_px)
        for _attempt in range(50):
            cy, cx = rng.uniform(r, h - r), rng.uniform(r, w - r)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            if not (mask[disc] > 0).any():
                break
        fringes = lattice(shape, spacing_px=spacing_px, angle_deg=rng.uniform(0, 180), kind=kind)
        image[disc] = (lattice_amplitude * fringes[disc] + 0.3 * amorphous[disc] - mass_contrast)
        mask[disc] = 1
    image += noise_sigma * rng.standard_normal(shape)
    return image.astype(np.float32), mask


def particle_set(n: int, shape: tuple[int, int] = (128, 128), *, seed: int = 0, **kwargs):
    """``n`` (image, mask) pairs from :func:`particle_image` with one seeded generator."""
    rng = as_generator(seed)
    return [particle_image(shape, seed=rng, **kwargs) for _ in range(n)]
