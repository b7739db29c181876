"""Exit waves: our element-summed potential slices equal abTEM's infinite projection."""

import numpy as np
import pytest
from ase import Atoms

from temseg.simulate.waves import _deltas, _integrals_class, exit_wave, wave_gpts


def _atoms(seed=0, n=60, cell=12.0, depth=6.0):
    rng = np.random.default_rng(seed)
    numbers = rng.choice([8, 58, 79], size=n)
    positions = rng.uniform([0, 0, 0], [cell, cell, depth], size=(n, 3))
    return Atoms(numbers=numbers, positions=positions, cell=[cell, cell, depth], pbc=True)


def test_deltas_match_abtem_superpose():
    from abtem.integrals import superpose_deltas

    rng = np.random.default_rng(1)
    positions = rng.uniform(-3, 40, size=(50, 2))  # some outside the grid: wrapped
    mine = _deltas(positions, (32, 36))
    ref = superpose_deltas(positions, np.zeros((32, 36), np.float64))
    np.testing.assert_allclose(mine, ref, atol=1e-6)
    assert mine.dtype == np.float32 and mine.sum() == pytest.approx(50, rel=1e-5)


def test_summed_slices_equal_abtem_infinite_projection():
    import abtem

    atoms = _atoms()
    kwargs = {"gpts": (96, 96), "slice_thickness": 2.0}
    ref = abtem.Potential(atoms, parametrization="lobato", projection="infinite", **kwargs)
    mine = abtem.Potential(atoms, integrator=_integrals_class()("lobato"), **kwargs)
    a, b = ref.build().compute().array, mine.build().compute().array
    assert a.shape == b.shape == (3, 96, 96)
    np.testing.assert_allclose(b, a, atol=1e-5 * float(np.abs(a).max()))


def test_exit_wave_vacuum_and_against_abtem():
    import abtem

    atoms = _atoms(seed=2)
    n = wave_gpts(12.0, 0.1)
    wave = exit_wave(atoms, gpts=n)
    ref = abtem.PlaneWave(energy=300e3).multislice(
        abtem.Potential(atoms, gpts=(n, n), slice_thickness=2.0, projection="infinite")).array
    assert wave.shape == (n, n) and wave.dtype == np.complex64
    np.testing.assert_allclose(wave, ref, atol=1e-5)
    empty = exit_wave(Atoms(cell=[12.0, 12.0, 4.0], pbc=True), gpts=n)
    np.testing.assert_allclose(np.abs(empty), 1.0, atol=1e-6)
