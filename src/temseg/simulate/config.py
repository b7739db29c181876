"""Typed configuration of a simulated dataset (002's recipe, 003's focal series), validated first.

A YAML file maps one to one onto :class:`SimulateConfig` (nested mappings for
``structure``, ``imaging``, ``detector`` and ``labels``); every problem raises
:class:`~temseg.errors.ConfigError` naming the field. Units: lengths in Å,
sampling in Å per pixel, dose in e/Å², energy in eV, angles in degrees.

Ranges are ``[low, high]`` pairs with ``low <= high``; a value is drawn
uniformly per structure or per image (``low == high`` fixes it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from temseg.errors import ConfigError

#: FCC metals a particle may be made of (lattice constants from ASE's reference states)
ELEMENTS = ("Au", "Ag", "Pt", "Pd", "Cu", "Ni", "Al", "Ir", "Rh")
SUPPORTS = ("ceo2", "carbon", "none")


def check_range(name: str, value, *, low: float | None = None, high: float | None = None,
                strict_low: bool = False) -> tuple[float, float]:
    """Validate a ``(low, high)`` range; raise :class:`ConfigError` naming ``name``."""
    if value is None or len(value) != 2:
        raise ConfigError(f"{name}: expected a range [low, high], got {value!r}")
    lo, hi = (float(v) for v in value)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(f"{name}: range values must be finite, got {value!r}")
    if lo > hi:
        raise ConfigError(f"{name}: reversed range [{lo:g}, {hi:g}] (low must be <= high)")
    if low is not None and (lo < low or (strict_low and lo <= low)):
        op = ">" if strict_low else ">="
        raise ConfigError(f"{name}: values must be {op} {low:g}, got [{lo:g}, {hi:g}]")
    if high is not None and hi > high:
        raise ConfigError(f"{name}: values must be <= {high:g}, got [{lo:g}, {hi:g}]")
    return lo, hi


def _check_offsets(value) -> list[float]:
    """Validate ``focal_series``: a list of >= 2 distinct finite defocus offsets in Å."""
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise ConfigError(f"focal_series: expected a list of at least two defocus offsets in Å, "
                          f"got {value!r}")
    try:
        offsets = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ConfigError(f"focal_series: defocus offsets must be numbers, got {value!r}") from None
    if not all(math.isfinite(v) for v in offsets):
        raise ConfigError(f"focal_series: defocus offsets must be finite, got {value!r}")
    if len(set(offsets)) != len(offsets):
        raise ConfigError(f"focal_series: defocus offsets must be distinct, got {value!r}")
    return offsets


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name}: must be a positive number, got {value!r}")


STRUCTURE_KINDS = ("particle", "mos2", "graphene")


@dataclass
class StructureConfig:
    """The specimen: an FCC particle on a support (002 §2, fig. 1), a MoS2 monolayer (003),
    or graphene with surface contamination (004).

    ``kind: "particle"`` (default): a sphere of random ``radius`` cut from the
    bulk crystal with [110] along the beam, truncated at the (111) layer
    nearest to ``-truncation * radius`` below its centre, tilted off zone
    axis by up to ``max_tilt`` degrees, and attached on its (111) facet to a
    (111) CeO2 slab (or amorphous carbon, or nothing). The assembly is
    rotated about the beam by a random angle and shifted by up to
    ``max_offset`` Å. ``vacancies`` is ignored.

    ``kind: "mos2"``: a 2H-MoS2 monolayer (ASE ``mx2``, a = 3.160 Å, S-S
    thickness 3.17 Å, experiment's) with [001] along the beam, filling the periodic cell,
    rotated about the beam by a random angle (if ``rotate``) and shifted by
    up to ``max_offset`` Å in x and y. Every S atom is removed independently
    with a probability drawn per structure uniformly from ``vacancies``, so
    an S column holds two, one or no atoms. Only ``rotate``, ``max_offset``
    and ``vacancies`` apply; ``element``, ``radius``, ``truncation``,
    ``max_tilt``, ``support``, ``support_depth``, ``interface_gap`` and the
    graphene fields are ignored (still validated, so a typo fails either way);
    ``kind: "particle"`` ignores ``vacancies`` and the graphene fields.

    ``kind: "graphene"``: a graphene monolayer (a = 2.46 Å) with [001] along
    the beam, filling the cell (rotated and shifted as MoS2), under patches of
    amorphous hydrocarbon contamination (004's other class). The patches are
    where a smooth periodic random field (Gaussian correlation length drawn
    from ``patch_scale`` Å) exceeds the level that covers a fraction drawn
    from ``coverage`` of the cell; a patch is 3 Å thick at its edge and
    thickens inward to a maximum drawn from ``contamination_thickness`` Å
    (over half a standard deviation of the field). Its carbon atoms lie at
    random (0.06 atoms/Å³, 1.2 g/cm³ of carbon) on top of the sheet
    (hydrogen is left out).
    Only ``rotate``, ``max_offset``, ``coverage``,
    ``patch_scale`` and ``contamination_thickness`` apply.
    """

    kind: Literal["particle", "mos2", "graphene"] = "particle"
    element: str = "Au"
    radius: tuple[float, float] = (10.0, 20.0)
    truncation: tuple[float, float] = (0.0, 0.7)
    max_tilt: float = 3.0
    rotate: bool = True
    max_offset: float = 3.0
    support: Literal["ceo2", "carbon", "none"] = "ceo2"
    support_depth: tuple[float, float] = (20.0, 40.0)
    interface_gap: float = 2.5
    vacancies: tuple[float, float] = (0.0, 0.1)
    coverage: tuple[float, float] = (0.1, 0.6)
    patch_scale: tuple[float, float] = (8.0, 25.0)
    contamination_thickness: tuple[float, float] = (6.0, 20.0)

    def __post_init__(self) -> None:
        if self.kind not in STRUCTURE_KINDS:
            raise ConfigError(f"structure.kind: {self.kind!r} is not one of "
                              f"{', '.join(map(repr, STRUCTURE_KINDS))}")
        if self.element not in ELEMENTS:
            raise ConfigError(f"structure.element: unknown element {self.element!r} "
                              f"(FCC metals: {', '.join(ELEMENTS)})")
        self.radius = check_range("structure.radius", self.radius, low=0.0, strict_low=True)
        self.truncation = check_range("structure.truncation", self.truncation, low=0.0, high=1.0)
        if not 0 <= self.max_tilt <= 45:
            raise ConfigError(f"structure.max_tilt: must be in [0, 45] degrees, got {self.max_tilt}")
        if not self.max_offset >= 0:
            raise ConfigError(f"structure.max_offset: must be >= 0 Å, got {self.max_offset}")
        if self.support not in SUPPORTS:
            raise ConfigError(f"structure.support: unknown support {self.support!r} "
                              f"(one of {', '.join(SUPPORTS)})")
        self.support_depth = check_range("structure.support_depth", self.support_depth,
                                         low=0.0, strict_low=True)
        if not self.interface_gap >= 0:
            raise ConfigError(f"structure.interface_gap: must be >= 0 Å, got {self.interface_gap}")
        self.vacancies = check_range("structure.vacancies", self.vacancies, low=0.0, high=1.0)
        self.coverage = check_range("structure.coverage", self.coverage, low=0.0, high=1.0)
        self.patch_scale = check_range("structure.patch_scale", self.patch_scale, low=0.0,
                                       strict_low=True)
        self.contamination_thickness = check_range(
            "structure.contamination_thickness", self.contamination_thickness, low=3.0)


@dataclass
class ImagingConfig:
    """HRTEM imaging conditions drawn per image (002 table 1).

    ``defocus`` follows abTEM's sign (positive = underfocus), Å; ``cs`` is the
    spherical aberration in Å (12.45 µm = 124 500 Å); ``focal_spread`` is the
    1/e width of the focal spread in Å; ``blur`` the standard deviation of a
    Gaussian blur of the intensity in Å (vibration, partial spatial coherence).
    ``illumination`` (004: a monochromated beam lights the field unevenly): the
    relative amplitude of a smooth gain across the image, drawn per image with
    a random direction and share of a tilt and a radial fall-off
    (:func:`temseg.simulate.imaging.illumination_field`); ``[0, 0]`` (default)
    is even illumination and draws nothing, so older configs keep their bytes.
    """

    energy: float = 300e3
    defocus: tuple[float, float] = (-200.0, 200.0)
    cs: tuple[float, float] = (0.0, 124_500.0)
    focal_spread: tuple[float, float] = (5.0, 20.0)
    blur: tuple[float, float] = (0.1, 0.8)
    illumination: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        _positive("imaging.energy", self.energy)
        if not 1e4 <= self.energy <= 1.5e6:
            raise ConfigError(f"imaging.energy: {self.energy:g} eV is not a TEM's beam energy "
                              "(give it in eV: 80 kV is 80000, 300 kV is 300000)")
        self.defocus = check_range("imaging.defocus", self.defocus)
        self.cs = check_range("imaging.cs", self.cs)
        self.focal_spread = check_range("imaging.focal_spread", self.focal_spread, low=0.0)
        self.blur = check_range("imaging.blur", self.blur, low=0.0)
        self.illumination = check_range("imaging.illumination", self.illumination, low=0.0,
                                        high=0.9)


class _DefaultPreset(str):
    """The MTF preset a config that names none gets (told apart from one it names)."""


#: ``detector.mtf`` when the config gives none
DEFAULT_MTF = _DefaultPreset("MTF4")


@dataclass
class DetectorSettings:
    """Detector of 002 eq. 1–3, applied per image.

    ``mtf`` names a preset of 002 table 3 (``MTF1`` .. ``MTF5``); ``c0``,
    ``c3`` and ``N0`` ranges, when given, override the preset's. ``dose`` is a
    preset (``"high"``: 1e2–1e6, ``"low"``: 1e1–1e4 e/Å²) or a ``[low, high]``
    range in e/Å², drawn ``"log-uniform"`` or ``"exponential"`` (002).
    ``enabled: false`` stores noise-free intensities.

    ``noise_model`` is a JSON written by ``temseg fit-noise`` (the YAML key
    and ``--noise-model`` are one rule). It replaces the detector only: its
    ``c0``, ``c3`` (MTF) and ``N0`` (readout noise) ranges replace this
    config's ``mtf``, ``c0``, ``c3`` and ``N0``, which become ``None`` (they
    are still validated; :attr:`replaced` lists those the config gave, for
    :func:`detector_warnings`). The dose range stays this config's: the
    vacuum stack's doses say nothing about the doses to train for. ``dose:
    "fitted"`` (only with a noise model) draws from the dose range of the
    vacuum stack instead (a single-dose stack gives one dose). The file is
    read once, at validation; :meth:`noise_model_file` gives it with its
    SHA-256 and the pixel size it was fitted at.
    """

    enabled: bool = True
    mtf: str | None = DEFAULT_MTF
    c0: tuple[float, float] | None = None
    c3: tuple[float, float] | None = None
    N0: tuple[float, float] | None = None
    dose: str | tuple[float, float] = "high"
    dose_distribution: Literal["log-uniform", "exponential"] = "log-uniform"
    noise_model: str | None = None

    def __post_init__(self) -> None:
        from temseg.simulate.detector import DOSE_PRESETS, MTF_PRESETS

        if self.mtf is None and self.noise_model is None:
            raise ConfigError(f"detector.mtf: name an MTF preset ({', '.join(MTF_PRESETS)}) "
                              "unless noise_model gives the detector")
        if self.mtf is not None and self.mtf not in MTF_PRESETS:
            raise ConfigError(f"detector.mtf: unknown MTF preset {self.mtf!r} "
                              f"(one of {', '.join(MTF_PRESETS)})")
        if self.dose == "fitted" and self.noise_model is None:
            raise ConfigError("detector.dose: 'fitted' takes the dose range of a noise model; "
                              "give detector.noise_model (--noise-model) or a dose range")
        if isinstance(self.dose, str) and self.dose not in (*DOSE_PRESETS, "fitted"):
            raise ConfigError(f"detector.dose: unknown dose preset {self.dose!r} "
                              f"(one of {', '.join(DOSE_PRESETS)}, 'fitted' with a noise model, "
                              "or [low, high] in e/Å²)")
        if not isinstance(self.dose, str):
            self.dose = check_range("detector.dose", self.dose, low=0.0, strict_low=True)
        for name in ("c0", "c3", "N0"):
            if getattr(self, name) is not None:
                setattr(self, name, check_range(f"detector.{name}", getattr(self, name),
                                                low=0.0, strict_low=name != "N0"))
        #: the config's detector values a noise model replaced, e.g. ``"c0 [0.9, 1.0]"``
        self.replaced: list[str] = []
        if self.noise_model is not None:  # the noise model is the detector: one rule
            if self.mtf is not None and not isinstance(self.mtf, _DefaultPreset):
                self.replaced.append(f"mtf {self.mtf}")
            for name in ("c0", "c3", "N0"):
                if getattr(self, name) is not None:
                    self.replaced.append(f"{name} {[float(v) for v in getattr(self, name)]}")
            self.mtf = self.c0 = self.c3 = self.N0 = None
        elif self.mtf is not None:
            self.mtf = str(self.mtf)  # the default preset as a plain string
        self._noise_model = None
        self.ranges()  # the detector's own validation, named under detector.

    def noise_model_file(self):
        """The ``NoiseModel`` of ``noise_model`` (read once, then kept), or None."""
        from temseg.simulate.detector import read_noise_model

        if self.noise_model is None:
            return None
        cached = getattr(self, "_noise_model", None)
        if cached is None or cached.path != str(self.noise_model):
            cached = self._noise_model = read_noise_model(self.noise_model)
        return cached

    def ranges(self):
        """The :class:`temseg.simulate.detector.DetectorConfig` to draw per-image values from.

        A ``noise_model`` JSON (from ``temseg fit-noise``) gives ``c0``, ``c3``
        and ``N0`` (no preset, no overrides); the dose range is this config's
        (the model's with ``dose: "fitted"``).
        """
        from temseg.simulate.detector import DOSE_PRESETS, DetectorConfig

        try:
            model = self.noise_model_file()
            if model is None:
                overrides = {k: getattr(self, k) for k in ("c0", "c3", "N0")
                             if getattr(self, k) is not None}
                return DetectorConfig.from_preset(self.mtf, dose=self.dose,
                                                  dose_distribution=self.dose_distribution,
                                                  **overrides)
            fitted = model.detector
            if self.dose == "fitted":
                dose, scale = fitted.dose, fitted.dose_scale
            else:
                dose, scale = DOSE_PRESETS.get(self.dose, self.dose), None
            return DetectorConfig(c0=fitted.c0, c3=fitted.c3, N0=fitted.N0, dose=dose,
                                  dose_scale=scale, dose_distribution=self.dose_distribution)
        except ConfigError as exc:  # a file's own message already names the file
            from_file = self.noise_model is not None and str(exc).startswith(str(self.noise_model))
            raise ConfigError(str(exc) if from_file else f"detector.{exc}") from None


LABEL_KINDS = ("hull", "species", "contamination")
#: class names of the label kinds, index = class value
LABEL_CLASSES = {"species": ("background", "Mo", "S2", "S1")}


@dataclass
class LabelConfig:
    """Labels: the particle's projected convex hull (002 §2) or atomic species (003), and columns.

    ``kind: "hull"`` (default, particles only): 1 inside the projected convex
    hull of the particle's atoms; ``grow_hull`` grows it by half the nearest
    projected column spacing of the [110] zone (a·√(3/8)/2, 1.25 Å for Au).
    ``kind: "species"`` (MoS2 only): class indices 0 background, 1 Mo, 2 S2
    (two S atoms), 3 S1 (one S atom: a sulphur vacancy) in discs of
    ``column_radius`` Å around the projected columns; an S site whose two
    atoms are both gone is background; a pixel within ``column_radius`` of
    two columns takes the nearer one's class. ``grow_hull`` is ignored.
    ``kind: "contamination"`` (graphene only): 1 where a contamination patch
    covers the sheet, 0 on clean graphene (004's labels); ``columns`` must be
    false (the patches have no columns).
    ``columns`` also stores a mask with a disc of ``column_radius`` Å around
    every projected atom (the particle's, or every atom of the monolayer).
    """

    kind: Literal["hull", "species", "contamination"] = "hull"
    grow_hull: bool = False
    columns: bool = True
    column_radius: float = 0.7

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise ConfigError(f"labels.kind: {self.kind!r} is not one of "
                              f"{', '.join(map(repr, LABEL_KINDS))}")
        _positive("labels.column_radius", self.column_radius)


@dataclass
class SimulateConfig:
    """Everything that determines a simulated dataset; same config and seed → same bytes
    (but for the time-stamped run record).

    ``size`` pixels square at ``sampling`` Å/px (the field of view is
    ``size * sampling`` Å). Exit waves are computed at the finest sampling
    ≤ ``wave_sampling`` Å that fits the padded cell (002: 0.05–0.075 Å); the
    cell is the field of view plus ``padding`` Å on every side, so the
    periodic potential never wraps the support into the image. ``mode``
    ``"dataset"`` draws ``n_structures`` structures × ``images_per_structure``
    imaging conditions ("image epochs"); ``"dose_series"`` draws one structure
    and one imaging condition and records ``frames`` frames at log-spaced
    doses across the detector's dose range.

    ``focal_series`` (003): defocus offsets in Å (at least two distinct
    values, same sign convention as ``imaging.defocus``). Each image then
    has one channel per offset, rendered from the one exit wave at the drawn
    defocus plus the offset, with the detector's noise drawn independently
    per channel at the image's one drawn dose, c0, c3 and N0. ``None``
    (default): one channel. Only with ``mode: "dataset"``.
    """

    seed: int = 0
    mode: Literal["dataset", "dose_series"] = "dataset"
    n_structures: int = 10
    images_per_structure: int = 10
    frames: int = 20
    size: int = 256
    sampling: float = 0.3
    wave_sampling: float = 0.075
    padding: float = 6.0
    slice_thickness: float = 2.0
    focal_series: list[float] | None = None
    structure: StructureConfig = field(default_factory=StructureConfig)
    imaging: ImagingConfig = field(default_factory=ImagingConfig)
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    labels: LabelConfig = field(default_factory=LabelConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed: must be a non-negative integer, got {self.seed!r}")
        if self.mode not in ("dataset", "dose_series"):
            raise ConfigError(f"mode: {self.mode!r} is not 'dataset' or 'dose_series'")
        for name in ("n_structures", "images_per_structure", "frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {value!r}")
        if not isinstance(self.size, int) or self.size < 16:
            raise ConfigError(f"size: must be an integer >= 16 pixels, got {self.size!r}")
        for name in ("sampling", "wave_sampling", "slice_thickness"):
            _positive(name, getattr(self, name))
        if not self.padding >= 0:
            raise ConfigError(f"padding: must be >= 0 Å, got {self.padding}")
        if self.wave_sampling > 0.2:
            raise ConfigError(f"wave_sampling: {self.wave_sampling} Å is too coarse for a "
                              "multislice exit wave (use <= 0.2 Å; 002 uses 0.05-0.075 Å)")
        if self.sampling < self.wave_sampling:
            raise ConfigError(f"sampling: {self.sampling} Å/px is finer than the exit wave's "
                              f"wave_sampling ({self.wave_sampling} Å)")
        kind = self.structure.kind
        if self.labels.kind == "species" and kind != "mos2":
            raise ConfigError(f"labels.kind: 'species' labels need structure.kind 'mos2' "
                              f"(atomic species of MoS2 columns), got {kind!r}")
        if self.labels.kind == "hull" and kind == "mos2":
            raise ConfigError("labels.kind: 'hull' labels a particle's outline; a MoS2 "
                              "monolayer fills the image (use labels.kind 'species')")
        if (self.labels.kind == "contamination") != (kind == "graphene"):
            raise ConfigError(f"labels.kind: structure.kind 'graphene' goes with labels.kind "
                              f"'contamination' and only it (got structure.kind {kind!r}, "
                              f"labels.kind {self.labels.kind!r})")
        if kind == "graphene" and self.labels.columns:
            raise ConfigError("labels.columns: graphene's contamination has no atomic columns "
                              "to label (set labels.columns: false)")
        fov = self.size * self.sampling
        need = 2 * self.structure.radius[1] + 2 * self.structure.max_offset
        if self.structure.kind == "particle" and need > fov:
            raise ConfigError(
                f"structure.radius: a particle of up to {2 * self.structure.radius[1]:g} Å "
                f"(+ offsets {2 * self.structure.max_offset:g} Å) does not fit the field of "
                f"view of {fov:g} Å (size × sampling)")
        if self.mode == "dose_series" and not self.detector.enabled:
            raise ConfigError("mode: a dose series needs the detector (detector.enabled: true)")
        if self.detector.noise_model is not None and not self.detector.enabled:
            raise ConfigError("detector.noise_model: given while detector.enabled is false")
        if self.focal_series is not None:
            self.focal_series = _check_offsets(self.focal_series)
            if self.mode == "dose_series":
                raise ConfigError("focal_series: not supported in mode 'dose_series' (a dose "
                                  "series is one image per dose); use mode 'dataset'")

    @property
    def channels(self) -> int:
        """Channels per image: the number of focal-series offsets, else 1."""
        return 1 if self.focal_series is None else len(self.focal_series)

    @property
    def field_of_view(self) -> float:
        """Side of the output image in Å."""
        return self.size * self.sampling

    @property
    def n_images(self) -> int:
        """Number of images the dataset holds."""
        if self.mode == "dose_series":
            return self.frames
        return self.n_structures * self.images_per_structure


#: relative difference of the simulation's and the noise fit's pixel size that is warned about
SAMPLING_TOLERANCE = 0.05


def detector_warnings(config: SimulateConfig) -> list[str]:
    """One-line messages about a detector that is valid but likely not what was meant.

    A dose above :data:`~temseg.simulate.detector.DOSE_CEILING` e/Å² (e/nm²
    typed as e/Å²?); the config's detector values a noise model replaced
    (``DetectorSettings.replaced``: ``mtf``, ``c0``, ``c3``, ``N0``); a
    noise model fitted at a pixel size more than :data:`SAMPLING_TOLERANCE` away from ``config.sampling`` (its ``c0``, in
    q/q_Nyquist, and ``N0``, in e/px, hold per camera pixel, so they carry
    over only if a simulated pixel is one camera pixel; they are not
    rescaled), or one that does not say its pixel size; ``dose: "fitted"``
    from a single-dose vacuum stack (every image gets that dose).
    Empty when the detector is off.
    """
    from temseg.simulate.detector import DOSE_CEILING

    det = config.detector
    if not det.enabled:
        return []
    messages = []
    lo, hi = det.ranges().dose
    if hi > DOSE_CEILING:
        messages.append(f"detector.dose: up to {hi:.3g} e/Å² is above the {DOSE_CEILING:.0e} e/Å² "
                        "top of the 'high' preset; is it e/nm²? (1 e/Å² = 100 e/nm²)")
    model = det.noise_model_file()
    if model is None:
        return messages
    if det.replaced:
        messages.append(f"detector.noise_model: {model.path} replaces the config's detector "
                        f"{', '.join(det.replaced)} (its c0, c3 and N0 are used)")
    if model.sampling is None:
        messages.append(f"detector.noise_model: {model.path} does not say the pixel size it was "
                        f"fitted at; its c0 and N0 are per camera pixel, check they fit "
                        f"{config.sampling:g} Å/px")
    elif abs(config.sampling / model.sampling - 1.0) > SAMPLING_TOLERANCE:
        messages.append(f"detector.noise_model: fitted at {model.sampling:g} Å/px, simulating at "
                        f"{config.sampling:g} Å/px; its c0 (q/q_Nyquist) and N0 (e/px) are per "
                        "camera pixel and hold only if one simulated pixel is one camera pixel "
                        "(not rescaled)")
    if det.dose == "fitted" and lo == hi:
        messages.append(f"detector.dose: 'fitted' gives every image the vacuum stack's one dose, "
                        f"{lo:.4g} e/Å²")
    return messages
