"""ASE structures: [110] zone, (111) truncation facet on a CeO2 (111) slab, inside the cell."""

import numpy as np
import pytest

from temseg.simulate.config import StructureConfig
from temseg.simulate.structures import (ZONE_110, build_structure, fcc_particle,
                                        half_column_spacing, lattice_constant)


def test_zone_frame_is_orthonormal_and_right_handed():
    np.testing.assert_allclose(ZONE_110 @ ZONE_110.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(ZONE_110) == pytest.approx(1.0)
    # beam along [110], a (111) normal along y
    np.testing.assert_allclose(ZONE_110[2], np.array([1, 1, 0]) / np.sqrt(2))
    np.testing.assert_allclose(abs(ZONE_110[1] @ np.array([1, -1, 1]) / np.sqrt(3)), 1.0)


def test_particle_is_columnar_along_beam_and_truncated_on_a_111_layer():
    a = lattice_constant("Au")
    pos = fcc_particle("Au", 10.0, 0.5)
    assert np.linalg.norm(pos, axis=1).max() <= 10.0 + 1e-9
    # (111) layers: every y is a multiple of d111 (a lattice point at the origin)
    d111 = a / np.sqrt(3)
    np.testing.assert_allclose(np.round(pos[:, 1] / d111) * d111, pos[:, 1], atol=1e-6)
    bottom = pos[:, 1].min()
    assert bottom == pytest.approx(np.round(-5.0 / d111) * d111, abs=1e-6)
    assert np.count_nonzero(np.isclose(pos[:, 1], bottom)) >= 10  # a flat facet
    # [110] columns: atoms repeat along z every a/√2 at the same (x, y)
    xy = np.round(pos[:, :2], 3)
    _, counts = np.unique(xy, axis=0, return_counts=True)
    assert counts.max() >= 4


def test_structure_on_ceo2_is_seeded_and_inside_cell():
    cfg = StructureConfig(radius=(6.0, 8.0), support_depth=(10.0, 10.0))
    s1 = build_structure(cfg, cell=30.0, rng=3)
    s2 = build_structure(cfg, cell=30.0, rng=3)
    np.testing.assert_array_equal(s1.atoms.positions, s2.atoms.positions)
    assert s1.params == s2.params
    symbols = set(s1.atoms.get_chemical_symbols())
    assert symbols == {"Au", "Ce", "O"}
    assert set(np.array(s1.atoms.get_chemical_symbols())[s1.particle]) == {"Au"}
    pos = s1.atoms.positions
    assert np.all(pos[:, :2] >= 0) and np.all(pos[:, :2] < 30.0)
    assert np.all(pos[:, 2] > 0) and np.all(pos[:, 2] < s1.atoms.cell[2, 2])
    # the support lies on one side of the particle, beyond the interface gap
    ang = np.deg2rad(s1.params["rotation"])
    normal = np.array([-np.sin(ang), np.cos(ang)])  # the crystal y axis after rotation
    h_particle = pos[s1.particle, :2] @ normal
    h_support = pos[~s1.particle, :2] @ normal
    assert h_support.max() < h_particle.min() - 2.0


@pytest.mark.parametrize("support", ["carbon", "none"])
def test_other_supports(support):
    s = build_structure(StructureConfig(radius=(6.0, 6.0), support=support), cell=30.0, rng=0)
    symbols = set(s.atoms.get_chemical_symbols())
    assert symbols == ({"Au", "C"} if support == "carbon" else {"Au"})


def test_half_column_spacing_au():
    assert half_column_spacing("Au") == pytest.approx(4.08 * np.sqrt(3 / 8) / 2)


def test_repeat_equals_ase_repeat():
    from ase.build import bulk

    from temseg.simulate.structures import CEO2_A, _repeat

    for unit in (bulk("Au", "fcc", a=4.08, cubic=True), bulk("CeO2", "fluorite", a=CEO2_A, cubic=True)):
        ref = unit.repeat((3, 4, 5))
        pos, num = _repeat(unit, (3, 4, 5))
        np.testing.assert_array_equal(pos, ref.positions)
        np.testing.assert_array_equal(num, ref.numbers)
