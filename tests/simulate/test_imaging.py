"""Imaging: our cropped-spectrum CTF pipeline equals abTEM's; an Au [110] image has its lattice."""

import numpy as np
import pytest

from temseg.config import load_config
from temseg.simulate.config import SimulateConfig
from temseg.simulate.imaging import envelope_cutoff, hrtem_image, wave_spectrum
from temseg.simulate.pipeline import simulate_structure
from temseg.simulate.structures import ZONE_110, lattice_constant


def _random_wave(n=128, seed=0):
    """A smooth weak-phase-like wave, band-limited to 2/3 of Nyquist as abTEM's antialiasing."""
    rng = np.random.default_rng(seed)
    phase = rng.normal(size=(n, n))
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij"))
    phase = np.fft.ifft2(np.fft.fft2(phase) * (q < 0.3)).real
    wave = np.exp(1j * 0.5 * phase / phase.std())
    return np.fft.ifft2(np.fft.fft2(wave) * (q < 1 / 3)).astype(np.complex64)


@pytest.mark.parametrize("focal_spread", [0.0, 5.0, 20.0])
def test_matches_abtem_ctf_intensity_blur_interpolate(focal_spread):
    import abtem

    cell, out = 12.8, 40
    wave = _random_wave()
    mine = hrtem_image(wave_spectrum(wave), cell=cell, out_gpts=out, energy=300e3,
                       defocus=80.0, cs=3e4, focal_spread=focal_spread, blur=0.3)
    waves = abtem.Waves(wave, energy=300e3, extent=cell)
    ctf = abtem.CTF(energy=300e3, defocus=80.0, Cs=3e4, focal_spread=focal_spread)
    ref = waves.apply_ctf(ctf).intensity().gaussian_filter(0.3).interpolate(gpts=(out, out)).array
    assert mine.shape == (out, out) and mine.dtype == np.float32
    np.testing.assert_allclose(mine, ref, atol=2e-3 * float(ref.std()) + 1e-5)


def test_vacuum_images_to_one():
    wave = np.ones((64, 64), np.complex64)
    img = hrtem_image(wave_spectrum(wave), cell=6.4, out_gpts=20, energy=300e3,
                      defocus=-150.0, cs=1e5, focal_spread=10.0, blur=0.5)
    np.testing.assert_allclose(img, 1.0, atol=1e-5)


def test_envelope_cutoff_is_where_abtem_envelope_is_tiny():
    import abtem
    from abtem.core.energy import energy2wavelength

    qc = envelope_cutoff(energy=300e3, focal_spread=10.0)
    ctf = abtem.CTF(energy=300e3, focal_spread=10.0)
    lam = energy2wavelength(300e3)
    alpha = np.array([qc * lam], np.float32)
    env = abs(ctf._evaluate_from_angular_grid(alpha, np.zeros_like(alpha))[0])
    assert env == pytest.approx(1e-4, rel=0.05)
    assert envelope_cutoff(energy=300e3, focal_spread=0.0) == np.inf


def test_au_110_image_shows_111_and_200_spacings():
    """FFT of a simulated Au [110] particle: {111} (2.355 Å) and {200} (2.039 Å) peaks where
    the crystal puts them, within a bin, standing far above the background of their ring."""
    cfg = load_config(SimulateConfig, {
        "size": 128, "sampling": 0.25, "wave_sampling": 0.1, "padding": 4.0,
        "n_structures": 1, "images_per_structure": 1,
        "structure": {"radius": [14, 14], "truncation": [1, 1], "max_tilt": 0, "rotate": False,
                      "max_offset": 0, "support": "none"},
        "imaging": {"defocus": [-60, -60], "cs": [0, 0], "focal_spread": [5, 5], "blur": [0.1, 0.1]},
        "detector": {"enabled": False}, "labels": {"columns": False}})
    img = simulate_structure(cfg, seed=0).images[0]
    n, s = cfg.size, cfg.sampling
    win = np.hanning(n)[:, None] * np.hanning(n)[None, :]
    power = np.abs(np.fft.fft2((img - img.mean()) * win)) ** 2
    f = np.fft.fftfreq(n, d=s)
    q = np.hypot(f[:, None], f[None, :])
    ring = power[(q > 0.3) & (q < 0.6)]
    a = lattice_constant("Au")
    for hkl, d in [((1, -1, 1), 2.355), ((1, -1, -1), 2.355), ((0, 0, 2), 2.039)]:
        g = ZONE_110 @ np.array(hkl, float) / a
        assert 1 / np.linalg.norm(g) == pytest.approx(d, abs=0.002)
        assert abs(g[2]) < 1e-12  # in the image plane
        for sign in (1, -1):
            centre = np.round(sign * g[:2] * n * s).astype(int)
            rows, cols = (np.arange(c - 3, c + 4) % n for c in centre)
            window = power[np.ix_(rows, cols)]
            peak = np.array(np.unravel_index(window.argmax(), window.shape)) - 3
            assert np.all(np.abs(peak) <= 1), (hkl, sign, peak)
            assert window.max() > 50 * np.median(ring), (hkl, sign)


@pytest.mark.parametrize("n", [64, 75])
def test_radial_ctf_equals_abtem_on_the_full_grid(n):
    """The quadrant-mirrored CTF is abTEM's CTF evaluated on every frequency of the grid."""
    from temseg.simulate.imaging import _radial_ctf, ctf_kernel

    cell = 9.6
    f = np.fft.fftfreq(n, d=cell / n)
    kw = {"energy": 300e3, "defocus": -120.0, "cs": 8e4, "focal_spread": 12.0}
    full = ctf_kernel(f[:, None], f[None, :], **kw)
    np.testing.assert_array_equal(_radial_ctf(n, cell, **kw), full)
