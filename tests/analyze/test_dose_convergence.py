"""The convergence dose of a dose curve is not decided by the reference frames themselves."""

import numpy as np
import pytest

import temseg.analyze.dose as dose_module
from temseg.analyze.dose import dose_curve, plot_dose_curve
from temseg.errors import ConfigError

#: the audit's series: 10 frames, 2…1000 e/Å², the third-highest (320) at 72 % of the top
AUDIT_DOSES = [2, 5, 10, 20, 50, 100, 200, 320, 500, 1000]
AUDIT_AREAS = [0, 10, 50, 300, 900, 2000, 3300, 4314, 5500, 5994]


def test_a_third_highest_frame_at_72_percent_of_the_top_is_not_converged():
    curve = dose_curve(AUDIT_DOSES, AUDIT_AREAS)
    assert curve.n_reference == 3 and curve.reference_dose_range == (320.0, 1000.0)
    assert 4314 / 5994 == pytest.approx(0.72, abs=0.005)
    assert curve.dose_converged is None and not curve.converged_is_bound
    assert curve.describe("converged") == "not converged within the series"
    assert not curve.band[0] <= 4314 <= curve.band[1]  # ±10 % of the mean of 4314, 5500, 5994
    # a flat top does not help: 4314 is still 79 % of the reference mean
    flat = dose_curve(AUDIT_DOSES, AUDIT_AREAS[:-2] + [5994, 5994])
    assert flat.dose_converged is None
    # nor does a longer series with the 72 % frame just below the reference frames
    doses = np.geomspace(2, 1000, 20)
    areas = np.minimum(1.0, doses / 600) * 5994.0
    areas[-4:] = [4314, 5994, 5994, 5994]
    assert dose_curve(doses, areas).n_reference == 3
    assert dose_curve(doses, areas).dose_converged is None


def test_the_reference_frames_alone_never_count_as_converged():
    doses = np.geomspace(1, 1000, 10)
    areas = np.array([0, 0, 100, 200, 300, 400, 800, 950, 1000, 1000], float)
    curve = dose_curve(doses, areas, smooth=1)
    assert curve.band == pytest.approx((0.9 * 2950 / 3, 1.1 * 2950 / 3))
    assert curve.band[0] <= areas[-3:].min() and areas[6] < curve.band[0]
    assert curve.dose_converged is None  # the old min–max band of the 3 said doses[7]
    areas[6] = 950.0  # now the frame next below the reference lies inside too
    assert dose_curve(doses, areas).dose_converged == pytest.approx(doses[6])


def test_a_series_that_converges_early_is_found():
    rng = np.random.default_rng(7)
    doses = np.geomspace(1, 1000, 20)
    areas = np.where(doses >= 10, 1000.0, 1000.0 * (doses / 10) ** 2)  # 8.9 e/Å²: 78 %
    areas *= 1 + rng.uniform(-0.03, 0.03, doses.size)
    curve = dose_curve(doses, areas)
    first = int(np.argmax(doses >= 10))
    assert curve.dose_converged == pytest.approx(doses[first]) and first == 7
    assert not curve.converged_is_bound
    flat = dose_curve(doses, np.full(20, 500.0))  # converged from the first frame: a bound
    assert flat.dose_converged == pytest.approx(1.0) and flat.converged_is_bound
    # a tighter tolerance moves it only where the frames leave the narrower band
    assert dose_curve(doses, areas, tolerance=0.001).dose_converged is None


def test_the_reference_count_is_stated_and_a_large_share_warned_about():
    doses = np.geomspace(1, 1000, 10)
    curve = dose_curve(doses, np.linspace(1, 10, 10), reference_fraction=0.1)
    summary = curve.as_dict()
    assert summary["n_reference_frames"] == 3 and summary["tolerance"] == 0.1
    assert summary["reference_dose_range_e_per_A2"] == pytest.approx([doses[7], 1000.0])
    assert summary["reference_frames"] == [7, 8, 9] and "reference_doses_e_per_A2" not in summary
    assert "±10 % of the full area" in summary["convergence_rule"]
    assert "the 3 highest-dose frames" in summary["convergence_rule"]
    assert curve.reference_warning() is None  # 3 of 10
    assert dose_curve(doses, np.arange(10.0), reference_fraction=0.4).n_reference == 4
    short = dose_curve(doses[:6], np.arange(6.0))
    assert "3 of the 6 in the curve (more than a third)" in short.reference_warning()
    with pytest.raises(ConfigError, match=r"^reference_fraction: must be in \(0, 0.5\]"):
        dose_curve(doses, np.arange(10.0), reference_fraction=0.6)
    with pytest.raises(ConfigError, match=r"^tolerance: .* got 0"):
        dose_curve(doses, np.arange(10.0), tolerance=0)


def test_the_legend_stays_off_the_data_and_names_the_paper(tmp_path, monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from temseg.analyze.dose_run import DoseSeries, run_dose_curve

    class Areas:  # a stand-in segmenter whose area is the frame's first pixel value
        threshold = 0.5

        def predict(self, image, *, sampling=None, callback=None):
            mask = np.zeros(image.shape, np.float32)
            mask.flat[:int(image.flat[0])] = 1.0
            return mask

    frames = np.stack([np.full((80, 80), a + 1.0) for a in AUDIT_AREAS])
    frames[:, 1, 1] = 0.0  # not constant: not blank
    figures = []
    monkeypatch.setattr(dose_module, "write_figure", lambda fig, path: figures.append(fig))
    run = run_dose_curve(Areas(), DoseSeries(frames, AUDIT_DOSES, sampling=1.0), tmp_path)
    assert run.curve.areas[-1] == 5995 and run.curve.dose_converged is None
    (fig,) = figures
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Leth Larsen et al.: 50 % at 20–30 e/Å²" in labels
    assert "Leth Larsen et al.: converged at 200 e/Å²" in labels
    assert not any("002" in label for label in labels)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    axes = ax.get_window_extent(renderer)
    assert legend.y1 < axes.y0  # below the axes: covers no data
    assert legend.y0 >= 0 and legend.x0 >= 0 and legend.x1 <= fig.bbox.x1  # not cut off


def test_a_plot_without_reference_still_draws(tmp_path):
    curve = dose_curve(AUDIT_DOSES, AUDIT_AREAS)
    png = plot_dose_curve(tmp_path / "d.png", curve, reference={"a range": (20.0, 30.0)})
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_frames_of_one_dose_stand_or_fall_together_in_any_order():
    """Two frames at 100 e/Å², one 20 % off: converged above 100, whichever comes first."""
    from temseg.analyze.dose import dose_curve

    doses = [10, 20, 50, 100, 100, 200, 300, 500, 1000, 2000]
    for pair in ([800, 1000], [1000, 800]):
        areas = [100, 300, 600, *pair, 990, 1005, 1000, 995, 1010]
        assert dose_curve(doses, areas).dose_converged == 200


def test_dose_bands_give_the_arithmetic_mean_dose_and_the_plot_draws_it(tmp_path,
                                                                         monkeypatch):
    """per_dose.csv's ``dose_mean_e_per_A2`` is the arithmetic mean of a band's doses (the
    audit's band of 2039.6 and 2610.6 e/Å²: 2325.1, not the geometric 2307.5), and
    per_dose.png draws each band's pooled F1 at that dose."""
    from temseg.analyze.dose import plot_scores_by_dose, scores_by_dose

    doses = [2039.6, 2610.6, 150.0]
    matrices = [[[90, 2], [3, 5]], [[80, 0], [10, 10]], [[50, 25], [0, 25]]]
    rows = scores_by_dose(doses, matrices, ["background", "particle"])
    by_low = {round(r["dose_low_e_per_A2"]): r for r in rows}
    assert by_low[1000]["images"] == 2
    assert by_low[1000]["dose_mean_e_per_A2"] == pytest.approx(2325.1)
    assert by_low[100]["dose_mean_e_per_A2"] == pytest.approx(150.0)
    drawn = {}
    monkeypatch.setattr(dose_module, "write_figure",
                        lambda fig, path: drawn.setdefault("fig", fig) and path)
    plot_scores_by_dose(tmp_path / "per_dose.png", doses, {"particle": [0.7, 0.6, 0.5]}, rows)
    (ax,) = drawn["fig"].axes
    pooled = [line for line in ax.lines if line.get_label().endswith("pooled per band")]
    assert len(pooled) == 1
    np.testing.assert_allclose(pooled[0].get_xdata(), [r["dose_mean_e_per_A2"] for r in rows])
    np.testing.assert_allclose(sorted(pooled[0].get_xdata()), [150.0, 2325.1])
    # the single images are in the legend too, and each band says how many it pools
    assert "particle: single images" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(t.get_text() for t in ax.texts) == ["n=1", "n=2"]


def test_frames_tied_at_the_top_dose_all_form_the_reference():
    """Four frames at the highest dose, one of them low: the full area is their mean, not
    that of whichever three were recorded last."""
    from temseg.analyze.dose import dose_curve

    doses = [1, 2, 3, 4, 5, 10, 10, 10, 10]
    curves = [dose_curve(doses, [5, 20, 50, 80, 95, *top])
              for top in ([60, 100, 100, 100], [100, 100, 100, 60])]
    assert curves[0].full_area == curves[1].full_area == 90.0
    assert curves[0].n_reference == 4 and curves[0].band == curves[1].band
    assert curves[0].dose_half == curves[1].dose_half


def test_a_dose_curve_needs_three_distinct_doses():
    """Six frames at one dose (a movie at a constant dose rate) were a "curve" whose
    reference, by ties, held every frame."""
    from temseg.analyze.dose import check_distinct_doses
    from temseg.errors import InputError

    with pytest.raises(InputError, match=r"^dose curve: .*3 distinct doses, got 1 \(400 e/Å² "
                                         r"for all 6 frames\); a movie at a constant dose rate"):
        dose_curve([400] * 6, np.arange(6.0))
    with pytest.raises(InputError, match=r"^s.tif: .* got 2 \(10 and 12,800 e/Å²\)"):
        check_distinct_doses([10, 12800] * 3, name="s.tif")
    check_distinct_doses([1, 2, 3, 3, 3, 3])


def test_ties_join_the_reference_but_cannot_take_in_every_frame():
    from temseg.analyze.dose import reference_frames
    from temseg.errors import InputError

    # 3 reference frames of 8, and the third frame at 5 e/Å² tied with them
    assert reference_frames([1, 2, 3, 5, 5, 4, 5, 9]).tolist() == [3, 4, 6, 7]
    curve = dose_curve([1, 2, 3, 5, 5, 4, 5, 9], [0, 10, 50, 100, 98, 80, 102, 100])
    assert curve.n_reference == 4 and curve.reference_index == (3, 4, 6, 7)
    assert curve.reference_dose_range == (5.0, 9.0) and curve.full_area == 100.0
    assert curve.as_dict()["reference_frames"] == [3, 4, 6, 7]
    with pytest.raises(InputError, match=r"the reference \(the 3 highest-dose frames and the "
                                         r"6 more tied with them at 1 e/Å²\) holds all 9 frames"):
        dose_curve([1] * 7 + [2, 3], np.arange(9.0))


def test_printed_doses_are_plain_numbers():
    doses = 200.0 * 2.0 ** np.arange(7)
    curve = dose_curve(doses, [0, 10, 50, 100, 100, 100, 100], smooth=1)
    assert curve.describe("converged") == "1,600 e/Å²"  # was 1.6e+03 e/Å²
    bound = dose_curve(doses * 64, np.full(7, 100.0))
    assert bound.describe("half") == "≤ 12,800 e/Å² (from the first frame)"
    assert "below 204,800 e/Å²" in bound.reference_warning()
