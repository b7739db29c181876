"""Detector model: eq. 1 MTF, Poisson shot noise, readout noise, presets and configs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.errors import ConfigError, InputError
from temseg.simulate.detector import (DOSE_PRESETS, MTF_PRESETS, DetectorConfig, MTFParams,
                                      apply_detector, apply_mtf, mtf, q_norm_grid,
                                      readout_fraction)


def _radial_mean(values: np.ndarray, q: np.ndarray, edges: np.ndarray) -> np.ndarray:
    idx = np.digitize(q.ravel(), edges) - 1
    ok = (idx >= 0) & (idx < len(edges) - 1)
    sums = np.bincount(idx[ok], weights=values.ravel()[ok], minlength=len(edges) - 1)
    return sums / np.bincount(idx[ok], minlength=len(edges) - 1)


def test_mtf_limits_and_half_maximum():
    assert mtf(0.0, c0=0.3, c3=2.5, C=0.2) == pytest.approx(1.0)
    # at q = c0 the Lorentzian part is one half
    assert mtf(0.3, c0=0.3, c3=2.5, C=0.2) == pytest.approx(0.8 * 0.5 + 0.2)
    assert mtf(1e6, c0=0.3, c3=2.5, C=0.2) == pytest.approx(0.2, abs=1e-9)
    q = np.linspace(0, 1.4, 50)
    assert np.all(np.diff(mtf(q, c0=0.4, c3=3.0)) < 0)
    assert MTFParams(0.4, 3.0, 0.1)(q) == pytest.approx(mtf(q, c0=0.4, c3=3.0, C=0.1))


@pytest.mark.parametrize("kwargs, field", [({"c0": 0.0, "c3": 2.0}, "c0"),
                                           ({"c0": 0.3, "c3": -1.0}, "c3"),
                                           ({"c0": 0.3, "c3": 2.0, "C": 1.5}, "C")])
def test_mtf_rejects_bad_parameters(kwargs, field):
    with pytest.raises(ConfigError, match=rf"^{field}:"):
        mtf(0.5, **kwargs)


def test_q_norm_grid_is_one_at_nyquist():
    q = q_norm_grid((8, 8))
    assert q[0, 0] == 0.0
    assert q[4, 0] == pytest.approx(1.0)  # fftfreq index n/2 is -0.5 cycles/px = Nyquist
    assert q.max() == pytest.approx(np.sqrt(2.0))
    assert q_norm_grid((8, 8), rfft=True).shape == (8, 5)


def test_apply_mtf_scales_a_fringe_by_eq1():
    """A cosine of f cycles/px comes out with amplitude MTF(2f): the MTF acts on q/q_N."""
    n = 64
    x = np.arange(n)
    f = 8 / n
    image = 1.0 + np.cos(2 * np.pi * f * x)[None, :] * np.ones((n, 1))
    out = apply_mtf(image, c0=0.3, c3=2.5)
    amplitude = (out[0].max() - out[0].min()) / 2
    assert amplitude == pytest.approx(mtf(2 * f, c0=0.3, c3=2.5), rel=1e-6)
    assert out.mean() == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("dose, sampling, N0", [(100.0, 0.1, 0.01), (5.0, 0.5, 0.05),
                                                (2000.0, 0.05, 0.0)])
def test_mean_counts_equal_dose_times_pixel_area(dose, sampling, N0):
    shape = (96, 96)
    counts = apply_detector(np.ones(shape), dose=dose, sampling=sampling, c0=0.4, c3=2.5,
                            N0=N0, rng=7)
    assert counts.dtype == np.float32 and counts.shape == shape
    nd = dose * sampling**2
    sigma_mean = np.sqrt((nd + N0) / counts.size)  # MTF keeps the sum of the shot counts
    assert abs(counts.mean() - nd) < 4 * sigma_mean


def test_noise_variance_follows_mtf_and_readout():
    """Variance per pixel = N_D·mean(L²) + N0 (shot noise filtered, readout white)."""
    shape = (128, 128)
    nd, n0 = 4.0, 0.5
    counts = apply_detector(np.ones(shape), dose=nd / 0.04, sampling=0.2, c0=0.35, c3=3.0,
                            N0=n0, rng=3)
    expected = nd * np.mean(mtf(q_norm_grid(shape), c0=0.35, c3=3.0) ** 2) + n0
    assert counts.var() == pytest.approx(expected, rel=0.05)


def test_psd_of_noisy_flat_image_follows_mtf_shape():
    """Noise PSD = N_D·L(q̃)² + N0, so √PSD/√(N_D+N0) is eq. 1 with C² = N0/(N0+N_D)."""
    shape = (128, 128)
    c0, c3, n0, sampling, dose = 0.3, 2.5, 0.2, 0.1, 100.0
    nd = dose * sampling**2
    rng = np.random.default_rng(11)
    psd = np.zeros(shape)
    n_frames = 6
    for _ in range(n_frames):
        counts = apply_detector(np.ones(shape), dose=dose, sampling=sampling, c0=c0, c3=c3,
                                N0=n0, rng=rng).astype(np.float64)
        psd += np.abs(np.fft.fft2(counts - counts.mean())) ** 2 / counts.size
    psd /= n_frames
    q = q_norm_grid(shape)
    edges = np.linspace(0.05, 1.0, 20)
    measured = np.sqrt(_radial_mean(psd, q, edges))
    C = float(readout_fraction(n0, nd))
    model = np.sqrt(nd * mtf(_radial_mean(q, q, edges), c0=c0, c3=c3) ** 2 + n0)
    assert np.allclose(measured, model, rtol=0.06)
    # the low- and high-frequency limits give C as eq. 2 says
    assert measured[-1] / measured[0] == pytest.approx(
        np.sqrt((nd * mtf(0.975, c0=c0, c3=c3) ** 2 + n0) / (nd * mtf(0.075, c0=c0, c3=c3) ** 2
                                                              + n0)), rel=0.08)
    assert C**2 == pytest.approx(n0 / (n0 + nd))


def test_apply_detector_is_seeded_and_validates():
    image = np.ones((16, 16), np.float32)
    a = apply_detector(image, dose=50.0, sampling=0.1, c0=0.4, c3=2.0, N0=0.01, rng=5)
    b = apply_detector(image, dose=50.0, sampling=0.1, c0=0.4, c3=2.0, N0=0.01, rng=5)
    assert np.array_equal(a, b)
    with pytest.raises(ConfigError, match="^dose:"):
        apply_detector(image, dose=-1.0, sampling=0.1, c0=0.4, c3=2.0, N0=0.01, rng=0)
    with pytest.raises(ConfigError, match="^c0:"):
        apply_detector(image, dose=1.0, sampling=0.1, c0=0.0, c3=2.0, N0=0.01, rng=0)
    with pytest.raises(ConfigError, match="^N0:"):
        apply_detector(image, dose=1.0, sampling=0.1, c0=0.3, c3=2.0, N0=-0.1, rng=0)
    bad = image.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError):
        apply_detector(bad, dose=1.0, sampling=0.1, c0=0.3, c3=2.0, N0=0.0, rng=0)


def test_presets_match_paper_tables():
    assert set(MTF_PRESETS) == {f"MTF{i}" for i in range(1, 6)}
    assert MTF_PRESETS["MTF3"] == {"c0": (0.2, 0.3), "c3": (1.0, 5.0), "N0": (0.005, 0.015)}
    assert MTF_PRESETS["MTF4"]["c0"] == (0.25, 0.6)
    assert DOSE_PRESETS == {"high": (1e2, 1e6), "low": (1e1, 1e4)}
    cfg = DetectorConfig.from_preset("mtf5", dose="low")
    assert cfg.c0 == (0.6, 0.8) and cfg.dose == (1e1, 1e4)
    with pytest.raises(ConfigError, match="^preset:"):
        DetectorConfig.from_preset("MTF9")
    with pytest.raises(ConfigError, match="^dose:"):
        DetectorConfig.from_preset("MTF1", dose="medium")


@pytest.mark.parametrize("field, value", [("c0", (0.0, 0.5)), ("c0", (0.6, 0.4)),
                                          ("c3", (-1.0, 2.0)), ("N0", (-0.1, 0.1)),
                                          ("dose", (-5.0, 10.0)), ("dose", (10.0, 1.0)),
                                          ("dose", (1.0,)), ("dose_distribution", "gamma"),
                                          ("dose_scale", 0.0)])
def test_detector_config_rejects_bad_fields(field, value):
    with pytest.raises(ConfigError, match=rf"^{field}:"):
        DetectorConfig(**{field: value})


@settings(max_examples=40, deadline=None)
@given(lo=st.floats(1e-2, 1e4), ratio=st.floats(1.0, 1e3), seed=st.integers(0, 2**32 - 1),
       dist=st.sampled_from(["log-uniform", "exponential"]))
def test_samples_stay_in_their_ranges(lo, ratio, seed, dist):
    cfg = DetectorConfig(c0=(0.2, 0.3), c3=(2.0, 2.0), N0=(0.0, 0.01), dose=(lo, lo * ratio),
                         dose_distribution=dist)
    drawn = cfg.sample(seed)
    assert set(drawn) == {"c0", "c3", "N0", "dose"}
    assert 0.2 <= drawn["c0"] <= 0.3 and drawn["c3"] == 2.0 and 0.0 <= drawn["N0"] <= 0.01
    assert lo <= drawn["dose"] <= lo * ratio
    assert drawn == cfg.sample(seed)


def test_dose_distributions_have_their_shape():
    rng = np.random.default_rng(0)
    logu = DetectorConfig(dose=(1e1, 1e4))
    doses = np.array([logu.sample(rng)["dose"] for _ in range(2000)])
    # log-uniform: a third of the draws per decade
    frac_first_decade = np.mean(doses < 1e2)
    assert frac_first_decade == pytest.approx(1 / 3, abs=0.04)
    expo = DetectorConfig(dose=(10.0, 1e4), dose_distribution="exponential", dose_scale=100.0)
    doses = np.array([expo.sample(rng)["dose"] for _ in range(2000)])
    assert doses.mean() == pytest.approx(110.0, rel=0.08)  # low + scale, truncation negligible


def test_from_json_reads_fit_noise_output(tmp_path):
    cfg = DetectorConfig(c0=(0.2, 0.3), c3=(2.0, 3.0), N0=(0.005, 0.015), dose=(10.0, 1e3))
    path = tmp_path / "detector.json"
    path.write_text(json.dumps({"kind": "detector", "detector": cfg.to_dict(), "frames": []}))
    assert DetectorConfig.from_json(path) == cfg
    (tmp_path / "flat.json").write_text(json.dumps(cfg.to_dict()))
    assert DetectorConfig.from_json(tmp_path / "flat.json") == cfg
    (tmp_path / "bad.json").write_text(json.dumps({"c0": [0.5, 0.1]}))
    with pytest.raises(ConfigError, match="bad.json: c0:"):
        DetectorConfig.from_json(tmp_path / "bad.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(InputError, match="junk.json"):
        DetectorConfig.from_json(tmp_path / "junk.json")
    with pytest.raises(InputError, match="missing.json"):
        DetectorConfig.from_json(tmp_path / "missing.json")
