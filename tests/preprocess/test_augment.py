"""Dihedral group properties and intensity augmentation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.errors import ConfigError
from temseg.preprocess import (dihedral, dihedral_inverse, dihedral_stack, random_dihedral,
                               random_intensity, random_zoom)


def test_eight_distinct_symmetries_forming_a_group(rng):
    a = rng.standard_normal((5, 5))
    images = [dihedral(a, k) for k in range(8)]
    assert len({im.tobytes() for im in images}) == 8
    keys = {im.tobytes(): k for k, im in enumerate(images)}
    for i in range(8):
        for j in range(8):  # closure: composing two symmetries is one of the eight
            assert dihedral(images[i], j).tobytes() in keys
        np.testing.assert_array_equal(dihedral(images[i], dihedral_inverse(i)), a)
    # rotations by 90° generate the cyclic part; mirrors are involutions
    np.testing.assert_array_equal(dihedral(dihedral(a, 1), 1), dihedral(a, 2))
    for k in range(4, 8):
        np.testing.assert_array_equal(dihedral(dihedral(a, k), k), a)
    np.testing.assert_array_equal(dihedral(a, 1), np.rot90(a))
    np.testing.assert_array_equal(dihedral(a, 4), a[:, ::-1])


@settings(max_examples=30, deadline=None)
@given(k=st.integers(0, 7), c=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6))
def test_channels_transform_like_the_image(k, c, h, w):
    stack = np.random.default_rng(k).standard_normal((c, h, w))
    out = dihedral(stack, k)
    assert out.flags.c_contiguous
    for i in range(c):
        np.testing.assert_array_equal(out[i], dihedral(stack[i], k))
    np.testing.assert_array_equal(dihedral(out, dihedral_inverse(k)), stack)
    assert out.shape[-2:] == ((h, w) if k in (0, 2, 4, 6) else (w, h))


def test_dihedral_stack_and_random_pairing(rng):
    a = rng.standard_normal((2, 4, 4))
    assert dihedral_stack(a).shape == (8, 2, 4, 4)
    image = rng.standard_normal((6, 6))
    label = (image > 0).astype(np.uint8)
    out, lab, k = random_dihedral(image, label, seed=7)
    np.testing.assert_array_equal(lab, (out > 0).astype(np.uint8))
    assert random_dihedral(image, seed=7)[2] == k
    draws = {random_dihedral(image, seed=s)[2] for s in range(64)}
    assert draws == set(range(8))


def test_dihedral_errors():
    with pytest.raises(ConfigError, match="0..7"):
        dihedral(np.zeros((3, 3)), 8)
    with pytest.raises(ConfigError, match="2 dimensions"):
        dihedral(np.zeros(3), 1)
    with pytest.raises(ConfigError, match="square"):
        dihedral_stack(np.zeros((3, 4)))


def test_random_intensity_is_seeded_and_bounded(rng):
    image = rng.standard_normal((32, 32)).astype(np.float32)
    a = random_intensity(image, seed=3, noise_sigma=(0.0, 0.1), gamma=(0.7, 1.4))
    b = random_intensity(image, seed=3, noise_sigma=(0.0, 0.1), gamma=(0.7, 1.4))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and not np.array_equal(a, image)
    # without gamma and noise it is exactly affine with gain in range
    out = random_intensity(image, seed=5, gain=(0.5, 2.0), offset=(-1.0, 1.0))
    slope, intercept = np.polyfit(image.ravel(), out.ravel(), 1)
    assert 0.5 <= slope <= 2.0 and -1.0 <= intercept / image.std() <= 1.0
    np.testing.assert_allclose(out, slope * image + intercept, atol=1e-5)
    with pytest.raises(ConfigError, match="gain"):
        random_intensity(image, seed=0, gain=(0.0, 1.0))
    with pytest.raises(ConfigError, match="noise_sigma"):
        random_intensity(image, seed=0, noise_sigma=(0.2, 0.1))


def test_random_blur_softens_fringes_by_the_gaussian_transfer_function():
    period = 8.0  # px; a Gaussian of std s passes exp(-2 pi^2 s^2 f^2) of a cosine at f
    fringes = np.tile(np.cos(2 * np.pi * np.arange(64) / period), (64, 1))
    out = random_intensity(fringes, seed=0, gain=(1, 1), offset=(0, 0), blur_px=(1.5, 1.5))
    expected = np.exp(-2 * np.pi ** 2 * 1.5 ** 2 / period ** 2)
    assert np.ptp(out[:, 16:48]) / 2 == pytest.approx(expected, rel=0.02)
    # a stack is blurred per channel, not across channels
    stack = np.stack([fringes, -fringes])
    out = random_intensity(stack, seed=0, gain=(1, 1), offset=(0, 0), blur_px=(1.5, 1.5))
    np.testing.assert_allclose(out[0], -out[1], atol=1e-5)
    assert np.ptp(out[0]) / 2 == pytest.approx(expected, rel=0.02)
    # (0, 0) draws nothing: the other draws are as without the option
    a = random_intensity(fringes, seed=4, noise_sigma=(0, 0.2))
    b = random_intensity(fringes, seed=4, noise_sigma=(0, 0.2), blur_px=(0, 0))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="blur_px"):
        random_intensity(fringes, seed=0, blur_px=(-1, 1))


def test_random_noise_has_the_drawn_std(rng):
    flat = np.zeros((128, 128), np.float32)
    flat[::2] = 1.0  # image std 0.5
    out = random_intensity(flat, seed=1, gain=(1, 1), offset=(0, 0), noise_sigma=(0.4, 0.4))
    assert np.std(out - flat) == pytest.approx(0.4 * 0.5, rel=0.03)


def test_random_zoom_scales_the_pixel_grid():
    ramp = np.add.outer(np.zeros(64), np.arange(64.0))  # value = column index
    for factor in (0.8, 1.25, 2.0):
        out, _, s = random_zoom(ramp, seed=0, zoom=(factor, factor), shape=(24, 24))
        assert s == pytest.approx(factor)
        if factor >= 1:  # the window fits: one output pixel spans 1/s input pixels
            np.testing.assert_allclose(np.diff(out, axis=1), 1 / factor, atol=1e-4)
            np.testing.assert_allclose(np.diff(out, axis=0), 0, atol=1e-4)
    # shrinking a small image mirrors it at the edges: values stay in range
    out, _, _ = random_zoom(ramp[:20, :20], seed=1, zoom=(0.5, 0.5))
    assert out.shape == (20, 20) and 0 <= out.min() and out.max() <= 19
    # factor 1 on the full image is the identity, label included
    lab = (ramp > 30).astype(np.uint8)
    out, lab_out, _ = random_zoom(ramp, lab, seed=3, zoom=(1, 1))
    np.testing.assert_array_equal(out, ramp.astype(np.float32))
    np.testing.assert_array_equal(lab_out, lab)


def test_random_zoom_is_seeded_and_checked(rng):
    image = rng.standard_normal((40, 40))
    label = (image > 0).astype(np.uint8)
    a = random_zoom(image, label, seed=5, shape=(32, 32))
    b = random_zoom(image, label, seed=5, shape=(32, 32))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[1].dtype == np.uint8 and 0.8 <= a[2] <= 1.25
    with pytest.raises(ConfigError, match="zoom"):
        random_zoom(image, seed=0, zoom=(0, 2))
    with pytest.raises(ConfigError, match="label"):
        random_zoom(image, label[:5], seed=0)


def test_random_zoom_of_channels_is_each_channel_through_one_window(rng):
    """A focal series keeps its channels registered: the same draws as one image, per channel."""
    stack = rng.standard_normal((3, 40, 40))
    label = (stack[0] > 0).astype(np.uint8)
    out, lab, s = random_zoom(stack, label, seed=4, shape=(24, 24))
    assert out.shape == (3, 24, 24) and lab.shape == (24, 24)
    for i in range(3):
        one, one_lab, one_s = random_zoom(stack[i], label, seed=4, shape=(24, 24))
        np.testing.assert_array_equal(out[i], one)
        np.testing.assert_array_equal(lab, one_lab)
        assert s == one_s
    with pytest.raises(ConfigError, match="label"):
        random_zoom(stack, label[:5], seed=0)
