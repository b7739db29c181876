"""Fourier band-pass filtering (paper 000) on synthetic lattice patches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.baselines.fourier import (FourierParams, NoLatticeWarning, band_from_angstrom,
                                      find_band, fourier_filter, lattice_rings, strongest_ring)
from temseg.errors import ConfigError, InputError
from temseg.synthetic import lattice, particle_image


def dice(pred, truth) -> float:
    pred, truth = np.asarray(pred) > 0, np.asarray(truth) > 0
    return 2 * np.count_nonzero(pred & truth) / (pred.sum() + truth.sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fourier_mask_finds_the_patch(seed):
    image, truth = particle_image((128, 128), n_particles=2, spacing_px=5.0, noise_sigma=0.3,
                                  seed=seed)
    assert dice(fourier_filter(image), truth) > 0.85


def test_amorphous_side_is_the_complement():
    image, truth = particle_image((128, 128), spacing_px=5.0, seed=3)
    crystal = fourier_filter(image)
    assert np.array_equal(fourier_filter(image, foreground="amorphous"), ~crystal)


@pytest.mark.parametrize("spacing", [4.0, 6.0, 8.0])
def test_strongest_ring_sits_at_the_lattice_frequency(spacing):
    n = 128
    image = lattice((n, n), spacing_px=spacing, angle_deg=17.0)
    image = image + 0.3 * np.random.default_rng(0).standard_normal((n, n))
    q0 = strongest_ring(image)
    assert abs(q0 - 1.0 / spacing) <= 1.0 / n  # one FFT bin


def test_amorphous_only_image_gives_empty_mask_and_warning():
    rng = np.random.default_rng(5)
    from scipy import ndimage

    image = ndimage.gaussian_filter(rng.standard_normal((128, 128)), 1.5)
    image += 0.3 * rng.standard_normal(image.shape)
    with pytest.warns(NoLatticeWarning):
        mask = fourier_filter(image)
    assert not mask.any()


def test_vacuum_image_gives_empty_mask_and_warning():
    with pytest.warns(NoLatticeWarning):
        mask = fourier_filter(np.full((64, 64), 3.0))
    assert mask.shape == (64, 64) and not mask.any()
    # the amorphous side as foreground: an image without a lattice is all of it
    with pytest.warns(NoLatticeWarning, match="all-foreground"):
        assert fourier_filter(np.full((64, 64), 3.0), foreground="amorphous").all()


def test_band_in_inverse_angstrom_equals_band_in_px():
    image, _ = particle_image((96, 96), spacing_px=5.0, seed=4)
    sampling = 0.5  # Å/px: the lattice is 2.5 Å, 0.4 Å⁻¹
    a = fourier_filter(image, band_per_angstrom=(0.32, 0.48), sampling=sampling)
    b = fourier_filter(image, band=(0.16, 0.24))
    assert np.array_equal(a, b)
    assert band_from_angstrom((0.32, 0.48), sampling) == pytest.approx((0.16, 0.24))
    with pytest.raises(ConfigError, match="sampling"):
        fourier_filter(image, band_per_angstrom=(0.3, 0.5))


def test_rings_contrast_is_high_only_for_a_lattice():
    n = 96
    noise = 0.5 * np.random.default_rng(7).standard_normal((n, n))
    q, contrast = lattice_rings(lattice((n, n), spacing_px=6.0) + noise)
    k = int(np.argmax(contrast))
    assert q[k] == pytest.approx(1 / 6.0, abs=2 / n)
    assert contrast[k] > 20
    assert (contrast[q < 4 / n] == 0).all()
    _, noise_contrast = lattice_rings(noise)
    assert noise_contrast.max() < 4.0  # the default min_contrast of the lattice test


def test_find_band_brackets_the_ring():
    image = lattice((128, 128), spacing_px=5.0, angle_deg=8.0)
    lo, hi = find_band(image, rel_width=0.1)
    assert lo < 0.2 < hi and hi - lo == pytest.approx(0.2 * 0.2, abs=2 / 128)


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((3, 8, 8)),
                                 np.full((16, 16), np.nan), np.ones((16, 16), complex)])
def test_bad_images_are_input_errors(bad):
    with pytest.raises(InputError, match="image"):
        fourier_filter(bad)


@settings(max_examples=25, deadline=None)
@given(lo=st.floats(-0.2, 0.8), hi=st.floats(-0.2, 0.8), width=st.floats(-0.5, 1.5),
       blur=st.floats(-5, 30))
def test_params_validate_in_one_place(lo, hi, width, blur):
    ok = 0 <= lo < hi <= 0.5 * np.sqrt(2) and 0 < width < 1 and blur >= 0
    if ok:
        FourierParams(band=(lo, hi), rel_width=width, blur_px=blur)
    else:
        with pytest.raises(ConfigError):
            FourierParams(band=(lo, hi), rel_width=width, blur_px=blur)
