"""HRTEM images from an exit wave: CTF, partial coherence, blur, resampling (002 table 1).

One exit wave gives many images ("image epochs"), so the wave's spectrum is
computed once (:func:`wave_spectrum`) and each image costs two FFTs on a grid
only as fine as the image needs: the temporal-coherence envelope damps the
wave beyond a cutoff ``q_c`` (amplitude < 1e-4), so the spectrum is cropped
to ``|q| <= q_c + q_out`` (``q_out`` the output Nyquist frequency), where
``|ψ|²`` aliases nothing into the output band. The intensity is then blurred
and Fourier-resampled on the whole periodic cell (no edge artefacts) and the
padding cropped away. The CTF itself is abTEM's.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft

_ENVELOPE_FLOOR = 1e-4


def wave_spectrum(wave: np.ndarray) -> np.ndarray:
    """FFT of an exit wave, ``(n, n)`` complex64 (unnormalised, NumPy convention)."""
    return scipy.fft.fft2(np.asarray(wave, dtype=np.complex64), workers=1)


def _crop_index(n: int, m: int) -> np.ndarray:
    """Indices of the ``m`` lowest frequencies of an ``n``-point FFT, in ``fftfreq(m)`` order."""
    return np.r_[0: (m + 1) // 2, n - m // 2: n]


def _even_fast(n: float) -> int:
    m = scipy.fft.next_fast_len(max(2, int(math.ceil(n))))
    while m % 2:
        m = scipy.fft.next_fast_len(m + 1)
    return m


def ctf_kernel(q_x: np.ndarray, q_y: np.ndarray, *, energy: float, defocus: float, cs: float,
               focal_spread: float) -> np.ndarray:
    """abTEM's CTF (aberrations and temporal envelope) at spatial frequencies ``q`` in 1/Å.

    ``q_x`` and ``q_y`` broadcast (e.g. ``(n, 1)`` and ``(1, n)``). ``defocus``
    (abTEM sign: positive = underfocus), ``cs`` and ``focal_spread`` in Å.
    Returns complex64 of the broadcast shape.
    """

    q_x, q_y = np.broadcast_arrays(q_x, q_y)
    q = np.hypot(q_x, q_y).astype(np.float32)
    phi = np.arctan2(q_y, q_x).astype(np.float32)
    return _ctf_polar(q, phi, energy=energy, defocus=defocus, cs=cs, focal_spread=focal_spread)


def _ctf_polar(q, phi, *, energy, defocus, cs, focal_spread) -> np.ndarray:
    import abtem
    from abtem.core.energy import energy2wavelength

    ctf = abtem.CTF(energy=energy, defocus=defocus, Cs=cs, focal_spread=focal_spread)
    alpha = q * np.float32(energy2wavelength(energy))
    # abTEM 1.0 evaluates a CTF on an angular grid with this method (used by CTF.apply)
    return np.asarray(ctf._evaluate_from_angular_grid(alpha, phi), dtype=np.complex64)


@functools.lru_cache(maxsize=16)
def _polar_quadrant(n: int, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|q| (1/Å) and azimuth on the non-negative quadrant of an ``n``-point FFT grid, cached.

    Returns ``q`` and ``phi`` ``(n//2 + 1, n//2 + 1)`` float32 and the index
    ``(n,)`` that maps each FFT frequency to its quadrant entry (``k`` and
    ``n - k`` share ``|f|``). ``fftfreq`` gives ``f[n - k] = -f[k]`` exactly.
    """
    f = np.abs(scipy.fft.fftfreq(n, d=cell / n)[: n // 2 + 1])
    q = np.hypot(f[:, None], f[None, :]).astype(np.float32)
    phi = np.arctan2(np.broadcast_to(f[None, :], q.shape),
                     np.broadcast_to(f[:, None], q.shape)).astype(np.float32)
    mirror = np.minimum(np.arange(n), n - np.arange(n))
    for a in (q, phi, mirror):
        a.flags.writeable = False
    return q, phi, mirror


def _radial_ctf(n: int, cell: float, *, energy, defocus, cs, focal_spread) -> np.ndarray:
    """abTEM's CTF on an ``n``-point FFT grid, evaluated on one quadrant and mirrored.

    With only defocus and Cs (no astigmatism or coma) and the temporal
    envelope, abTEM's CTF depends on ``|q|`` alone: its azimuth enters only
    multiplied by the zero coefficients C12, C21, C23, … So the grid's
    mirror-symmetric quadrant is evaluated (a quarter of the work) and
    mirrored, value for value what the full grid gives.
    """
    q, phi, mirror = _polar_quadrant(n, cell)
    quadrant = _ctf_polar(q, phi, energy=energy, defocus=defocus, cs=cs,
                          focal_spread=focal_spread)
    return quadrant[np.ix_(mirror, mirror)]


def envelope_cutoff(*, energy: float, focal_spread: float) -> float:
    """Frequency in 1/Å beyond which abTEM's temporal envelope is below 1e-4 (inf if none)."""
    from abtem.core.energy import energy2wavelength

    if focal_spread <= 0:
        return math.inf
    lam = energy2wavelength(energy)
    return math.sqrt(math.sqrt(math.log(1 / _ENVELOPE_FLOOR)) / (0.5 * math.pi * lam * focal_spread))


def hrtem_image(spectrum: np.ndarray, *, cell: float, out_gpts: int, energy: float,
                defocus: float, cs: float, focal_spread: float, blur: float) -> np.ndarray:
    """The HRTEM intensity of one imaging condition on the whole periodic cell.

    Parameters
    ----------
    spectrum : (n, n) ndarray of complex64
        :func:`wave_spectrum` of the exit wave of a square cell.
    cell : float
        Side of the cell in Å.
    out_gpts : int
        Output grid points per side (even); the output sampling is
        ``cell / out_gpts`` Å/px.
    energy : float
        eV.
    defocus, cs, focal_spread, blur : float
        Å (defocus in abTEM's sign, positive = underfocus; blur is the
        standard deviation of a Gaussian blur of the intensity).

    Returns
    -------
    (out_gpts, out_gpts) ndarray of float32
        Intensity normalised to 1 in vacuum; axis 0 along ``x``.
    """
    n = spectrum.shape[0]
    q_out = out_gpts / (2 * cell)
    q_c = min(envelope_cutoff(energy=energy, focal_spread=focal_spread), n / (3 * cell))
    if out_gpts > n:
        raise ValueError(f"out_gpts {out_gpts} exceeds the wave's {n} grid points")
    n_i = min(n, max(out_gpts, _even_fast(2 * (q_c + q_out) * cell)))
    idx = _crop_index(n, n_i)
    sub = spectrum[np.ix_(idx, idx)]
    kernel = _radial_ctf(n_i, float(cell), energy=energy, defocus=defocus, cs=cs,
                         focal_spread=focal_spread)
    psi = scipy.fft.ifft2(sub * kernel, workers=1)
    psi *= np.float32(n_i**2 / n**2)
    intensity = psi.real**2 + psi.imag**2
    spec = scipy.fft.fft2(intensity, workers=1)
    idx = _crop_index(n_i, out_gpts)
    spec = spec[np.ix_(idx, idx)]
    qo = scipy.fft.fftfreq(out_gpts, d=cell / out_gpts)
    gauss = np.exp(-2 * math.pi**2 * blur**2 * (qo[:, None] ** 2 + qo[None, :] ** 2))
    image = scipy.fft.ifft2(spec * gauss, workers=1).real * (out_gpts**2 / n_i**2)
    return image.astype(np.float32)


def illumination_field(shape: tuple[int, int], *, amplitude: float, angle: float,
                       radial: float) -> np.ndarray:
    """A smooth gain across an image: uneven illumination (004's monochromated beam).

    ``1 + amplitude · g`` with ``g`` a mix of a tilt along ``angle`` (degrees,
    from axis 0 toward axis 1) and, by the share ``radial`` in [0, 1], a
    fall-off from the centre, each scaled to a largest magnitude of 1 and
    centred on zero: the gain stays within ``1 ± amplitude`` and averages 1.

    Returns
    -------
    (H, W) ndarray of float64
    """
    u = np.linspace(-1.0, 1.0, shape[0])[:, None]
    v = np.linspace(-1.0, 1.0, shape[1])[None, :]
    theta = np.deg2rad(angle)
    tilt = u * np.cos(theta) + v * np.sin(theta)
    fall = -(u**2 + v**2)
    parts = []
    for part in (tilt, fall):
        part = part - part.mean()
        parts.append(part / max(np.abs(part).max(), 1e-12))
    g = (1.0 - radial) * parts[0] + radial * parts[1]
    g = g - g.mean()
    return 1.0 + amplitude * g / max(np.abs(g).max(), 1e-12)


def crop(image: np.ndarray, pad: int) -> np.ndarray:
    """Remove ``pad`` pixels from every side of a ``(H, W)`` image."""
    return image[pad: image.shape[0] - pad, pad: image.shape[1] - pad] if pad else image
