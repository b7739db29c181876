"""Bragg filtering (paper 004 eq. 4-6) on synthetic lattice patches."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from temseg.baselines.bragg import (BraggParams, analyse, aperture, bragg_filter, bragg_image,
                                    bragg_peaks, peak_frequencies, prepare, select_peaks)
from temseg.baselines.fourier import NoLatticeWarning
from temseg.errors import ConfigError
from temseg.synthetic import lattice, particle_image


def dice(pred, truth) -> float:
    pred, truth = np.asarray(pred) > 0, np.asarray(truth) > 0
    return 2 * np.count_nonzero(pred & truth) / (pred.sum() + truth.sum())


@pytest.mark.parametrize("spacing, angle", [(5.0, 0.0), (6.5, 23.0), (9.0, 41.0)])
def test_peaks_sit_at_the_lattice_frequency(spacing, angle):
    n = 128
    image = lattice((n, n), spacing_px=spacing, angle_deg=angle)
    image = image + 0.4 * np.random.default_rng(1).standard_normal((n, n))
    q, strength = bragg_peaks(image, g_thresh=1.6)
    first = q[: len(strength)]
    assert len(strength) == 3  # hexagonal: three pairs, each found once
    assert np.abs(np.hypot(*first.T) - 1 / spacing).max() <= 1 / n  # one FFT bin
    # the three directions are 60° apart
    angles = np.sort(np.rad2deg(np.arctan2(first[:, 0], first[:, 1])) % 180)
    gaps = np.diff(np.r_[angles, angles[0] + 180])
    np.testing.assert_allclose(gaps, 60.0, atol=5.0)  # ~3° angular bins at 1/9 px⁻¹
    # both members of each pair
    np.testing.assert_allclose(q[len(strength):], -first)


def test_bragg_image_of_a_lattice_reproduces_it():
    n = 96
    clean = lattice((n, n), spacing_px=6.0, angle_deg=10.0).astype(np.float64)
    image = clean + 0.1 * np.random.default_rng(0).standard_normal((n, n))
    spec = analyse(image, prepared=True)
    bins = select_peaks(spec, g_thresh=1.6, max_peaks=6)
    assert len(bins) == 3
    standardized = (clean - clean.mean()) / clean.std()
    filtered = bragg_image(spec, bins, sigma=0.02)
    inner = (slice(8, -8), slice(8, -8))  # the periodic lattice does not fit the frame exactly
    assert np.corrcoef(filtered[inner].ravel(), standardized[inner].ravel())[0, 1] > 0.95
    assert np.hypot(*peak_frequencies(spec, bins).T) == pytest.approx(1 / 6.0, abs=1 / n)


def test_aperture_is_symmetric_and_peaks_at_one():
    image = lattice((64, 64), spacing_px=5.0) + 0.2 * np.random.default_rng(2).standard_normal(
        (64, 64))
    spec = analyse(image, prepared=True)
    bins = select_peaks(spec, g_thresh=1.6)
    ap = aperture(spec, bins, 0.01)
    assert ap.max() == pytest.approx(1.0, abs=0.02)
    assert ap.min() >= 0.0
    assert ap[bins[0][0], bins[0][1]] == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("seed", [0, 1])
def test_bragg_mask_finds_the_patch(seed):
    image, truth = particle_image((128, 128), n_particles=1, radius_px=(26, 32), spacing_px=5.0,
                                  noise_sigma=0.2, amorphous_sigma=0.5, seed=seed)
    crystal = bragg_filter(image, sigma=0.03, g_thresh=1.6, m_thresh=0.6, foreground="crystal")
    assert dice(crystal, truth) > 0.8
    amorphous = bragg_filter(image, sigma=0.03, g_thresh=1.6, m_thresh=0.6)
    np.testing.assert_array_equal(amorphous, ~crystal)


def test_no_peaks_is_all_amorphous_with_a_warning():
    """No lattice: every pixel is amorphous, the foreground of 004's contamination masks
    (it used to be all background, 0 % contamination on a purely amorphous image)."""
    rng = np.random.default_rng(3)
    image = ndimage.gaussian_filter(rng.standard_normal((96, 96)), 1.5)
    image += 0.3 * rng.standard_normal(image.shape)  # amorphous texture + shot noise
    with pytest.warns(NoLatticeWarning, match="every pixel is amorphous: an all-foreground"):
        mask = bragg_filter(image)
    assert mask.all()
    with pytest.warns(NoLatticeWarning, match="all-background"):
        assert not bragg_filter(np.zeros((64, 64)), foreground="crystal").any()


def test_prepare_flatfields_positive_images_and_standardizes():
    yy, xx = np.mgrid[0:64, 0:64]
    ramp = 100.0 + 0.5 * xx + 0.3 * yy
    texture = 1.0 + 0.1 * lattice((64, 64), spacing_px=5.0)
    out = prepare(ramp * texture)
    assert out.mean() == pytest.approx(0.0, abs=1e-6)
    assert out.std() == pytest.approx(1.0, abs=1e-6)
    # the illumination ramp is gone: the result is the lattice, not the ramp
    reference = (texture - texture.mean()) / texture.std()
    assert np.corrcoef(out.ravel(), reference.ravel())[0, 1] > 0.99
    negative = lattice((32, 32), spacing_px=4.0) - 2.0
    np.testing.assert_allclose(prepare(negative), (negative - negative.mean()) / negative.std(),
                               atol=1e-6)


def test_non_square_and_odd_shapes():
    image, truth = particle_image((97, 130), radius_px=(24, 28), spacing_px=5.0,
                                  noise_sigma=0.2, seed=4)
    mask = bragg_filter(image, sigma=0.03, g_thresh=1.6, foreground="crystal")
    assert mask.shape == (97, 130)


@pytest.mark.parametrize("field, value", [("sigma", 0.0), ("sigma", 0.6), ("g_thresh", -1.0),
                                          ("m_thresh", float("nan")), ("max_peaks", 5),
                                          ("pad_px", -2), ("lowpass_px", -1.0),
                                          ("flatfield_order", -1), ("foreground", "vacuum")])
def test_params_name_the_bad_field(field, value):
    with pytest.raises(ConfigError, match=field):
        BraggParams(**{field: value})


def test_local_max_and_lowpass_match_scipy():
    from temseg.baselines.bragg import _local_max, _lowpass

    rng = np.random.default_rng(5)
    a = rng.integers(0, 6, (40, 23)).astype(np.float32)  # many ties
    expected = ndimage.maximum_filter(a, size=5, mode=("wrap", "nearest")) == a
    np.testing.assert_array_equal(_local_max(a, 3), expected[:, 3:])
    spectrum = np.fft.rfft2(rng.standard_normal((36, 30))).astype(np.complex64)
    np.testing.assert_allclose(spectrum * _lowpass((36, 30), 2.5),
                               ndimage.fourier_gaussian(spectrum, 2.5, n=30), atol=1e-5)
