"""Azimuthal power spectra: units, rings and the peak statistic."""

from __future__ import annotations

import numpy as np
import pytest

from temseg.analyze.psd import radial_power_spectrum
from temseg.errors import InputError
from temseg.synthetic import lattice


@pytest.mark.parametrize("window", [None, "hann"])
def test_white_noise_gives_its_variance(window):
    rng = np.random.default_rng(0)
    image = 5.0 + 2.0 * rng.standard_normal((96, 128))  # variance 4
    spec = radial_power_spectrum(image, window=window)
    assert spec.q_norm.min() > 0 and spec.q_norm.max() <= 1.0
    assert np.all(np.diff(spec.q_norm) > 0)
    assert np.average(spec.psd, weights=spec.n) == pytest.approx(4.0, rel=0.05)
    # no ring is off by more than its sampling noise allows
    assert np.all(np.abs(spec.psd / 4.0 - 1) < 6 / np.sqrt(spec.n) + 0.05)


def test_plane_detrend_removes_a_gradient():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:64, 0:64]
    image = rng.standard_normal((64, 64)) + 0.5 * yy + 0.2 * xx
    low = radial_power_spectrum(image, detrend="plane").psd[:3]
    assert np.all(low < 3.0)  # the gradient alone would put ~10³ here
    assert radial_power_spectrum(image, detrend="mean").psd[0] > 100


def test_peak_statistic_flags_fringes_not_noise():
    rng = np.random.default_rng(2)
    noise = rng.standard_normal((128, 128))
    spec = radial_power_spectrum(noise, q_max=np.sqrt(2))
    assert np.nanmax(spec.peak - np.log(spec.n)) < 12
    fringes = noise + 0.5 * lattice((128, 128), spacing_px=5.0, angle_deg=20)
    spec = radial_power_spectrum(fringes, q_max=np.sqrt(2))
    score = spec.peak - np.log(spec.n)
    ring = int(np.nanargmax(score))
    assert score[ring] > 25
    assert spec.q_norm[ring] == pytest.approx(2 / 5.0, abs=2 / 128)  # q/q_N = 2·(1/5 px)


def test_bad_input():
    with pytest.raises(InputError, match="2-D"):
        radial_power_spectrum(np.zeros(16))
    with pytest.raises(InputError, match="NaN"):
        radial_power_spectrum(np.full((8, 8), np.nan))
    with pytest.raises(InputError, match="window"):
        radial_power_spectrum(np.zeros((8, 8)), window="kaiser")
