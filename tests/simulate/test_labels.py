"""Labels: the hull covers every projected particle atom; columns are discs of the given radius."""

import numpy as np
import pytest
from scipy.ndimage import binary_dilation
from scipy.spatial import ConvexHull

from temseg.config import load_config
from temseg.simulate.config import SimulateConfig
from temseg.simulate.labels import column_mask, hull_mask
from temseg.simulate.pipeline import geometry, make_labels
from temseg.simulate.structures import build_structure


def test_hull_of_a_square():
    xy = np.array([[1.0, 1.0], [1.0, 3.0], [3.0, 1.0], [3.0, 3.0]])
    mask = hull_mask(xy, (10, 10), sampling=0.5)
    assert mask.dtype == np.uint8
    # points 2..6 px on both axes, i.e. a 5×5 block
    assert mask.sum() == 25 and mask[2:7, 2:7].all()
    grown = hull_mask(xy, (10, 10), sampling=0.5, grow=0.5)
    assert grown.sum() > mask.sum() and np.all(grown >= mask)
    assert hull_mask(xy[:2], (10, 10), sampling=0.5).sum() == 0  # a line has no area


def test_column_disc_area():
    mask = column_mask(np.array([[5.0, 5.0]]), (101, 101), sampling=0.1, radius=1.0)
    assert mask.sum() * 0.01 == pytest.approx(np.pi, rel=0.02)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_covers_the_particle(seed):
    cfg = load_config(SimulateConfig, {"size": 64, "sampling": 0.3, "wave_sampling": 0.1,
                                       "structure": {"radius": [5.0, 8.0], "max_offset": 1.0}})
    geo = geometry(cfg)
    s = build_structure(cfg.structure, cell=geo.cell, rng=seed)
    hull, cols = make_labels(s, cfg, geo)
    px = np.round((s.particle_xy - geo.origin) / geo.sampling).astype(int)
    assert np.all((px >= 0) & (px < cfg.size))
    # atoms on the hull's edge may sit half a pixel outside the plain hull (002's label)
    assert binary_dilation(hull, np.ones((3, 3))).astype(bool)[px[:, 0], px[:, 1]].all()
    assert hull[px[:, 0], px[:, 1]].mean() > 0.5
    assert cols[px[:, 0], px[:, 1]].all()
    # grown by half a column (1.25 Å), the hull covers every atom's pixel
    cfg.labels.grow_hull = True
    grown, _ = make_labels(s, cfg, geo)
    assert grown[px[:, 0], px[:, 1]].all()
    assert grown.sum() > hull.sum()
    # area matches the projected hull's, to within its perimeter's pixels
    h = ConvexHull(s.particle_xy)
    area, perimeter = h.volume, h.area
    assert abs(hull.sum() * geo.sampling**2 - area) < perimeter * geo.sampling
    # the support is not labelled
    support = np.round((s.atoms.positions[~s.particle, :2] - geo.origin) / geo.sampling).astype(int)
    inside = np.all((support >= 0) & (support < cfg.size), axis=1)
    assert hull[support[inside, 0], support[inside, 1]].mean() < 0.05
