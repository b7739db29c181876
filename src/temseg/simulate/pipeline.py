"""One structure → its labelled images: structure, exit wave, imaging, detector, labels.

Everything random is drawn from one ``numpy.random.Generator`` per structure,
in a fixed order (structure, then per image: imaging, detector, noise — with a
focal series the noise of each channel in turn), so a structure's images
depend only on its seed, whatever runs in parallel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from temseg.simulate.config import ImagingConfig, SimulateConfig
from temseg.simulate.imaging import crop, hrtem_image, illumination_field, wave_spectrum
from temseg.simulate.labels import column_mask, cover_mask, hull_mask, species_mask
from temseg.simulate.structures import Structure, build_structure, half_column_spacing
from temseg.simulate.waves import exit_wave, wave_gpts

IMAGING_KEYS = ("defocus", "cs", "focal_spread", "blur")
#: drawn after IMAGING_KEYS, only where ``imaging.illumination`` is not [0, 0]
ILLUMINATION_KEYS = ("illumination", "illumination_angle", "illumination_radial")


@dataclass(frozen=True)
class Geometry:
    """Grids of a simulation: the padded periodic cell and the output crop.

    Attributes
    ----------
    cell : float — side of the periodic cell in Å
    pad : int — output pixels of padding cropped from every side
    out_gpts : int — output grid points per side of the whole cell
    wave_gpts : int — exit-wave grid points per side
    sampling : float — output Å/px
    """

    cell: float
    pad: int
    out_gpts: int
    wave_gpts: int
    sampling: float

    @property
    def wave_sampling(self) -> float:
        """Exit-wave sampling in Å (≤ the config's ``wave_sampling``)."""
        return self.cell / self.wave_gpts

    @property
    def origin(self) -> tuple[float, float]:
        """Position in Å of output pixel (0, 0) inside the cell."""
        return (self.pad * self.sampling, self.pad * self.sampling)

    @property
    def field(self) -> tuple[float, float]:
        """``[low, high)`` in Å (x and y alike): the points whose nearest pixel is in the image."""
        low = (self.pad - 0.5) * self.sampling
        return (low, low + (self.out_gpts - 2 * self.pad) * self.sampling)


def geometry(config: SimulateConfig) -> Geometry:
    """The :class:`Geometry` of ``config`` (field of view plus padding, FFT-friendly wave grid)."""
    pad = int(math.ceil(config.padding / config.sampling))
    out = config.size + 2 * pad
    cell = out * config.sampling
    return Geometry(cell=cell, pad=pad, out_gpts=out,
                    wave_gpts=wave_gpts(cell, config.wave_sampling), sampling=config.sampling)


def draw_imaging(imaging: ImagingConfig, rng: np.random.Generator) -> dict[str, float]:
    """One set of 002 table 1 values, uniform in each range (Å); with uneven illumination
    also its amplitude, direction (°) and radial share (drawn after the others, so a
    config without it draws as before)."""
    drawn = {key: float(rng.uniform(*getattr(imaging, key))) for key in IMAGING_KEYS}
    if imaging.illumination[1] > 0:
        drawn["illumination"] = float(rng.uniform(*imaging.illumination))
        drawn["illumination_angle"] = float(rng.uniform(0.0, 360.0))
        drawn["illumination_radial"] = float(rng.uniform(0.0, 1.0))
    return drawn


@dataclass
class Result:
    """Images of one structure (or one dose series) and their parameter rows.

    ``images`` is ``(K, H, W)``, or ``(K, C, H, W)`` with a focal series;
    ``labels`` and ``columns`` are ``(K, H, W)``.
    """

    images: np.ndarray
    labels: np.ndarray
    columns: np.ndarray | None
    params: list[dict] = field(default_factory=list)


def make_labels(structure: Structure, config: SimulateConfig, geo: Geometry):
    """(labels, columns or None) of ``structure`` on the output grid, uint8 ``(size, size)``.

    ``labels`` is the hull mask (``labels.kind == "hull"``), the species
    class indices (``"species"``, from the structure's ``sites``) or the
    contamination patches (``"contamination"``, from the structure's ``cover``).
    """
    shape = (config.size, config.size)
    xy = structure.particle_xy
    if config.labels.kind == "contamination":
        hull = cover_mask(structure.cover, shape, sampling=geo.sampling, origin=geo.origin)
    elif config.labels.kind == "species":
        hull = species_mask(structure.sites, structure.site_classes, shape,
                            sampling=geo.sampling, origin=geo.origin,
                            radius=config.labels.column_radius)
    else:
        grow = half_column_spacing(config.structure.element) if config.labels.grow_hull else 0.0
        hull = hull_mask(xy, shape, sampling=geo.sampling, origin=geo.origin, grow=grow)
    cols = None
    if config.labels.columns:
        cols = column_mask(xy, shape, sampling=geo.sampling, origin=geo.origin,
                           radius=config.labels.column_radius)
    return hull, cols


class Renderer:
    """Images of one exit wave under drawn imaging and detector conditions."""

    def __init__(self, config: SimulateConfig, geo: Geometry, wave: np.ndarray):
        self.config, self.geo = config, geo
        self.spectrum = wave_spectrum(wave)
        self.detector = config.detector.ranges() if config.detector.enabled else None

    def clean(self, imaging: dict) -> np.ndarray:
        """Noise-free intensity (vacuum = 1, times the illumination's gain where drawn),
        cropped to ``(size, size)``."""
        optics = {k: v for k, v in imaging.items() if k not in ILLUMINATION_KEYS}
        full = hrtem_image(self.spectrum, cell=self.geo.cell, out_gpts=self.geo.out_gpts,
                           energy=self.config.imaging.energy, **optics)
        image = crop(full, self.geo.pad)
        if "illumination" in imaging:
            image = image * illumination_field(
                image.shape, amplitude=imaging["illumination"],
                angle=imaging["illumination_angle"],
                radial=imaging["illumination_radial"]).astype(image.dtype)
        return image

    def focal(self, imaging: dict, offsets) -> np.ndarray:
        """Noise-free ``(C, size, size)`` focal series, channel ``c`` at defocus
        ``imaging["defocus"] + offsets[c]`` (Å, abTEM's sign: positive = underfocus)."""
        return np.stack([self.clean({**imaging, "defocus": imaging["defocus"] + offset})
                         for offset in offsets])

    def detect(self, image: np.ndarray, drawn: dict, rng: np.random.Generator) -> np.ndarray:
        """Counts per pixel through the detector (002 eq. 3) with ``drawn`` c0, c3, N0, dose."""
        from temseg.simulate.detector import apply_detector

        return apply_detector(image, dose=drawn["dose"], sampling=self.geo.sampling,
                              c0=drawn["c0"], c3=drawn["c3"], N0=drawn["N0"], rng=rng)

    def draw_detector(self, rng: np.random.Generator) -> dict:
        """Drawn detector values: c0, c3, N0 (e/px), dose (e/Å²), dose per pixel, eq. 2's C."""
        return self.detector_values(**self.detector.sample(rng))

    def detector_values(self, *, c0: float, c3: float, N0: float, dose: float) -> dict:
        """The detector's values as stored per image, with the dose per pixel and eq. 2's C."""
        from temseg.simulate.detector import readout_fraction

        dose_px = dose * self.geo.sampling**2
        return {"c0": float(c0), "c3": float(c3), "N0": float(N0), "dose": float(dose),
                "dose_per_pixel": dose_px, "C": float(readout_fraction(N0, dose_px))}


def prepare_structure(config: SimulateConfig, *, seed):
    """The common start of every simulation: a seeded generator, one structure,
    its exit wave (inside a :class:`Renderer`) and its hull and column labels.

    Returns ``(generator, structure, renderer, hull, columns)``; the generator
    has drawn the structure and goes on to draw the imaging conditions.
    """
    gen = np.random.default_rng(seed)
    geo = geometry(config)
    structure = build_structure(config.structure, cell=geo.cell, rng=gen, field=geo.field)
    wave = exit_wave(structure.atoms, gpts=geo.wave_gpts, energy=config.imaging.energy,
                     slice_thickness=config.slice_thickness)
    renderer = Renderer(config, geo, wave)
    hull, cols = make_labels(structure, config, geo)
    return gen, structure, renderer, hull, cols


def simulate_structure(config: SimulateConfig, *, seed, index: int = 0) -> Result:
    """All ``images_per_structure`` labelled images of one random structure.

    Parameters
    ----------
    config : SimulateConfig
    seed : int or numpy.random.SeedSequence
        This structure's seed (spawned from the dataset's master seed).
    index : int
        The structure's index, stored in the parameters table.

    Returns
    -------
    Result
        ``images (K, size, size) float32`` (counts per pixel, or intensity with
        the detector off; ``(K, C, size, size)`` with ``config.focal_series``,
        channel ``c`` at the drawn defocus plus ``focal_series[c]``, each
        channel with its own noise at the image's one dose), ``labels`` and
        ``columns`` ``(K, size, size) uint8``, one parameter row (every drawn
        value; ``defocus`` is the drawn defocus the offsets are added to) per image.
    """
    gen, structure, renderer, hull, cols = prepare_structure(config, seed=seed)
    k = config.images_per_structure
    focal = config.focal_series
    channels = () if focal is None else (len(focal),)
    images = np.empty((k, *channels, config.size, config.size), np.float32)
    rows = []
    for epoch in range(k):
        imaging = draw_imaging(config.imaging, gen)
        image = renderer.clean(imaging) if focal is None else renderer.focal(imaging, focal)
        row = {"structure": index, "epoch": epoch, **structure.params, **imaging}
        if renderer.detector is not None:
            drawn = renderer.draw_detector(gen)
            if focal is None:
                image = renderer.detect(image, drawn, gen)
            else:  # independent noise per channel, in channel order, at one drawn dose
                image = np.stack([renderer.detect(channel, drawn, gen) for channel in image])
            row.update(drawn)
        images[epoch] = image
        rows.append(row)
    shape = (k, config.size, config.size)
    labels = np.broadcast_to(hull, shape).copy()
    columns = None if cols is None else np.broadcast_to(cols, shape).copy()
    return Result(images=images, labels=labels, columns=columns, params=rows)
