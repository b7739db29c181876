"""What dose_curve.png shows: points over the lines, the 50 % level, bounds, the labelled area."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Annotation

import temseg.analyze.dose as dose_module
from temseg.analyze.dose import dose_curve, plain_dose, plot_dose_curve
from temseg.analyze.dose_run import DoseSeries, run_dose_curve

#: a series already past 50 % at its first frame (100 e/Å²): the 50 % dose is a bound,
#: and all areas lie far above half the full area
DOSES = np.geomspace(100, 1e4, 8)
AREAS = np.array([4300, 4500, 4900, 5100, 5300, 5200, 5350, 5300.0])


@pytest.fixture
def figures(monkeypatch):
    captured = []
    monkeypatch.setattr(dose_module, "write_figure", lambda fig, path: captured.append(fig))
    return captured


def _plot(figures, tmp_path, curve, **kw):
    plot_dose_curve(tmp_path / "d.png", curve, **kw)
    fig = figures[-1]
    FigureCanvasAgg(fig).draw()
    return fig, fig.axes[0]


def _by_label(ax, start):
    found = [a for a in [*ax.lines, *ax.patches] if str(a.get_label()).startswith(start)]
    assert len(found) == 1, (start, [a.get_label() for a in ax.lines])
    return found[0]


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_the_points_are_drawn_over_the_thin_lines_they_give(figures, tmp_path):
    curve = dose_curve(np.geomspace(1, 1000, 12), 5000 / (1 + (30 / np.geomspace(1, 1000, 12))
                                                          ** 3))
    assert curve.dose_converged == pytest.approx(curve.doses[7])  # a frame's own dose
    fig, ax = _plot(figures, tmp_path, curve, reference={"paper": 200.0})
    points = [_by_label(ax, "segmented area"), _by_label(ax, "reference frames")]
    verticals = [_by_label(ax, "converged at"), _by_label(ax, "50 % area at"),
                 _by_label(ax, "paper")]
    for line in verticals:
        assert line.get_linewidth() <= 1.0
        assert all(p.get_zorder() > line.get_zorder() for p in points)
    assert _by_label(ax, "converged at").get_xdata()[0] == pytest.approx(curve.doses[7])


def test_the_half_level_is_drawn_and_the_area_axis_starts_at_0(figures, tmp_path):
    curve = dose_curve(DOSES, AREAS)
    assert AREAS.min() > 0.8 * curve.full_area  # autoscaled, the axis would start near 4300
    fig, ax = _plot(figures, tmp_path, curve)
    half = _by_label(ax, "50 % of the full area")
    assert list(half.get_ydata()) == pytest.approx([0.5 * curve.full_area] * 2)
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] >= AREAS.max()


def test_a_dose_that_is_only_a_bound_is_marked_so(figures, tmp_path):
    curve = dose_curve(DOSES, AREAS)
    assert curve.half_is_bound and not curve.converged_is_bound
    fig, ax = _plot(figures, tmp_path, curve)
    assert "50 % area at ≤ 100 e/Å² (from the first frame)" in _legend(ax)
    (arrow,) = [t for t in ax.texts if isinstance(t, Annotation)]
    (tip_x, _), (tail_x, _) = arrow.xy, arrow.xyann
    assert tip_x < tail_x <= 100.0 < 1.2 * tail_x  # from the line to lower doses
    assert ax.get_xlim()[0] <= tip_x  # and the axis leaves room for it
    renderer = fig.canvas.get_renderer()
    assert ax.get_window_extent(renderer).contains(*arrow.get_window_extent(renderer).min)
    # a crossing inside the series is not a bound: no ≤, no arrow
    doses = np.geomspace(1, 1000, 12)
    fig, ax = _plot(figures, tmp_path, dose_curve(doses, 5000 / (1 + (30 / doses) ** 3)))
    assert not [t for t in ax.texts if isinstance(t, Annotation)]
    assert not any("≤" in label for label in _legend(ax))


def test_both_bounds_get_an_arrow_and_doses_read_as_plain_numbers(figures, tmp_path):
    doses = np.geomspace(1000, 1e5, 10)
    curve = dose_curve(doses, 800.0 + np.arange(10))
    assert curve.half_is_bound and curve.converged_is_bound
    fig, ax = _plot(figures, tmp_path, curve)
    labels = _legend(ax)
    assert "converged at ≤ 1,000 e/Å² (from the first frame)" in labels
    assert not any("e+" in label for label in labels)
    assert len([t for t in ax.texts if isinstance(t, Annotation)]) == 2
    doses = np.geomspace(10, 1e4, 12)
    curve = dose_curve(doses, np.where(doses >= 1300, 1000.0, 600.0))
    assert curve.dose_converged == pytest.approx(1519.9, abs=0.1)
    fig, ax = _plot(figures, tmp_path, curve)
    assert "converged at 1,520 e/Å²" in _legend(ax)


def test_plain_dose():
    assert [plain_dose(d) for d in (1000.0, 12345.0, 30.24, 100.0, 5.0, 0.5, 0.0123)] == [
        "1,000", "12,345", "30.2", "100", "5", "0.5", "0.0123"]  # as the printed lines
    from temseg.cli._common import dose_text

    assert dose_text(12345.0) == plain_dose(12345.0)  # one way to write a dose


def test_the_legend_with_every_entry_stays_below_the_axes_and_inside(figures, tmp_path):
    doses = np.geomspace(1000, 1e5, 10)
    curve = dose_curve(doses, 800.0 + np.arange(10))
    fig, ax = _plot(figures, tmp_path, curve, labelled=(doses, np.full(10, 850.0)),
                    blank_doses=[2000.0], nm2_per_unit=0.01, title="t",
                    reference={"a range of doses (e/Å²)": (20.0, 30.0), "a dose": 200.0})
    renderer = fig.canvas.get_renderer()
    box = ax.get_legend().get_window_extent(renderer)
    assert len(_legend(ax)) == 10
    assert box.y1 < ax.get_window_extent(renderer).y0
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.x1


class Areas:
    """A stand-in segmenter whose area is the frame's first pixel value."""

    threshold = 0.5

    def predict(self, image, *, sampling=None, callback=None):
        mask = np.zeros(image.shape, np.float32)
        mask.flat[:int(image.flat[0])] = 1.0
        return mask


def _frames(areas):
    frames = np.stack([np.full((80, 80), a + 1.0) for a in areas])
    frames[:, 1, 1] = 0.0  # not constant: not blank
    return frames


def test_a_labelled_series_draws_the_labelled_area_blank_frames_too(figures, tmp_path):
    areas = [0, 10, 50, 300, 900, 2000, 3300, 5000, 5500, 5994]
    doses = [2, 5, 10, 20, 50, 100, 200, 320, 500, 1000]
    frames = _frames(areas)
    frames[3] = 0.0  # blank: left out of the curve, its labelled area is still known
    labels = np.zeros((10, 80, 80), bool)
    for i in range(10):
        labels[i].flat[:5800 + i] = True
    order = np.array([9, 0, 1, 2, 3, 4, 5, 6, 7, 8])  # recorded out of dose order
    run_dose_curve(Areas(), DoseSeries(frames[order], np.array(doses)[order], sampling=1.0,
                                       labels=labels[order]), tmp_path)
    ax = figures[-1].axes[0]
    line = _by_label(ax, "labelled area")
    assert list(line.get_xdata()) == pytest.approx(doses)
    assert list(line.get_ydata()) == [5800 + i for i in range(10)]
    assert "labelled area" in _legend(ax)
    # a stack without labels has none
    run_dose_curve(Areas(), DoseSeries(_frames(areas), doses, sampling=1.0), tmp_path / "b")
    ax = figures[-1].axes[0]
    assert not [a for a in ax.lines if a.get_label() == "labelled area"]
