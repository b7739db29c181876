"""Atomic structures with ASE: FCC nanoparticles on a (111) CeO2 slab (002 §2, fig. 1) and
MoS2 monolayers with sulphur vacancies (003).

Coordinates: Å, the beam along ``z``. The crystal frame puts the FCC [110]
zone axis along ``z``, [1-11] (a (111) plane normal) along ``y`` and
[-112] along ``x``, so (111) facets are seen edge-on and the particle sits on
the support below it (smaller ``y``) before the random rotation about ``z``.

A MoS2 monolayer lies in the ``xy`` plane ([001] along the beam). A rotated
hexagonal lattice cannot tile a square periodic cell (the rectangular cell
a × a√3 already cannot: √3 is irrational), so the layer is cut to the cell
and the periodic wrap leaves a seam at the cell's edges: columns too close
or too far apart across the border. The seam lies in the padding that is
cropped from every image (``SimulateConfig.padding``, see
:func:`build_mos2`); the layer is anchored at the cell centre, so where its
columns fall in the image does not depend on the padding (which S atoms are
missing does: the vacancies are drawn per atom of the whole cell).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.build import bulk, graphene, mx2
from ase.data import atomic_numbers, reference_states
from scipy import ndimage
from scipy.spatial.transform import Rotation

from temseg.rng import as_generator
from temseg.simulate.config import StructureConfig

#: rows: the crystal directions that become x, y, z (right-handed: x = y × z)
ZONE_110 = np.array([[-1.0, 1.0, 2.0], [1.0, -1.0, 1.0], [1.0, 1.0, 0.0]])
ZONE_110 /= np.linalg.norm(ZONE_110, axis=1)[:, None]

CEO2_A = 5.411  # Å, fluorite lattice constant of CeO2
CARBON_DENSITY = 0.100  # atoms/Å³ (amorphous carbon, 2.0 g/cm³)
#: Å, in-plane lattice constant of 2H-MoS2, and Å, S-S distance along the beam: the
#: experimental values (2H-MoS2 by X-ray diffraction, a = 3.160 Å, S-S 3.17 Å; monolayers
#: measure the same a), not DFT's ~1 % larger 3.18-3.19 Å (ASE's mx2 default is 3.18 Å), so
#: a model trained on these images sees the lattice of a calibrated micrograph at its size.
MOS2_A = 3.160
MOS2_THICKNESS = 3.17
#: Mo-S projected column distance, a/√3 (1.824 Å)
MOS2_COLUMN_SPACING = MOS2_A / np.sqrt(3.0)
#: species label classes of MoS2 columns (0 is background; an empty S site is background too)
MO, S2, S1 = 1, 2, 3
GRAPHENE_A = 2.46  # Å, graphene's lattice constant
#: atoms/Å³ of the contamination: carbon at 1.2 g/cm³, a hydrocarbon's density; its hydrogen
#: (weak scatterers) is left out, the ~15 % more carbon than a real CH-CH2 film stands in for it
CONTAMINATION_DENSITY = 0.06
#: Å, from the sheet to the lowest contamination atom. The atoms are drawn at random, without
#: van der Waals spacing (~3.3 Å); in projection along the beam the gap does not show
CONTAMINATION_GAP = 1.7
CONTAMINATION_EDGE = 3.0  # Å, thickness of a patch at its edge (about one carbon layer)


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
    sites : (K, 2) ndarray of float or None
        MoS2 only: projected column positions (x, y) in Å, every Mo and S
        site of the layer in the cell, vacant ones included.
    site_classes : (K,) ndarray of uint8 or None
        MoS2 only: each site's class, :data:`MO`, :data:`S2`, :data:`S1`, or
        0 for an S site with both atoms removed.
    cover : Cover or None
        Graphene only: where the contamination lies (its atoms are ``particle``).
    """

    atoms: Atoms
    particle: np.ndarray
    params: dict = field(default_factory=dict)
    sites: np.ndarray | None = None
    site_classes: np.ndarray | None = None
    cover: "Cover | None" = None

    @property
    def particle_xy(self) -> np.ndarray:
        """(M, 2) projected positions (x, y) in Å of the particle's atoms."""
        return self.atoms.positions[self.particle, :2]


@dataclass(frozen=True)
class Cover:
    """Contamination patches over a periodic cell: where a smooth random field exceeds ``level``.

    ``field`` is sampled on an ``(n, n)`` grid of spacing ``cell / n`` Å (grid
    point ``(i, j)`` at ``(i·s, j·s)``) and read between grid points by
    bilinear interpolation, periodic over the cell, so the atoms and the
    label pixels see one continuous field.
    """

    field: np.ndarray
    cell: float
    level: float

    def value(self, xy: np.ndarray) -> np.ndarray:
        """The field at projected positions ``xy`` (M, 2) in Å."""
        coords = np.asarray(xy, dtype=np.float64).T * (len(self.field) / self.cell)
        return ndimage.map_coordinates(self.field, coords, order=1, mode="grid-wrap")

    def covered(self, xy: np.ndarray) -> np.ndarray:
        """Which of the positions ``xy`` (M, 2) in Å lie under a patch."""
        return self.value(xy) > self.level


def patch_field(cell: float, scale: float, rng: np.random.Generator) -> np.ndarray:
    """A periodic random field over a cell of ``cell`` Å on a grid no coarser than 1 Å, zero
    mean and unit standard deviation: white noise smoothed by a Gaussian of ``scale`` Å plus,
    at half the weight, one of ``scale / 3`` Å, so that the outlines are ragged as real
    contamination's rather than smooth blobs."""
    n = max(8, int(np.ceil(cell)))
    noise = rng.standard_normal((2, n, n))
    field = 0.0
    for weight, sigma, white in ((1.0, scale, noise[0]), (0.5, scale / 3, noise[1])):
        part = ndimage.gaussian_filter(white, sigma * n / cell, mode="wrap")
        field = field + weight * part / part.std()
    return (field - field.mean()) / field.std()


def _block(unit: Atoms, half: np.ndarray) -> np.ndarray:
    """Positions and numbers of ``unit`` repeated to cover the box ``|r| <= half`` (zone frame).

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


def build_structure(config: StructureConfig, *, cell: float, rng=None,
                    field: tuple[float, float] | None = None) -> Structure:
    """One random specimen in a square periodic cell of side ``cell`` Å.

    ``config.kind == "mos2"`` builds a monolayer (:func:`build_mos2`, which
    takes ``field``), ``"graphene"`` a contaminated sheet (:func:`build_graphene`);
    otherwise a particle (and support), for which
    ``field`` is ignored.

    Parameters
    ----------
    config : StructureConfig
        Element, size and truncation ranges, tilt, support.
    cell : float
        In-plane side of the periodic cell in Å (field of view plus padding);
        the particle centre sits at the cell centre plus a random offset, and
        the support fills the cell below the interface.
    rng : int or Generator or None
    field : (float, float), optional
        MoS2 only: see :func:`build_mos2`.

    Returns
    -------
    Structure
    """
    if config.kind == "mos2":
        return build_mos2(config, cell=cell, rng=rng, field=field)
    if config.kind == "graphene":
        return build_graphene(config, cell=cell, rng=rng)
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


def _hex_layer(unit: Atoms, a: float, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """The hexagonal 2D crystal ``unit`` (lattice constant ``a`` Å) covering the disc
    ``|xy| <= reach`` Å, a lattice point at the origin.

    Returns positions ``(M, 3)`` and atomic numbers in a fixed order: per unit
    cell, the unit's atoms in their order.
    """
    a1, a2 = np.asarray(unit.cell)[0, :2], np.asarray(unit.cell)[1, :2]
    n = int(np.ceil(reach / (a * np.sqrt(3.0) / 2))) + 2  # rows needed either way
    m = np.stack(np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij"),
                 -1).reshape(-1, 2)
    origins = m[:, :1] * a1 + m[:, 1:] * a2
    origins = origins[np.linalg.norm(origins, axis=1) <= reach + a]
    pos = unit.positions[None, :, :] + np.c_[origins, np.zeros(len(origins))][:, None, :]
    return pos.reshape(-1, 3), np.tile(unit.numbers, len(origins))


def _mos2_layer(reach: float) -> tuple[np.ndarray, np.ndarray]:
    """A 2H-MoS2 layer (ASE ``mx2``) covering the disc ``|xy| <= reach`` Å, Mo at the origin.

    Returns positions ``(M, 3)`` (Mo at ``z = 0``, S at ``±thickness/2``) and
    atomic numbers, in a fixed order: per unit cell Mo, S above, S below.
    """
    unit = mx2("MoS2", kind="2H", a=MOS2_A, thickness=MOS2_THICKNESS, vacuum=None)
    return _hex_layer(unit, MOS2_A, reach)


def mos2_sites(positions: np.ndarray, numbers: np.ndarray,
               kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projected columns of a MoS2 layer and their species classes.

    Parameters
    ----------
    positions : (M, 3) ndarray of float
        Atom positions in Å, in :func:`_mos2_layer`'s order (per unit cell
        Mo, then the two S atoms of its S column).
    numbers : (M,) ndarray of int
    kept : (M,) ndarray of bool
        Which atoms remain (False: removed, a vacancy).

    Returns
    -------
    xy : (K, 2) ndarray of float — column positions in Å, every Mo then every S site
    classes : (K,) ndarray of uint8 — :data:`MO`; :data:`S2`, :data:`S1` or 0 by the
        number of S atoms kept (2, 1, 0)
    """
    mo = np.flatnonzero(numbers == atomic_numbers["Mo"])
    s_sites = mo + 1
    n_s = kept[s_sites].astype(np.int64) + kept[s_sites + 1]
    xy = np.concatenate([positions[mo, :2], positions[s_sites, :2]])
    classes = np.concatenate([np.full(len(mo), MO),
                              np.select([n_s == 2, n_s == 1], [S2, S1], 0)]).astype(np.uint8)
    return xy, classes


def build_mos2(config: StructureConfig, *, cell: float, rng=None,
               field: tuple[float, float] | None = None) -> Structure:
    """A 2H-MoS2 monolayer with random S vacancies filling a square periodic cell (003).

    [001] along the beam; the layer is rotated about the beam by a random
    angle in [0°, 360°) (0 if not ``config.rotate``) about the cell centre,
    where a Mo column sits before the random shift by up to
    ``config.max_offset`` Å in x and y. Each S atom is then removed
    independently with probability ``p`` drawn uniformly from
    ``config.vacancies``. Atoms outside ``[0, cell)²`` are dropped, so the
    periodic wrap leaves a seam at the cell's border (see the module
    docstring): keep it in the cropped padding.

    Parameters
    ----------
    config : StructureConfig
        ``rotate``, ``max_offset`` and ``vacancies`` apply; the particle's fields are ignored.
    cell : float
        In-plane side of the periodic cell in Å.
    rng : int or Generator or None
    field : (float, float), optional
        ``[low, high)`` in Å, in both x and y, of the region whose columns the
        counts in ``params`` cover (the image); default the whole cell.

    Returns
    -------
    Structure
        ``particle`` all True (every atom is the specimen's); ``sites`` and
        ``site_classes`` the projected columns; ``params``: ``rotation`` (°),
        ``offset_x``, ``offset_y`` (Å), ``vacancy_probability``, counts of
        columns in ``field``: ``n_mo_columns``, ``n_s2_columns``,
        ``n_s1_columns``, ``n_empty_s_sites``, and ``n_atoms`` in the cell.
    """
    gen = as_generator(rng)
    rotation = float(gen.uniform(0.0, 360.0)) if config.rotate else 0.0
    offset = gen.uniform(-config.max_offset, config.max_offset, size=2)
    p_vacancy = float(gen.uniform(*config.vacancies))

    pos, num = _mos2_layer(cell * np.sqrt(0.5) + config.max_offset + 1.0)
    pos = Rotation.from_euler("z", rotation, degrees=True).apply(pos)
    thickness = MOS2_THICKNESS + 4.0
    pos += [cell / 2 + offset[0], cell / 2 + offset[1], thickness / 2]
    inside = np.all((pos[:, :2] >= 0) & (pos[:, :2] < cell), axis=1)
    sulphur = num == atomic_numbers["S"]
    kept = ~(sulphur & (gen.random(len(num)) < p_vacancy))  # one draw per atom, in order

    site_xy, classes = mos2_sites(pos, num, kept)
    in_cell = np.all((site_xy >= 0) & (site_xy < cell), axis=1)  # as their atoms' `inside`
    site_xy, classes = site_xy[in_cell], classes[in_cell]

    lo, hi = field if field is not None else (0.0, cell)
    seen = np.all((site_xy >= lo) & (site_xy < hi), axis=1)
    keep = inside & kept
    atoms = Atoms(numbers=num[keep], positions=pos[keep], cell=[cell, cell, thickness], pbc=True)
    params = {
        "rotation": rotation, "offset_x": float(offset[0]), "offset_y": float(offset[1]),
        "vacancy_probability": p_vacancy,
        "n_mo_columns": int(np.count_nonzero(seen & (classes == MO))),
        "n_s2_columns": int(np.count_nonzero(seen & (classes == S2))),
        "n_s1_columns": int(np.count_nonzero(seen & (classes == S1))),
        "n_empty_s_sites": int(np.count_nonzero(seen & (classes == 0))),
        "n_atoms": int(keep.sum()),
    }
    return Structure(atoms=atoms, particle=np.ones(len(atoms), bool), params=params,
                     sites=site_xy, site_classes=classes)


def build_graphene(config: StructureConfig, *, cell: float, rng=None) -> Structure:
    """A graphene monolayer under patches of amorphous hydrocarbon contamination (004).

    The sheet (ASE ``graphene``, a = 2.46 Å, [001] along the beam) is placed
    as :func:`build_mos2` places MoS2 (rotated about the cell centre, shifted
    by up to ``config.max_offset`` Å, cut to the cell: a seam at the border,
    keep it in the cropped padding). A :class:`Cover` marks the patches: a
    field of :func:`patch_field` with a correlation length drawn from
    ``config.patch_scale`` and a level that leaves a fraction drawn from
    ``config.coverage`` of its grid above it. Carbon atoms fill the patches
    at random at :data:`CONTAMINATION_DENSITY` from :data:`CONTAMINATION_GAP`
    Å above the sheet up to a local thickness of :data:`CONTAMINATION_EDGE` Å
    at a patch's edge, rising linearly to the maximum drawn from
    ``config.contamination_thickness`` where the field is half a standard
    deviation above the level.

    Returns
    -------
    Structure
        ``particle`` marks the contamination's atoms, ``cover`` the patches;
        ``params``: ``rotation`` (°), ``offset_x``, ``offset_y``, ``patch_scale``,
        ``contamination_thickness`` (Å), ``coverage`` (drawn fraction of the
        cell), ``n_graphene_atoms``, ``n_contamination_atoms``, ``n_atoms``.
    """
    gen = as_generator(rng)
    rotation = float(gen.uniform(0.0, 360.0)) if config.rotate else 0.0
    offset = gen.uniform(-config.max_offset, config.max_offset, size=2)
    coverage = float(gen.uniform(*config.coverage))
    scale = float(gen.uniform(*config.patch_scale))
    t_max = float(gen.uniform(*config.contamination_thickness))

    field = patch_field(cell, scale, gen)
    level = float(np.quantile(field, 1.0 - coverage)) if coverage < 1 else -np.inf
    cover = Cover(field=field, cell=cell, level=level)

    unit = graphene(formula="C2", a=GRAPHENE_A, size=(1, 1, 1), vacuum=None)
    sheet, _ = _hex_layer(unit, GRAPHENE_A, cell * np.sqrt(0.5) + config.max_offset + 1.0)
    sheet = Rotation.from_euler("z", rotation, degrees=True).apply(sheet)
    sheet[:, :2] += [cell / 2 + offset[0], cell / 2 + offset[1]]
    sheet = sheet[np.all((sheet[:, :2] >= 0) & (sheet[:, :2] < cell), axis=1)]

    n = int(gen.poisson(CONTAMINATION_DENSITY * cell * cell * t_max))
    dirt = gen.uniform([0.0, 0.0, 0.0], [cell, cell, t_max], size=(n, 3))
    above = cover.value(dirt[:, :2]) - level
    ramp = np.clip(above / 0.5, 0.0, 1.0)
    thickness = CONTAMINATION_EDGE + (t_max - CONTAMINATION_EDGE) * ramp
    dirt = dirt[(above > 0) & (dirt[:, 2] < thickness)]
    dirt[:, 2] += CONTAMINATION_GAP

    margin = 2.0
    pos = np.concatenate([sheet, dirt]) + [0.0, 0.0, margin]
    depth = CONTAMINATION_GAP + t_max + 2 * margin
    is_dirt = np.r_[np.zeros(len(sheet), bool), np.ones(len(dirt), bool)]
    atoms = Atoms(numbers=np.full(len(pos), 6), positions=pos, cell=[cell, cell, depth],
                  pbc=True)
    params = {
        "rotation": rotation, "offset_x": float(offset[0]), "offset_y": float(offset[1]),
        "coverage": coverage, "patch_scale": scale, "contamination_thickness": t_max,
        "n_graphene_atoms": len(sheet), "n_contamination_atoms": len(dirt),
        "n_atoms": len(pos),
    }
    return Structure(atoms=atoms, particle=is_dirt, params=params, cover=cover)
