"""Per-image standardization."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from temseg.errors import InputError
from temseg.preprocess import standardize


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (9, 7), elements=st.floats(-1e6, 1e6)),
       st.floats(1e-3, 1e3), st.floats(-1e4, 1e4))
def test_moments_and_affine_invariance(image, gain, offset):
    if np.ptp(image) < 1e-3 * max(1.0, np.abs(image).max()):
        image = image + np.arange(image.size).reshape(image.shape)
    out = standardize(image)
    assert out.dtype == np.float32 and out.shape == image.shape
    assert abs(float(out.astype(np.float64).mean())) < 1e-5
    assert float(out.astype(np.float64).std()) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(standardize(gain * image + offset), out, atol=1e-4)


def test_integer_images(rng):
    out = standardize(rng.integers(0, 65535, (32, 32), dtype=np.uint16))
    assert out.mean() == pytest.approx(0.0, abs=1e-6) and out.std() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("bad, match", [
    (np.full((5, 5), 3.0), "constant"),
    (np.full((5, 5), 7, dtype=np.uint8), "constant"),
    (np.where(np.eye(4) > 0, np.nan, 1.0), "non-finite"),
    (np.where(np.eye(4) > 0, -np.inf, 1.0), "non-finite"),
    (np.zeros((2, 3, 4, 5)), "2-D"),
])
def test_bad_images_raise_not_nan(bad, match):
    with pytest.raises(InputError, match=match):
        standardize(bad, name="x.tif")
