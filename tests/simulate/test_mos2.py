"""MoS2 focal series (003): config, the monolayer, species labels, focal datasets, contrast."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from temseg.config import load_config
from temseg.errors import ConfigError
from temseg.simulate.config import SimulateConfig, StructureConfig
from temseg.simulate.dataset import open_dataset, read_parameters, simulate_dataset
from temseg.simulate.labels import species_mask
from temseg.simulate.pipeline import geometry, make_labels, prepare_structure
from temseg.simulate.structures import (MO, MOS2_A, MOS2_COLUMN_SPACING, MOS2_THICKNESS, S1, S2,
                                        Structure, _mos2_layer, build_mos2, mos2_sites)

#: a tiny focal-series dataset: 8 Å field of view, coarse exit wave
TINY = {"seed": 5, "n_structures": 2, "images_per_structure": 2, "size": 64,
        "sampling": 0.125, "wave_sampling": 0.1, "padding": 4.0,
        "focal_series": [-50.0, 0.0, 50.0],
        "structure": {"kind": "mos2", "vacancies": [0.3, 0.5]},
        "imaging": {"energy": 80e3, "defocus": [-20.0, 20.0], "cs": [-1e4, 1e4],
                    "focal_spread": [20.0, 30.0], "blur": [0.1, 0.3]},
        "detector": {"dose": [1e3, 1e4]},
        "labels": {"kind": "species", "columns": False}}


def _config(**changes) -> SimulateConfig:
    data = {key: (dict(value) if isinstance(value, dict) else value) for key, value in TINY.items()}
    for key, value in changes.items():
        if "." in key:
            group, name = key.split(".")
            data[group][name] = value
        else:
            data[key] = value
    return load_config(SimulateConfig, data)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.parent.name != "record"}


# --- config -------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "field"), [
    ({"focal_series": [50.0]}, "focal_series"),
    ({"focal_series": []}, "focal_series"),
    ({"focal_series": [0.0, 0.0, 50.0]}, "focal_series"),
    ({"focal_series": [0.0, float("nan")]}, "focal_series"),
    ({"focal_series": [0.0, float("inf")]}, "focal_series"),
    ({"focal_series": 50.0}, "focal_series"),
    ({"mode": "dose_series"}, "focal_series"),
    ({"structure.vacancies": [0.0, 1.5]}, "structure.vacancies"),
    ({"structure.vacancies": [-0.1, 0.1]}, "structure.vacancies"),
    ({"structure.vacancies": [0.2, 0.1]}, "structure.vacancies"),
    ({"structure.kind": "bilayer"}, "structure.kind"),
    ({"structure.kind": "graphene"}, "labels.kind"),    # species labels of graphene
    ({"labels.kind": "bonds"}, "labels.kind"),
    ({"labels.kind": "hull"}, "labels.kind"),          # a monolayer has no outline
    ({"structure.kind": "particle"}, "labels.kind"),   # species labels of a particle
])
def test_bad_values_name_their_field(changes, field):
    with pytest.raises(ConfigError) as info:
        _config(**changes)
    assert str(info.value).startswith(field), str(info.value)


def test_mos2_ignores_the_particle_fields_and_focal_series_counts_channels():
    cfg = _config(**{"structure.radius": [30.0, 40.0]})  # would not fit a particle's view
    assert cfg.channels == 3 and cfg.focal_series == [-50.0, 0.0, 50.0]
    assert load_config(SimulateConfig, {"structure": {"radius": [5.0, 7.0]}}).channels == 1
    assert StructureConfig().kind == "particle" and StructureConfig().vacancies == (0.0, 0.1)


# --- structure ----------------------------------------------------------------------------

def test_monolayer_without_vacancies_is_mos2_inside_the_cell():
    s = build_mos2(StructureConfig(kind="mos2", vacancies=(0.0, 0.0)), cell=30.0, rng=1)
    symbols = np.array(s.atoms.get_chemical_symbols())
    n_mo, n_s = np.count_nonzero(symbols == "Mo"), np.count_nonzero(symbols == "S")
    # every S column holds two atoms; the square cut of the cell takes as many S columns as
    # Mo columns up to the sites its border happens to cut (one row along each edge at most)
    s_columns = np.unique(np.round(s.atoms.positions[symbols == "S", :2], 6), axis=0)
    assert n_s == 2 * len(s_columns)
    assert abs(len(s_columns) - n_mo) <= 2 * 30.0 / MOS2_A
    # one Mo per unit cell of a²·√3/2 (8.81 Å²), to within the cell's border
    assert abs(n_mo - 30.0**2 / (MOS2_A**2 * np.sqrt(3) / 2)) < 4 * 30.0 / MOS2_A
    pos = s.atoms.positions
    assert np.all((pos[:, :2] >= 0) & (pos[:, :2] < 30.0))
    z_mo = pos[symbols == "Mo", 2]
    np.testing.assert_allclose(z_mo, z_mo[0])
    np.testing.assert_allclose(np.abs(pos[symbols == "S", 2] - z_mo[0]), MOS2_THICKNESS / 2)
    assert 0 < pos[:, 2].min() and pos[:, 2].max() < s.atoms.cell[2, 2]
    # projected: Mo and S columns alternate 1.82 Å apart, Mo-Mo 3.16 Å
    from scipy.spatial import cKDTree

    mo_xy, s_xy = pos[symbols == "Mo", :2], pos[symbols == "S", :2]
    d, _ = cKDTree(s_xy).query(mo_xy)
    np.testing.assert_allclose(d, MOS2_COLUMN_SPACING, atol=1e-6)
    d, _ = cKDTree(mo_xy).query(mo_xy, k=2)
    np.testing.assert_allclose(d[:, 1], MOS2_A, atol=1e-6)
    assert set(s.site_classes.tolist()) == {MO, S2}
    assert np.count_nonzero(s.site_classes == MO) == n_mo
    assert s.params["n_s1_columns"] == 0 and s.params["vacancy_probability"] == 0.0
    assert s.params["n_atoms"] == len(s.atoms) and s.particle.all()


def test_vacancies_remove_sulphur_and_the_site_classes_count_the_atoms():
    cfg = StructureConfig(kind="mos2", vacancies=(0.3, 0.3))
    s = build_mos2(cfg, cell=30.0, rng=2)
    again = build_mos2(cfg, cell=30.0, rng=2)
    np.testing.assert_array_equal(s.atoms.positions, again.atoms.positions)
    assert s.params == again.params
    symbols = np.array(s.atoms.get_chemical_symbols())
    n_mo, n_s = np.count_nonzero(symbols == "Mo"), np.count_nonzero(symbols == "S")
    expected = 2 * n_mo * 0.7
    assert abs(n_s - expected) < 4 * np.sqrt(2 * n_mo * 0.3 * 0.7)  # binomial, 4 sigma
    # each S site's class is the number of S atoms left on it
    s_xy = s.atoms.positions[symbols == "S", :2]
    for xy, cls in zip(s.sites, s.site_classes):
        if cls == MO:
            continue
        on_site = np.count_nonzero(np.linalg.norm(s_xy - xy, axis=1) < 1e-6)
        assert {2: S2, 1: S1, 0: 0}[on_site] == cls
    assert {MO, S2, S1} <= set(s.site_classes.tolist())
    # the counts cover the whole cell by default, a field counts fewer
    assert s.params["n_s1_columns"] == np.count_nonzero(s.site_classes == S1)
    few = build_mos2(cfg, cell=30.0, rng=2, field=(10.0, 20.0))
    assert 0 < few.params["n_mo_columns"] < s.params["n_mo_columns"]
    np.testing.assert_array_equal(few.atoms.positions, s.atoms.positions)


def test_rotation_is_drawn_unless_switched_off():
    still = build_mos2(StructureConfig(kind="mos2", rotate=False, max_offset=0.0), cell=20.0, rng=0)
    assert still.params["rotation"] == 0.0
    mo = still.atoms.positions[np.array(still.atoms.get_chemical_symbols()) == "Mo", :2]
    # unrotated, unshifted: a Mo column at the cell centre and a1 along x
    assert np.min(np.linalg.norm(mo - 10.0, axis=1)) < 1e-9
    assert np.min(np.linalg.norm(mo - [10.0 + MOS2_A, 10.0], axis=1)) < 1e-9
    turned = build_mos2(StructureConfig(kind="mos2"), cell=20.0, rng=0)
    assert 0.0 < turned.params["rotation"] < 360.0


# --- labels -------------------------------------------------------------------------------

def test_species_mask_discs_nearest_column_and_empty_sites():
    xy = np.array([[1.0, 1.0], [1.0, 3.0], [3.0, 1.0], [2.0, 2.0]])
    classes = np.array([MO, S2, 0, S1])
    mask = species_mask(xy, classes, (41, 41), sampling=0.1, radius=0.5)
    assert mask.dtype == np.uint8
    assert mask[10, 10] == MO and mask[10, 30] == S2 and mask[20, 20] == S1
    assert mask[30, 10] == 0 and mask[0, 0] == 0  # an empty S site is background
    disc = np.count_nonzero(mask == MO) * 0.01
    assert disc == pytest.approx(np.pi * 0.25, rel=0.1)
    # overlapping discs split between their columns: the nearer one wins
    close = species_mask(np.array([[1.0, 1.0], [1.6, 1.0]]), np.array([MO, S1]), (30, 30),
                         sampling=0.1, radius=0.5)
    assert close[12, 10] == MO and close[14, 10] == S1


def test_one_sulphur_removed_is_an_s1_label_at_its_column():
    """A layer with exactly one S atom taken out: that column, and only that, is S1."""
    pos, num = _mos2_layer(8.0)
    pos = pos + [10.0, 10.0, 0.0]
    kept = np.ones(len(num), bool)
    sulphur = np.flatnonzero(num == 16)
    target = sulphur[np.argmin(np.linalg.norm(pos[sulphur, :2] - [11.0, 11.0], axis=1))]
    kept[target] = False
    xy, classes = mos2_sites(pos, num, kept)
    assert np.count_nonzero(classes == S1) == 1
    np.testing.assert_allclose(xy[classes == S1][0], pos[target, :2])
    cfg = _config(size=32, padding=2.0)
    geo = geometry(cfg)
    shift = geo.cell / 2 - 10.0
    atoms = Atoms(numbers=num[kept], positions=pos[kept] + [shift, shift, 0.0],
                  cell=[geo.cell, geo.cell, 8.0], pbc=True)
    structure = Structure(atoms=atoms, particle=np.ones(len(atoms), bool), sites=xy + shift,
                          site_classes=classes)
    labels, columns = make_labels(structure, cfg, geo)
    assert columns is None and set(np.unique(labels).tolist()) == {0, MO, S2, S1}

    def label_at(point):
        i, j = np.round((np.asarray(point) - geo.origin) / geo.sampling).astype(int)
        return labels[i, j]

    assert label_at(pos[target, :2] + shift) == S1
    for cls in (MO, S2):
        inside = [p for p in structure.sites[classes == cls]
                  if np.all((p - geo.origin) / geo.sampling < cfg.size - 1)
                  and np.all(p >= geo.origin)]
        assert inside and all(label_at(p) == cls for p in inside)


# --- datasets -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def focal_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("mos2") / "focal.zarr"
    return simulate_dataset(_config(), path, scheduler="synchronous")


def test_focal_dataset_layout_and_attrs(focal_dataset):
    root = open_dataset(focal_dataset)
    assert root["images"].shape == (4, 3, 64, 64) and root["images"].dtype == np.float32
    assert root["labels"].shape == (4, 64, 64) and root["labels"].dtype == np.uint8
    assert "columns" not in root
    attrs = dict(root.attrs)
    assert attrs["label_kind"] == "species"
    assert attrs["classes"] == ["background", "Mo", "S2", "S1"]
    assert attrs["channels"] == ["Δf -50 Å", "Δf +0 Å", "Δf +50 Å"]
    assert attrs["defocus_offsets"] == [-50.0, 0.0, 50.0]
    assert attrs["sampling"] == 0.125 and attrs["seed"] == 5 and attrs["energy"] == 80e3
    labels = root["labels"][:]
    counts = np.bincount(labels.ravel(), minlength=4)
    assert counts.size == 4 and np.all(counts > 0), counts  # every class somewhere
    params = read_parameters(root)
    units = dict(root["parameters"].attrs)["units"]
    assert set(units) == set(params)
    for key in ("vacancy_probability", "n_mo_columns", "n_s2_columns", "n_s1_columns",
                "rotation", "offset_x", "defocus", "dose"):
        assert params[key].shape == (4,), key
    assert np.all((params["vacancy_probability"] >= 0.3) & (params["vacancy_probability"] <= 0.5))
    # images are counts: each channel's mean is the image's one dose per pixel
    means = root["images"][:].mean(axis=(2, 3))
    np.testing.assert_allclose(means, params["dose_per_pixel"][:, None] * np.ones(3), rtol=0.05)


def test_channels_differ_and_same_seed_same_bytes(focal_dataset, tmp_path):
    images = open_dataset(focal_dataset)["images"][:]
    for c in (1, 2):
        assert not np.array_equal(images[:, 0], images[:, c])
    again = simulate_dataset(_config(), tmp_path / "again.zarr", scheduler="threads", workers=2)
    assert _digest(again) == _digest(focal_dataset)
    other = simulate_dataset(_config(seed=6, n_structures=1), tmp_path / "other.zarr",
                             scheduler="synchronous")
    assert not np.array_equal(open_dataset(other)["images"][:], images[:2])


def test_each_channel_is_its_defocus_with_its_own_noise_at_one_dose(tmp_path):
    """The pipeline's order of draws: structure, imaging, detector values, then one noise draw
    per channel from the same generator; so each channel is the noise-free image at drawn
    defocus + offset through the detector at the image's one dose, c0, c3, N0."""
    from temseg.simulate.detector import apply_detector
    from temseg.simulate.pipeline import draw_imaging

    cfg = _config(n_structures=1, images_per_structure=1, size=32, focal_series=[0.0, 1e-3],
                  **{"detector.dose": [1e4, 1e4]})
    root = open_dataset(simulate_dataset(cfg, tmp_path / "n.zarr", scheduler="synchronous"))
    params = read_parameters(root)
    gen, _, renderer, _, _ = prepare_structure(cfg, seed=np.random.SeedSequence(5).spawn(1)[0])
    imaging = draw_imaging(cfg.imaging, gen)
    drawn = renderer.draw_detector(gen)
    assert imaging["defocus"] == params["defocus"][0] and drawn["dose"] == params["dose"][0]
    clean = renderer.focal(imaging, cfg.focal_series)
    np.testing.assert_allclose(clean[0], clean[1], atol=1e-4)  # 0.001 Å apart: one image
    for c in range(2):
        expected = apply_detector(clean[c], dose=drawn["dose"], sampling=cfg.sampling,
                                  c0=drawn["c0"], c3=drawn["c3"], N0=drawn["N0"], rng=gen)
        np.testing.assert_array_equal(root["images"][0, c], expected)
    a, b = root["images"][0]
    assert a.mean() == pytest.approx(1e4 * 0.125**2, rel=0.05)
    assert (a - b).std() > 0.3 * a.std()  # the same image, but not the same noise


def test_noise_free_focal_series_is_the_clean_image_at_each_defocus(tmp_path):
    cfg = _config(n_structures=1, images_per_structure=1, size=32, **{"detector.enabled": False})
    root = open_dataset(simulate_dataset(cfg, tmp_path / "c.zarr", scheduler="synchronous"))
    params = read_parameters(root)
    _, _, renderer, _, _ = prepare_structure(cfg, seed=np.random.SeedSequence(5).spawn(1)[0])
    imaging = {key: float(params[key][0]) for key in ("defocus", "cs", "focal_spread", "blur")}
    for c, offset in enumerate(cfg.focal_series):
        expected = renderer.clean({**imaging, "defocus": imaging["defocus"] + offset})
        np.testing.assert_array_equal(root["images"][0, c], expected)
    assert root.attrs["units"] == "images: intensity, vacuum = 1"


# --- physics ------------------------------------------------------------------------------

def test_phase_contrast_of_the_columns_follows_defocus_and_species():
    """Noise-free, Cs = 0 (80 kV): a weak phase object. Overfocus (Δf = -50 Å, abTEM's sign)
    shows the columns bright, underfocus (+50 Å) dark, focus hardly at all. One S atom has
    about half the contrast of two. Two S atoms scatter a little more than one Mo at the
    lattice's frequencies (Lobato: 2 f_S / f_Mo = 1.08-1.12 at 0.2-0.36 1/Å), so S2 columns
    show slightly more contrast than Mo — nearly the same, which is why one image hardly
    tells them apart (003). Verified for seeds 0-5 and at 0.05 Å wave sampling."""
    cfg = _config(size=48, focal_series=None, **{"structure.vacancies": [0.25, 0.25],
                                                "labels.column_radius": 0.5,
                                                "detector.enabled": False})
    _, _, renderer, labels, _ = prepare_structure(cfg, seed=3)
    assert np.all(np.bincount(labels.ravel(), minlength=4) > 0)
    series = renderer.focal({"defocus": 0.0, "cs": 0.0, "focal_spread": 20.0, "blur": 0.2},
                            [-50.0, 0.0, 50.0])
    contrast = np.array([[image[labels == k].mean() - image[labels == 0].mean()
                          for k in (MO, S2, S1)] for image in series])
    over, focus, under = contrast
    assert np.all(over > 0.05) and np.all(under < -0.05), contrast
    assert np.all(np.abs(over[:2]) > 0.1) and np.all(np.abs(under[:2]) > 0.1), contrast
    assert np.all(np.abs(focus) < 0.05), contrast
    for row in (over, under):
        mo, s2, s1 = np.abs(row)
        assert s1 < 0.7 * s2, contrast
        assert 0.75 * s2 < mo < s2, contrast


def _peak_offsets(image: np.ndarray, labels: np.ndarray, *, radius_px: float) -> np.ndarray:
    """Offset in px (axis 0, axis 1) of each whole label disc's centre from the intensity
    maximum of its column: mean shift (centroid of the intensity above the median within
    ``radius_px``, repeated) started at the disc's centre."""
    from scipy import ndimage

    bright = np.clip(image - np.median(image), 0.0, None)
    regions, n = ndimage.label(labels > 0)
    centres = np.array(ndimage.center_of_mass(labels > 0, regions, range(1, n + 1)))
    ii, jj = np.indices(image.shape)
    offsets = []
    for centre in centres:
        if np.any(centre < radius_px + 1) or np.any(centre > image.shape[0] - radius_px - 2):
            continue  # a disc cut by the border, or a window that would be
        p = centre
        for _ in range(30):
            w = bright * ((ii - p[0]) ** 2 + (jj - p[1]) ** 2 <= radius_px ** 2)
            p = np.array([(w * ii).sum(), (w * jj).sum()]) / w.sum()
        offsets.append(p - centre)
    return np.array(offsets)


def test_label_discs_sit_on_the_columns_in_the_image():
    """Noise-free, Cs = 0, overfocus: every column is a bright peak, and by the three-fold
    symmetry of each site (no vacancies) its maximum is exactly over the column. The disc
    centres match the peaks to < 0.1 px on average (measured: 0.01-0.06 px, at most 0.24 px
    for one disc, pixelated discs and the grid's peak finding), so the labels carry no
    half-pixel bias against the image grid (origin, padding and crop agree); labels drawn
    half a pixel off are seen as such."""
    cfg = _config(size=64, focal_series=None, **{"structure.vacancies": [0.0, 0.0],
                                                "labels.column_radius": 0.5,
                                                "detector.enabled": False})
    _, structure, renderer, labels, _ = prepare_structure(cfg, seed=1)
    image = renderer.clean({"defocus": -30.0, "cs": 0.0, "focal_spread": 5.0, "blur": 0.0})
    radius_px = 0.6 / cfg.sampling
    offsets = _peak_offsets(image, labels, radius_px=radius_px)
    assert len(offsets) >= 8  # whole discs inside the 8 Å view
    assert np.all(np.abs(offsets.mean(axis=0)) < 0.1), offsets.mean(axis=0)
    assert np.abs(offsets).max() < 0.35, offsets
    geo = geometry(cfg)
    shifted = species_mask(structure.sites, structure.site_classes, labels.shape,
                           sampling=geo.sampling, radius=0.5,
                           origin=(geo.origin[0] + 0.5 * geo.sampling, geo.origin[1]))
    mean = _peak_offsets(image, shifted, radius_px=radius_px).mean(axis=0)
    assert abs(mean[0] - 0.5) < 0.15 and abs(mean[1]) < 0.1, mean
