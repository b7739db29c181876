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
    unscaled = particle_table(mask)[0]                        # no pixel size: px only
    assert unscaled["area_nm2"] is None and unscaled["equivalent_diameter_nm"] is None
    assert unscaled["equivalent_diameter_px"] == pytest.approx(30.0, rel=0.01)
    with pytest.raises(InputError):
        particle_table(np.zeros((2, 2, 2)))


def _discs(radii_px, shape=(120, 160), border_disc=True):
    mask = np.zeros(shape, np.uint8)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for i, r in enumerate(radii_px):
        cy, cx = 30 + 60 * (i // 3), 25 + 50 * (i % 3)
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2] = 1
    if border_disc:  # cut by the edge: counted, never sized
        mask[(yy - 0) ** 2 + (xx - 150) ** 2 <= 12 ** 2] = 1
    return mask


def test_summary_sizes_only_whole_particles_in_nm(tmp_path):
    from temseg.analyze.particles import particle_summary, plot_particles

    radii = [8, 10, 12, 14]
    rows = particle_table(_discs(radii), sampling=2.0)        # 0.2 nm / px
    stats = particle_summary(rows)
    assert stats["particles"] == 5 and stats["touching_border"] == 1
    assert stats["diameter_unit"] == "nm"
    # diameters 2r × 0.2 nm: 3.2, 4.0, 4.8, 5.6 nm → median 4.4, within a pixel's worth
    assert stats["diameter_median"] == pytest.approx(4.4, abs=0.1)
    assert stats["diameter_std"] == pytest.approx(np.std([3.2, 4.0, 4.8, 5.6], ddof=1), abs=0.05)
    px = particle_summary(particle_table(_discs(radii)))
    assert px["diameter_unit"] == "px" and px["diameter_median"] == pytest.approx(22, abs=0.5)
    empty = particle_summary([], n_frames=3)
    assert empty["particles"] == 0 and empty["diameter_median"] is None
    assert empty["particles_per_frame"] == 0.0
    import imageio.v3 as iio

    png = plot_particles(tmp_path / "one.png", rows)
    assert iio.imread(png).shape[:2] == (480, 768)
    # a stack: frame 1 has no particle, frame 2 bigger ones
    frames = [_discs(radii), np.zeros((120, 160), np.uint8), _discs([15, 16], border_disc=False)]
    stack_rows = [{"frame": i, **r} for i, m in enumerate(frames)
                  for r in particle_table(m, sampling=2.0)]
    stats = particle_summary(stack_rows, n_frames=3)
    assert stats["particles_per_frame"] == pytest.approx(7 / 3)
    png = plot_particles(tmp_path / "stack.png", stack_rows, n_frames=3)
    assert iio.imread(png).shape[:2] == (672, 768)
    csv_path = write_particle_csv(tmp_path / "s.csv", stack_rows, frames=True)
    with open(csv_path) as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0])[0] == "frame" and [r["frame"] for r in table].count("2") == 2
    # focal series of 3 frames (003): indexed by series and the frame each starts at
    series_rows = [{"series": r["frame"], "first_frame": 3 * r["frame"], **r}
                   for r in stack_rows]
    for r in series_rows:
        del r["frame"]
    assert particle_summary(series_rows, n_frames=3, unit="series")[
        "particles_per_series"] == pytest.approx(7 / 3)
    csv_path = write_particle_csv(tmp_path / "f.csv", series_rows, frames=True, unit="series")
    with open(csv_path) as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0])[:3] == ["series", "first_frame", "label"]
    assert [r["first_frame"] for r in table if r["series"] == "2"] == ["6", "6"]
    png = plot_particles(tmp_path / "fs.png", series_rows, n_frames=3, unit="series")
    assert iio.imread(png).shape[:2] == (672, 768)
    with pytest.raises(InputError, match="unit: expected one of frame, series, got 'slice'"):
        write_particle_csv(tmp_path / "x.csv", stack_rows, frames=True, unit="slice")


def test_dose_curve_finds_half_and_convergence(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    doses = np.logspace(1, 4, 200)                            # 10 .. 1e4 e/Å²
    full = 1000.0
    # a logistic rise in log dose: half at 30 e/Å², full by ~200
    areas = full / (1 + (30.0 / doses) ** 4) + rng.normal(0, 5, doses.size)
    curve = dose_curve(doses[::-1], areas[::-1])               # order does not matter
    assert curve.full_area == pytest.approx(full, rel=0.01)
    assert curve.dose_half == pytest.approx(30.0, rel=0.1)
    # within ±10 % of the full area from 1/(1 + (30/d)^4) = 0.9, d = 30·9^¼ ≈ 52 e/Å²
    # (the σ = 0.5 % noise moves it by a grid step or two, ~3.5 % each)
    assert curve.dose_converged == pytest.approx(30 * 9**0.25, rel=0.08)
    png = plot_dose_curve(tmp_path / "d.png", curve, reference={"002": 25.0})
    assert png.read_bytes()[:4] == b"\x89PNG"
    # with the pixel size known, an nm² axis is drawn on the right, at the same heights
    import temseg.analyze.dose as dose_module

    figures = []
    monkeypatch.setattr(dose_module, "write_figure", lambda fig, path: figures.append(fig))
    plot_dose_curve(tmp_path / "nm2.png", curve, nm2_per_unit=0.0009)
    (main_axes,) = figures[0].axes
    (nm2,) = main_axes.child_axes
    assert nm2.get_ylabel() == "segmented area (nm²)"
    assert nm2.get_ylim()[1] == pytest.approx(main_axes.get_ylim()[1] * 0.0009)
    assert set(curve.as_dict()) >= {"dose_half_e_per_A2", "dose_converged_e_per_A2"}


def test_dose_curve_says_when_a_dose_is_only_a_bound():
    """A series already past 50 % (and converged) at its first frame gives upper bounds."""
    doses = np.logspace(2, 4, 40)                              # 100 .. 1e4 e/Å²
    areas = 1000.0 / (1 + (30.0 / doses) ** 4)                 # half at 30: before the series
    curve = dose_curve(doses, areas, tolerance=0.01)
    assert curve.dose_half == pytest.approx(100.0) and curve.half_is_bound
    assert curve.converged_is_bound and curve.dose_converged == pytest.approx(100.0)
    assert curve.describe("half") == "≤ 100 e/Å² (from the first frame)"
    assert curve.as_dict()["dose_half_is_upper_bound"] is True
    crossing = dose_curve(np.logspace(1, 4, 60), 1000.0 / (1 + (30.0 / np.logspace(1, 4, 60)) ** 4))
    assert not crossing.half_is_bound and not crossing.converged_is_bound
    assert crossing.describe("half").startswith("3") and crossing.describe("half").endswith("e/Å²")


def test_dose_curve_rejects_bad_input():
    with pytest.raises(InputError, match="equal length"):
        dose_curve([1, 2, 3], [1, 2])
    with pytest.raises(InputError, match="positive"):
        dose_curve([-1, 1, 2, 3, 4, 5], [1] * 6)
    curve = dose_curve(np.arange(1, 11), np.zeros(10))        # nothing ever segmented
    assert curve.dose_half is None


def test_dose_bands_cover_every_dose_on_round_edges():
    from temseg.analyze.dose import dose_bands

    doses = [10.0, 999.9999999, 1000.0, 3162.2776601683795, 9.99e4, None, float("nan"), -1.0]
    bands = dose_bands(doses)
    lows = [round(a, 3) for a, _ in bands]
    assert lows[0] == 10.0 and round(bands[-1][1]) == 100000
    for a, b in bands:  # half decades
        assert b / a == pytest.approx(10 ** 0.5)
    for d in doses[:5]:
        assert sum(a <= d < b for a, b in bands) == 1
    assert dose_bands([None, float("nan")]) == []
    assert len(dose_bands([1e2, 9e2], per_decade=1)) == 1


def test_scores_by_dose_pool_the_counts_of_each_band():
    from temseg.analyze.dose import scores_by_dose

    # binary: [[tn, fp], [fn, tp]] per image
    m1, m2, m3 = ([[90, 2], [3, 5]], [[80, 0], [10, 10]], [[50, 25], [0, 25]])
    rows = scores_by_dose([120.0, 200.0, 5e3], [m1, m2, m3], ["background", "particle"])
    assert [(r["images"], round(r["dose_low_e_per_A2"])) for r in rows] == [(2, 100), (1, 3162)]
    assert rows[0]["dose_mean_e_per_A2"] == pytest.approx(160.0)  # arithmetic mean
    tp, fp, fn = 15, 2, 13  # images 1 and 2 pooled, not their scores averaged
    assert rows[0]["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert rows[0]["jaccard"] == pytest.approx(tp / (tp + fp + fn))
    assert rows[1]["precision"] == pytest.approx(0.5) and rows[1]["recall"] == 1.0
    # three classes: F1 per foreground class and their mean
    m = np.array([[10, 0, 0], [0, 4, 4], [0, 0, 8]])
    (row,) = scores_by_dose([5e2], [m], ["background", "Mo", "S1"])
    assert row["f1_Mo"] == pytest.approx(2 * 4 / (8 + 4)) and row["f1_S1"] == pytest.approx(
        2 * 8 / (16 + 4))
    assert row["mean_f1"] == pytest.approx((row["f1_Mo"] + row["f1_S1"]) / 2)


def test_a_probability_map_is_not_measured_as_a_mask():
    """> 0 of probabilities made one particle of the whole image."""
    from temseg.analyze.particles import particle_table

    prob = np.full((16, 16), 0.05)
    prob[4:8, 4:8] = 0.9
    with pytest.raises(InputError, match="probability map.*threshold it first"):
        particle_table(prob, sampling=0.3)
    assert len(particle_table((prob >= 0.5).astype(float), sampling=0.3)) == 1
