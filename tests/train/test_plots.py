"""The learning-curve figure: legend off the curves, integer epochs, plain loss ticks."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import temseg.train.plots as plots_module
from temseg.train.plots import plain_number, plot_learning_curve


def _history(epochs=10, spikes=(4, 8)):
    """Losses within one decade (0.45–0.95, where matplotlib labels minor ticks
    as 9×10⁻¹), validation-loss spikes, and an F1 that rises."""
    return [{"epoch": e, "train_loss": 0.95 * 0.93 ** e,
             "val_loss": 0.9 * 0.95 ** e + (0.3 if e in spikes else 0.0),
             "val_f1": 0.5 + 0.04 * e} for e in range(1, epochs + 1)]


@pytest.fixture
def drawn(tmp_path, monkeypatch):
    """Plot, capture the Figure instead of writing it, draw it; returns (fig, renderer)."""
    figures = []
    monkeypatch.setattr(plots_module, "write_figure", lambda fig, path: figures.append(fig))

    def draw(history, **kw):
        plot_learning_curve(history, tmp_path / "curve.png", **kw)
        (fig,) = figures[-1:]
        FigureCanvasAgg(fig).draw()
        return fig, fig.canvas.get_renderer()

    return draw


def _visible_ticks(axis, lim):
    lo, hi = sorted(lim)
    ticks = [(t.get_loc(), t.label1.get_text()) for t in
             axis.get_major_ticks() + axis.get_minor_ticks()]
    return [(loc, text) for loc, text in ticks if lo <= loc <= hi and text]


def test_the_legend_sits_above_the_axes_and_names_the_best_epoch(drawn):
    fig, renderer = drawn(_history(), best_epoch=9, title="seed 0")
    ax = fig.axes[0]
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["train loss", "validation loss", "validation f1", "best epoch 9"]
    box = legend.get_window_extent(renderer)
    for axes in fig.axes:  # the loss axes and the twin F1 axes
        assert box.y0 >= axes.get_window_extent(renderer).y1 - 1  # above: covers no curve
    assert box.x0 >= 0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1  # not cut off
    title = fig._suptitle.get_window_extent(renderer)
    assert not box.overlaps(title)
    # the dashed line in the legend is the one at the best epoch
    best = [line for line in ax.lines if list(line.get_xdata()) == [9, 9]]
    assert len(best) == 1 and best[0].get_linestyle() == "--"
    assert legend.legend_handles[3].get_linestyle() == "--"


def test_epoch_ticks_are_whole_numbers(drawn):
    for epochs in (1, 3, 10, 150):
        fig, _ = drawn(_history(epochs), best_epoch=epochs)
        ax = fig.axes[0]
        ticks = _visible_ticks(ax.xaxis, ax.get_xlim())
        assert ticks, epochs
        for loc, text in ticks:
            assert loc == int(loc) and text == str(int(loc)), (epochs, loc, text)


@pytest.mark.parametrize("scale", [1.0, 0.01, 3e-4])
def test_loss_ticks_are_plain_decimals(drawn, scale):
    history = [{**row, "train_loss": row["train_loss"] * scale,
                "val_loss": row["val_loss"] * scale} for row in _history()]
    fig, _ = drawn(history)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    ticks = _visible_ticks(ax.yaxis, ax.get_ylim())
    assert len(ticks) >= 2
    for loc, text in ticks:
        assert not set(text) & set("×^$e{}"), text  # no 9×10⁻¹, no 1e-04
        assert float(text) == pytest.approx(loc, rel=1e-5), (loc, text)


def test_a_narrow_loss_range_is_labelled_without_rounding(drawn):
    fig, _ = drawn([{"epoch": e, "train_loss": 0.3 - 0.01 * e} for e in (1, 2, 3)])
    ax = fig.axes[0]
    ticks = _visible_ticks(ax.yaxis, ax.get_ylim())
    assert len(ticks) >= 2
    for loc, text in ticks:
        assert float(text) == pytest.approx(loc, rel=1e-5), (loc, text)


def test_plain_number():
    assert [plain_number(v) for v in (0.9000000000000001, 1.0, 100.0, 0.00025, 0.2875)] == [
        "0.9", "1", "100", "0.00025", "0.2875"]
    assert "e" not in plain_number(1e-7) and float(plain_number(1e-7)) == 1e-7
    assert np.isclose(float(plain_number(2 / 3)), 2 / 3, rtol=1e-5)
