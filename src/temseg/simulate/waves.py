"""Exit waves with abTEM: plane-wave multislice, computed once per structure (002 §2).

abTEM runs eagerly here (no lazy dask graphs inside abTEM; the parallelism
is ours, one structure per task) with one FFTW thread per task.
"""

from __future__ import annotations

import math

import numpy as np


def configure_abtem() -> None:
    """Eager abTEM on the CPU with single-threaded, deterministic FFTs.

    Parallelism is ours (one structure per task). FFTW plans with
    ``FFTW_ESTIMATE``: ``FFTW_MEASURE`` picks algorithms by timing, so two
    processes could round differently, and one rounding difference in an
    expected count changes every Poisson draw after it.
    """
    import abtem

    abtem.config.set({"dask.lazy": False, "fftw.threads": 1, "device": "cpu",
                      "fftw.planning_effort": "FFTW_ESTIMATE"})


def wave_gpts(cell: float, max_sampling: float) -> int:
    """Grid points of a cell of ``cell`` Å at a sampling no coarser than ``max_sampling`` Å.

    Rounded up to an even size whose only prime factors are 2, 3 and 5 (fast for FFTW).
    """
    n = max(2, int(math.ceil(cell / max_sampling - 1e-9)))
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1 and n % 2 == 0:
            return n
        n += 1


def exit_wave(atoms, *, gpts: int, energy: float = 300e3, slice_thickness: float = 2.0,
              parametrization: str = "lobato") -> np.ndarray:
    """The exit wave of a plane wave through ``atoms`` (multislice, infinite projection).

    Parameters
    ----------
    atoms : ase.Atoms
        Structure in an orthogonal periodic cell, beam along ``z``.
    gpts : int
        Grid points per side of the square cell; the sampling is
        ``atoms.cell[0, 0] / gpts`` Å.
    energy : float
        Electron energy in eV (002: 300 keV).
    slice_thickness : float
        Multislice slice thickness in Å.

    Returns
    -------
    (gpts, gpts) ndarray of complex64
        The exit wave; array axis 0 runs along ``x``, axis 1 along ``y``
        (abTEM's order); ``|ψ|² = 1`` in vacuum.
    """
    import abtem

    configure_abtem()
    potential = abtem.Potential(atoms, gpts=(gpts, gpts), slice_thickness=slice_thickness,
                                parametrization=parametrization, projection="infinite")
    waves = abtem.PlaneWave(energy=energy).multislice(potential)
    array = waves.compute().array if hasattr(waves.array, "compute") else waves.array
    return np.ascontiguousarray(array, dtype=np.complex64)
