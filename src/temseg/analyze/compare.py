"""Simulated training images beside a micrograph stack, in electrons per pixel.

Before training on images simulated to match a detector (``simulate
--noise-model``), a microscopist wants to see whether they look like the
micrographs: the same brightness (gain, dose), the same blur (MTF) and the
same noise. :func:`compare_images` brings a few simulated images and a few
frames of a stack to one pixel size (the coarser of the two: the finer side is
resampled in Fourier space, electrons kept) and one field of view (the centre
of each, as large as both allow), divides the stack's counts by the gain, and
measures both sides alike: the radially averaged power spectrum
(:func:`temseg.analyze.psd.radial_power_spectrum`) and the per-pixel mean,
standard deviation and high-frequency noise, either of the stack's vacuum
region and of each simulated image's least-structured window of the same size,
or of the whole field shown. :func:`compare_files` reads a simulated zarr and a
stack and picks the simulated images whose dose lies nearest the stack's;
:func:`temseg.analyze.compare_plot.plot_comparison` draws the two rows of images and the
spectra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from temseg.analyze.dose import plain_dose as short_number  # (any number, as doses are)
from temseg.analyze.psd import radial_power_spectrum
from temseg.errors import ConfigError, InputError

__all__ = ["Row", "Comparison", "fourier_resample", "least_structured_window",
           "compare_images", "compare_files"]

#: pixel sizes within this relative difference are taken as equal (nothing resampled)
SAMPLING_TOLERANCE = 0.01
#: a ratio of the two sides' mean (or noise²/mean) beyond this factor is warned
SCALE_FACTOR = 2.0
#: the high-frequency band whose mean power gives the "noise" (q/q_Nyquist)
NOISE_BAND = (0.5, 1.0)
#: smallest side, in pixels of the common pixel size, of a region to measure
MIN_REGION_PX = 16
#: at most this many images per row
MAX_IMAGES = 12


def fourier_resample(image: np.ndarray, *, shape: tuple[int, int]) -> np.ndarray:
    """Resample an image to ``shape`` in Fourier space, keeping its electrons.

    Parameters
    ----------
    image : (H, W) array_like
        Electrons per pixel (or counts).
    shape : (h, w)
        The new size; smaller than ``(H, W)`` for a coarser pixel.

    Returns
    -------
    (h, w) ndarray of float64
        Electrons per new pixel: the values scaled by ``(H·W)/(h·w)``, so that
        the sum is kept (to the interpolation's accuracy; Poisson noise stays
        Poisson, as in binning). The image is mirrored to twice its size first,
        so that its edges do not ring; new pixel ``i`` samples old position
        ``i·H/h`` (a shift of under half a new pixel from the binned centre).

    Examples
    --------
    >>> out = fourier_resample(np.full((8, 8), 2.0), shape=(4, 4))
    >>> out.shape, round(float(out.mean()), 6)
    ((4, 4), 8.0)
    """
    from scipy.signal import resample

    array = np.asarray(image, dtype=np.float64)
    h, w = (int(s) for s in shape)
    if array.ndim != 2 or h < 1 or w < 1:
        raise InputError(f"image: cannot resample shape {array.shape} to {shape}")
    H, W = array.shape
    if (h, w) == (H, W):
        return array.copy()
    mirrored = np.pad(array, ((0, H), (0, W)), mode="symmetric")  # periodic and continuous
    out = resample(resample(mirrored, 2 * h, axis=0), 2 * w, axis=1)[:h, :w]
    return out * (H * W) / (h * w)


def least_structured_window(image: np.ndarray, shape: tuple[int, int], *,
                            sigma_px: float = 2.0) -> tuple[slice, slice]:
    """The window of ``shape`` where the smoothed image varies least, relative to its mean.

    Parameters
    ----------
    image : (H, W) array_like
        Electrons per pixel.
    shape : (h, w)
        Window size in pixels, at most the image's.
    sigma_px : float
        Gaussian smoothing (pixels) against shot noise before the variance is taken.

    Returns
    -------
    (slice, slice)
        Rows and columns of the window whose smoothed variance over squared mean is
        least (vacuum, or the thinnest part of the specimen); the first one on a tie.

    Examples
    --------
    >>> image = np.ones((32, 32)); image[:, :16] += np.sin(np.arange(16))  # fringes left
    >>> least_structured_window(image, (8, 8))
    (slice(0, 8, None), slice(24, 32, None))
    """
    from scipy.ndimage import gaussian_filter

    array = np.asarray(image, dtype=np.float64)
    h, w = (int(s) for s in shape)
    if array.ndim != 2 or not (1 <= h <= array.shape[0] and 1 <= w <= array.shape[1]):
        raise InputError(f"window: {shape} does not fit in an image of shape {array.shape}")
    smooth = gaussian_filter(array, sigma_px, mode="reflect") if sigma_px > 0 else array

    def window_sums(values):  # sums over every h×w window, from an integral image
        s = np.pad(values.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        return s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w]

    n = h * w
    mean = window_sums(smooth) / n
    var = np.maximum(window_sums(smooth**2) / n - mean**2, 0.0)
    score = np.where(mean > 0, var / np.maximum(mean, 1e-300) ** 2, np.inf)
    y, x = np.unravel_index(int(np.argmin(score)), score.shape)
    return slice(int(y), int(y) + h), slice(int(x), int(x) + w)


@dataclass
class Row:
    """One side of a comparison (simulated images or stack frames), measured.

    ``images`` are the crops shown (e/px at the common pixel size), ``boxes`` the
    region each was measured in, ``(y0, x0, h, w)`` in the crop's pixels (clipped
    to the crop; None where it lies wholly outside), ``region`` says which region that is; ``q_per_nm``
    and ``psd`` the mean power spectrum over the images (``psd`` in per-pixel
    variance units, (e/px)²); ``means``, ``stds`` and ``noises`` per image in
    e/px (``noise``: the square root of the mean power at q/q_Nyquist in
    :data:`NOISE_BAND`, where specimen contrast is weak and the MTF shows).
    """

    images: list[np.ndarray]
    boxes: list[tuple[float, float, float, float] | None]
    region: str
    q_per_nm: np.ndarray
    psd: np.ndarray
    means: np.ndarray
    stds: np.ndarray
    noises: np.ndarray
    titles: list[str] = field(default_factory=list)

    def numbers(self) -> dict[str, float]:
        """Mean over the images of the per-pixel mean, std, noise (e/px) and noise²/mean."""
        mean = float(np.mean(self.means))
        noise = float(np.mean(self.noises))
        return {"mean_e_per_px": mean, "std_e_per_px": float(np.mean(self.stds)),
                "noise_e_per_px": noise,
                "noise2_over_mean": noise**2 / mean if mean > 0 else math.nan}


@dataclass
class Comparison:
    """What :func:`compare_images` measured (and :func:`compare_files` read).

    ``sampling`` is the common pixel size (Å/px) of everything shown and
    measured, ``fov_A`` the field of view (height, width) in Å; ``resampled``
    names the side brought to it (``"simulated"``, ``"stack"`` or None);
    ``notes`` are lines worth saying (the resampling, the images picked);
    ``sim_dose_range`` the simulated dose range (e/Å²) the warnings refer to and
    ``stack_dose`` the stack's dose estimated from its counts (e/Å²; by default
    its mean e/px over the pixel area).
    """

    simulated: Row
    stack: Row
    sampling: float
    sim_sampling: float
    stack_sampling: float
    fov_A: tuple[float, float]
    counts_per_electron: float
    resampled: str | None = None
    notes: list[str] = field(default_factory=list)
    sim_dose_range: tuple[float, float] | None = None
    stack_dose: float | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def ratios(self) -> dict[str, float]:
        """Simulated over stack, number by number (:meth:`Row.numbers`)."""
        sim, stack = self.simulated.numbers(), self.stack.numbers()
        return {k: sim[k] / stack[k] if stack[k] > 0 else math.nan for k in sim}

    def warnings(self) -> list[str]:
        """A line for each disagreement beyond :data:`SCALE_FACTOR`: the intensity scale
        (mean e/px) and the noise relative to the level (noise²/mean, the gain's mark)."""
        from temseg.analyze.dose import plain_dose

        out = []
        sim, stack, ratio = self.simulated.numbers(), self.stack.numbers(), self.ratios()
        r = ratio["mean_e_per_px"]
        if _apart(r):
            dose = (self.stack_dose if self.stack_dose is not None
                    else stack["mean_e_per_px"] / self.sampling**2)
            hints = []
            if self.sim_dose_range is not None:
                lo, hi = self.sim_dose_range
                where = ("outside" if not lo <= dose <= hi else "inside")
                hints.append(f"the stack's {plain_dose(dose)} e/Å² lies {where} the simulated "
                             f"dose range {plain_dose(lo)}–{plain_dose(hi)} e/Å²")
            if r < 1:
                hints.append("counts not divided by the gain (--counts-per-electron)?")
            out.append(f"intensity scales differ {_apart(r)}: simulated "
                       f"{short_number(sim['mean_e_per_px'])} e/px, stack {short_number(stack['mean_e_per_px'])} "
                       f"e/px" + (f" ({'; '.join(hints)})" if hints else ""))
        r = ratio["noise2_over_mean"]
        if _apart(r):
            out.append(f"noise relative to the level differs {_apart(r)}: noise²/mean "
                       f"{short_number(sim['noise2_over_mean'])} simulated, "
                       f"{short_number(stack['noise2_over_mean'])} stack: the gain "
                       f"({self.counts_per_electron:g} counts/e) or the detector model (MTF, "
                       "readout noise) off?")
        return out

    def summary(self) -> str:
        """One line: mean and noise of each side and their ratios."""
        sim, stack, ratio = self.simulated.numbers(), self.stack.numbers(), self.ratios()
        return (f"simulated {short_number(sim['mean_e_per_px'])} e/px (noise "
                f"{short_number(sim['noise_e_per_px'])}), stack {short_number(stack['mean_e_per_px'])} e/px "
                f"(noise {short_number(stack['noise_e_per_px'])}) at {self.sampling:.4g} Å/px: "
                f"simulated/stack {short_number(ratio['mean_e_per_px'])} (mean), "
                f"{short_number(ratio['noise_e_per_px'])} (noise)")

    def to_dict(self) -> dict:
        """Plain, JSON-ready numbers (no images); non-finite numbers become None."""
        def row(r: Row) -> dict:
            return {**r.numbers(), "region": r.region, "titles": r.titles,
                    "per_image": {"mean_e_per_px": r.means.tolist(),
                                  "std_e_per_px": r.stds.tolist(),
                                  "noise_e_per_px": r.noises.tolist()},
                    "spectrum": {"q_per_nm": r.q_per_nm.tolist(), "psd": r.psd.tolist()}}

        data = {"kind": "compare", "sources": self.sources, "sampling_A_per_px": self.sampling,
                "sim_sampling_A_per_px": self.sim_sampling,
                "stack_sampling_A_per_px": self.stack_sampling,
                "fov_nm": [v / 10 for v in self.fov_A], "resampled": self.resampled,
                "counts_per_electron": self.counts_per_electron,
                "sim_dose_range_e_per_A2": (list(self.sim_dose_range)
                                            if self.sim_dose_range else None),
                "stack_dose_e_per_A2": self.stack_dose,
                "noise_band_q_over_nyquist": list(NOISE_BAND),
                "psd_units": "(e/px)^2, per-pixel variance units",
                "simulated": row(self.simulated), "stack": row(self.stack),
                "ratio_simulated_over_stack": self.ratios(),
                "notes": self.notes, "warnings": self.warnings()}
        from temseg.analyze.noise import finite_or_none

        return finite_or_none(data)


def _apart(ratio: float) -> str:
    """``"30×"`` where ``ratio`` lies beyond :data:`SCALE_FACTOR` either way, else ``""``
    (also for NaN: a side without a level)."""
    if not ratio == ratio or 1 / SCALE_FACTOR <= ratio <= SCALE_FACTOR:
        return ""
    return "∞×" if ratio <= 0 or math.isinf(ratio) else f"{short_number(max(ratio, 1 / ratio))}×"


def _as_images(images, what: str) -> list[np.ndarray]:
    arrays = [np.asarray(a, dtype=np.float64) for a in images]
    if not arrays:
        raise InputError(f"{what}: no images")
    if any(a.ndim != 2 for a in arrays) or len({a.shape for a in arrays}) != 1:
        raise InputError(f"{what}: expected 2-D images of one shape, got "
                         f"{sorted({a.shape for a in arrays})}")
    if not all(np.isfinite(a).all() for a in arrays):
        raise InputError(f"{what}: contains NaN or infinite values")
    return arrays


def _to_pixel(image: np.ndarray, own: float, common: float) -> np.ndarray:
    """``image`` (e/px at ``own`` Å/px) at ``common`` Å/px (no change where they are equal)."""
    if own == common:
        return image
    shape = tuple(max(1, round(s * own / common)) for s in image.shape)
    return fourier_resample(image, shape=shape)


def _within(box: tuple[float, float, float, float], shape: tuple[int, int]):
    """``box`` (y, x, height, width) clipped to a field of ``shape``; None when nothing of it
    lies inside (a vacuum region away from the centre shown)."""
    y, x, h, w = box
    y0, x0 = max(y, 0.0), max(x, 0.0)
    y1, x1 = min(y + h, float(shape[0])), min(x + w, float(shape[1]))
    return (y0, x0, y1 - y0, x1 - x0) if y1 > y0 and x1 > x0 else None


def _measure(regions: list[np.ndarray], sampling: float):
    """Mean spectrum (q in 1/nm) and per-region mean, std and high-q noise (e/px)."""
    spectra = [radial_power_spectrum(r, window="hann") for r in regions]
    q = spectra[0].q_norm
    psd = np.mean([s.psd for s in spectra], axis=0)
    band = (q >= NOISE_BAND[0]) & (q <= NOISE_BAND[1])
    noises = np.array([math.sqrt(float(np.mean(s.psd[band]))) for s in spectra])
    return (q * 5.0 / sampling, psd, np.array([r.mean() for r in regions]),
            np.array([r.std() for r in regions]), noises)


def compare_images(simulated: Sequence[np.ndarray], frames: Sequence[np.ndarray], *,
                   sim_sampling: float, stack_sampling: float,
                   counts_per_electron: float = 1.0,
                   vacuum: str | tuple | None = None) -> Comparison:
    """Bring simulated images and stack frames to one pixel and field of view, and measure them.

    Parameters
    ----------
    simulated : sequence of (H, W) ndarray
        Simulated images in electrons per pixel, all of one shape.
    frames : sequence of (H', W') ndarray
        Stack frames in counts, all of one shape.
    sim_sampling : float
        Pixel size of the simulated images, Å/px.
    stack_sampling : float
        Pixel size of the frames, Å/px.
    counts_per_electron : float
        Detector gain: frames are divided by it to give e/px.
    vacuum : str or (y0, y1, x0, x1) or (slice, slice), optional
        Vacuum region of the frames, ``"Y0:Y1,X0:X1"`` in the frames' pixels.
        Given, the stack is measured there and each simulated image in its
        least-structured window of the same size (:func:`least_structured_window`);
        otherwise both are measured over the whole field shown.

    Returns
    -------
    Comparison
        The finer side is resampled to the coarser pixel size (Fourier, electrons
        kept: e/px then means electrons per coarser pixel), unless the two differ
        by under :data:`SAMPLING_TOLERANCE`; the field shown is the centre of
        each, as large as both allow.
    """
    from temseg.analyze.noise import as_roi
    from temseg.io.micrograph import check_sampling

    sims = _as_images(simulated, "simulated")
    stack = _as_images(frames, "frames")
    s_sim = check_sampling(sim_sampling, name="sim_sampling")
    s_st = check_sampling(stack_sampling, name="stack_sampling")
    if s_sim is None or s_st is None:
        raise ConfigError("sampling: both pixel sizes are needed (Å/px)")
    if not (math.isfinite(counts_per_electron) and counts_per_electron > 0):
        raise ConfigError(f"counts_per_electron: must be > 0, got {counts_per_electron}")
    notes = []
    if abs(s_sim / s_st - 1) <= SAMPLING_TOLERANCE:  # taken as equal
        common, resampled, s_sim_eff = s_st, None, s_st
    else:
        common, s_sim_eff = max(s_sim, s_st), s_sim
        resampled = "simulated" if s_sim < s_st else "stack"
        notes.append(f"{resampled} resampled from {min(s_sim, s_st):.4g} to {common:.4g} Å/px "
                     "(Fourier, electrons kept: e/px per the coarser pixel)")
    sims = [_to_pixel(a, s_sim_eff, common) for a in sims]  # small: whole images
    stack = [a / counts_per_electron for a in stack]
    fov = (min(sims[0].shape[0] * common, stack[0].shape[0] * s_st),
           min(sims[0].shape[1] * common, stack[0].shape[1] * s_st))
    n = tuple(min(int(math.floor(f / common + 1e-6)), s) for f, s in zip(fov, sims[0].shape))
    if min(n) < MIN_REGION_PX:
        raise InputError(f"the common field of view is {n[0]}×{n[1]} px at {common:.4g} Å/px; "
                         f"at least {MIN_REGION_PX}×{MIN_REGION_PX} are needed")
    # the centre of each side; the stack cut in its own pixels, then resampled
    sim_off = tuple((s - m) // 2 for s, m in zip(sims[0].shape, n))
    m = tuple(min(round(k * common / s_st), s) for k, s in zip(n, stack[0].shape))
    st_off = tuple((s - k) // 2 for s, k in zip(stack[0].shape, m))
    sim_crops = [a[sim_off[0]:sim_off[0] + n[0], sim_off[1]:sim_off[1] + n[1]] for a in sims]
    st_crops = [fourier_resample(a[st_off[0]:st_off[0] + m[0], st_off[1]:st_off[1] + m[1]],
                                 shape=n) for a in stack]
    if vacuum is None:
        sim_regions, st_regions = sim_crops, st_crops
        sim_where = st_where = f"whole field shown ({n[0]}×{n[1]} px)"
        sim_boxes, st_boxes = [None] * len(sims), [None] * len(stack)
    else:
        ys, xs = as_roi(vacuum)
        H, W = stack[0].shape
        if ys.stop > H or xs.stop > W:
            raise InputError(f"vacuum: region {ys.start}:{ys.stop},{xs.start}:{xs.stop} lies "
                             f"outside the {H}×{W} frame")
        vac = [_to_pixel(a[ys, xs], s_st, common) for a in stack]
        vh, vw = vac[0].shape
        if min(vh, vw) < MIN_REGION_PX:
            raise InputError(f"vacuum: region {ys.stop - ys.start}×{xs.stop - xs.start} px is "
                             f"{vh}×{vw} px at {common:.4g} Å/px, too small for a spectrum "
                             f"(at least {MIN_REGION_PX}×{MIN_REGION_PX})")
        st_regions, scale = vac, s_st / common
        box = _within(((ys.start - st_off[0]) * scale, (xs.start - st_off[1]) * scale,
                       (ys.stop - ys.start) * scale, (xs.stop - xs.start) * scale), n)
        st_boxes = [box] * len(stack)
        st_where = f"vacuum {ys.start}:{ys.stop},{xs.start}:{xs.stop}" + (
            "" if box is not None else ", outside the field shown")
        wh, ww = min(vh, sims[0].shape[0]), min(vw, sims[0].shape[1])
        windows = [least_structured_window(a, (wh, ww)) for a in sims]
        sim_regions = [a[wy, wx] for a, (wy, wx) in zip(sims, windows)]
        sim_boxes = [_within((float(wy.start - sim_off[0]), float(wx.start - sim_off[1]),
                              float(wh), float(ww)), n) for wy, wx in windows]
        sim_where = (f"least-structured {wh}×{ww} px" if (wh, ww) != sims[0].shape
                     else f"whole image ({wh}×{ww} px)")
        if (wh, ww) != (vh, vw):
            notes.append(f"the simulated images ({sims[0].shape[0]}×{sims[0].shape[1]} px) are "
                         f"smaller than the vacuum region ({vh}×{vw} px): measured over "
                         f"{wh}×{ww} px")
    rows = []
    for crops, regions, boxes, where in ((sim_crops, sim_regions, sim_boxes, sim_where),
                                         (st_crops, st_regions, st_boxes, st_where)):
        q, psd, means, stds, noises = _measure(regions, common)
        rows.append(Row(images=crops, boxes=list(boxes), region=where,
                        q_per_nm=q, psd=psd, means=means, stds=stds, noises=noises))
    return Comparison(simulated=rows[0], stack=rows[1], sampling=common, sim_sampling=s_sim,
                      stack_sampling=s_st, fov_A=(n[0] * common, n[1] * common),
                      counts_per_electron=counts_per_electron,
                      resampled=resampled, notes=notes)


def _open_simulated(path: Path):
    """The images array, pixel size, focal channel (or None) and dose range of a simulated
    zarr in electrons; an error naming the problem otherwise."""
    from temseg.simulate.dataset import open_dataset

    root = open_dataset(path)
    attrs = dict(root.attrs)
    sampling = attrs.get("sampling")
    if not isinstance(sampling, (int, float)) or not sampling > 0:
        raise InputError(f"{path}: no pixel size (attr 'sampling'): not a temseg simulated "
                         "dataset")
    if "detector" not in attrs and "electron" not in str(attrs.get("units", "")):
        raise InputError(f"{path}: simulated without a detector (images are intensities, "
                         "vacuum = 1, not electrons): simulate with the detector to compare")
    images = root["images"]
    channel = None
    if len(images.shape) == 4:
        offsets = list(attrs.get("defocus_offsets") or range(images.shape[1]))
        channel = int(np.argmin(np.abs(np.asarray(offsets, dtype=np.float64))))
    dose = (attrs.get("detector") or {}).get("dose")
    dose_range = (float(dose[0]), float(dose[1])) if dose and len(dose) == 2 else None
    return root, images, float(sampling), channel, dose_range


def _simulated_doses(root, images, sampling: float, channel: int | None) -> np.ndarray:
    """Each simulated image's dose, e/Å²: ``parameters/dose``, else its mean / pixel area."""
    n = images.shape[0]
    try:
        dose = np.asarray(root["parameters"]["dose"][:], dtype=np.float64)
        if dose.shape == (n,):
            return dose
    except KeyError:
        pass
    means = []
    for start in range(0, n, 64):
        block = np.asarray(images[start:start + 64])
        block = block[:, channel] if channel is not None else block
        means.append(block.mean(axis=(1, 2)))
    return np.concatenate(means) / sampling**2


def compare_files(simulated: str | Path, stack: str | Path, *, n: int = 6,
                  vacuum: str | None = None, counts_per_electron: float = 1.0,
                  sampling: float | None = None) -> Comparison:
    """Read a simulated zarr and a stack, pick ``n`` of each and :func:`compare_images` them.

    Parameters
    ----------
    simulated : str or Path
        A zarr dataset from ``temseg simulate`` with the detector on (images in e/px).
    stack : str or Path
        An image or stack in counts (any format :func:`temseg.io.read_image` reads).
    n : int
        Images per row (1 to :data:`MAX_IMAGES`): frames evenly spaced through the
        stack, and the simulated images whose dose lies nearest, in log, to the
        stack's (its mean counts, of the vacuum region where given, over the gain
        and the pixel area), shown from low to high dose.
    vacuum : str, optional
        ``"Y0:Y1,X0:X1"``, the stack's vacuum region in its pixels.
    counts_per_electron : float
        The stack's gain.
    sampling : float, optional
        The stack's pixel size in Å/px, instead of the file's.
    """
    from temseg.analyze.dose import plain_dose
    from temseg.analyze.noise import parse_roi
    from temseg.io import read_image

    if not 1 <= n <= MAX_IMAGES:
        raise ConfigError(f"n: 1 to {MAX_IMAGES} images per row, got {n}")
    if not (math.isfinite(counts_per_electron) and counts_per_electron > 0):
        raise ConfigError(f"counts_per_electron: must be > 0, got {counts_per_electron}")
    roi = parse_roi(vacuum) if vacuum is not None else None
    simulated, stack = Path(simulated), Path(stack)
    root, images, s_sim, channel, dose_range = _open_simulated(simulated)
    micrograph = read_image(stack, sampling=sampling)
    if micrograph.sampling is None:
        raise ConfigError(f"{stack}: no pixel size in the file; give it (--sampling in Å/px "
                          "or --pixel-size-nm)")
    H, W = micrograph.frame_shape
    if roi is not None and (roi[0].stop > H or roi[1].stop > W):
        raise InputError(f"vacuum: region {vacuum} lies outside the {H}×{W} frame")
    count = micrograph.n_frames
    picked = np.unique(np.round(np.linspace(0, count - 1, min(n, count))).astype(int)).tolist()
    frames = [micrograph.frame(i) for i in picked]
    level = float(np.median([(f[roi] if roi is not None else f).mean() for f in frames]))
    level /= counts_per_electron * micrograph.sampling**2
    doses = _simulated_doses(root, images, s_sim, channel)
    distance = (np.abs(np.log(np.maximum(doses, 1e-300) / level)) if level > 0
                else np.abs(doses - level))
    chosen = sorted(np.argsort(distance, kind="stable")[:n].tolist(), key=lambda i: doses[i])
    sims = [np.asarray(images[i] if channel is None else images[i, channel]) for i in chosen]
    result = compare_images(sims, frames, sim_sampling=s_sim,
                            stack_sampling=micrograph.sampling,
                            counts_per_electron=counts_per_electron, vacuum=roi)
    result.simulated.titles = [f"#{i}: {plain_dose(doses[i])} e/Å²" for i in chosen]
    result.stack.titles = [f"frame {i}" for i in picked]
    result.sim_dose_range, result.stack_dose = dose_range, level
    result.sources = {"simulated": str(simulated), "stack": str(stack)}
    measured = "vacuum region's" if roi is not None else "frames'"
    result.notes.insert(0, f"{len(chosen)} of {images.shape[0]} simulated images, those nearest "
                           f"the stack's {plain_dose(level)} e/Å² (the {measured} mean counts / "
                           f"{counts_per_electron:g} counts/e / pixel area); frames "
                           f"{', '.join(map(str, picked))} of {count}")
    if channel is not None:
        names = root.attrs.get("channels") or []
        name = names[channel] if channel < len(names) else f"channel {channel}"
        result.notes.append(f"focal series: channel {name} shown")
    return result
