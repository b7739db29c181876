"""Reading micrographs and stacks with their pixel size: :func:`read_image` → :class:`Micrograph`.

Formats: PNG/JPEG (via imageio), TIFF (tifffile; ImageJ, OME, FEI and
resolution-tag calibrations), and through RosettaSciIO DM3/DM4, EMD (Velox
and Berkeley), SER and MRC. Single images are read into memory as
``(H, W) float32``; stacks ``(F, H, W)`` stay lazy (dask arrays) and are read
frame by frame.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from temseg.errors import ConfigError, InputError

#: suffix → format name, for files imageio reads
RASTER = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}
TIFF = {".tif": "TIFF", ".tiff": "TIFF"}

Warn = Callable[[str], None]


def default_warn(message: str) -> None:
    """Where readers' warnings go unless the caller passes ``warn=``: :func:`warnings.warn`.

    The warning is attributed to the first caller outside ``temseg.io``.
    """
    import sys

    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("temseg.io"):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, UserWarning, stacklevel=level)


def supported_suffixes() -> tuple[str, ...]:
    """File suffixes :func:`read_image` understands (lower case, with the dot)."""
    from temseg.io._rsciio import PLUGINS

    return (*RASTER, *TIFF, *PLUGINS)


@dataclasses.dataclass(eq=False, repr=False)
class Micrograph:
    """An image or stack with its pixel size and metadata.

    Attributes
    ----------
    data : (H, W) ndarray of float32, or (F, H, W) dask array
        Single images are in memory as float32. Stacks are lazy arrays in the
        file's dtype; use :meth:`frames` to get float32 frames one at a time.
        A hyperstack (``read_image(..., allow_hyperstack=True)``, e.g. ``(T, C,
        H, W)``) is lazy too; its frames are its ``(H, W)`` planes in C order.
    sampling : float or None
        Å per pixel, or ``None`` when neither the file nor the caller gave one.
    metadata : dict
        Flat, JSON-safe: ``format``, ``sampling_source`` and what the file has
        (``microscope``, ``voltage_kV``, ``exposure_s``, ``dose``... where present).
    path : Path or None
        The file it came from.
    allow_nonfinite : bool
        Let NaN/inf pixels through (e.g. the NaN frames that mark blank frames
        in a probability map); otherwise :meth:`frame` refuses them.
    """

    data: Any
    sampling: float | None = None
    metadata: dict = dataclasses.field(default_factory=dict)
    path: Path | None = None
    allow_nonfinite: bool = False

    def __repr__(self) -> str:
        kind = "stack" if self.is_stack else "image"
        return (f"Micrograph({kind} {tuple(self.data.shape)} {self.data.dtype}, "
                f"sampling={self.sampling}, path={str(self.path) if self.path else None!r})")

    @property
    def is_stack(self) -> bool:
        """True for a (F, H, W) stack (or a hyperstack of more dimensions)."""
        return self.data.ndim >= 3

    @property
    def n_frames(self) -> int:
        """Number of frames, the (H, W) planes (1 for a single image)."""
        return int(np.prod(self.data.shape[:-2])) if self.is_stack else 1

    @property
    def frame_interval_s(self) -> float | None:
        """Seconds from one frame of a stack to the next, where the file (ImageJ
        ``finterval``, OME ``TimeIncrement``, a DM/EMD time axis) or the caller
        (``metadata["frame_interval_s"]``) gives it; else ``None``."""
        value = self.metadata.get("frame_interval_s")
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return tuple(int(s) for s in self.data.shape[-2:])  # type: ignore[return-value]

    @property
    def format(self) -> str | None:
        """The file format ('TIFF', 'PNG', 'DM4', ...), if read from a file."""
        return self.metadata.get("format")

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(H, W) float32`` (index 0 of a single image is the image)."""
        if not self.is_stack:
            if index not in (0, -1):
                raise IndexError(f"a single image has no frame {index}")
            return self.data
        from temseg.io._tiff import check_float32_range

        if self.data.ndim > 3:  # a hyperstack: plane ``index`` in C order
            if not -self.n_frames <= index < self.n_frames:
                raise IndexError(f"frame {index} is out of range for {self.n_frames} frames")
            index = tuple(int(i) for i in np.unravel_index(index % self.n_frames,
                                                           self.data.shape[:-2]))
        data = self.data[index]
        frame = np.asarray(data.compute() if hasattr(data, "compute") else data)
        check_float32_range(frame, self.path, f"frame {index}")
        frame = frame.astype(np.float32, copy=False)
        if not self.allow_nonfinite:
            _check_finite(frame, self.path, f"frame {index}")
        return frame

    def frames(self) -> Iterator[np.ndarray]:
        """Yield ``(H, W) float32`` frames one by one (only one frame in memory at a time)."""
        for index in range(self.n_frames):
            yield self.frame(index)

    def statistics(self, *, callback: Callable[[int, int], None] | None = None) -> dict:
        """Min, max, mean and std of all pixels, computed frame by frame.

        Parameters
        ----------
        callback : callable, optional
            Called as ``callback(done, total)`` after each frame (progress bars).

        Returns
        -------
        dict with ``min``, ``max``, ``mean``, ``std`` (float, in the file's
        intensity units, over the finite pixels; NaN when there is none),
        ``n_pixels`` (finite) and ``n_nonfinite``.
        """
        lo, hi, total, total_sq, count, bad = math.inf, -math.inf, 0.0, 0.0, 0, 0
        mean_ref = None
        for i, frame in enumerate(self.frames()):
            f64 = frame.astype(np.float64)
            finite = np.isfinite(f64)
            if not finite.all():  # only when allow_nonfinite: frame() refuses them otherwise
                bad += int(f64.size - np.count_nonzero(finite))
                f64 = f64[finite]
            if f64.size:
                if mean_ref is None:  # shift by the first frame's mean for a stable variance
                    mean_ref = float(f64.mean())
                shifted = f64 - mean_ref
                lo, hi = min(lo, float(f64.min())), max(hi, float(f64.max()))
                total += float(shifted.sum())
                total_sq += float(np.square(shifted).sum())
                count += f64.size
            if callback is not None:
                callback(i + 1, self.n_frames)
        if not count:
            return {"min": math.nan, "max": math.nan, "mean": math.nan, "std": math.nan,
                    "n_pixels": 0, "n_nonfinite": bad}
        mean = total / count
        var = max(total_sq / count - mean**2, 0.0)
        return {"min": lo, "max": hi, "mean": mean + mean_ref, "std": math.sqrt(var),
                "n_pixels": count, "n_nonfinite": bad}


def _check_finite(array: np.ndarray, path: Path | None, what: str = "image") -> None:
    if not np.isfinite(array).all():
        n_bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise InputError(f"{path or 'array'}: {what} has {n_bad} NaN/inf pixel(s)")


def check_sampling(sampling: Any, *, name: str = "sampling") -> float | None:
    """A positive finite float (Å/px) or ``None``; :class:`ConfigError` naming ``name`` otherwise."""
    if sampling is None:
        return None
    try:
        value = float(sampling)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {sampling!r} is not a number (Å/px)") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name}: pixel size must be a positive number of Å/px, got {sampling!r}")
    return value


#: the PNG text chunk in which temseg's masks carry their pixel size (Å/px): PNG's own
#: pHYs chunk counts whole pixels per metre, too coarse for HRTEM (0.1 Å/px is 1e10 /m)
PNG_SAMPLING_KEY = "temseg:sampling_A_per_px"


def _png_sampling(path: Path) -> float | None:
    """The pixel size (Å/px) a PNG written by temseg carries in its text, else None."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            text = getattr(im, "text", {}).get(PNG_SAMPLING_KEY)
        value = float(text) if text is not None else None
    except Exception:  # noqa: BLE001 - a broken text chunk is no pixel size, not an error
        return None
    return value if value is not None and math.isfinite(value) and value > 0 else None


def read_raster(path: Path) -> tuple[np.ndarray, dict]:
    """PNG/JPEG/BMP pixels as stored (no dtype or colour conversion), and metadata.

    A PNG written by temseg (a mask) carries its pixel size: the metadata then has
    ``sampling`` (Å/px) and ``sampling_source``.
    """
    import imageio.v3 as iio

    try:
        array = iio.imread(path, plugin="pillow")
    except Exception as exc:  # imageio/pillow raise OSError, ValueError, SyntaxError...
        raise InputError(f"{path}: corrupt or truncated {path.suffix} file ({exc})") from None
    meta: dict = {}
    if path.suffix.lower() == ".png":
        sampling = _png_sampling(path)
        if sampling is not None:
            meta.update(sampling=sampling, sampling_source=f"PNG text '{PNG_SAMPLING_KEY}'")
    return np.asarray(array), meta


def _raster_to_grey(array: np.ndarray, path: Path, warn: Warn) -> np.ndarray:
    from temseg.io._tiff import _grey, grey_warning

    if array.ndim == 3 and array.shape[-1] in (1, 2, 3, 4):
        message = grey_warning(array, -1, path, tiff=False)
        if message:
            warn(message)
        return _grey(array, -1)
    return array


def _load(path: Path, *, warn: Warn) -> tuple[Any, float | None, dict, str]:
    suffix = path.suffix.lower()
    if suffix in RASTER:
        array, meta = read_raster(path)
        meta["dtype"] = str(array.dtype)
        sampling = meta.pop("sampling", None)
        return _raster_to_grey(array, path, warn), sampling, meta, RASTER[suffix]
    if suffix in TIFF:
        from temseg.io._tiff import read_tiff

        return (*read_tiff(path, warn=warn), "TIFF")
    from temseg.io._rsciio import PLUGINS, read_rsciio

    if suffix in PLUGINS:
        return (*read_rsciio(path, warn=warn), PLUGINS[suffix][1])
    known = ", ".join(supported_suffixes())
    raise InputError(f"{path}: unknown file type '{path.suffix or '(none)'}' (known: {known})")


def check_path(path: str | Path) -> Path:
    """``path`` as a Path that exists, is a file and is readable; :class:`InputError` otherwise."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an image file")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return path


def read_image(path: str | Path, *, sampling: float | None = None,
               allow_nonfinite: bool = False, allow_hyperstack: bool = False,
               warn: Warn | None = None) -> Micrograph:
    """Read a micrograph or stack with its pixel size.

    Parameters
    ----------
    path : str or Path
        PNG, JPEG, TIFF, DM3/DM4, EMD, SER or MRC file.
    sampling : float, optional
        Å per pixel; overrides what the file says (for uncalibrated files).
    allow_nonfinite : bool
        Accept NaN/inf pixels (for describing files such as probability maps,
        not for segmenting them).
    allow_hyperstack : bool
        Accept data of more than 3 dimensions (a TIFF hyperstack such as
        segment's ``NAME_prob.tif`` of a stack of focal series, ``(T, C, H,
        W)``), kept lazy, for describing it; its frames are its planes.
    warn : callable, optional
        ``warn(message)`` receives warnings naming the file (colour samples
        folded into grey); default :func:`warnings.warn` (``UserWarning``).

    Returns
    -------
    Micrograph
        ``data`` is ``(H, W) float32`` for an image (RGB is converted to grey
        luminance) or a lazy ``(F, H, W)`` dask array for a stack.

    Raises
    ------
    InputError
        Missing/unreadable path, a directory, unknown extension, corrupt or
        truncated file, data that is not 2-D or 3-D (or more, with
        ``allow_hyperstack``), complex data, NaN/inf
        pixels, or values beyond the float32 range (checked on read for
        images, per frame for stacks).

    Examples
    --------
    >>> mg = read_image("particles.dm4")          # doctest: +SKIP
    >>> mg.data.shape, mg.sampling                 # doctest: +SKIP
    ((2048, 2048), 0.52)
    """
    override = check_sampling(sampling)
    path = check_path(path)
    data, file_sampling, meta, fmt = _load(path, warn=warn if warn is not None else default_warn)
    dtype = np.dtype(data.dtype)
    if data.ndim < 2 or (data.ndim > 3 and not allow_hyperstack):
        message = (f"{path}: expected a 2-D image or a 3-D stack (frames, H, W), "
                   f"got a {data.ndim}-D array of shape {tuple(data.shape)}")
        axes = str(meta.get("tiff.axes", ""))
        if data.ndim > 3 and len(axes) == data.ndim:  # a hyperstack: say what it is
            message += (f", axes {axes} (a hyperstack, e.g. the class probabilities of a "
                        "stack of focal series, NAME_prob.tif: read it with "
                        "tifffile.imread or Fiji, or describe it with temseg info; images to "
                        "segment go in one stack of frames)")
        raise InputError(message)
    if data.size == 0:
        raise InputError(f"{path}: empty image of shape {tuple(data.shape)}")
    if dtype.kind == "c":
        raise InputError(f"{path}: complex-valued data (an FFT or exit wave?), expected intensities")
    if dtype.kind not in "biuf":
        raise InputError(f"{path}: unsupported pixel type {dtype}")
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim == 2:
        from temseg.io._tiff import check_float32_range

        data = np.asarray(data.compute() if hasattr(data, "compute") else data)
        check_float32_range(data, path)
        data = data.astype(np.float32, copy=False)
        if not allow_nonfinite:
            _check_finite(data, path)
    meta = {"format": fmt, "dtype": str(dtype), **meta}  # the readers' dtype (before grey) wins
    if override is not None:
        meta["sampling_source"] = "given by caller"
        if file_sampling is not None:
            meta["sampling_in_file"] = file_sampling
    return Micrograph(data, override if override is not None else file_sampling, meta, path,
                      allow_nonfinite)


#: pixel sizes of the frames of one movie may differ by this fraction (rounding in headers)
FRAME_SAMPLING_TOLERANCE = 0.01


def read_frames(paths, *, sampling: float | None = None, warn: Warn | None = None,
                callback: Callable[[int, int], None] | None = None,
                check: bool = True) -> Micrograph:
    """A movie saved one file per frame (GMS's "save each frame", a folder of TIFFs) as one
    lazy ``(F, H, W)`` stack.

    Every file is read once here to check it (one image, the first's size and pixel size)
    and again, frame by frame, when the stack's frames are used: only one frame is in
    memory at a time.

    Parameters
    ----------
    paths : sequence of path
        The frames in order (at least one).
    sampling : float, optional
        Å per pixel of every frame, replacing the files' own.
    warn : callable, optional
        Hears what the readers warn of (as :func:`read_image`'s ``warn``).
    callback : callable, optional
        ``callback(done, total)`` after each file checked.
    check : bool
        Read every file now to check it; False reads only the first (for files checked
        before, by an earlier call), and a file that differs fails when its frame is read.

    Returns
    -------
    Micrograph
        ``path`` the first file; ``metadata`` the first file's, with ``frame_files``
        (the paths in order).

    Raises
    ------
    InputError
        No file; a file that is a stack, or of another size or pixel size (over 1 %)
        than the first; any file :func:`read_image` refuses.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from temseg.io import write_tiff
    >>> folder = Path(tempfile.mkdtemp())
    >>> files = [write_tiff(folder / f"f{i}.tif", np.full((4, 6), i, np.float32), sampling=0.5)
    ...          for i in range(3)]
    >>> movie = read_frames(files)
    >>> movie.data.shape, movie.sampling, float(movie.frame(2)[0, 0])
    ((3, 4, 6), 0.5, 2.0)
    """
    import dask
    import dask.array as da

    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("read_frames: no files")
    first = None
    for i, path in enumerate(paths if check else paths[:1]):
        image = read_image(path, sampling=sampling, warn=warn)
        if image.is_stack:
            raise InputError(f"{path}: a stack of {image.n_frames} frames; a movie saved a "
                             "file per frame takes one image per file")
        if first is None:
            first = image
        elif image.frame_shape != first.frame_shape:
            raise InputError(f"{path}: {image.frame_shape[0]}×{image.frame_shape[1]} px "
                             f"(H × W), but {paths[0].name} is {first.frame_shape[0]}×"
                             f"{first.frame_shape[1]} px: the frames of one movie must be the "
                             "same size")
        elif (image.sampling is None) != (first.sampling is None) or (
                image.sampling is not None
                and abs(image.sampling / first.sampling - 1) > FRAME_SAMPLING_TOLERANCE):
            def size(s):
                return f"{s:g} Å/px" if s is not None else "no pixel size"

            raise InputError(f"{path}: {size(image.sampling)}, but {paths[0].name} has "
                             f"{size(first.sampling)}: the frames of one movie share the pixel "
                             "size (--sampling sets it for all)")
        del image
        if callback is not None:
            callback(i + 1, len(paths))

    h, w = first.frame_shape

    def load(path: Path) -> np.ndarray:
        data = read_image(path, sampling=sampling, warn=warn).data
        if data.shape != (h, w):  # (unchecked) one frame of another size
            raise InputError(f"{path}: {data.shape[0]}×{data.shape[1]} px (H × W), but "
                             f"{paths[0].name} is {h}×{w} px: the frames of one movie must be "
                             "the same size")
        return data

    data = da.stack([da.from_delayed(dask.delayed(load)(path), (h, w), np.float32)
                     for path in paths])
    metadata = {**first.metadata, "frame_files": [str(p) for p in paths]}
    return Micrograph(data, first.sampling, metadata, paths[0])
