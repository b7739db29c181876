"""What the particle figures show: colour scales, legends, tick labels, scale bars, headings."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize
from matplotlib.text import Text

from temseg.analyze import particles
from temseg.analyze.particles import (label_particles, particle_summary, particle_table,
                                      plot_fourier_map, plot_particles)
from temseg.io.writers import scale_bar_geometry

SHAPE = (120, 180)
CENTRES = [(40, 40), (40, 130), (90, 90)]


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib Figures the plots write, drawn (their tick labels set)."""
    figures = []
    real = particles.write_figure

    def capture(fig, path):
        FigureCanvasAgg(fig)              # a canvas with a renderer to measure texts on
        figures.append(fig)
        return real(fig, path)            # savefig draws the figure

    monkeypatch.setattr(particles, "write_figure", capture)
    return figures


def _discs(shape=SHAPE, centres=CENTRES, radius=12):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, np.uint8)
    for cy, cx in centres:
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = 1
    return mask


def _map_rows(ratios, *, sampling=0.5):
    """Disc particles in the order of CENTRES with these peak ratios (None: no lattice)."""
    mask = _discs()
    rows = sorted(particle_table(mask, sampling=sampling),
                  key=lambda r: (round(r["centroid_y_px"]), r["centroid_x_px"]))
    for row, ratio in zip(rows, ratios, strict=True):
        row["peak_ratio"] = ratio
        row["spacing_A"] = None if ratio is None else 2.0
    return mask, rows


def _texts(fig):
    return [t.get_text() for t in fig.findobj(Text)]


def _inside_figure(fig):
    """All that is drawn (titles, tick labels, legends) lies inside the figure: none cut off."""
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())   # inches
    box = fig.bbox_inches
    assert drawn.x0 >= box.x0 - 0.01 and drawn.x1 <= box.x1 + 0.01, (drawn, box)
    assert drawn.y0 >= box.y0 - 0.01 and drawn.y1 <= box.y1 + 0.01, (drawn, box)


def _plain_labels(labels):
    """Tick labels as floats; fails on 1.05×10⁰, mathtext or offsets."""
    assert labels and all("$" not in t and "×" not in t and "e" not in t for t in labels), labels
    return [float(t.replace("\u2212", "-")) for t in labels]


def test_fourier_map_colour_scale_spans_the_ratios(tmp_path, drawn):
    mask, rows = _map_rows([0.22, 1.06, None])
    plot_fourier_map(tmp_path / "m.png", np.random.default_rng(0).normal(size=SHAPE),
                     label_particles(mask), rows, title="a.png: Fourier peak ratio per particle")
    fig = drawn[-1]
    image_ax, bar_ax = fig.axes
    shown = image_ax.images[-1]
    assert isinstance(shown.norm, Normalize) and type(shown.norm) is Normalize  # < a decade
    assert shown.norm.vmin == pytest.approx(0.22) and shown.norm.vmax == pytest.approx(1.06)
    assert bar_ax.get_ylim() == pytest.approx((0.22, 1.06))
    # the 0.22 particle is painted at the bottom of the scale, not like 1.0
    assert shown.norm(0.22) == pytest.approx(0.0) and shown.norm(1.06) == pytest.approx(1.0)
    lo, hi = bar_ax.get_ylim()
    ticks = [(t.get_text(), v) for t, v in zip(bar_ax.get_yticklabels(), bar_ax.get_yticks())
             if lo <= v <= hi]
    values = _plain_labels([t for t, _ in ticks])
    assert len(values) >= 3 and values == pytest.approx([v for _, v in ticks])
    # the particle without a lattice peak is outlined and named in the legend
    assert "no lattice peak" in [t.get_text() for t in fig.legends[0].get_texts()]
    outline = [c for c in image_ax.collections if c.get_paths()]
    assert len(outline) == 1
    ring = outline[0].get_paths()[0].vertices
    assert np.hypot(ring[:, 1] - 90, ring[:, 0] - 90).mean() == pytest.approx(12.5, abs=1.0)
    # a scale bar of the overlays' length and label (0.5 Å/px read from the rows)
    geo = scale_bar_geometry(SHAPE, 0.5)
    bars = [p for p in image_ax.patches if p.get_gid() == "scale bar"]
    assert len(bars) == 1 and bars[0].get_width() == geo["length_px"]
    assert geo["label"] in [t.get_text() for t in image_ax.texts]
    assert "a.png: Fourier peak ratio per particle" in _texts(fig)
    _inside_figure(fig)
    # little white above and below: the image takes most of the height
    assert image_ax.get_position().height > 0.8


def test_fourier_map_log_scale_over_decades_has_plain_ticks(tmp_path, drawn):
    mask, rows = _map_rows([0.3, 4.0, 40.0])
    plot_fourier_map(tmp_path / "m.png", np.zeros(SHAPE), label_particles(mask), rows)
    fig = drawn[-1]
    bar_ax = fig.axes[1]
    assert bar_ax.get_yscale() == "log"
    assert bar_ax.get_ylim() == pytest.approx((0.3, 40.0))
    lo, hi = bar_ax.get_ylim()
    labels = [t.get_text() for t, v in zip(bar_ax.get_yticklabels(), bar_ax.get_yticks())
              if lo <= v <= hi]
    assert set(_plain_labels(labels)) >= {0.5, 1, 2, 5, 10, 20}
    assert not fig.legends                          # every particle has a ratio


def test_fourier_map_single_ratio_is_one_colour_with_its_value(tmp_path, drawn):
    mask, rows = _map_rows([2.11, None, None], sampling=None)
    for row in rows:
        assert row["area_nm2"] is None
    plot_fourier_map(tmp_path / "m.png", np.zeros(SHAPE), label_particles(mask), rows)
    fig = drawn[-1]
    assert len(fig.axes) == 1                       # no colour bar for one value
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["no lattice peak", "Fourier peak ratio 2.11"]
    assert not [p for p in fig.axes[0].patches if p.get_gid() == "scale bar"]  # no pixel size
    assert "3 particles" in _texts(fig)
    _inside_figure(fig)
    # a pixel size given by the caller draws the bar
    plot_fourier_map(tmp_path / "m.png", np.zeros(SHAPE), label_particles(mask), rows,
                     sampling=0.25)
    assert scale_bar_geometry(SHAPE, 0.25)["label"] in [t.get_text()
                                                        for t in drawn[-1].axes[0].texts]


def test_fourier_map_long_title_is_not_cut(tmp_path, drawn):
    mask, rows = _map_rows([0.5, 0.9, 1.4])
    title = "a_very_long_micrograph_file_name_from_the_microscope_0042.tif: " \
            "Fourier peak ratio per particle"
    plot_fourier_map(tmp_path / "m.png", np.zeros(SHAPE), label_particles(mask), rows,
                     title=title)
    assert title.replace(": ", ":\n") in _texts(drawn[-1])
    _inside_figure(drawn[-1])


def _stack_rows(ratios, per_frame=1):
    rows = []
    for frame, ratio in enumerate(ratios):
        for k in range(per_frame):
            d = 2.0 + 0.1 * frame + 0.5 * k
            rows.append({"frame": frame, "label": k + 1, "area_px": 100,
                         "equivalent_diameter_px": 10.0, "area_nm2": np.pi * d**2 / 4,
                         "equivalent_diameter_nm": d, "touches_border": False,
                         "peak_ratio": ratio})
    return rows


def _labelled_ticks(ax):
    lo, hi = ax.get_ylim()
    return _plain_labels([t.get_text() for t, v in zip(ax.get_yticklabels(), ax.get_yticks())
                          if lo <= v <= hi and t.get_text()])


def test_stack_peak_ratio_panel_labels_its_ticks(tmp_path, drawn):
    ratios = [0.64, 0.7, 0.9, 1.2, 0.55, 0.8]         # under a decade: linear
    plot_particles(tmp_path / "s.png", _stack_rows(ratios), n_frames=6)
    ax = drawn[-1].axes[2]
    assert ax.get_yscale() == "linear"
    values = _labelled_ticks(ax)
    assert len(values) >= 3 and min(values) <= 0.7 and max(values) >= 1.0
    wide = [0.5, 20.0, 1.0, 8.0, 0.6, 30.0]           # past a decade: log, 1-2-5 labels
    plot_particles(tmp_path / "s.png", _stack_rows(wide), n_frames=6)
    ax = drawn[-1].axes[2]
    assert ax.get_yscale() == "log"
    assert set(_labelled_ticks(ax)) >= {0.5, 1, 2, 5, 10, 20}


def test_stack_interquartile_band_only_listed_when_drawn(tmp_path, drawn):
    plot_particles(tmp_path / "s.png", _stack_rows([1.0] * 4), n_frames=4)
    ax = drawn[-1].axes[1]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["median"]
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    plot_particles(tmp_path / "s.png", _stack_rows([1.0] * 4, per_frame=3), n_frames=4)
    ax = drawn[-1].axes[1]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["interquartile range",
                                                                   "median"]
    assert [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_histogram_heading_and_unit(tmp_path, drawn):
    plot_particles(tmp_path / "h.png", [], title="e.png", sampling=0.3)
    ax = drawn[-1].axes[0]
    assert ax.get_xlabel() == "equivalent diameter (nm)"    # a known pixel size stays nm
    assert ax.get_title() == "e.png\n0 particles"
    assert particle_summary([], sampling=0.3)["diameter_unit"] == "nm"
    plot_particles(tmp_path / "h.png", [])
    assert drawn[-1].axes[0].get_xlabel() == "equivalent diameter (px)"
    edge = particle_table(_discs(centres=[(0, 90)]), sampling=0.3)
    assert len(edge) == 1 and edge[0]["touches_border"]
    plot_particles(tmp_path / "h.png", edge)
    ax = drawn[-1].axes[0]
    assert ax.get_title() == "1 particle; 1 touching the border is not sized"
    assert ax.get_xlabel() == "equivalent diameter (nm)"
    rows = particle_table(_discs(centres=[(0, 90), (60, 30), (60, 150), (119, 60)]),
                          sampling=0.3)
    plot_particles(tmp_path / "h.png", rows)
    assert drawn[-1].axes[0].get_title() == \
        "4 particles; 2 touching the border are not sized"
