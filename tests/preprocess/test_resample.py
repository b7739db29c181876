"""Rebinning and resampling keep the sampling (Å/px) in step with the shape."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.errors import ConfigError
from temseg.preprocess import rebin, resample_to
from temseg.synthetic import lattice


def test_rebin_means_and_crops():
    image = np.arange(7 * 9, dtype=np.float64).reshape(7, 9)
    out, sampling = rebin(image, 2, sampling=0.5)
    assert out.shape == (3, 4) and out.dtype == np.float32 and sampling == 1.0
    assert out[0, 0] == pytest.approx(image[:2, :2].mean())
    assert out[2, 3] == pytest.approx(image[4:6, 6:8].mean())
    assert rebin(image, 3)[1] is None
    stack, _ = rebin(np.stack([image, 2 * image]), 2)
    np.testing.assert_allclose(stack[1], 2 * stack[0])


def test_rebin_averages_noise_down(rng):
    noise = rng.standard_normal((512, 512))
    assert rebin(noise, 4)[0].std() == pytest.approx(0.25, rel=0.05)


def test_rebin_errors():
    with pytest.raises(ConfigError, match="factor"):
        rebin(np.ones((4, 4)), 0)
    with pytest.raises(ConfigError, match="factor"):
        rebin(np.ones((4, 4)), 5)
    with pytest.raises(ConfigError, match="sampling"):
        rebin(np.ones((4, 4)), 2, sampling=-1.0)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(8, 80), w=st.integers(8, 80), sampling=st.floats(0.05, 2.0),
       zoom=st.floats(0.3, 3.0))
def test_resample_sampling_bookkeeping(h, w, sampling, zoom):
    target = sampling / zoom
    out, achieved = resample_to(np.ones((h, w), np.float32), sampling=sampling,
                                target_sampling=target)
    new_h, new_w = out.shape
    # H' = round(H · sampling / target); the zoom is compared through the same
    # float expression, so a size at exactly .5 rounds the same way in both
    expected = sampling / target
    assert new_h == max(1, round(h * expected)) and new_w == max(1, round(w * expected))
    assert abs(new_h - h * zoom) <= 0.5 + 1e-9 and abs(new_w - w * zoom) <= 0.5 + 1e-9
    # the physical extent is kept: shape × achieved sampling = original extent (to rounding)
    assert new_h * achieved == pytest.approx(h * sampling, rel=0.5 / min(new_h, new_w) + 1e-12)
    if h == w:
        assert new_h * achieved == pytest.approx(h * sampling, rel=1e-12)
    np.testing.assert_allclose(out, 1.0, atol=1e-6)


def test_resample_keeps_lattice_period_in_angstrom():
    # fringes of 8 px at 0.25 Å/px (d = 2 Å) must be 4 px at 0.5 Å/px
    image = lattice((128, 128), spacing_px=8.0, kind="square")
    out, achieved = resample_to(image, sampling=0.25, target_sampling=0.5)
    assert out.shape == (64, 64) and achieved == 0.5
    spectrum = np.abs(np.fft.rfft(out[5]))
    assert np.argmax(spectrum[1:]) + 1 == 64 // 4


def test_resample_labels_nearest_neighbour(rng):
    label = rng.integers(0, 3, (40, 40)).astype(np.uint8)
    out, _ = resample_to(label, sampling=1.0, target_sampling=0.5, order=0)
    assert out.dtype == np.uint8 and out.shape == (80, 80)
    assert set(np.unique(out)) <= {0, 1, 2}
    np.testing.assert_array_equal(out[::2, ::2], label)
    small, s = resample_to(label, sampling=1.0, target_sampling=2.0, order=0)
    assert small.shape == (20, 20) and s == 2.0 and set(np.unique(small)) <= {0, 1, 2}


def test_resample_errors():
    with pytest.raises(ConfigError, match="target_sampling"):
        resample_to(np.ones((4, 4)), sampling=1.0, target_sampling=0.0)
    with pytest.raises(ConfigError, match="sampling"):
        resample_to(np.ones((4, 4)), sampling=None, target_sampling=1.0)
    with pytest.raises(ConfigError, match="order"):
        resample_to(np.ones((4, 4)), sampling=1.0, target_sampling=2.0, order=7)


def test_resample_refuses_a_pixel_size_slip():
    """nm given as Å (or the reverse) would ask for terabytes: a clear error, not a MemoryError."""
    from temseg.errors import InputError

    with pytest.raises(InputError, match=r"would give 853333×853333 px; check the pixel size"):
        resample_to(np.zeros((256, 256), np.float32), sampling=1000.0, target_sampling=0.3)
