"""TIFF reading through tifffile (private): pixel size from OME, ImageJ, FEI or resolution tags.

Multi-frame TIFFs become dask arrays over tifffile's zarr store, one chunk
per frame, so a stack is never read whole. The open file is closed when the
last array that needs it is garbage collected.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np

from temseg.errors import InputError
from temseg.io._meta import (flatten_metadata, not_square, not_square_warning, to_angstrom,
                             to_seconds, unit_ignored_note)

#: TIFF and ImageJ pixel sizes from this (Å) up are print resolutions (72 dpi...), not calibrations
_PRINT_RESOLUTION_A = 1e4

_TAGS = ("Software", "DateTime", "Artist", "Make", "Model", "HostComputer")

#: what the samples of a pixel are, by their number
_SAMPLES = {2: "grey+alpha", 3: "RGB", 4: "RGBA"}

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class _Drop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


_DROP = _Drop()
_quiet_lock = threading.Lock()
_quiet_depth = 0


@contextlib.contextmanager
def quiet_tifffile():
    """Silence tifffile's logger (``invalid page offset``...) while we read.

    Our own error or warning names the file; tifffile's log lines would only
    repeat it in another form. Nested and concurrent uses are counted.
    """
    global _quiet_depth
    logger = logging.getLogger("tifffile")
    with _quiet_lock:
        if _quiet_depth == 0:
            logger.addFilter(_DROP)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                logger.removeFilter(_DROP)


def check_float32_range(array: np.ndarray, path, what: str = "image") -> None:
    """:class:`InputError` when finite values lie beyond float32's range (they would become inf)."""
    array = np.asarray(array)
    if array.dtype.kind != "f" or array.dtype.itemsize <= 4 or not array.size:
        return
    with np.errstate(invalid="ignore"):
        beyond = np.isfinite(array) & (np.abs(array) > _FLOAT32_MAX)
    if beyond.any():
        peak = float(np.max(np.abs(array[beyond])))
        raise InputError(f"{path}: {what} has {int(np.count_nonzero(beyond))} value(s) beyond "
                         f"the float32 range (up to {peak:.3g}; float32 ends at 3.4e38); "
                         "rescale the data")


def grey_warning(array, axis: int, path, *, tiff: bool) -> str | None:
    """The warning for folding ``array``'s samples axis into grey; None when nothing is lost.

    Nothing is lost for grey stored as RGB(A) or grey+alpha with a constant
    alpha (checked for in-memory arrays only; lazy stacks always warn).
    """
    n = int(array.shape[axis])
    if n == 1:
        return None
    if isinstance(array, np.ndarray):
        samples = np.moveaxis(array, axis, -1)
        colour = samples[..., :3] if n >= 3 else samples[..., :1]
        alpha = samples[..., -1] if n in (2, 4) else None
        if ((colour == colour[..., :1]).all()
                and (alpha is None or (alpha == alpha.flat[0]).all())):
            return None
    message = f"{path}: {n} samples/pixel ({_SAMPLES.get(n, n)}) converted to grey"
    if n in (2, 4):
        message += ", the last dropped as alpha"
    if tiff:
        message += "; if these are frames, save them with photometric='minisblack'"
    return message


def _open(path: Path):
    import tifffile

    try:
        with quiet_tifffile():
            return tifffile.TiffFile(path)
    except Exception as exc:  # tifffile raises TiffFileError, ValueError, struct.error...
        raise InputError(f"{path}: not a readable TIFF file ({exc})") from None


def _rational(tag) -> float | None:
    """Pixels per unit from an X/YResolution tag value (a (num, den) pair)."""
    if tag is None:
        return None
    value = tag.value
    try:
        num, den = value if isinstance(value, tuple) else (value, 1)
        return float(num) / float(den) if den else None
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _ome_sampling(tif) -> float | None:
    import tifffile

    try:
        ome = tifffile.xml2dict(tif.ome_metadata)
    except Exception:  # malformed OME-XML: treat as uncalibrated
        return None
    image = ome.get("OME", {}).get("Image", {})
    if isinstance(image, list):
        image = image[0] if image else {}
    pixels = image.get("Pixels", {})
    return to_angstrom(pixels.get("PhysicalSizeX"), pixels.get("PhysicalSizeXUnit", "µm"))


def _frame_interval(tif) -> tuple[float, str] | None:
    """Seconds between the frames of a stack and where the file says so: ImageJ's
    ``finterval`` (in its ``tunit``, seconds unless named) or OME's ``TimeIncrement``."""
    ij = tif.imagej_metadata
    if ij is not None and ij.get("finterval") is not None:
        seconds = to_seconds(ij["finterval"], ij.get("tunit") or "sec")
        if seconds is not None:
            return seconds, "ImageJ finterval"
    if tif.ome_metadata:
        import tifffile

        try:
            image = tifffile.xml2dict(tif.ome_metadata).get("OME", {}).get("Image", {})
        except Exception:  # malformed OME-XML: no time step
            return None
        image = (image[0] if image else {}) if isinstance(image, list) else image
        pixels = image.get("Pixels", {})
        seconds = to_seconds(pixels.get("TimeIncrement"), pixels.get("TimeIncrementUnit", "s"))
        if seconds is not None:
            return seconds, "OME TimeIncrement"
    return None


def _calibration(tif) -> tuple[float | None, str | None, dict]:
    """Å/px, where it came from, and flat metadata of an open TiffFile.

    A calibration that gives no pixel size (a unit that is not a length, such as
    '1/nm' of a diffractogram or 'pixel'; a print resolution such as 72 dpi)
    leaves a note in ``sampling_ignored``; non-square pixels give ``sampling_y``.
    """
    page = tif.pages.first
    meta: dict = {}
    interval = _frame_interval(tif)
    if interval is not None:
        meta["frame_interval_s"], meta["frame_interval_source"] = interval
    for name in _TAGS:
        tag = page.tags.get(name)
        if tag is not None and isinstance(tag.value, str):
            meta[f"tiff.{name}"] = tag.value
    per_unit = _rational(page.tags.get("XResolution"))
    per_unit_y = _rational(page.tags.get("YResolution"))
    sampling = source = unit = None
    resolution_read = False  # whether the ImageJ branch has judged X/YResolution

    if tif.ome_metadata:
        sampling, source = _ome_sampling(tif), "OME PhysicalSizeX"
    if sampling is None and tif.imagej_metadata is not None:
        ij = tif.imagej_metadata
        flatten_metadata({k: v for k, v in ij.items() if k not in ("Ranges", "LUTs", "Info")},
                         prefix="imagej", out=meta)
        unit = ij.get("unit")
        if per_unit and str(unit or "").strip():  # no unit: ImageJ reads ResolutionUnit
            resolution_read = True
            sampling = _resolution(per_unit, unit, "ImageJ calibration", meta)
            source = "ImageJ unit"
    if sampling is None and tif.fei_metadata:
        fei = tif.fei_metadata
        flatten_metadata(fei, prefix="fei", out=meta)
        for group in ("Scan", "EScan"):
            width = fei.get(group, {}).get("PixelWidth")
            if width:
                sampling, source = to_angstrom(width, "m"), f"FEI {group}.PixelWidth"
                break
        hv = fei.get("Beam", {}).get("HV")
        if isinstance(hv, (int, float)) and hv > 0:
            meta["voltage_kV"] = hv / 1e3
    if sampling is None and per_unit and not resolution_read:
        code = page.tags.get("ResolutionUnit")
        code = int(code.value) if code is not None else 2  # TIFF default: inch
        unit = {2: "inch", 3: "cm", 4: "mm", 5: "µm"}.get(code)
        if unit is not None:
            sampling = _resolution(per_unit, unit, "TIFF resolution", meta)
            source = f"TIFF resolution ({unit})"
        elif per_unit != 1:  # ResolutionUnit NONE with a resolution other than 1 px/px
            meta["sampling_ignored"] = (f"TIFF resolution of {per_unit:g} px per unit (no unit) "
                                        "ignored")
    if sampling is None:
        return None, None, meta
    if (source == "ImageJ unit" or source.startswith("TIFF resolution")) and per_unit_y:
        sampling_y = to_angstrom(1.0 / per_unit_y, unit)
        if not_square(sampling, sampling_y):
            meta["sampling_y"] = sampling_y
    return sampling, source, meta


def _resolution(per_unit: float, unit, what: str, meta: dict) -> float | None:
    """Å/px of a resolution of ``per_unit`` px per ``unit``; None, with a note in
    ``meta["sampling_ignored"]``, for a unit that is not a length or a print resolution."""
    value = to_angstrom(1.0 / per_unit, unit)
    if value is None:
        meta["sampling_ignored"] = unit_ignored_note(what, unit)
    elif value >= _PRINT_RESOLUTION_A:
        meta["sampling_ignored"] = (f"{what} of {per_unit:g} px/{unit} (a print resolution) "
                                    "ignored")
        return None
    return value


def _grey(array, axis: int):
    """Collapse a samples axis (grey+alpha, RGB, RGBA) into luminance; numpy or dask."""
    import dask.array as da
    from skimage.color import rgb2gray

    n = array.shape[axis]
    array = np.moveaxis(array, axis, -1) if isinstance(array, np.ndarray) else da.moveaxis(
        array, axis, -1)
    if n in (1, 2):  # grey (+ alpha)
        return array[..., 0]
    if n not in (3, 4):
        raise ValueError(f"{n} samples per pixel")
    rgb = array[..., :3].astype(np.float32)
    if isinstance(rgb, np.ndarray):
        return rgb2gray(rgb)
    return rgb.map_blocks(rgb2gray, drop_axis=rgb.ndim - 1, dtype=np.float32)


class _TiffFrames:
    """Array-like over one TIFF series (shape, dtype, ``[]``) for ``dask.array.from_array``.

    Keeps one file handle open, serialises reads with a lock, and closes the
    file when this object is garbage collected (no leaked handles).
    """

    def __init__(self, path: Path, *, per_series: bool = False):
        import zarr

        self.path = path
        self._tif = _open(path)
        self._per_series = per_series
        if per_series:  # one 2-D series per frame (pages written one by one by tifffile)
            self._store = None
            first = self._tif.series[0]
            self.shape = (len(self._tif.series), *first.shape)
            self.dtype = np.dtype(first.dtype)
        else:
            self._store = self._tif.series[0].aszarr(level=0)
            self._array = zarr.open_array(self._store, mode="r")
            self.shape = tuple(self._array.shape)
            self.dtype = np.dtype(self._array.dtype)
        self.ndim = len(self.shape)
        self._lock = threading.Lock()
        weakref.finalize(self, _close, self._store, self._tif)

    def _read(self, key):
        if not self._per_series:
            return np.asarray(self._array[key])
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        indices = range(self.shape[0])[first]
        if isinstance(indices, int):
            return self._tif.series[indices].asarray()[rest]
        frames = [self._tif.series[i].asarray()[rest] for i in indices]
        if not frames:
            return np.zeros((0, *np.empty(self.shape[1:])[rest].shape), self.dtype)
        return np.stack(frames)

    def __getitem__(self, key):
        with self._lock, quiet_tifffile():
            try:
                return self._read(key)
            except Exception as exc:
                raise InputError(f"{self.path}: cannot read frame data ({exc})") from None


def _close(store, tif) -> None:
    if store is not None:
        store.close()
    tif.close()


def read_tiff(path: Path, *, warn: Callable[[str], None] | None = None):
    """``(data, sampling, metadata)`` of a TIFF; data is numpy (2-D) or dask (stacks).

    ``warn(message)`` hears of colour samples folded into grey (see :func:`grey_warning`).
    """
    with quiet_tifffile():
        return _read_tiff(path, warn)


def _read_tiff(path: Path, warn: Callable[[str], None] | None):
    with _open(path) as tif:
        try:
            series = tif.series[0]
        except Exception as exc:  # tifffile raises IndexError, ValueError, TiffFileError...
            raise InputError(f"{path}: TIFF has no image data ({exc})") from None
        axes, shape = series.axes, tuple(series.shape)
        others = tif.series[1:]
        per_series = bool(others) and len(shape) == 2 and all(
            s.shape == series.shape and s.dtype == series.dtype for s in others)
        if per_series:  # frames written as separate series: a stack along a new axis
            axes, shape = "I" + axes, (len(tif.series), *shape)
        elif others:
            meta_series = f"{len(tif.series)} series; only the first, {shape}, is read"
        sampling, source, meta = _calibration(tif)
        meta["tiff.axes"] = axes
        if others and not per_series:
            meta["tiff.series"] = meta_series
        meta["dtype"] = str(series.dtype)
        if source:
            meta["sampling_source"] = source
        message = not_square_warning(path, sampling, meta.get("sampling_y"))
        if message and warn is not None:
            warn(message)
        n_frames = int(np.prod([s for a, s in zip(axes, shape) if a not in "YXS"] or [1]))
        promised = (tif.imagej_metadata or {}).get("images") if tif.is_imagej else None
        if isinstance(promised, int) and promised > n_frames:  # a copy cut short: not 1 frame
            raise InputError(f"{path}: truncated or corrupt stack: its ImageJ header promises "
                             f"{promised} images, the file holds {n_frames}")
        if n_frames == 1:
            try:
                data = series.asarray()
            except Exception as exc:
                raise InputError(f"{path}: corrupt or truncated TIFF ({exc})") from None
    if n_frames > 1:  # (dask only here: 0.6 s of importing for a single image)
        import dask.array as da

        data = da.from_array(_TiffFrames(path, per_series=per_series),
                             name=f"tiff-{path}-{path.stat().st_mtime_ns}",
                             chunks=tuple(s if a in "YXS" else 1 for a, s in zip(axes, shape)),
                             asarray=False, fancy=False)
    # drop singleton axes, then fold RGB samples into grey
    keep = tuple(0 if (s == 1 and a not in "YX") else slice(None) for a, s in zip(axes, shape))
    data = data[keep]
    axes = "".join(a for a, k in zip(axes, keep) if k != 0)
    if isinstance(data, np.ndarray):
        check_float32_range(data, path)
    if "S" in axes:
        message = grey_warning(data, axes.index("S"), path, tiff=True)
        if message and warn is not None:
            warn(message)
        try:
            data = _grey(data, axes.index("S"))
        except ValueError as exc:
            raise InputError(f"{path}: unsupported colour TIFF ({exc})") from None
    return data, sampling, meta

