import numpy as np

from temseg.synthetic import lattice, particle_image


def test_lattice_peak_at_one_over_spacing():
    img = lattice((128, 128), spacing_px=8.0, angle_deg=0.0, kind="square")
    power = np.abs(np.fft.fft2(img)) ** 2
    power[0, 0] = 0
    ky, kx = np.unravel_index(np.argmax(power), power.shape)
    freqs = np.fft.fftfreq(128)
    assert np.hypot(freqs[ky], freqs[kx]) == 1 / 8.0


def test_particle_image_is_seeded_and_masked():
    a, ma = particle_image((96, 96), n_particles=2, seed=3)
    b, mb = particle_image((96, 96), n_particles=2, seed=3)
    assert a.dtype == np.float32 and ma.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)
    frac = ma.mean()
    assert 0.05 < frac < 0.6
