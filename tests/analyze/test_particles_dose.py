import csv

import numpy as np
import pytest

from temseg.analyze.dose import dose_curve, plot_dose_curve
from temseg.analyze.particles import particle_table, write_particle_csv
from temseg.errors import InputError


def test_particle_table_areas_and_diameters(tmp_path):
    mask = np.zeros((100, 120), np.uint8)
    yy, xx = np.mgrid[:100, :120]
    mask[(yy - 30) ** 2 + (xx - 30) ** 2 <= 15 ** 2] = 1      # disc r = 15 px
    mask[70:90, 80:100] = 1                                   # 20 × 20 square
    mask[5, 110] = 1                                          # a speck: dropped
    rows = particle_table(mask, sampling=0.5)                 # 0.05 nm / px
    assert len(rows) == 2
    disc, square = sorted(rows, key=lambda r: r["area_px"])[::-1]
    assert disc["area_px"] == pytest.approx(np.pi * 15 ** 2, rel=0.02)
    # a disc of r = 15 px at 0.05 nm/px has a diameter of 1.5 nm
    assert disc["equivalent_diameter_nm"] == pytest.approx(1.5, rel=0.01)
    assert square["area_nm2"] == pytest.approx(400 * 0.05 ** 2)
    assert not disc["touches_border"]
    path = write_particle_csv(tmp_path / "p.csv", rows)
    with open(path) as fh:
        assert len(list(csv.DictReader(fh))) == 2
    assert particle_table(mask)[0]["area_nm2"] is None
    with pytest.raises(InputError):
        particle_table(np.zeros((2, 2, 2)))


def test_dose_curve_finds_half_and_convergence(tmp_path):
    rng = np.random.default_rng(0)
    doses = np.logspace(1, 4, 200)                            # 10 .. 1e4 e/Å²
    full = 1000.0
    # a logistic rise in log dose: half at 30 e/Å², full by ~200
    areas = full / (1 + (30.0 / doses) ** 4) + rng.normal(0, 5, doses.size)
    curve = dose_curve(doses[::-1], areas[::-1])               # order does not matter
    assert curve.full_area == pytest.approx(full, rel=0.01)
    assert curve.dose_half == pytest.approx(30.0, rel=0.1)
    # inside the band of the reference frames (±~2σ = ±1 %) from (30/d)^4 ≈ 0.01, d ≈ 95
    assert 70 < curve.dose_converged < 200
    png = plot_dose_curve(tmp_path / "d.png", curve, reference={"002": 25.0})
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert set(curve.as_dict()) >= {"dose_half_e_per_A2", "dose_converged_e_per_A2"}


def test_dose_curve_rejects_bad_input():
    with pytest.raises(InputError, match="equal length"):
        dose_curve([1, 2, 3], [1, 2])
    with pytest.raises(InputError, match="positive"):
        dose_curve([-1, 1, 2, 3, 4, 5], [1] * 6)
    curve = dose_curve(np.arange(1, 11), np.zeros(10))        # nothing ever segmented
    assert curve.dose_half is None
