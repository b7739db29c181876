"""Bézier flat-field correction (paper 004 eq. 1–2)."""

from __future__ import annotations

import numpy as np
import pytest

from temseg.errors import ConfigError, InputError
from temseg.preprocess import (bernstein, bezier_surface, fit_bezier_surface, flatfield,
                               flatfield_standardize, standardize)
from temseg.synthetic import lattice


def test_bernstein_partition_of_unity_and_endpoints():
    t = np.linspace(0, 1, 11)
    for order in range(5):
        b = bernstein(order, t)
        np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-14)
        assert b[0, 0] == 1.0 and b[-1, -1] == 1.0
    # a Bézier surface with all coefficients c is the constant c; corners are the corner coefficients
    k = np.arange(9.0).reshape(3, 3) + 1
    s = bezier_surface(k, (5, 7))
    assert (s[0, 0], s[0, -1], s[-1, 0], s[-1, -1]) == (1.0, 3.0, 7.0, 9.0)
    np.testing.assert_allclose(bezier_surface(np.full((4, 4), 2.5), (6, 6)), 2.5)


def test_fit_recovers_coefficients_exactly(rng):
    k = rng.uniform(50, 150, (3, 3))
    surface = bezier_surface(k, (40, 56))
    fit, k_fit = fit_bezier_surface(surface, order=2, return_coefficients=True)
    np.testing.assert_allclose(k_fit, k, rtol=1e-9)
    np.testing.assert_allclose(fit, surface, rtol=1e-12)


def test_flatfield_removes_known_illumination(rng):
    shape = (128, 128)
    illumination = bezier_surface([[60, 100, 140], [80, 160, 90], [130, 70, 50]], shape)
    texture = 1.0 + 0.2 * lattice(shape, spacing_px=6.3) + 0.05 * rng.standard_normal(shape)
    corrected, surface = flatfield(illumination * texture, order=2, return_surface=True)
    # the fitted surface is the illumination to ~1 %, the corrected image the texture
    assert np.abs(surface / illumination - 1).max() < 0.015
    assert corrected.mean() == pytest.approx(1.0, abs=0.01)
    assert np.abs(corrected - texture).max() < 0.04
    # the slow gradient is gone: quadrant means agree to < 1 % (they differ by > 2× before)
    q = [corrected[r:r + 64, c:c + 64].mean() for r in (0, 64) for c in (0, 64)]
    assert max(q) - min(q) < 0.01
    raw = illumination * texture
    q_raw = [raw[r:r + 64, c:c + 64].mean() for r in (0, 64) for c in (0, 64)]
    assert max(q_raw) / min(q_raw) > 1.2


def test_order_zero_divides_by_the_mean(rng):
    image = rng.uniform(10, 20, (16, 16))
    np.testing.assert_allclose(flatfield(image, order=0), image / image.mean(), rtol=1e-6)


def test_flatfield_errors():
    with pytest.raises(InputError, match="positive intensities"):
        flatfield(np.random.default_rng(0).standard_normal((32, 32)) - 5)
    with pytest.raises(InputError, match="too small"):
        flatfield(np.ones((2, 50)), order=3)
    with pytest.raises(ConfigError, match="flatfield_order"):
        flatfield(np.ones((8, 8)), order=-1)
    with pytest.raises(InputError, match="non-finite"):
        flatfield(np.full((8, 8), np.nan))


def test_flatfield_standardize_matches_the_two_steps(rng):
    shape = (48, 64)
    illumination = bezier_surface([[60, 100, 140], [80, 160, 90], [130, 70, 50]], shape)
    image = illumination * (1.0 + 0.2 * lattice(shape, spacing_px=5.0)
                            + 0.05 * rng.standard_normal(shape))
    out = flatfield_standardize(image, order=2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, standardize(flatfield(image, order=2)), atol=2e-6)
    with pytest.raises(InputError, match="positive"):
        flatfield_standardize(image - image.mean(), order=2)
    with pytest.raises(InputError, match="constant"):
        flatfield_standardize(illumination, order=2)
