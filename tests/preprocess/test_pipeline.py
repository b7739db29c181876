"""The Preprocessing config: validation, round trip through JSON dicts, order of steps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from temseg.config import from_dict, to_dict
from temseg.errors import ConfigError, InputError
from temseg.preprocess import Preprocessing, bezier_surface, flatfield, remove_outliers, standardize


def test_defaults_and_json_round_trip():
    prep = Preprocessing(flatfield_order=2)
    data = json.loads(json.dumps(to_dict(prep)))
    assert data == {"remove_outliers": True, "outlier_threshold": 6.0, "flatfield_order": 2,
                    "standardize": True}
    assert from_dict(Preprocessing, data) == prep
    assert from_dict(Preprocessing, {"flatfield_order": None}).flatfield_order is None


@pytest.mark.parametrize("field, value", [
    ("remove_outliers", "yes"), ("standardize", 1), ("outlier_threshold", 0.0),
    ("outlier_threshold", float("nan")), ("flatfield_order", -1), ("flatfield_order", 2.5),
    ("flatfield_order", True),
])
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        Preprocessing(**{field: value})


def test_steps_run_in_order(rng):
    shape = (64, 64)
    image = bezier_surface([[50, 90], [120, 70]], shape) * (1 + 0.1 * rng.standard_normal(shape))
    image[10, 10] = 1e5
    prep = Preprocessing(remove_outliers=True, flatfield_order=1, standardize=True)
    expected = standardize(flatfield(remove_outliers(image), order=1))
    out = prep(image)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
    assert abs(out[10, 10]) < 5  # the x-ray did not survive
    raw = Preprocessing(remove_outliers=False, standardize=False)(image.astype(np.float64))
    np.testing.assert_array_equal(raw, image.astype(np.float32))


def test_errors_name_the_image():
    with pytest.raises(InputError, match="a.png: constant"):
        Preprocessing(remove_outliers=False)(np.ones((8, 8)), name="a.png")


def test_channels_are_preprocessed_one_by_one():
    """A focal series (C, H, W): each channel standardized on its own, as one image would be."""
    from temseg.errors import BlankImageError

    rng = np.random.default_rng(0)
    stack = rng.poisson(50, (3, 32, 32)).astype(np.float64)
    stack[1] *= 10  # another defocus, another contrast
    prep = Preprocessing(flatfield_order=1)
    out = prep(stack)
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
    for i in range(3):
        np.testing.assert_array_equal(out[i], prep(stack[i]))
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1.0, rtol=1e-4)
    stack[2] = 4.0
    with pytest.raises(BlankImageError, match="a.zarr image 3 channel 2: constant"):
        prep(stack, name="a.zarr image 3")
    with pytest.raises(InputError, match="2-D or 3-D"):
        prep(np.zeros((2, 3, 8, 8)))
