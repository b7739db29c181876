"""Scale bars on overlays: a round length, its pixels, and none without a pixel size."""

from __future__ import annotations

import math

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.io import write_confusion_overlay, write_overlay
from temseg.io.writers import (draw_scale_bar, scale_bar_geometry, scale_bar_length,
                               write_class_overlay)


def _white_run(rgb: np.ndarray, geo: dict) -> int:
    """Length of the run of pure white pixels from the bar's left end along its middle row."""
    row = rgb[geo["y"] + geo["thickness_px"] // 2]
    white = np.all(row == 255, axis=-1)
    x = geo["x"]
    assert white[x] and not white[x - 1]  # the bar starts where said, after its outline
    end = x + int(np.argmin(white[x:])) if not white[x:].all() else row.shape[0]
    return end - x


@pytest.mark.parametrize("width, sampling, length, label", [
    (512, 0.125, 20.0, "2 nm"),    # 64 Å field: 14.4 Å aimed at, 20 Å nearer than 10 Å in log
    (1024, 0.05, 10.0, "1 nm"),
    (256, 0.1, 5.0, "5 Å"),
    (2048, 5.0, 2000.0, "200 nm"),
    (1000, 100.0, 20000.0, "2 µm"),
    (64, 0.01, 0.2, "0.2 Å"),
])
def test_scale_bar_length_picks_a_round_length(width, sampling, length, label):
    assert scale_bar_length(width, sampling) == (pytest.approx(length), label)


@settings(max_examples=60, deadline=None)
@given(width=st.integers(32, 4096), sampling=st.floats(0.01, 500.0))
def test_scale_bar_length_is_1_2_or_5_and_about_a_fifth_of_the_width(width, sampling):
    length, label = scale_bar_length(width, sampling)
    mantissa = length / 10 ** math.floor(math.log10(length) + 1e-9)
    assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-9
    fraction = length / (width * sampling)
    assert 0.225 / 10**0.2 <= fraction <= 0.225 * 10**0.2  # nearest of 1-2-5 in log
    number, unit = label.split()
    assert float(number) * {"Å": 1, "nm": 10, "µm": 1e4}[unit] == pytest.approx(length)


@pytest.mark.parametrize("size, sampling", [(256, 0.4), (512, 0.125), (96, 1.0), (300, 0.07)])
def test_drawn_bar_spans_length_over_sampling_pixels(size, sampling):
    rgb = np.zeros((size, size + 40, 3), np.uint8)  # black: only the bar and label are white
    out = draw_scale_bar(rgb, sampling)
    geo = scale_bar_geometry(rgb.shape[:2], sampling)
    assert geo["length_px"] == round(geo["length_A"] / sampling)
    assert _white_run(out, geo) == geo["length_px"]
    # white from the top to the bottom of the bar, and only in the lower-left part
    column = np.all(out[:, geo["x"] + 1] == 255, axis=-1)
    assert np.flatnonzero(column).tolist() == list(range(geo["y"], geo["y"] + geo["thickness_px"]))
    ys, xs = np.nonzero(np.all(out == 255, axis=-1))
    assert ys.min() > size // 2 and xs.min() == geo["x"]
    assert (xs > geo["x"] + geo["length_px"]).any()  # the label, beside the bar
    assert not rgb.any()  # the input is left as it was


def test_bar_is_outlined_dark_on_a_white_image():
    rgb = np.full((200, 200, 3), 255, np.uint8)
    out = draw_scale_bar(rgb, 0.5)
    geo = scale_bar_geometry((200, 200), 0.5)
    x, y, n, t = geo["x"], geo["y"], geo["length_px"], geo["thickness_px"]
    assert (out[y:y + t, x:x + n] == 255).all()
    for yy, xx in ((y - 1, x + n // 2), (y + t, x + n // 2), (y + 1, x - 1), (y + 1, x + n)):
        assert (out[yy, xx] == 0).all()  # the outline on every side
    assert (out.sum(-1) < 100).sum() > 2 * (n + t)  # and around the label's glyphs
    # on a dimmed backing (a white TP region hid the white bar and label)
    column = out[:, x + n // 2, 0]
    dimmed = np.flatnonzero(column == 89)
    assert dimmed.size and (column[:dimmed.min()] == 255).all()  # nothing dimmed above it
    assert 0 < y - dimmed.min() < 3 * geo["text_px"]  # a backing just around bar and label
    assert (out[y + t + 2 * geo["outline_px"], x:x + n] == 89).all()


def test_no_bar_without_a_pixel_size(tmp_path):
    image = np.zeros((128, 128), np.float32)  # constant: the overlay is black
    mask = np.zeros((128, 128), np.uint8)
    assert not iio.imread(write_overlay(tmp_path / "a.png", image, mask)).any()
    with_bar = iio.imread(write_overlay(tmp_path / "b.png", image, mask, sampling=0.5))
    geo = scale_bar_geometry((128, 128), 0.5)
    assert _white_run(with_bar, geo) == geo["length_px"] == 40  # 20 Å at 0.5 Å/px
    np.testing.assert_array_equal(draw_scale_bar(with_bar, None), with_bar)
    pred = truth = np.zeros((128, 128), bool)
    assert not iio.imread(write_confusion_overlay(tmp_path / "c.png", pred, truth)).any()
    confusion = iio.imread(write_confusion_overlay(tmp_path / "d.png", pred, truth,
                                                   sampling=0.5))
    assert _white_run(confusion, geo) == 40


def test_too_small_an_image_gets_no_bar():
    assert scale_bar_geometry((23, 400), 1.0) is None
    rgb = np.zeros((23, 400, 3), np.uint8)
    assert not draw_scale_bar(rgb, 1.0).any()


def test_class_overlay_bar_is_drawn_at_the_enlarged_size(tmp_path):
    image = np.zeros((32, 32), np.float32)
    mask = np.zeros((32, 32), np.uint8)
    mask[4:8, 20:24] = 1
    plain = iio.imread(write_class_overlay(tmp_path / "a.png", image, mask,
                                           classes=["background", "Mo"]))[..., :3]
    barred = iio.imread(write_class_overlay(tmp_path / "b.png", image, mask,
                                            classes=["background", "Mo"], sampling=0.25))[..., :3]
    # enlarged 16× to 512 px at 0.25/16 Å/px: the bar is 2 Å (128 px) long
    geo = scale_bar_geometry((512, 512), 0.25 / 16)
    assert geo["length_A"] == 2.0 and geo["length_px"] == 128
    white = np.all(barred == 255, axis=-1) & ~np.all(plain == 255, axis=-1)
    runs = [np.diff(np.flatnonzero(np.diff(np.r_[0, row.astype(int), 0]))).max(initial=0)
            for row in white]
    assert max(runs) == 128


def test_bad_sampling_is_refused(tmp_path):
    from temseg.errors import ConfigError

    with pytest.raises(ConfigError, match="sampling"):
        write_overlay(tmp_path / "a.png", np.zeros((64, 64)), np.zeros((64, 64)), sampling=-1)
    assert not list(tmp_path.iterdir())
