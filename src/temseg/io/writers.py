"""Writing images, masks and overlays, always atomically (never a half-written file).

- :func:`write_tiff`: float32 TIFF with an ImageJ pixel size, read back by
  :func:`~temseg.io.read_image` with the same sampling.
- :func:`write_mask`: 8-bit PNG (or TIFF by suffix); binary masks as 0/255,
  class maps as class ids.
- :func:`write_overlay`: the image in grey with the mask tinted on top.
- :func:`write_class_overlay`: every foreground class of a class-index mask in
  its own colour (:func:`class_color`), with a legend naming the classes.
- :func:`write_confusion_overlay`: TP white, TN black, FP red, FN blue
  (Sadre et al. 2021, fig. 4).

Every overlay given its pixel size (``sampling``, Å/px) carries a scale bar
(:func:`draw_scale_bar`): a round length (:func:`scale_bar_length`) in white
with a dark outline, its length written beside it, bottom left; none without.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from temseg.errors import InputError
from temseg.io.files import atomic_path
from temseg.io.micrograph import check_sampling

_MASK_SUFFIXES = (".png", ".tif", ".tiff")

#: colours (RGB, 0-255) of confusion classes, as in Sadre et al. 2021 fig. 4; class maps add
#: foreground given the wrong foreground class (e.g. an S1 column called S2) in yellow
CONFUSION_COLORS = {"tp": (255, 255, 255), "tn": (0, 0, 0), "fp": (255, 0, 0), "fn": (0, 0, 255),
                    "wrong_class": (255, 255, 0)}


def _as_2d(array, path: Path, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.size == 0:
        raise InputError(f"{path}: {what} must be a non-empty 2-D array, got shape {array.shape}")
    return array


#: ImageJ axes of the arrays :func:`write_tiff` takes, by number of dimensions
TIFF_AXES = {2: ("YX",), 3: ("TYX", "CYX"), 4: ("TCYX",)}


def write_tiff(path: str | Path, array, *, sampling: float | None = None,
               axes: str | None = None) -> Path:
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
    axes : str, optional
        ImageJ axes: ``"YX"`` for 2-D, ``"TYX"`` (frames, the default) or
        ``"CYX"`` (channels, e.g. class probabilities ``(K, H, W)``) for 3-D,
        ``"TCYX"`` for 4-D ``(F, K, H, W)`` (a hyperstack for ImageJ/Fiji;
        :func:`~temseg.io.read_image` reads 2-D and 3-D files only).

    Returns
    -------
    Path
    """
    import tifffile

    path = Path(path)
    sampling = check_sampling(sampling)
    array = np.asarray(array, dtype=np.float32)
    allowed = TIFF_AXES.get(array.ndim, ())
    if array.ndim == 4 and axes is None:
        axes = "TCYX"
    if not allowed or array.size == 0:
        raise InputError(f"{path}: can write 2-D images or 3-D stacks (or 4-D (F, C, H, W) "
                         f"hyperstacks), got shape {array.shape}")
    if array.ndim == 3 and array.shape[-1] in (3, 4) and min(array.shape[:2]) >= 16:
        raise InputError(f"{path}: shape {array.shape} looks like an RGB(A) image (H, W, "
                         f"{array.shape[-1]}); give a grey (H, W) image or (F, H, W) frames")
    if axes is not None and axes not in allowed:
        raise InputError(f"{path}: axes {axes!r} do not fit a {array.ndim}-D array "
                         f"(use {' or '.join(allowed)})")
    metadata: dict = {"axes": axes or allowed[0]}
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


def write_mask(path: str | Path, mask, *, sampling: float | None = None) -> Path:
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
    sampling : float, optional
        Å per pixel. A TIFF stores it as ImageJ resolution in nm (as
        :func:`write_tiff`); a PNG in the text chunk
        ``temseg:sampling_A_per_px`` (PNG's own pixel-size chunk cannot hold
        HRTEM pixel sizes). :func:`~temseg.io.read_image` reads both back.

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.suffix.lower() not in _MASK_SUFFIXES:
        raise InputError(f"{path}: masks are written as {', '.join(_MASK_SUFFIXES)}, "
                         f"not '{path.suffix or '(none)'}'")
    sampling = check_sampling(sampling)
    pixels = _mask_pixels(_as_2d(mask, path, "mask"), path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".png":
            from PIL import Image, PngImagePlugin

            from temseg.io.micrograph import PNG_SAMPLING_KEY

            info = PngImagePlugin.PngInfo()
            if sampling is not None:
                info.add_text(PNG_SAMPLING_KEY, repr(sampling))
            Image.fromarray(pixels).save(tmp, format="PNG", pnginfo=info)
        else:
            import tifffile

            options: dict = {}
            if sampling is not None:
                options = {"resolution": (10.0 / sampling, 10.0 / sampling),
                           "metadata": {"axes": "YX", "unit": "nm"}, "imagej": True}
            tifffile.imwrite(tmp, pixels, **options)
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


#: share of the image width a scale bar aims at (the round length nearest to it, in log)
SCALE_BAR_FRACTION = 0.225


def scale_bar_length(width_px: int, sampling: float, *,
                     fraction: float = SCALE_BAR_FRACTION) -> tuple[float, str]:
    """The round length of a scale bar across an image and its label.

    Parameters
    ----------
    width_px : int
        Image width in pixels.
    sampling : float
        Å per pixel.
    fraction : float
        Share of the field of view aimed at; the length is the 1, 2 or 5 × 10^n Å
        nearest to it in log (within 0.63–1.58× of it: 1/7 to 1/3 of the width
        for the default, 0.225).

    Returns
    -------
    length_A : float
        The bar's length in Å; it spans ``round(length_A / sampling)`` pixels.
    label : str
        In nm from 1 nm up (``"2 nm"``, ``"50 nm"``), in µm from 1 µm, in Å below
        1 nm (``"5 Å"``).

    Examples
    --------
    >>> scale_bar_length(512, 0.125)  # a 64 Å field of view
    (20.0, '2 nm')
    """
    import math

    target = fraction * float(width_px) * float(sampling)
    if not (math.isfinite(target) and target > 0):
        raise InputError(f"scale bar: width {width_px} px × {sampling} Å/px gives no length")
    decade = math.floor(math.log10(target))
    candidates = [m * 10.0 ** e for e in (decade - 1, decade, decade + 1) for m in (1, 2, 5)]
    length = min(candidates, key=lambda c: abs(math.log(c / target)))
    length = float(f"{length:.12g}")  # 10.0 ** -1 * 5 → 0.5, not 0.5000000000000001
    if length >= 1e4:
        label = f"{length / 1e4:g} µm"
    elif length >= 10:
        label = f"{length / 10:g} nm"
    else:
        label = f"{length:g} Å"
    return length, label


def _text_alpha(text: str, height_px: int) -> np.ndarray:
    """``(h, w) float32`` coverage in [0, 1] of ``text`` drawn ``height_px`` high (em size),
    cropped to its ink."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    width = (len(text) + 2) * height_px
    fig = Figure(figsize=(width / dpi, 2 * height_px / dpi), dpi=dpi)
    fig.patch.set_alpha(0.0)
    canvas = FigureCanvasAgg(fig)
    fig.text(0.5 / (len(text) + 2), 0.5, text, fontsize=height_px * 72 / dpi, color="white",
             va="center", ha="left", weight="bold")
    canvas.draw()
    alpha = np.asarray(canvas.buffer_rgba())[..., 3].astype(np.float32) / 255
    rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
    if not rows.size:
        return np.zeros((0, 0), np.float32)
    return alpha[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _stamp(rgb: np.ndarray, alpha: np.ndarray, y: int, x: int, value: float) -> None:
    """Blend ``value`` (grey level) into ``rgb`` with coverage ``alpha`` at row ``y``, column
    ``x`` (in place; the part outside the image is dropped)."""
    h, w = alpha.shape
    y0, x0 = max(y, 0), max(x, 0)
    y1, x1 = min(y + h, rgb.shape[0]), min(x + w, rgb.shape[1])
    if y1 <= y0 or x1 <= x0:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    rgb[y0:y1, x0:x1] = (1 - a) * rgb[y0:y1, x0:x1] + a * value


def scale_bar_geometry(shape: tuple[int, int], sampling: float) -> dict | None:
    """Where :func:`draw_scale_bar` puts the bar on an ``(H, W)`` image, or None when none fits.

    Returns
    -------
    dict or None
        ``length_A``, ``label`` (:func:`scale_bar_length`), ``length_px``
        (``round(length_A / sampling)``), ``x``, ``y`` (top-left pixel of the
        white bar), ``thickness_px``, ``outline_px``, ``text_px`` (em size of the
        label) and ``margin_px``. None for an image under 24 px a side (no room
        for a bar that reads).
    """
    h, w = (int(s) for s in shape)
    length, label = scale_bar_length(w, sampling)
    length_px = int(round(length / sampling))
    short = min(h, w)
    thickness = max(2, round(short / 80))
    outline = max(1, round(thickness / 3))
    margin = max(3, round(short / 32))
    if short < 24 or length_px < 2 or margin + length_px + outline > w:
        return None
    return {"length_A": length, "label": label, "length_px": length_px, "x": margin,
            "y": h - margin - thickness, "thickness_px": thickness, "outline_px": outline,
            "text_px": max(9, round(short / 22)), "margin_px": margin}


def draw_scale_bar(rgb, sampling: float | None) -> np.ndarray:
    """``rgb`` with a scale bar bottom left: white, outlined dark on a dimmed backing (readable
    on white too), its length written beside it.

    Parameters
    ----------
    rgb : (H, W, 3) array_like of uint8
        An overlay (not changed).
    sampling : float or None
        Å per pixel; None (unknown) leaves the image as it is: no bar.

    Returns
    -------
    (H, W, 3) ndarray of uint8
        The bar is exactly ``round(length_A / sampling)`` pixels long
        (:func:`scale_bar_geometry`); the label goes to its right, or above it
        where the image is too narrow, or is left out where neither fits.
    """
    from scipy.ndimage import grey_dilation

    rgb = np.array(rgb, dtype=np.uint8)
    sampling = check_sampling(sampling)
    if sampling is None or rgb.ndim != 3 or rgb.shape[-1] != 3:
        return rgb
    geo = scale_bar_geometry(rgb.shape[:2], sampling)
    if geo is None:
        return rgb
    out = rgb.astype(np.float32)
    x, y, n, t, o = (geo[k] for k in ("x", "y", "length_px", "thickness_px", "outline_px"))
    h, w = rgb.shape[:2]
    ink = _text_alpha(geo["label"], geo["text_px"])
    th, tw = ink.shape
    gap = max(3, 2 * o + t // 2)
    spot = None
    if th and tw:
        beside = (min(y + t // 2 - th // 2, h - o - th), x + n + gap)
        above = (y - gap - th, x)
        spot = next(((ty, tx) for ty, tx in (beside, above)
                     if ty >= o and tx + tw + o <= w and ty + th + o <= h), None)
    # a dimmed backing behind bar and label: readable on white too (a confusion map's TP)
    pad = 2 * o + 1
    top, bottom, right = y, y + t, x + n
    if spot is not None:
        top, bottom, right = min(top, spot[0]), max(bottom, spot[0] + th), max(right,
                                                                              spot[1] + tw)
    out[max(top - pad, 0):bottom + pad, max(x - pad, 0):right + pad] *= 0.35
    out[max(y - o, 0):y + t + o, max(x - o, 0):x + n + o] = 0.0  # the dark outline
    out[y:y + t, x:x + n] = 255.0
    if spot is not None:
        halo = grey_dilation(np.pad(ink, o), size=(2 * o + 1, 2 * o + 1))
        _stamp(out, halo, spot[0] - o, spot[1] - o, 0.0)
        _stamp(out, ink, spot[0], spot[1], 255.0)
    return np.round(out).astype(np.uint8)


def write_overlay(path: str | Path, image, mask, *, color: tuple[int, int, int] = (255, 0, 0),
                  alpha: float = 0.4, sampling: float | None = None) -> Path:
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
    sampling : float, optional
        Å per pixel: a scale bar goes bottom left (:func:`draw_scale_bar`); none
        when not given.
    """
    path = Path(path)
    sampling = check_sampling(sampling)
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
    return _save_rgb(path, draw_scale_bar(np.round(rgb).astype(np.uint8), sampling))


def class_color(index: int) -> tuple[int, int, int]:
    """RGB (0-255) of class ``index`` ≥ 1 in class overlays and plots: the tab10 colours."""
    from matplotlib import colormaps

    r, g, b = colormaps["tab10"]((int(index) - 1) % 10)[:3]
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def class_overlay_rgb(image, mask, *, n_classes: int, alpha: float = 0.5) -> np.ndarray:
    """``(H, W, 3) uint8``: the image in grey, each class ≥ 1 of ``mask`` tinted with
    :func:`class_color` (class 0, the background, untinted)."""
    grey = to_uint8(image).astype(np.float32)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    for value in range(1, n_classes):
        where = mask == value
        if where.any():
            rgb[where] = (1 - alpha) * rgb[where] + alpha * np.asarray(class_color(value),
                                                                       np.float32)
    return np.round(rgb).astype(np.uint8)


def write_class_overlay(path: str | Path, image, mask, *, classes, alpha: float = 0.5,
                        min_side_px: int = 512, title: str | None = None,
                        sampling: float | None = None) -> Path:
    """Write the image in grey with every foreground class in its own colour and a legend.

    Parameters
    ----------
    path : str or Path
        ``.png`` destination, written atomically.
    image : (H, W) array_like
        Any intensities (e.g. the middle image of a focal series); stretched
        between the 0.5 and 99.5 percentiles.
    mask : (H, W) array_like of int
        Class indices 0..K−1; 0 (the background) is left grey.
    classes : sequence of str
        The K class names, index = class; the legend names classes 1..K−1.
    alpha : float
        Opacity of the tints, in [0, 1].
    min_side_px : int
        Small images are enlarged (nearest neighbour, whole multiples) until
        their longer side reaches this, so the legend fits and columns show.
    title : str, optional
        A line above the image.
    sampling : float, optional
        Å per pixel of ``image``: a scale bar goes bottom left on the enlarged
        image (:func:`draw_scale_bar`); none when not given.

    Returns
    -------
    Path
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from temseg.io.files import write_figure

    path = Path(path)
    sampling = check_sampling(sampling)
    image = _as_2d(image, path, "image")
    mask = _as_2d(mask, path, "mask")
    classes = [str(c) for c in classes]
    if image.shape != mask.shape:
        raise InputError(f"{path}: image {image.shape} and mask {mask.shape} differ in shape")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"{path}: alpha must be in [0, 1], got {alpha}")
    if len(classes) < 2:
        raise InputError(f"{path}: need a background and at least one class, got {classes}")
    if mask.dtype.kind not in "iub" or mask.min() < 0 or mask.max() >= len(classes):
        raise InputError(f"{path}: mask must hold class indices 0..{len(classes) - 1}")
    if path.suffix.lower() != ".png":
        raise InputError(f"{path}: overlays are written as .png, not '{path.suffix or '(none)'}'")
    rgb = class_overlay_rgb(image, mask, n_classes=len(classes), alpha=alpha)
    h, w = mask.shape
    scale = max(1, -(-int(min_side_px) // max(h, w)))
    if sampling is not None:  # drawn at the enlarged size, so that its label reads
        rgb = draw_scale_bar(np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1),
                             sampling / scale)
    handles = [Patch(color=np.asarray(class_color(c)) / 255, label=name)
               for c, name in enumerate(classes[1:], start=1)]
    legend_w = sum(40 + 8 * len(name) for name in classes[1:])
    dpi, strip, top = 100, 34, 24 if title else 0
    width = max(w * scale, legend_w)
    height = h * scale + strip + top
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    ax = fig.add_axes(((width - w * scale) / 2 / width, strip / height,
                       w * scale / width, h * scale / height))
    ax.imshow(rgb, interpolation="nearest")
    ax.set_axis_off()
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
               fontsize=9, handlelength=1.2, borderaxespad=0.3)
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 4 / height, va="top")
    return write_figure(fig, path, dpi=dpi)


def confusion_image(pred, truth, *, classes: bool = False) -> np.ndarray:
    """``(H, W, 3) uint8``: TP white, TN black, FP red, FN blue (foreground is > 0).

    With ``classes`` the maps hold class indices: foreground in both but of
    another class is yellow (``CONFUSION_COLORS["wrong_class"]``), not white.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape or pred.ndim != 2:
        raise InputError(f"prediction {pred.shape} and truth {truth.shape} must be equal "
                         "2-D shapes")
    p, t = pred > 0, truth > 0
    rgb = np.zeros((*pred.shape, 3), np.uint8)
    for name, where in (("tp", p & t), ("fp", p & ~t), ("fn", ~p & t)):
        rgb[where] = CONFUSION_COLORS[name]
    if classes:
        rgb[p & t & (pred != truth)] = CONFUSION_COLORS["wrong_class"]
    return rgb


def write_confusion_overlay(path: str | Path, pred, truth, *, classes: bool = False,
                            sampling: float | None = None, min_side_px: int = 0) -> Path:
    """Write the confusion map of a binary prediction against the truth as RGB PNG.

    Colours as in Sadre et al. 2021 fig. 4: true positive white, true negative
    black, false positive red, false negative blue; with ``classes`` (class-index
    maps) a foreground pixel of the wrong class is yellow. With ``sampling`` (Å
    per pixel) a scale bar goes bottom left (:func:`draw_scale_bar`); none
    without. An image whose longer side is under ``min_side_px`` is enlarged
    (nearest neighbour, a whole multiple) to reach it, so that a thumbnail's
    errors and scale-bar label read (the bar drawn at the enlarged size).
    """
    path = Path(path)
    sampling = check_sampling(sampling)
    try:
        rgb = confusion_image(pred, truth, classes=classes)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    scale = max(1, -(-int(min_side_px) // max(rgb.shape[:2])))
    if scale > 1:
        rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    return _save_rgb(path, draw_scale_bar(rgb, None if sampling is None else sampling / scale))
