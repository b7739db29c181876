"""Blending windows: positive everywhere, peak 1, separable, as named."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.errors import ConfigError
from temseg.infer.windows import WINDOW_FLOOR, WINDOWS, window_1d, window_2d


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 700), kind=st.sampled_from(WINDOWS))
def test_window_positive_with_unit_peak(length, kind):
    w = window_1d(length, kind)
    assert w.shape == (length,)
    assert w.min() > 0.0
    assert w.max() == pytest.approx(1.0)
    np.testing.assert_allclose(w, w[::-1], atol=1e-12)  # symmetric about the centre


def test_hamming_matches_its_formula():
    n = 65
    expected = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(n) / (n - 1))
    expected = (expected + WINDOW_FLOOR) / (1.0 + WINDOW_FLOOR)
    np.testing.assert_allclose(window_1d(n, "hamming"), expected, rtol=1e-12)
    # ends at 0.08 of the peak, the Hamming pedestal
    assert window_1d(n, "hamming")[0] == pytest.approx(0.08, abs=2e-3)


def test_gaussian_sigma_is_an_eighth_of_the_tile():
    n = 129
    w = window_1d(n, "gaussian", floor=0.0)
    # one sigma (n/8 = 16.125 px) from the centre the value is exp(-1/2)
    assert np.interp(64 + 16.125, np.arange(n), w) == pytest.approx(np.exp(-0.5), rel=2e-3)
    assert w[64] == 1.0


def test_window_2d_is_separable_float32():
    w = window_2d((16, 24), "hamming")
    assert w.dtype == np.float32 and w.shape == (16, 24)
    np.testing.assert_allclose(w, np.outer(window_1d(16), window_1d(24)), rtol=1e-6)
    assert np.linalg.matrix_rank(w.astype(np.float64), tol=1e-6) == 1
    np.testing.assert_array_equal(window_2d((5, 7), "flat"), np.ones((5, 7), np.float32))


@pytest.mark.parametrize("bad", [("hann", 8), ("hamming", 0)])
def test_bad_window_names_the_field(bad):
    with pytest.raises(ConfigError, match="window"):
        window_1d(bad[1], bad[0])
