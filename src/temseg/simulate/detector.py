"""The detector: dose (shot) noise spread by the MTF, plus readout noise (002 eq. 1–3).

Model (Leth Larsen et al. 2023, §3.2, eq. 3)::

    counts = MTF[ P(N_D · image) ] + (P(N0) − N0)

* ``image`` is a normalised intensity (mean ≈ 1 in vacuum, ≥ 0), e.g. an
  abTEM HRTEM image divided by the vacuum intensity.
* ``N_D = dose × sampling²`` is the frame dose in electrons per pixel
  (dose in e/Å², sampling in Å/px); ``P(λ)`` draws Poisson counts.
* ``MTF[·]`` multiplies the Fourier transform of the shot-noise image by eq. 1
  with ``C = 0``: ``L(q̃) = 1 / (1 + (q̃/c0)^c3)`` on the normalised frequency
  ``q̃ = q / q_Nyquist = 2·q·sampling`` (0 at the centre, 1 at the Nyquist
  edge, √2 in the corners). ``L(0) = 1``, so the MTF keeps the mean counts.
* The readout term is a separate Poisson draw of mean ``N0`` electrons per
  pixel added *after* the MTF (white noise, not spread by the scintillator),
  with its mean removed as a dark reference would, so that the mean counts
  stay ``N_D × image``.

How ``C`` of eq. 1 relates to ``N0``: shot and readout noise are independent,
so their variances add. The noise power spectrum of a flat (vacuum) frame is
``PSD(q̃) = N_D·L(q̃)² + N0`` (per-pixel variance units) and its square root,
the noise *amplitude* spectrum that the noise method fits with eq. 1, goes
from ``√(N_D + N0)`` at ``q̃ → 0`` to ``√N0`` at high ``q̃``. Their ratio is
``C``, which gives 002 eq. 2 exactly: ``C² = N0 / (N0 + N_D)``. ``C`` is thus
not an input of :func:`apply_detector`; it follows from ``N0`` and the dose
(:func:`readout_fraction`). :mod:`temseg.analyze.noise` inverts this.

abTEM 1.0's own MTF helper is not used (it is broken); eq. 1 is applied with
NumPy/SciPy FFTs here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.fft

from temseg.errors import ConfigError, InputError
from temseg.rng import as_generator

__all__ = [
    "MTFParams", "mtf", "q_norm_grid", "apply_mtf", "apply_detector", "readout_fraction",
    "DetectorConfig", "DetectorModel", "NoiseModel", "read_noise_model", "MTF_PRESETS",
    "DOSE_PRESETS", "DOSE_CEILING",
]

#: 002 table 3: ranges (low, high) of c0, c3 (eq. 1) and N0 (e/px) of the five MTF models
MTF_PRESETS: dict[str, dict[str, tuple[float, float]]] = {
    "MTF1": {"c0": (0.4, 0.6), "c3": (2.0, 3.0), "N0": (0.005, 0.015)},
    "MTF2": {"c0": (0.4, 0.6), "c3": (1.0, 5.0), "N0": (0.005, 0.015)},
    "MTF3": {"c0": (0.2, 0.3), "c3": (1.0, 5.0), "N0": (0.005, 0.015)},
    "MTF4": {"c0": (0.25, 0.6), "c3": (2.0, 5.0), "N0": (0.005, 0.015)},
    "MTF5": {"c0": (0.6, 0.8), "c3": (2.0, 5.0), "N0": (0.005, 0.015)},
}

#: 002 table 2: frame dose ranges in e/Å²
DOSE_PRESETS: dict[str, tuple[float, float]] = {"high": (1e2, 1e6), "low": (1e1, 1e4)}

#: e/Å²: the top of the "high" preset; a frame dose above it is most likely e/nm² typed as e/Å²
DOSE_CEILING = 1e6


@dataclass(frozen=True)
class MTFParams:
    """Parameters of 002 eq. 1: half-maximum ``c0`` (in q/q_Nyquist), exponent ``c3``, floor ``C``."""

    c0: float
    c3: float
    C: float = 0.0

    def __post_init__(self):
        _check_mtf(self.c0, self.c3, self.C)

    def __call__(self, q_norm):
        return mtf(q_norm, c0=self.c0, c3=self.c3, C=self.C)


def _check_mtf(c0: float, c3: float, C: float) -> None:
    if not (math.isfinite(c0) and c0 > 0):
        raise ConfigError(f"c0: must be > 0 (half-maximum in q/q_Nyquist), got {c0}")
    if not (math.isfinite(c3) and c3 > 0):
        raise ConfigError(f"c3: must be > 0, got {c3}")
    if not (0.0 <= C <= 1.0):
        raise ConfigError(f"C: must lie in [0, 1], got {C}")


def mtf(q_norm, *, c0: float, c3: float, C: float = 0.0) -> np.ndarray:
    """002 eq. 1: ``MTF(q̃) = (1 − C) / (1 + (q̃/c0)^c3) + C``.

    Parameters
    ----------
    q_norm : array_like of float
        Spatial frequency normalised by the Nyquist frequency, ``q̃ = 2·q·sampling``
        (q in 1/Å, sampling in Å/px); ``q̃ ≥ 0``.
    c0 : float
        Half-maximum of the Lorentzian-like part, in units of q_Nyquist (> 0).
    c3 : float
        Exponent (curvature); 2 is Lorentzian, large values approach a step (> 0).
    C : float
        Limit for ``q̃ → ∞`` (the part not spread by the scintillator), in [0, 1].

    Returns
    -------
    ndarray of float64, same shape as ``q_norm``; 1 at ``q̃ = 0``, → C at large ``q̃``.
    """
    _check_mtf(c0, c3, C)
    q = np.abs(np.asarray(q_norm, dtype=np.float64))
    return (1.0 - C) / (1.0 + (q / c0) ** c3) + C


def q_norm_grid(shape: tuple[int, int], *, rfft: bool = False) -> np.ndarray:
    """Normalised frequency ``q̃ = |q|/q_Nyquist`` on the FFT grid of an image of ``shape``.

    Independent of the sampling: ``q̃ = 2·sqrt(fy² + fx²)`` with ``f`` in cycles per
    pixel. ``rfft=True`` gives the half-plane grid of :func:`scipy.fft.rfft2`.
    Returns ``(H, W)`` (or ``(H, W//2 + 1)``) float64.
    """
    h, w = shape
    fy = scipy.fft.fftfreq(h)[:, None]
    fx = (scipy.fft.rfftfreq(w) if rfft else scipy.fft.fftfreq(w))[None, :]
    return 2.0 * np.sqrt(fy**2 + fx**2)


def apply_mtf(image: np.ndarray, *, c0: float, c3: float, C: float = 0.0) -> np.ndarray:
    """Multiply the Fourier transform of ``image`` (``(..., H, W)``) by eq. 1; float64 out.

    Periodic boundaries (the FFT's). The mean is kept since ``MTF(0) = 1``.
    """
    image = np.asarray(image, dtype=np.float64)
    shape = image.shape[-2:]
    transfer = mtf(q_norm_grid(shape, rfft=True), c0=c0, c3=c3, C=C)
    spectrum = scipy.fft.rfft2(image, axes=(-2, -1))
    return scipy.fft.irfft2(spectrum * transfer, s=shape, axes=(-2, -1))


def readout_fraction(N0: float, dose_per_pixel) -> np.ndarray:
    """``C`` of eq. 1 implied by 002 eq. 2, ``C = sqrt(N0 / (N0 + N_D))`` (N0, N_D in e/px)."""
    nd = np.asarray(dose_per_pixel, dtype=np.float64)
    return np.sqrt(N0 / (N0 + nd))


def apply_detector(image: np.ndarray, *, dose: float, sampling: float, c0: float, c3: float,
                   N0: float, rng: int | np.random.Generator | None = None) -> np.ndarray:
    """Detected counts of a normalised intensity image (002 eq. 3); see the module docstring.

    Parameters
    ----------
    image : (H, W) or (..., H, W) ndarray
        Normalised intensity (vacuum ≈ 1). Negative values (interpolation
        overshoot) are clipped to 0; non-finite values are an error.
    dose : float
        Frame dose in e/Å² (> 0).
    sampling : float
        Pixel size in Å/px (> 0); the dose per pixel is ``dose × sampling²``.
    c0, c3 : float
        MTF of the shot noise, eq. 1 with ``C = 0``.
    N0 : float
        Readout noise, mean electrons per pixel of the separate Poisson term (≥ 0).
    rng : int or Generator or None
        Seed or generator of the Poisson draws.

    Returns
    -------
    ndarray of float32, same shape as ``image``
        Counts in electrons per pixel; mean ≈ ``image.mean() × dose × sampling²``.

    Examples
    --------
    >>> flat = np.ones((64, 64), np.float32)
    >>> counts = apply_detector(flat, dose=100.0, sampling=0.1, c0=0.5, c3=2.5, N0=0.01, rng=0)
    >>> round(float(counts.mean()), 1)
    1.0
    """
    if not (math.isfinite(dose) and dose > 0):
        raise ConfigError(f"dose: must be > 0 e/Å², got {dose}")
    if not (math.isfinite(sampling) and sampling > 0):
        raise ConfigError(f"sampling: must be > 0 Å/px, got {sampling}")
    if not (math.isfinite(N0) and N0 >= 0):
        raise ConfigError(f"N0: must be >= 0 electrons per pixel, got {N0}")
    image = np.asarray(image)
    if image.ndim < 2:
        raise InputError(f"image: expected (H, W), got shape {image.shape}")
    if not np.all(np.isfinite(image)):
        raise InputError("image: contains NaN or infinite values")
    gen = as_generator(rng)
    expected = np.clip(image.astype(np.float64), 0.0, None) * (dose * sampling**2)
    shot = gen.poisson(expected).astype(np.float64)
    counts = apply_mtf(shot, c0=c0, c3=c3, C=0.0)
    if N0 > 0:
        counts += gen.poisson(N0, size=counts.shape) - N0
    return counts.astype(np.float32)


def _check_range(name: str, value, *, positive: bool, allow_zero: bool = False) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a range [low, high], got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(f"{name}: range must be finite, got [{lo}, {hi}]")
    if lo > hi:
        raise ConfigError(f"{name}: range is reversed or empty, [{lo}, {hi}]")
    if positive and not (lo > 0 or (allow_zero and lo == 0)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name}: values must be {bound}, got low = {lo}")
    return lo, hi


@dataclass
class DetectorConfig:
    """Ranges the detector parameters are drawn from, per image.

    Parameters
    ----------
    c0 : (low, high)
        Eq. 1 half-maximum in q/q_Nyquist (> 0), drawn uniformly.
    c3 : (low, high)
        Eq. 1 exponent (> 0), drawn uniformly.
    N0 : (low, high)
        Readout noise in electrons per pixel (≥ 0), drawn uniformly.
    dose : (low, high)
        Frame dose in e/Å² (> 0).
    dose_distribution : {"log-uniform", "exponential"}
        ``"log-uniform"``: uniform in log(dose). ``"exponential"``: ``low + E``
        with ``E`` exponential of scale ``dose_scale`` truncated at ``high``.
    dose_scale : float or None
        Scale (e/Å²) of the exponential; ``None`` means ``(high − low)/10``.

    Low = high is allowed and fixes the value.
    """

    c0: tuple[float, float] = MTF_PRESETS["MTF4"]["c0"]
    c3: tuple[float, float] = MTF_PRESETS["MTF4"]["c3"]
    N0: tuple[float, float] = MTF_PRESETS["MTF4"]["N0"]
    dose: tuple[float, float] = DOSE_PRESETS["high"]
    dose_distribution: Literal["log-uniform", "exponential"] = "log-uniform"
    dose_scale: float | None = None

    def __post_init__(self):
        self.c0 = _check_range("c0", self.c0, positive=True)
        self.c3 = _check_range("c3", self.c3, positive=True)
        self.N0 = _check_range("N0", self.N0, positive=True, allow_zero=True)
        self.dose = _check_range("dose", self.dose, positive=True)
        if self.dose_distribution not in ("log-uniform", "exponential"):
            raise ConfigError(f"dose_distribution: {self.dose_distribution!r} is not one of "
                              "'log-uniform', 'exponential'")
        if self.dose_scale is not None and not (math.isfinite(self.dose_scale)
                                                and self.dose_scale > 0):
            raise ConfigError(f"dose_scale: must be > 0 e/Å², got {self.dose_scale}")

    def sample(self, rng: int | np.random.Generator | None = None) -> dict[str, float]:
        """Draw one set ``{"c0", "c3", "N0", "dose"}`` (dose in e/Å², N0 in e/px)."""
        gen = as_generator(rng)
        drawn = {name: float(gen.uniform(*getattr(self, name))) for name in ("c0", "c3", "N0")}
        lo, hi = self.dose
        if self.dose_distribution == "log-uniform":
            dose = math.exp(gen.uniform(math.log(lo), math.log(hi)))
        else:
            scale = self.dose_scale if self.dose_scale is not None else (hi - lo) / 10.0
            if hi == lo or scale == 0:
                dose = lo
            else:  # inverse CDF of an exponential truncated to [0, hi - lo]
                u = gen.uniform()
                dose = lo - scale * math.log1p(-u * (1.0 - math.exp(-(hi - lo) / scale)))
        drawn["dose"] = float(min(max(dose, lo), hi))
        return drawn

    @classmethod
    def from_preset(cls, name: str, *, dose: str | tuple[float, float] = "high",
                    **overrides) -> "DetectorConfig":
        """A config from an MTF preset of 002 table 3 (``"MTF1"``…``"MTF5"``) and a dose preset.

        ``dose`` is a key of :data:`DOSE_PRESETS` or a ``(low, high)`` range in e/Å².
        """
        key = str(name).upper().replace(" ", "")
        if key not in MTF_PRESETS:
            raise ConfigError(f"preset: unknown MTF preset {name!r} "
                              f"(known: {', '.join(MTF_PRESETS)})")
        if isinstance(dose, str):
            if dose not in DOSE_PRESETS:
                raise ConfigError(f"dose: unknown dose preset {dose!r} "
                                  f"(known: {', '.join(DOSE_PRESETS)})")
            dose = DOSE_PRESETS[dose]
        return cls(**{**MTF_PRESETS[key], "dose": dose, **overrides})

    @classmethod
    def from_json(cls, path: str | Path) -> "DetectorConfig":
        """Read a detector model JSON, as written by ``temseg fit-noise``.

        The file holds either the fields of this class or a mapping with a
        ``"detector"`` key holding them. :func:`read_noise_model` also gives the
        file's SHA-256 and the pixel size it was fitted at.
        """
        return read_noise_model(path).detector

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (ranges as lists)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}


#: the name ARCHITECTURE.md uses for the ranges + presets object
DetectorModel = DetectorConfig


@dataclass(frozen=True)
class NoiseModel:
    """A detector model file as read: its ranges, the SHA-256 of its bytes, the fit's pixel size.

    ``sampling`` is the pixel size (Å/px) of the vacuum stack ``temseg fit-noise``
    fitted (``fit.sampling`` of the file), ``None`` where the file does not say.
    ``c0`` (in q/q_Nyquist) and ``N0`` (e/px) hold per camera pixel.
    """

    path: str
    detector: DetectorConfig
    sha256: str
    sampling: float | None = None

    def to_dict(self) -> dict:
        """Plain JSON-ready dict: path, SHA-256, fit sampling (Å/px) and detector block."""
        return {"path": self.path, "sha256": self.sha256, "fit_sampling": self.sampling,
                "detector": self.detector.to_dict()}


def read_noise_model(path: str | Path) -> NoiseModel:
    """Read a detector model JSON (``temseg fit-noise``'s ``detector.json``) with its SHA-256.

    Raises
    ------
    InputError
        The file cannot be read or is not JSON.
    ConfigError
        It is not a detector model or a field is invalid (the message names the file).
    """
    from temseg.config import from_dict

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read detector model ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise InputError(f"{path}: not valid JSON") from None
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in (None, "detector"):  # e.g. a segmentation model's JSON
        raise ConfigError(f"{path}: not a detector model from `temseg fit-noise` "
                          f"(kind {kind!r})")
    fit = data.get("fit") if isinstance(data, dict) else None
    sampling = fit.get("sampling") if isinstance(fit, dict) else None
    if not (isinstance(sampling, (int, float)) and not isinstance(sampling, bool)
            and math.isfinite(sampling) and sampling > 0):
        sampling = None
    if isinstance(data, dict) and "detector" in data:
        data = data["detector"]
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a detector model must be a mapping of field: value")
    try:
        detector = from_dict(DetectorConfig, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return NoiseModel(path=str(path), detector=detector, sha256=hashlib.sha256(raw).hexdigest(),
                      sampling=None if sampling is None else float(sampling))
