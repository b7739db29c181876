"""Patch extraction: full coverage, flush last patch, background dropping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.errors import ConfigError, InputError
from temseg.preprocess import extract_patches, patch_origins


@settings(max_examples=30, deadline=None)
@given(h=st.integers(4, 30), w=st.integers(4, 30), size=st.integers(1, 4),
       stride_frac=st.floats(0.1, 1.0))
def test_patches_cover_every_pixel_without_padding(h, w, size, stride_frac):
    stride = max(1, int(size * stride_frac))
    image = np.arange(h * w).reshape(h, w)
    patches = extract_patches(image, size=size, stride=stride)
    covered = np.zeros((h, w), int)
    for patch, (r, c) in zip(patches.images, patches.origins):
        assert 0 <= r <= h - size and 0 <= c <= w - size
        np.testing.assert_array_equal(patch, image[r:r + size, c:c + size])
        covered[r:r + size, c:c + size] += 1
    assert covered.min() >= 1
    assert patches.origins[:, 0].max() == h - size and patches.origins[:, 1].max() == w - size
    assert len(set(map(tuple, patches.origins))) == len(patches.origins)


def test_default_grid_for_a_1000_pixel_image():
    origins = patch_origins((1000, 1300), size=512)
    np.testing.assert_array_equal(np.unique(origins[:, 0]), [0, 488])
    np.testing.assert_array_equal(np.unique(origins[:, 1]), [0, 512, 788])


def test_drop_background_patches(rng):
    image = rng.standard_normal((3, 64, 64)).astype(np.float32)  # channels are carried along
    label = np.zeros((64, 64), np.uint8)
    label[5:9, 40:44] = 1  # 16 pixels in the top-right 32² patch
    kept = extract_patches(image, label, size=32, drop_background=True)
    assert kept.images.shape == (1, 3, 32, 32) and kept.labels.shape == (1, 32, 32)
    np.testing.assert_array_equal(kept.origins, [[0, 32]])
    np.testing.assert_array_equal(kept.images[0], image[:, :32, 32:])
    assert extract_patches(image, label, size=32).images.shape[0] == 4
    assert len(extract_patches(image, label, size=32, drop_background=True,
                               min_foreground=17 / 32**2).origins) == 0
    assert len(extract_patches(image, label, size=32, drop_background=True,
                               min_foreground=16 / 32**2).origins) == 1
    empty = extract_patches(image, np.zeros_like(label), size=32, drop_background=True)
    assert empty.images.shape == (0, 3, 32, 32) and empty.labels.shape == (0, 32, 32)


def test_patch_errors():
    with pytest.raises(InputError, match="smaller than the patch size"):
        extract_patches(np.zeros((256, 256)))
    with pytest.raises(InputError, match="does not match"):
        extract_patches(np.zeros((64, 64)), np.zeros((64, 63)), size=32)
    with pytest.raises(ConfigError, match="needs a label"):
        extract_patches(np.zeros((64, 64)), size=32, drop_background=True)
    with pytest.raises(ConfigError, match="stride"):
        extract_patches(np.zeros((64, 64)), size=32, stride=33)
    with pytest.raises(ConfigError, match="min_foreground"):
        extract_patches(np.zeros((64, 64)), np.zeros((64, 64)), size=32, min_foreground=2.0)
