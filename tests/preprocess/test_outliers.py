"""X-ray / hot-pixel removal."""

from __future__ import annotations

import numpy as np
import pytest

from temseg.errors import ConfigError, InputError
from temseg.preprocess import outlier_mask, remove_outliers
from temseg.synthetic import particle_image


def test_injected_hot_pixels_are_removed(rng):
    image = rng.normal(100.0, 5.0, (96, 96))
    spots = [(0, 0), (10, 20), (50, 95), (95, 40), (60, 61)]
    hot = image.copy()
    for r, c in spots:
        hot[r, c] += 5000.0
    cleaned, mask = remove_outliers(hot, return_mask=True)
    assert sorted(zip(*np.nonzero(mask))) == sorted(spots)
    # replaced by the neighbours' median: back within the noise of the clean value
    for r, c in spots:
        assert abs(cleaned[r, c] - image[r, c]) < 5 * 5.0
    untouched = ~mask
    np.testing.assert_array_equal(cleaned[untouched], hot[untouched].astype(np.float32))


def test_clean_images_are_unchanged(rng):
    noisy = rng.normal(0.0, 1.0, (256, 256))
    np.testing.assert_array_equal(remove_outliers(noisy), noisy.astype(np.float32))
    lattice, _ = particle_image((128, 128), n_particles=2, noise_sigma=0.2, seed=3)
    np.testing.assert_array_equal(remove_outliers(lattice), lattice)
    counts = rng.poisson(40.0, (128, 128))
    assert not outlier_mask(counts).any()


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
@pytest.mark.parametrize("counts_per_px", [0.02, 0.2, 2.0])
def test_low_dose_counting_frame_keeps_its_shot_noise(rng, counts_per_px, dtype):
    """At a fraction of a count per pixel a lone 2 or 3 is shot noise, not an x-ray."""
    frame = rng.poisson(counts_per_px, (512, 512))
    spots = [(5, 5), (100, 300), (400, 17)]
    for r, c in spots:
        frame[r, c] += 40  # an x-ray hit on a counting detector
    mask = outlier_mask(frame.astype(dtype))
    assert sorted(zip(*np.nonzero(mask))) == sorted(spots)


def test_integer_image_in_detector_units_is_judged_by_its_spread(rng):
    """Gain 8 ADU per electron: variance 8× the Poisson one, a 6σ hot pixel still goes."""
    adu = 8 * rng.poisson(50.0, (256, 256))
    adu[30, 40] += 8 * 60  # 60 electrons above a mean of 50 (Gaussian spread ~ 8 × 7 ADU)
    mask = outlier_mask(adu)
    assert mask[30, 40] and mask.sum() == 1


def test_two_by_two_cluster_needs_a_bigger_window(rng):
    image = rng.normal(0.0, 1.0, (64, 64))
    image[20:22, 30:32] += 200.0
    assert outlier_mask(image, size=5)[20:22, 30:32].all()


def test_threshold_and_bad_input():
    image = np.zeros((16, 16))
    image[3, 3] = 10.0
    found = outlier_mask(image)  # a spike on a flat image: MAD is 0, the std fallback finds it
    assert found[3, 3] and found.sum() == 1
    assert not remove_outliers(np.ones((8, 8)), return_mask=True)[1].any()
    with pytest.raises(ConfigError, match="outlier_threshold"):
        remove_outliers(image, threshold=0)
    with pytest.raises(ConfigError, match="odd"):
        remove_outliers(image, size=4)
    with pytest.raises(InputError, match="non-finite"):
        remove_outliers(np.full((4, 4), np.inf))
    with pytest.raises(InputError, match="2-D"):
        remove_outliers(np.zeros(5))
