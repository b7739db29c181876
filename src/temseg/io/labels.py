"""Reading a label image as training and scoring read it: class ids, or for a binary task
foreground above 0 — but an 8-bit drawing (JPEG, anti-aliased) above half its maximum and one
colour on black as non-black, both warned about; and the checks of a dataset's label values
(:func:`check_labels`, :func:`class_ids`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from temseg.errors import InputError
from temseg.io.micrograph import (TIFF, Warn, default_warn, read_raster)


#: labels with more distinct values than 2 are warned about unless all lie in 0..this
#: (a few class ids of a multi-class label)
MAX_QUIET_CLASS_ID = 15

#: a binary label of three or more values whose maximum is at least this is an 8-bit drawing
#: (JPEG or anti-aliased), read as foreground above half its maximum rather than above 0
MIN_DRAWN_MAXIMUM = 128


def _distinct(array: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array (bincount for 8/16-bit: no sort)."""
    if array.dtype.kind in "bu" and array.dtype.itemsize <= 2:
        return np.flatnonzero(np.bincount(array.ravel()))
    return np.unique(array)


#: of the non-zero pixels of an 8-bit drawing, at most this share lie in the middle half
#: of its range (ringing sits near 0, the drawing near its maximum, soft edges are few);
#: numbered regions spread over every level, half of them in the middle
DRAWN_MAX_MIDDLE_SHARE = 0.35


def drawn_threshold(values, array: np.ndarray | None = None) -> float | None:
    """The level above which a binary label is foreground, where it is an 8-bit drawing.

    A label of three or more distinct ``values`` (sorted), none negative and
    the largest at least 128, is a mask drawn in grey levels and saved lossily
    or anti-aliased (JPEG ringing, soft edges): half its maximum separates
    foreground from background, where > 0 would make every ring foreground.
    Given the label ``array``, only where few of its non-zero pixels
    (:data:`DRAWN_MAX_MIDDLE_SHARE`) lie in the middle half of its range (between a
    quarter and three quarters of its maximum): a map of numbered regions
    (1, 2, ... 255 particles, as ``skimage.measure.label`` writes) spreads over
    every level and is read as > 0. Two values (0/1, 0/255) are a clean mask and
    a few small ones (0..15) class ids: both are read as > 0, and ``None`` is
    returned.

    >>> drawn_threshold([0, 3, 250, 255])
    127.5
    >>> drawn_threshold([0, 1, 2]) is None and drawn_threshold([0, 255]) is None
    True
    >>> regions = np.arange(256, dtype=np.uint8).reshape(16, 16)  # 255 numbered regions
    >>> drawn_threshold(np.unique(regions), regions) is None
    True
    """
    values = [int(v) for v in values]
    if len(values) <= 2 or values[0] < 0 or values[-1] < MIN_DRAWN_MAXIMUM:
        return None
    level = values[-1] / 2
    if array is not None:
        middle = np.count_nonzero((array > level / 2) & (array < 1.5 * level))
        if middle > DRAWN_MAX_MIDDLE_SHARE * np.count_nonzero(array):
            return None
    return level


def _label_warning(path: Path, values: np.ndarray, *, multiclass: bool,
                   threshold: float | None = None) -> str | None:
    """A warning for a label that looks lossy or anti-aliased rather than a clean mask
    (``threshold``: the level it is read above, :func:`drawn_threshold`)."""
    if len(values) <= 2 or (values[0] >= 0 and values[-1] <= MAX_QUIET_CLASS_ID):
        return None
    if threshold is not None:
        return (f"{path}: {len(values)} distinct values (a lossy or anti-aliased mask?); read "
                f"as foreground above {threshold:g}, half its maximum {int(values[-1])}")
    if not multiclass and values[0] >= 0 and values[-1] >= MIN_DRAWN_MAXIMUM:
        return (f"{path}: {len(values)} distinct values spread from {int(values[0])} to "
                f"{int(values[-1])} (numbered regions?); read as foreground above 0")
    expected = "0/1, 0/255 or a few class ids" if multiclass else "0/1 or 0/255"
    return (f"{path}: {len(values)} distinct values; expected {expected} "
            "(a lossy or anti-aliased mask?)")


def _two_colour_mask(array: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]] | None:
    """Foreground (non-black) of an RGB(A) label of exactly two pixel values, one of them
    black (alpha aside), with the foreground's value; else None."""
    black = (array[..., :3] == 0).all(axis=-1)
    if black.all() or not black.any():
        return None
    back, fore = array[black], array[~black]
    if not ((back == back[0]).all() and (fore == fore[0]).all()):
        return None
    return (~black).astype(np.uint8), tuple(int(v) for v in fore[0])


def _palette_label(path: Path) -> np.ndarray | None:
    """The label of a palette (PIL mode ``P``) PNG/GIF/BMP, else None.

    Where every palette entry used is grey (R = G = B) and the greys rise with
    the index, the indices are the class ids (0, 1, 2 drawn as 0, 128, 255);
    where they do not, the label is the greys, as the same mask saved as a grey
    PNG: many tools number the palette in order of first appearance, so a mask
    whose top-left pixel is white has index 0 = white, and its indices would
    swap foreground and background. Where an entry used is coloured, the palette is a labelling
    tool's class colours and the index is the class id. Which index means
    background is then the tool's choice (usually 0); nothing in the file
    says, so the indices are kept as they are. Anything else, or a file PIL
    cannot open (left to :func:`read_raster` to report), gives None.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.mode != "P":
                return None
            indices = np.array(image)
            palette = np.array(image.getpalette("RGB") or [], np.uint8).reshape(-1, 3)
    except Exception:  # noqa: BLE001 - read_raster reads it again and names the problem
        return None
    used = _distinct(indices)
    if used[-1] < len(palette) and (palette[used] == palette[used, :1]).all():
        greys = palette[used, 0].astype(int)
        if len(used) > 1 and used[0] == 0 and greys[0] == 0 and (np.diff(greys) > 0).all():
            return indices  # 0 black, greys rising with the index: the class ids (0, 1, 2 drawn
            #                 as 0, 128, 255)
        return palette[indices, 0]  # reordered (white first): its greys, as a grey PNG
    return indices


def _read_label(path: Path, *, multiclass: bool, warn: Warn = default_warn,
                seen: set | None = None, coloured: list | None = None,
                stored: list | None = None, levels: list | None = None) -> np.ndarray:
    """Label pixels: integer-valued, one channel; binary → 0/1, class ids kept otherwise.

    A palette image of greys gives its greys; one with colours gives its
    indices (the class ids), see :func:`_palette_label`. Grey stored as RGB(A)
    gives the grey, unless one colour (any colour) fills the
    image and the alpha channel varies: then the alpha is the mask. A binary
    label of two colours, one black, is its non-black pixels (``(path,
    colour)`` appended to ``coloured``, to be warned about); other colour labels
    are refused. A binary 8-bit drawing is read above :func:`drawn_threshold`. The
    distinct values as stored (but of a colour label) are appended to ``stored``.
    """
    if path.suffix.lower() in TIFF:
        import tifffile

        from temseg.io._tiff import quiet_tifffile

        try:
            with quiet_tifffile():
                array = tifffile.imread(path)
        except Exception as exc:
            raise InputError(f"{path}: corrupt or truncated label file ({exc})") from None
    else:
        array = _palette_label(path)
        if array is None:
            array, _ = read_raster(path)
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] in (2, 3, 4):  # grey stored as RGB(A)
        colour = array[..., :3] if array.shape[-1] >= 3 else array[..., :1]
        alpha = array[..., -1] if array.shape[-1] in (2, 4) else None
        if alpha is not None and (alpha != alpha.flat[0]).any() and (
                colour == colour[:1, :1]).all():
            array = alpha  # one colour everywhere: the mask is in the alpha channel
        elif (colour == colour[..., :1]).all():
            array = colour[..., 0]
        else:
            mask = None if multiclass or array.shape[-1] < 3 else _two_colour_mask(array)
            if mask is None:
                more = ", 2, 3... the other classes" if multiclass else (
                    " (a mask of one colour on black is read as such)")
                raise InputError(f"{path}: label is a colour image; save the label as one "
                                 f"channel of class ids: 0 background, 1 foreground{more}")
            if coloured is not None:
                coloured.append((path, mask[1]))
            if seen is not None:
                seen.update((0, 1))
            return mask[0]
    if array.ndim != 2:
        raise InputError(f"{path}: label must be a 2-D image, got shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or not np.array_equal(array, np.round(array)):
            raise InputError(f"{path}: label is not integer-valued "
                             "(found fractional or NaN values)")
    elif array.dtype.kind not in "biu":
        raise InputError(f"{path}: label has unsupported pixel type {array.dtype}")
    values = _distinct(array)
    if stored is not None:
        stored.append(values)
    if seen is not None:  # (the folder's values, for a warning of class ids read as binary)
        seen.update(int(v) for v in values[:MAX_QUIET_CLASS_ID + 2])
    threshold = None if multiclass else drawn_threshold(values, array)
    if levels is not None:
        levels.append(threshold)
    message = _label_warning(path, values, multiclass=multiclass, threshold=threshold)
    if message:
        warn(message)
    if not multiclass:
        return (array > (0 if threshold is None else threshold)).astype(np.uint8)
    if values[0] < 0:
        raise InputError(f"{path}: label has negative class id {values[0]}")
    if set(values.tolist()) <= {0, 255}:  # a binary mask saved as 0/255
        return (array > 0).astype(np.uint8)
    return array.astype(np.uint8 if values[-1] <= 255 else np.int32)


def read_label(path: str | Path, *, multiclass: bool = False, warn: Warn | None = None
               ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...] | None, float | None]:
    """One label file read as :func:`~temseg.io.read_labelled_folder` reads it (see there),
    with the values it stores.

    Returns
    -------
    label : (H, W) ndarray of uint8 (int32 for class ids above 255)
    values : (K,) ndarray of int
        The file's distinct values as stored, sorted; 0, 1 for a colour mask on black.
    colour : tuple of int or None
        The foreground colour of a two-colour label read as binary, else None.
    threshold : float or None
        The level a binary 8-bit drawing is read above (:func:`drawn_threshold`); None
        where foreground is > 0 (or the label is class ids).
    """
    stored: list = []
    coloured: list = []
    levels: list = []
    label = _read_label(Path(path), multiclass=multiclass, warn=warn or default_warn,
                        coloured=coloured, stored=stored, levels=levels)
    if coloured:
        return label, np.array([0, 1]), coloured[0][1], None
    return label, stored[0], None, levels[0] if levels else None


def _colour_warning(coloured: list) -> str:
    """One line for the colour labels read as binary (the first named, the rest counted)."""
    path, colour = coloured[0]
    more = f" (and {len(coloured) - 1} more labels)" if len(coloured) > 1 else ""
    return (f"{path}{more}: colour label of two colours read as binary: black is background, "
            f"{colour} foreground")


def check_labels(path: str | Path, names: Sequence[str], labels: np.ndarray) -> np.ndarray:
    """A dataset's ``labels`` (N, H, W) as integers, refused as a labelled folder's would be.

    Float labels must hold whole numbers (0.5 is no class; a labelled folder refuses
    it too) and are returned as int32; other non-integer types are refused.

    Raises
    ------
    InputError
        Naming the dataset ``path`` and the first image (of ``names``) at fault.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind == "f":
        whole = np.isfinite(labels) & (labels == np.round(labels))
        bad = np.flatnonzero(~whole.reshape(len(labels), int(np.prod(labels.shape[1:])))
                             .all(axis=1))
        if bad.size:
            raise InputError(f"{path}: image {names[bad[0]]}: label is not integer-valued "
                             "(found fractional or NaN values)")
        return labels.astype(np.int32)
    if labels.dtype.kind not in "biu":
        raise InputError(f"{path}: labels have unsupported pixel type {labels.dtype}")
    return labels


def class_ids(values) -> list[int] | None:
    """The labels' distinct ``values`` when they are three or more class ids (0/1/2...), which
    binary training and scoring merge into one foreground; else ``None``.

    Two values (0/1, 0/255) are a binary mask; three or more that all lie in 0..15
    (as for a labelled folder's labels) are classes; more or larger values, a soft mask
    (one reaching 128 or more an 8-bit drawing, which a labelled folder's binary read
    thresholds at half its maximum: :func:`drawn_threshold`).
    """
    values = sorted(int(v) for v in values)
    if len(values) < 3 or values[0] < 0 or values[-1] > MAX_QUIET_CLASS_ID:
        return None
    return values
