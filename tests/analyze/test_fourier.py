"""Fourier analysis of segmented particles (003): spacing, direction, reflections, peak ratio."""

import csv

import numpy as np
import pytest

from temseg.analyze.fourier import NO_PEAK, particle_reflections
from temseg.analyze.particles import (label_particles, particle_table, plot_fourier_map,
                                      write_particle_csv)
from temseg.errors import InputError

YY, XX = np.mgrid[:128, :128].astype(float)


def lattice(waves, *, seed=0, noise=0.5, radius=24, centre=(64, 60)):
    """A disc of crossed fringes (amplitude, period px, direction ° as displayed) in noise."""
    rng = np.random.default_rng(seed)
    region = (YY - centre[0]) ** 2 + (XX - centre[1]) ** 2 <= radius**2
    fringes = np.zeros_like(YY)
    for amp, period, theta in waves:
        t = np.radians(theta)  # y points down in the array, up on the screen
        fringes += amp * np.cos(2 * np.pi * (XX * np.cos(t) - YY * np.sin(t)) / period)
    return rng.normal(0, noise, YY.shape) + np.where(region, fringes, 0), region


def _angle_error(a, b):
    return abs((a - b + 90) % 180 - 90)


def test_two_crossed_lattices_spacing_direction_and_ratio():
    image, region = lattice([(1.0, 4.0, 30), (0.8, 5.0, 100)])
    got = particle_reflections(image, region, sampling=0.5)     # 0.5 Å / px
    assert got.reflections == 2
    assert got.spacing_px == pytest.approx(4.0, rel=0.02)        # the stronger one
    assert got.spacing_A == pytest.approx(2.0, rel=0.02)
    assert _angle_error(got.angle_deg, 30) < 1.0
    # power ratio of the two sets is (1 / 0.8)² = 1.56, blurred a little by the window
    assert 1.2 < got.peak_ratio < 2.5


def test_reflections_finer_than_the_information_limit_are_not_counted():
    """Counts must not grow with finer pixels: under 1 Å is left out given a pixel size."""
    image, region = lattice([(1.0, 8.0, 30), (1.0, 2.5, 100)], noise=0.2)
    assert particle_reflections(image, region).reflections == 2            # no pixel size: all
    coarse = particle_reflections(image, region, sampling=0.5)             # 4 Å and 1.25 Å
    fine = particle_reflections(image, region, sampling=0.3)               # 2.4 Å and 0.75 Å
    assert coarse.reflections == 2 and fine.reflections == 1
    assert fine.spacing_A == pytest.approx(2.4, rel=0.02)


def test_one_set_of_fringes_stands_alone_a_zone_axis_does_not():
    fringes, region = lattice([(1.0, 5.0, 10)], seed=1)
    single = particle_reflections(fringes, region)
    assert single.reflections == 1 and single.peak_ratio > 20
    assert single.spacing_A is None and _angle_error(single.angle_deg, 10) < 1.0
    hexagonal, region = lattice([(1.0, 3.1, 0), (1.0, 3.1, 60), (1.0, 3.1, 120)], seed=2)
    zone = particle_reflections(hexagonal, region)
    assert zone.reflections == 3 and zone.peak_ratio < 1.5
    assert zone.spacing_px == pytest.approx(3.1, rel=0.02)


def test_noise_and_tiny_regions_have_no_peak():
    noise, region = lattice([], seed=3)
    assert particle_reflections(noise, region) == NO_PEAK
    speck = np.zeros((128, 128), bool)
    speck[10, 10] = True
    assert particle_reflections(noise, speck, margin_px=0) == NO_PEAK
    assert particle_reflections(noise, np.zeros((128, 128), bool)) == NO_PEAK
    with pytest.raises(InputError, match="one 2-D shape"):
        particle_reflections(noise, region[:64])


def test_particle_table_with_the_image_adds_fourier_columns(tmp_path):
    left, region_l = lattice([(1.0, 4.0, 45), (1.0, 4.0, 135)], radius=18, centre=(40, 32))
    right, region_r = lattice([(1.0, 6.0, 0)], radius=18, centre=(88, 96), seed=4)
    image = np.where(region_r, right, left)
    mask = region_l | region_r
    rows = particle_table(mask, sampling=1.0, image=image)
    by_x = sorted(rows, key=lambda r: r["centroid_x_px"])
    assert by_x[0]["reflections"] == 2 and by_x[0]["peak_ratio"] < 2
    assert by_x[1]["spacing_A"] == pytest.approx(6.0, rel=0.03) and by_x[1]["peak_ratio"] > 20
    path = write_particle_csv(tmp_path / "p.csv", rows)
    with open(path) as fh:
        table = list(csv.DictReader(fh))
    assert {"spacing_A", "angle_deg", "reflections", "peak_ratio"} <= set(table[0])
    assert "peak_ratio" not in particle_table(mask)[0]
    with pytest.raises(InputError, match="differ in shape"):
        particle_table(mask, image=image[:100])
    import imageio.v3 as iio

    png = plot_fourier_map(tmp_path / "map.png", image, label_particles(mask), rows)
    assert iio.imread(png).ndim == 3
