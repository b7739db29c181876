"""Atomic structures with ASE: FCC nanoparticles on a (111) CeO2 slab (002 §2, fig. 1).

Coordinates: Å, the beam along ``z``. The crystal frame puts the FCC [110]
zone axis along ``z``, [1-11] (a (111) plane normal) along ``y`` and
[-112] along ``x``, so (111) facets are seen edge-on and the particle sits on
the support below it (smaller ``y``) before the random rotation about ``z``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, reference_states
from scipy.spatial.transform import Rotation

from temseg.rng import as_generator
from temseg.simulate.config import StructureConfig

#: rows: the crystal directions that become x, y, z (right-handed: x = y × z)
ZONE_110 = np.array([[-1.0, 1.0, 2.0], [1.0, -1.0, 1.0], [1.0, 1.0, 0.0]])
ZONE_110 /= np.linalg.norm(ZONE_110, axis=1)[:, None]

CEO2_A = 5.411  # Å, fluorite lattice constant of CeO2
CARBON_DENSITY = 0.100  # atoms/Å³ (amorphous carbon, 2.0 g/cm³)


def lattice_constant(element: str) -> float:
    """FCC lattice constant of ``element`` in Å (ASE reference states)."""
    return float(reference_states[atomic_numbers[element]]["a"])


def half_column_spacing(element: str) -> float:
    """Half the nearest projected column distance of FCC [110], ``a·√(3/8)/2`` in Å."""
    return lattice_constant(element) * np.sqrt(3.0 / 8.0) / 2.0


@dataclass
class Structure:
    """A simulated specimen in its periodic cell.

    Attributes
    ----------
    atoms : ase.Atoms
        All atoms (particle and support), inside ``cell`` (``(L, L, depth)`` Å).
    particle : (N,) ndarray of bool
        Which atoms belong to the particle (the label's atoms).
    params : dict of str to float
        Every drawn value (radius, truncation, tilt, rotation, offsets, ...).
    """

    atoms: Atoms
    particle: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def particle_xy(self) -> np.ndarray:
        """(M, 2) projected positions (x, y) in Å of the particle's atoms."""
        return self.atoms.positions[self.particle, :2]


def _block(unit: Atoms, half: np.ndarray) -> np.ndarray:
    """Positions and numbers of ``unit`` repeated to cover the box ``|r| <= half`` in the zone frame.

    A lattice point sits at the origin, so (111) layers lie at ``y = k·d111``.
    """
    a = unit.cell.lengths()[0]
    reach = np.abs(ZONE_110.T) @ half  # the box's extent along the cubic axes
    n = np.ceil(reach / a).astype(int) + 1
    positions, numbers = _repeat(unit, tuple(2 * n))
    pos = (positions - n * a) @ ZONE_110.T
    keep = np.all(np.abs(pos) <= half, axis=1)
    return pos[keep], numbers[keep]


def _repeat(unit: Atoms, reps: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Positions and numbers of ``unit.repeat(reps)``, same order and values, without ASE's loop.

    ASE adds ``(m0, m1, m2) · cell`` to every copy in a Python loop over the
    copies (a tenth of a second for a 25 Å particle); this broadcasts it.
    """
    m = np.stack(np.meshgrid(*(np.arange(r) for r in reps), indexing="ij"), -1).reshape(-1, 3)
    offsets = m.astype(float) @ np.asarray(unit.cell)
    positions = (unit.positions[None, :, :] + offsets[:, None, :]).reshape(-1, 3)
    return positions, np.tile(unit.numbers, len(m))


@functools.lru_cache(maxsize=4)
def _ceo2_block(half_w: float, half_depth: float) -> tuple[np.ndarray, np.ndarray]:
    """A CeO2 block in the zone frame (cached: every structure of a dataset cuts from it)."""
    pos, num = _block(bulk("CeO2", "fluorite", a=CEO2_A, cubic=True),
                      np.array([half_w, half_w, half_depth]))
    pos.flags.writeable = False
    num.flags.writeable = False
    return pos, num


def fcc_particle(element: str, radius: float, truncation: float) -> np.ndarray:
    """Positions (M, 3) in Å of a sphere of ``radius`` cut from FCC ``element`` in the zone frame.

    The sphere is truncated at the (111) layer nearest ``y = -truncation·radius``
    (atoms below are removed), leaving a flat facet to sit on the support.
    """
    a = lattice_constant(element)
    pos, _ = _block(bulk(element, "fcc", a=a, cubic=True), np.full(3, radius + a))
    pos = pos[np.linalg.norm(pos, axis=1) <= radius]
    d111 = a / np.sqrt(3.0)
    cut = np.round(-truncation * radius / d111) * d111
    return pos[pos[:, 1] >= cut - 1e-3]


def build_structure(config: StructureConfig, *, cell: float, rng=None) -> Structure:
    """One random particle (and support) in a square periodic cell of side ``cell`` Å.

    Parameters
    ----------
    config : StructureConfig
        Element, size and truncation ranges, tilt, support.
    cell : float
        In-plane side of the periodic cell in Å (field of view plus padding);
        the particle centre sits at the cell centre plus a random offset, and
        the support fills the cell below the interface.
    rng : int or Generator or None

    Returns
    -------
    Structure
    """
    gen = as_generator(rng)
    el = config.element
    radius = float(gen.uniform(*config.radius))
    truncation = float(gen.uniform(*config.truncation))
    tilt = float(gen.uniform(0.0, config.max_tilt))
    tilt_axis = float(gen.uniform(0.0, 360.0))
    rotation = float(gen.uniform(0.0, 360.0)) if config.rotate else 0.0
    offset = gen.uniform(-config.max_offset, config.max_offset, size=2)
    depth = float(gen.uniform(*config.support_depth)) if config.support != "none" else 0.0

    particle = fcc_particle(el, radius, truncation)
    axis = np.deg2rad(tilt_axis)
    tilt_rot = Rotation.from_rotvec(np.deg2rad(tilt) * np.array([np.cos(axis), np.sin(axis), 0.0]))
    particle = tilt_rot.apply(particle)
    numbers = [np.full(len(particle), atomic_numbers[el])]
    positions = [particle]

    top = particle[:, 1].min() - config.interface_gap  # top of the support
    half_w = cell * np.sqrt(0.5) + config.max_offset + 2.0  # covers the cell at any rotation
    if config.support == "ceo2":
        pos, num = _ceo2_block(round(half_w, 6), round(config.support_depth[1] / 2, 6))
        thin = np.abs(pos[:, 2]) <= depth / 2
        pos, num = pos[thin], num[thin]
        # shift so the top (111) layer of the slab sits at `top`, keep only what lies below
        below = pos[:, 1] <= 0.0
        pos, num = pos[below], num[below]
        pos[:, 1] += top - pos[:, 1].max()
        keep = pos[:, 1] >= -half_w
        positions.append(pos[keep])
        numbers.append(num[keep])
    elif config.support == "carbon":
        volume = (2 * half_w) * (top + half_w) * depth
        n = int(gen.poisson(CARBON_DENSITY * max(volume, 0.0)))
        pos = gen.uniform([-half_w, -half_w, -depth / 2], [half_w, top, depth / 2], size=(n, 3))
        positions.append(pos)
        numbers.append(np.full(n, 6))

    pos = np.concatenate(positions)
    num = np.concatenate(numbers)
    is_particle = np.zeros(len(pos), bool)
    is_particle[: len(particle)] = True

    pos = Rotation.from_euler("z", rotation, degrees=True).apply(pos)
    thickness = max(2 * radius, depth) + 4.0
    pos += [cell / 2 + offset[0], cell / 2 + offset[1], thickness / 2]
    inside = np.all((pos[:, :2] >= 0) & (pos[:, :2] < cell), axis=1)
    inside |= is_particle  # the particle always fits (validated), keep it whole
    atoms = Atoms(numbers=num[inside], positions=pos[inside], cell=[cell, cell, thickness],
                  pbc=True)
    params = {
        "radius": radius, "truncation": truncation, "tilt": tilt, "tilt_axis": tilt_axis,
        "rotation": rotation, "offset_x": float(offset[0]), "offset_y": float(offset[1]),
        "support_depth": depth, "n_particle_atoms": int(is_particle.sum()),
        "n_atoms": int(inside.sum()),
    }
    return Structure(atoms=atoms, particle=is_particle[inside], params=params)
