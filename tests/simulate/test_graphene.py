"""Graphene under contamination (004's classes, simulated): config, structure, labels, images."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from temseg.config import load_config
from temseg.errors import ConfigError
from temseg.simulate.config import SimulateConfig, StructureConfig
from temseg.simulate.labels import cover_mask
from temseg.simulate.pipeline import geometry, simulate_structure
from temseg.simulate.structures import (CONTAMINATION_DENSITY, CONTAMINATION_EDGE,
                                        CONTAMINATION_GAP, GRAPHENE_A, build_graphene)

#: a small noise-free dataset: 32 Å field of view at 0.5 Å/px, coarse exit wave
TINY = {"seed": 3, "n_structures": 1, "images_per_structure": 2, "size": 64,
        "sampling": 0.5, "wave_sampling": 0.1, "padding": 4.0,
        "structure": {"kind": "graphene", "coverage": [0.0, 0.0]},
        "imaging": {"energy": 80e3, "defocus": [60.0, 60.0], "cs": [0.0, 0.0],
                    "focal_spread": [5.0, 5.0], "blur": [0.05, 0.05]},
        "detector": {"enabled": False},
        "labels": {"kind": "contamination", "columns": False}}


def _raw() -> dict:
    """A copy of TINY whose sections can be changed."""
    return {key: (dict(value) if isinstance(value, dict) else value) for key, value in TINY.items()}


def _config(structure=None, **changes) -> SimulateConfig:
    data = _raw()
    data["structure"].update(structure or {})
    data.update(changes)
    return load_config(SimulateConfig, data)


@pytest.mark.parametrize(("structure", "labels", "field"), [
    ({"coverage": [0.2, 1.5]}, {}, "structure.coverage"),
    ({"patch_scale": [0.0, 10.0]}, {}, "structure.patch_scale"),
    ({"contamination_thickness": [1.0, 10.0]}, {}, "structure.contamination_thickness"),
    ({}, {"kind": "hull"}, "labels.kind"),
    ({"kind": "particle"}, {"kind": "contamination"}, "labels.kind"),
    ({}, {"columns": True}, "labels.columns"),
])
def test_bad_values_name_their_field(structure, labels, field):
    data = _raw()
    data["structure"].update(structure)
    data["labels"].update(labels)
    with pytest.raises(ConfigError) as info:
        load_config(SimulateConfig, data)
    assert str(info.value).startswith(field), str(info.value)


def test_clean_sheet_is_graphene_filling_the_cell():
    cfg = StructureConfig(kind="graphene", coverage=(0.0, 0.0), rotate=False, max_offset=0.0)
    s = build_graphene(cfg, cell=60.0, rng=1)
    assert s.params["n_contamination_atoms"] == 0 and not s.particle.any()
    xy = s.atoms.positions[:, :2]
    assert np.all((xy >= 0) & (xy < 60.0))
    assert np.all(s.atoms.numbers == 6)
    # honeycomb: three neighbours at a/√3 = 1.420 Å (away from the cut edges)
    inner = np.all((xy > 5) & (xy < 55), axis=1)
    dist, _ = cKDTree(xy).query(xy[inner], k=4)
    assert np.allclose(dist[:, 1:], GRAPHENE_A / np.sqrt(3), atol=1e-6)
    # 2 atoms per a²·√3/2: 0.3816 atoms/Å²
    density = len(xy) / 60.0**2
    assert density == pytest.approx(2 / (GRAPHENE_A**2 * np.sqrt(3) / 2), rel=0.02)


def test_contamination_lies_on_the_sheet_under_its_patches():
    cfg = StructureConfig(kind="graphene", coverage=(0.4, 0.4), patch_scale=(10.0, 10.0),
                          contamination_thickness=(12.0, 12.0))
    s = build_graphene(cfg, cell=80.0, rng=7)
    dirt = s.atoms.positions[s.particle]
    sheet = s.atoms.positions[~s.particle]
    assert len(dirt) == s.params["n_contamination_atoms"] > 1000
    assert np.all(s.cover.covered(dirt[:, :2]))
    assert np.ptp(sheet[:, 2]) == 0  # one flat layer ...
    gap = dirt[:, 2] - sheet[0, 2]   # ... under all of the contamination
    assert gap.min() >= CONTAMINATION_GAP and gap.max() <= CONTAMINATION_GAP + 12.0
    # atoms per covered area between an edge-thick and a fully thick layer at the density
    covered = s.cover.covered(np.random.default_rng(0).uniform(0, 80, (200_000, 2))).mean()
    per_area = len(dirt) / (covered * 80.0**2)
    assert CONTAMINATION_DENSITY * CONTAMINATION_EDGE < per_area < CONTAMINATION_DENSITY * 12.0
    assert covered == pytest.approx(0.4, abs=0.01)


def test_coverage_and_patch_size_follow_the_drawn_values():
    small, large = (StructureConfig(kind="graphene", coverage=(0.3, 0.3), patch_scale=(v, v))
                    for v in (6.0, 24.0))
    labels = {}
    for name, cfg in (("small", small), ("large", large)):
        s = build_graphene(cfg, cell=200.0, rng=2)
        mask = cover_mask(s.cover, (400, 400), sampling=0.5)
        assert mask.mean() == pytest.approx(0.3, abs=0.01)  # the whole cell
        labels[name] = mask
    # larger patches: fewer outline pixels per covered pixel
    def outline(mask):
        return np.count_nonzero(np.diff(mask, axis=0)) + np.count_nonzero(np.diff(mask, axis=1))
    assert outline(labels["large"]) < 0.5 * outline(labels["small"])


def test_label_pixels_are_where_the_contamination_atoms_are():
    cfg = _config({"coverage": [0.5, 0.5], "contamination_thickness": [10.0, 10.0]})
    geo = geometry(cfg)
    s = build_graphene(cfg.structure, cell=geo.cell, rng=4)
    label = cover_mask(s.cover, (cfg.size, cfg.size), sampling=geo.sampling, origin=geo.origin)
    assert 0.2 < label.mean() < 0.8
    px = np.rint((s.atoms.positions[s.particle, :2] - geo.origin) / geo.sampling).astype(int)
    seen = np.all((px >= 0) & (px < cfg.size), axis=1)
    on = label[px[seen, 0], px[seen, 1]]
    assert on.mean() > 0.98  # all but atoms within half a pixel of an outline
    # inside the patches as many atoms per pixel as the density and thickness give, none
    # on the clean sheet away from the outlines
    from scipy.ndimage import binary_erosion
    hits = np.zeros(label.shape)
    np.add.at(hits, (px[seen, 0], px[seen, 1]), 1)
    per_px = hits[binary_erosion(label, iterations=3)].mean()
    column = CONTAMINATION_DENSITY * geo.sampling**2
    assert column * CONTAMINATION_EDGE < per_px < column * 10.0
    assert hits[binary_erosion(1 - label, iterations=2)].sum() == 0


def test_clean_graphene_image_shows_its_100_fringes_and_same_seed_same_bytes():
    cfg = _config()
    result = simulate_structure(cfg, seed=np.random.SeedSequence(3))
    assert result.labels.max() == 0
    image = result.images[0].astype(np.float64)
    power = np.abs(np.fft.fftshift(np.fft.fft2(image - image.mean()))) ** 2
    n = cfg.size
    q = np.hypot(*np.meshgrid(*(np.fft.fftshift(np.fft.fftfreq(n, cfg.sampling)),) * 2,
                              indexing="ij"))
    peak_q = q.ravel()[np.argmax(power)]
    d100 = GRAPHENE_A * np.sqrt(3) / 2  # 2.130 Å
    assert peak_q == pytest.approx(1 / d100, abs=1.5 / (n * cfg.sampling))
    again = simulate_structure(cfg, seed=np.random.SeedSequence(3))
    assert again.images.tobytes() == result.images.tobytes()


def test_contamination_adds_amorphous_contrast_and_keeps_the_mean_intensity():
    cfg = _config({"coverage": [0.5, 0.5], "patch_scale": [6.0, 6.0],
                   "contamination_thickness": [20.0, 20.0]})
    result = simulate_structure(cfg, seed=np.random.SeedSequence(8))
    image, label = result.images[0].astype(np.float64), result.labels[0]
    from scipy.ndimage import binary_erosion
    clean = image[binary_erosion(label == 0, iterations=3)]
    dirty = image[binary_erosion(label == 1, iterations=3)]
    assert len(clean) > 200 and len(dirty) > 200
    # a weak phase object without an aperture: the intensity stays 1 on average (vacuum = 1)
    assert clean.mean() == pytest.approx(1.0, abs=0.01)
    assert dirty.mean() == pytest.approx(1.0, abs=0.01)
    # 20 Å of amorphous carbon scatters more than one sheet: stronger speckle (2.6x here)
    assert dirty.std() > 2.0 * clean.std()


def test_dataset_records_contamination_labels(tmp_path):
    from temseg.simulate.dataset import open_dataset, read_parameters, simulate_dataset

    cfg = _config({"coverage": [0.3, 0.5]}, images_per_structure=1, n_structures=2)
    path = simulate_dataset(cfg, tmp_path / "g.zarr", scheduler="synchronous")
    root = open_dataset(path)
    assert root.attrs["label_kind"] == "contamination"
    labels = root["labels"][:]
    assert set(np.unique(labels)) == {0, 1}
    params = read_parameters(root)
    assert np.all((params["coverage"] >= 0.3) & (params["coverage"] <= 0.5))
    assert np.all(params["n_contamination_atoms"] > 0)


def test_lattice_warning_names_the_graphene_fringes():
    from temseg.cli.simulate import lattice_warning

    assert lattice_warning(_config()) is None
    message = lattice_warning(_config(sampling=1.2, wave_sampling=0.1))
    assert "graphene {100} fringes (2.13 Å)" in message


def test_shipped_graphene_configs_fit_together():
    from pathlib import Path

    from temseg.train.config import TrainConfig

    folder = Path(__file__).resolve().parents[2] / "configs"
    sim = load_config(SimulateConfig, folder / "simulate_graphene.yaml")
    assert sim.structure.kind == "graphene" and sim.labels.kind == "contamination"
    assert sim.detector.dose == (1000.0, 10000.0)  # 004's dose range, e/Å²
    pre = load_config(TrainConfig, folder / "pretrain_graphene.yaml")
    n3 = load_config(TrainConfig, folder / "graphene_n3.yaml")
    # the pretrained network is the one the fold recipe fine-tunes (same shape)
    assert pre.architecture == n3.architecture and pre.model == n3.model
    assert pre.preprocessing == n3.preprocessing


def test_a_beam_energy_in_kev_is_refused():
    data = _raw()
    data["imaging"]["energy"] = 80  # meant as 80 keV
    with pytest.raises(ConfigError, match=r"imaging.energy: 80 eV is not a TEM's .*80000"):
        load_config(SimulateConfig, data)


def test_illumination_field_is_a_smooth_gain_around_one():
    from temseg.simulate.imaging import illumination_field

    tilt = illumination_field((64, 64), amplitude=0.3, angle=0.0, radial=0.0)
    assert tilt.mean() == pytest.approx(1.0, abs=1e-9)
    assert tilt.min() == pytest.approx(0.7) and tilt.max() == pytest.approx(1.3)
    assert np.allclose(tilt, tilt[:, :1])        # angle 0: along axis 0 only
    assert tilt[-1, 0] > tilt[0, 0]
    turned = illumination_field((64, 64), amplitude=0.3, angle=90.0, radial=0.0)
    assert np.allclose(turned, turned[:1, :])    # 90°: along axis 1 only
    bright = illumination_field((64, 64), amplitude=0.2, angle=0.0, radial=1.0)
    assert bright[32, 32] > bright[0, 0] and np.abs(bright - 1).max() == pytest.approx(0.2)


def test_uneven_illumination_multiplies_the_clean_image_and_draws_nothing_when_off():
    from temseg.simulate.pipeline import IMAGING_KEYS, draw_imaging

    off = _config()
    rng = np.random.default_rng(0)
    assert set(draw_imaging(off.imaging, rng)) == set(IMAGING_KEYS)
    # off: the generator moved by the four draws only (older configs keep their bytes)
    ref = np.random.default_rng(0)
    ref.uniform(size=4)
    assert rng.uniform() == ref.uniform()
    data = _raw()
    data["imaging"]["illumination"] = [0.3, 0.3]
    on = load_config(SimulateConfig, data)
    plain = simulate_structure(off, seed=np.random.SeedSequence(3))
    lit = simulate_structure(on, seed=np.random.SeedSequence(3))
    row = lit.params[0]
    from temseg.simulate.imaging import illumination_field

    gain = illumination_field((off.size, off.size), amplitude=row["illumination"],
                              angle=row["illumination_angle"],
                              radial=row["illumination_radial"])
    assert row["illumination"] == pytest.approx(0.3)
    assert np.allclose(lit.images[0], plain.images[0] * gain, rtol=1e-5)
    assert np.array_equal(lit.labels, plain.labels)
