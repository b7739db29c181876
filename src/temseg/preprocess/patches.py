"""Square patches that cover an image (paper 000: 512² patches, background-only ones dropped)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from temseg.errors import ConfigError, InputError
from temseg.preprocess._checks import as_image


class Patches(NamedTuple):
    """Patches cut from one image.

    Attributes
    ----------
    images : (N, size, size) or (N, C, size, size) ndarray
        Image patches (same dtype as the input).
    labels : (N, size, size) ndarray or None
        Matching label patches when a label was given.
    origins : (N, 2) ndarray of int64
        (row, column) of each patch's top-left pixel in the source image.
    """

    images: np.ndarray
    labels: np.ndarray | None
    origins: np.ndarray


def _starts(length: int, size: int, stride: int) -> list[int]:
    """Start offsets along one axis: every ``stride``, plus a last one flush with the end."""
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


def patch_origins(shape: tuple[int, int], *, size: int = 512,
                  stride: int | None = None) -> np.ndarray:
    """Top-left corners of ``size × size`` patches covering an (H, W) image.

    Patches step by ``stride`` (default ``size``: no overlap); the last patch
    along each axis is moved back to end flush with the edge, so every pixel
    is covered and no patch is padded.

    Returns
    -------
    (N, 2) ndarray of int64
        (row, column) origins in row-major order.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ConfigError(f"patch size: must be a positive integer, got {size!r}")
    stride = size if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or not 1 <= stride <= size:
        raise ConfigError(f"stride: must be an integer in 1..{size} (the patch size), got {stride!r}")
    h, w = shape
    if h < size or w < size:
        raise InputError(f"image: {h}×{w} is smaller than the patch size {size}; "
                         "choose a smaller patch size")
    rows, cols = _starts(h, size, stride), _starts(w, size, stride)
    return np.array([(r, c) for r in rows for c in cols], dtype=np.int64).reshape(-1, 2)


def extract_patches(image, label=None, *, size: int = 512, stride: int | None = None,
                    drop_background: bool = False, min_foreground: float = 0.0) -> Patches:
    """Cut an image (and its label) into square patches covering it.

    Parameters
    ----------
    image : (H, W) or (C, H, W) array_like
        Image; patches are taken over the last two axes.
    label : (H, W) array_like, optional
        Label mask (foreground > 0) cut at the same places.
    size : int
        Patch side in pixels (512 as in paper 000).
    stride : int, optional
        Step between patches in pixels (default ``size``; smaller overlaps).
    drop_background : bool
        With a label, drop the patches whose foreground fraction is below
        ``min_foreground`` (paper 000 drops background-only patches).
    min_foreground : float
        Foreground fraction in [0, 1] a patch needs to be kept when
        ``drop_background`` is set; always at least one foreground pixel, so
        the default 0 drops exactly the background-only patches.

    Returns
    -------
    Patches
        ``images``, ``labels`` (None without a label) and ``origins``. ``N`` may
        be 0 when every patch is background and ``drop_background`` is set.
    """
    data = as_image(image, ndim=(2, 3), finite=False)
    h, w = data.shape[-2:]
    if label is not None:
        label = as_image(label, name="label", ndim=(2,), finite=False)
        if label.shape != (h, w):
            raise InputError(f"label: shape {label.shape} does not match image {(h, w)}")
    if drop_background and label is None:
        raise ConfigError("drop_background: needs a label to tell background patches")
    if not (isinstance(min_foreground, (int, float)) and 0.0 <= min_foreground <= 1.0):
        raise ConfigError(f"min_foreground: must be a fraction in [0, 1], got {min_foreground!r}")
    origins = patch_origins((h, w), size=size, stride=stride)
    if drop_background:
        fg = np.cumsum(np.cumsum(label > 0, axis=0, dtype=np.int64), axis=1)
        fg = np.pad(fg, ((1, 0), (1, 0)))
        r, c = origins[:, 0], origins[:, 1]
        counts = fg[r + size, c + size] - fg[r, c + size] - fg[r + size, c] + fg[r, c]
        needed = max(1, int(np.ceil(min_foreground * size * size)))
        origins = origins[counts >= needed]
    images = np.stack([data[..., r:r + size, c:c + size] for r, c in origins]) if len(origins) \
        else np.empty((0,) + data.shape[:-2] + (size, size), dtype=data.dtype)
    labels = None
    if label is not None:
        labels = np.stack([label[r:r + size, c:c + size] for r, c in origins]) if len(origins) \
            else np.empty((0, size, size), dtype=label.dtype)
    return Patches(images, labels, origins)
