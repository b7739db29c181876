"""Writing images, masks and overlays, always atomically (never a half-written file).

- :func:`write_tiff`: float32 TIFF with an ImageJ pixel size, read back by
  :func:`~temseg.io.read_image` with the same sampling.
- :func:`write_mask`: 8-bit PNG (or TIFF by suffix); binary masks as 0/255,
  class maps as class ids.
- :func:`write_overlay`: the image in grey with the mask tinted on top.
- :func:`write_confusion_overlay`: TP white, TN black, FP red, FN blue
  (Sadre et al. 2021, fig. 4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from temseg.errors import InputError
from temseg.io.files import atomic_path
from temseg.io.micrograph import check_sampling

_MASK_SUFFIXES = (".png", ".tif", ".tiff")

#: colours (RGB, 0-255) of confusion classes, as in Sadre et al. 2021 fig. 4
CONFUSION_COLORS = {"tp": (255, 255, 255), "tn": (0, 0, 0), "fp": (255, 0, 0), "fn": (0, 0, 255)}


def _as_2d(array, path: Path, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.size == 0:
        raise InputError(f"{path}: {what} must be a non-empty 2-D array, got shape {array.shape}")
    return array


def write_tiff(path: str | Path, array, *, sampling: float | None = None) -> Path:
    """Write an image ``(H, W)`` or stack ``(F, H, W)`` as a float32 ImageJ TIFF.

    Parameters
    ----------
    path : str or Path
        Destination (``.tif``/``.tiff``); written atomically.
    array : (H, W) or (F, H, W) array_like
        Converted to float32.
    sampling : float, optional
        Å per pixel, stored as ImageJ resolution in nm so that ImageJ/Fiji and
        :func:`~temseg.io.read_image` see the same pixel size.

    Returns
    -------
    Path
    """
    import tifffile

    path = Path(path)
    sampling = check_sampling(sampling)
    array = np.asarray(array, dtype=np.float32)
    if array.ndim not in (2, 3) or array.size == 0:
        raise InputError(f"{path}: can write 2-D images or 3-D stacks, got shape {array.shape}")
    metadata: dict = {"axes": "TYX" if array.ndim == 3 else "YX"}
    options: dict = {}
    if sampling is not None:
        per_nm = 10.0 / sampling
        options["resolution"] = (per_nm, per_nm)
        metadata["unit"] = "nm"
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, array, imagej=True, metadata=metadata, **options)
    return path


def _mask_pixels(mask: np.ndarray, path: Path) -> np.ndarray:
    """Binary → 0/255 uint8; class ids as uint8 (uint16 for TIFF when > 255)."""
    if mask.dtype == bool:
        return mask.astype(np.uint8) * 255
    if mask.dtype.kind == "f":
        if not np.isfinite(mask).all() or not np.array_equal(mask, np.round(mask)):
            raise InputError(f"{path}: mask must hold integer class ids, got non-integer values")
    elif mask.dtype.kind not in "iu":
        raise InputError(f"{path}: mask must be boolean or integer, got {mask.dtype}")
    lo, hi = (mask.min(), mask.max())
    if lo < 0:
        raise InputError(f"{path}: mask has negative class id {lo}")
    if hi <= 1:
        return mask.astype(np.uint8) * 255
    limit = 255 if path.suffix.lower() == ".png" else 65535
    if hi > limit:
        raise InputError(f"{path}: class id {hi} does not fit a {path.suffix} mask (max {limit})")
    return mask.astype(np.uint8 if hi <= 255 else np.uint16)


def write_mask(path: str | Path, mask) -> Path:
    """Write a mask as PNG or TIFF (by suffix), atomically.

    Parameters
    ----------
    path : str or Path
        ``.png``, ``.tif`` or ``.tiff``.
    mask : (H, W) array_like of bool or int
        Binary masks (values 0/1 or bool) are written as 0/255 so that they
        are visible; masks with larger class ids are written as the ids.
        :func:`~temseg.io.read_labelled_folder` reads both back (label > 0
        is foreground; ``multiclass=True`` keeps ids).

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.suffix.lower() not in _MASK_SUFFIXES:
        raise InputError(f"{path}: masks are written as {', '.join(_MASK_SUFFIXES)}, "
                         f"not '{path.suffix or '(none)'}'")
    pixels = _mask_pixels(_as_2d(mask, path, "mask"), path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".png":
            import imageio.v3 as iio

            iio.imwrite(tmp, pixels, extension=".png")
        else:
            import tifffile

            tifffile.imwrite(tmp, pixels)
    return path


def to_uint8(image, *, percentiles: tuple[float, float] = (0.5, 99.5)) -> np.ndarray:
    """Stretch ``(H, W)`` intensities to 0-255 between two percentiles (display only)."""
    image = np.asarray(image, dtype=np.float32)
    lo, hi = np.percentile(image, percentiles)
    if not hi > lo:
        return np.zeros(image.shape, np.uint8)
    return np.round(np.clip((image - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def _save_rgb(path: Path, rgb: np.ndarray) -> Path:
    import imageio.v3 as iio

    if path.suffix.lower() != ".png":
        raise InputError(f"{path}: overlays are written as .png, not '{path.suffix or '(none)'}'")
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, rgb, extension=".png")
    return path


def write_overlay(path: str | Path, image, mask, *, color: tuple[int, int, int] = (255, 0, 0),
                  alpha: float = 0.4) -> Path:
    """Write the image in grey with the mask tinted on top, as an RGB PNG.

    Parameters
    ----------
    path : str or Path
        ``.png`` destination, written atomically.
    image : (H, W) array_like
        Any intensities; stretched between the 0.5 and 99.5 percentiles.
    mask : (H, W) array_like
        Pixels with mask > 0 are tinted with ``color``; class ids > 1 get the
        tab10 colours instead (class 1 keeps ``color``).
    color : (3,) tuple of int
        RGB, 0-255.
    alpha : float
        Opacity of the tint, in [0, 1].
    """
    path = Path(path)
    image = _as_2d(image, path, "image")
    mask = _as_2d(mask, path, "mask")
    if image.shape != mask.shape:
        raise InputError(f"{path}: image {image.shape} and mask {mask.shape} differ in shape")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"{path}: alpha must be in [0, 1], got {alpha}")
    grey = to_uint8(image).astype(np.float32)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    classes = np.unique(mask[mask > 0]).astype(int)
    if len(classes):
        from matplotlib import colormaps

        palette = colormaps["tab10"]
        for value in classes:
            tint = np.asarray(color if value == 1 or len(classes) == 1 else
                              np.array(palette((value - 1) % 10)[:3]) * 255, np.float32)
            where = mask == value
            rgb[where] = (1 - alpha) * rgb[where] + alpha * tint
    return _save_rgb(path, np.round(rgb).astype(np.uint8))


def confusion_image(pred, truth) -> np.ndarray:
    """``(H, W, 3) uint8``: TP white, TN black, FP red, FN blue (foreground is > 0)."""
    pred, truth = np.asarray(pred) > 0, np.asarray(truth) > 0
    if pred.shape != truth.shape or pred.ndim != 2:
        raise InputError(f"prediction {pred.shape} and truth {truth.shape} must be equal 2-D shapes")
    rgb = np.zeros((*pred.shape, 3), np.uint8)
    for name, where in (("tp", pred & truth), ("fp", pred & ~truth), ("fn", ~pred & truth)):
        rgb[where] = CONFUSION_COLORS[name]
    return rgb


def write_confusion_overlay(path: str | Path, pred, truth) -> Path:
    """Write the confusion map of a binary prediction against the truth as RGB PNG.

    Colours as in Sadre et al. 2021 fig. 4: true positive white, true negative
    black, false positive red, false negative blue.
    """
    path = Path(path)
    try:
        rgb = confusion_image(pred, truth)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return _save_rgb(path, rgb)
