"""Tiled prediction with window blending: images of any size through a fixed-size network.

One clear function, :func:`predict_tiled`: pad (reflect, only where the image
is smaller than a tile must be) → overlapping tiles on a regular grid →
batches through the network → weighted blend with a positive separable
window (Hamming by default, as paper 003) → normalise by the summed weights
→ crop. The blend accumulates into one preallocated ``(C, H, W)`` float32
array; because the window is separable and the tiles lie on a grid, the
summed weights are an outer product of two 1-D sums and never take an
``(H, W)`` array, so the memory beyond the output is a batch of tiles.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import numpy as np

from temseg.errors import ConfigError, InputError
from temseg.infer.windows import window_1d

#: attributes a model may carry to say its pooling factor (input sides must be multiples)
_MULTIPLE_ATTRS = ("pooling_factor", "factor", "divisor")


def tile_starts(length: int, tile: int, overlap: float) -> np.ndarray:
    """Start offsets of tiles of ``tile`` pixels covering ``length`` pixels.

    The first tile starts at 0, the last ends at ``length``; the tiles in
    between are spread evenly so that neighbours overlap by at least
    ``overlap · tile`` pixels.

    Parameters
    ----------
    length : int
        Axis length in pixels, ``length >= tile``.
    tile : int
        Tile length in pixels.
    overlap : float
        Fraction of a tile shared with its neighbour, in [0, 1).

    Returns
    -------
    (n,) ndarray of int64, increasing
    """
    if length <= tile:
        return np.zeros(1, dtype=np.int64)
    step = max(1, tile - int(round(overlap * tile)))
    n = math.ceil((length - tile) / step) + 1
    return np.unique(np.round(np.linspace(0, length - tile, n)).astype(np.int64))


def model_multiple(model) -> int:
    """The pooling factor of ``model``: input sides must be multiples of it (1 if it does not say).

    Read from a ``pooling_factor``, ``factor`` or ``divisor`` attribute.
    """
    for name in _MULTIPLE_ATTRS:
        value = getattr(model, name, None)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
            return int(value)
    return 1


def model_min_size(model) -> int:
    """The smallest input side ``model`` takes, px: its ``min_size`` (an MSD-net's widest
    dilated kernel, reflect-padded, needs 41 px) or else its pooling factor."""
    value = getattr(model, "min_size", None)
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0
    return max(int(value) if ok else 1, model_multiple(model))


def too_small(side: int, multiple: int, min_size: int) -> str | None:
    """Why a side of ``side`` px is too small for a network, or None: ``"the network's pooling
    factor of 16 px"`` or ``"the network's smallest input of 41 px"``."""
    if side >= max(multiple, min_size):
        return None
    return (f"the network's pooling factor of {multiple} px" if multiple >= min_size
            else f"the network's smallest input of {min_size} px")


def _tile_shape(tile, image_shape: tuple[int, int], multiple: int,
                min_size: int = 1) -> tuple[int, int]:
    """The tile size used: a multiple of the pooling factor, no longer than the image needs,
    no shorter than the network's smallest input (the image is padded to it)."""
    if isinstance(tile, (int, np.integer)):
        tile = (int(tile), int(tile))
    tile = tuple(int(t) for t in tile)
    if len(tile) != 2 or min(tile) < 1:
        raise ConfigError(f"tile: must be a positive size in pixels, got {tile}")
    why = too_small(min(tile), multiple, min_size)
    if why:
        raise ConfigError(f"tile: {min(tile)} px is smaller than {why}")
    least = -(-min_size // multiple) * multiple
    return tuple(max(least, min(t // multiple, -(-n // multiple)) * multiple)  # type: ignore
                 for t, n in zip(tile, image_shape))


def _validate(overlap: float, batch_size: int) -> None:
    if not 0.0 <= overlap < 1.0:
        raise ConfigError(f"overlap: must be in [0, 1), got {overlap}")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size: must be at least 1, got {batch_size}")


def _as_channels(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3 or min(image.shape[1:]) < 1:
        raise InputError(f"image: expected (H, W) or (C, H, W), got shape {image.shape}")
    if not np.issubdtype(image.dtype, np.number):
        raise InputError(f"image: expected a numeric array, got dtype {image.dtype}")
    return image


def predict_tiled(
    model,
    image: np.ndarray,
    *,
    tile: int | tuple[int, int] = 512,
    overlap: float = 0.25,
    batch_size: int = 4,
    window: str = "hamming",
    device=None,
    amp: bool = False,
    callback: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Class probabilities of ``image`` from ``model``, predicted in blended overlapping tiles.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, C_in, h, w)`` float32 to ``(B, C, h, w)`` logits of the
        same ``h, w``. It is put in eval mode for the call and moved to
        ``device``, and a U-Net stays in channels-last layout after it
        (:func:`temseg.models.blocks.channels_last`; the same numbers, faster). A
        ``pooling_factor`` (or ``divisor``) attribute, if
        present, makes every tile side a multiple of it: the tile is rounded
        down to a multiple, and an image side shorter than the tile is
        reflect-padded up to the next multiple (and cropped back after).
    image : (H, W) or (C_in, H, W) ndarray
        Already preprocessed as the model expects; every channel is cut into
        the same tiles and blended with the same window. ``C_in`` must be the
        model's ``options["in_channels"]`` when it carries one.
    tile : int or (th, tw)
        Tile size in pixels; a side longer than the image shrinks to the
        image, so an image no larger than the tile is one whole-image
        forward pass (no window: exactly the plain prediction).
    overlap : float
        Fraction of a tile shared with each neighbour, in [0, 1).
    batch_size : int
        Tiles per forward pass.
    window : {"hamming", "gaussian", "flat"}
        Blending weight of each tile (see :mod:`temseg.infer.windows`).
    device : str, torch.device or None
        ``None`` picks CUDA when available (:func:`temseg.device.pick_device`).
    amp : bool
        Float16 autocast on CUDA; ignored on the CPU.
    callback : callable(done, total) or None
        Called after each batch with the number of tiles done and in all.

    Returns
    -------
    (C, H, W) ndarray of float32
        Softmax probabilities over the C classes (a sigmoid when C = 1).

    Examples
    --------
    >>> proba = predict_tiled(model, image, tile=256, overlap=0.25)  # doctest: +SKIP
    >>> mask = proba.argmax(0)                                       # doctest: +SKIP
    """
    import torch

    from temseg.device import pick_device
    from temseg.models.blocks import channels_last

    _validate(overlap, batch_size)
    image = _as_channels(image)
    cin, height, width = image.shape
    takes = (getattr(model, "options", None) or {}).get("in_channels")
    if isinstance(takes, int) and takes != cin:
        raise InputError(f"image: the model takes {takes} input channel(s), got {cin} "
                         f"(shape {image.shape})")
    th, tw = _tile_shape(tile, (height, width), model_multiple(model), model_min_size(model))

    # reflect-pad only where the image is smaller than a tile (or not a multiple of the
    # pooling factor when it is smaller than the tile)
    pad_y, pad_x = max(0, th - height), max(0, tw - width)
    py0, px0 = pad_y // 2, pad_x // 2
    if pad_y or pad_x:
        image = np.pad(image, ((0, 0), (py0, pad_y - py0), (px0, pad_x - px0)), mode="reflect")
    hp, wp = image.shape[1:]

    ys, xs = tile_starts(hp, th, overlap), tile_starts(wp, tw, overlap)
    positions = [(int(y), int(x)) for y in ys for x in xs]
    single = len(positions) == 1
    kind = "flat" if single else window
    wy, wx = window_1d(th, kind), window_1d(tw, kind)
    # summed weights along each axis; the 2-D sum is their outer product
    sum_y, sum_x = np.zeros(hp), np.zeros(wp)
    for y in ys:
        sum_y[y:y + th] += wy
    for x in xs:
        sum_x[x:x + tw] += wx

    if device is None or isinstance(device, str):
        device = pick_device(device or "auto")
    was_training = model.training
    model.eval()
    channels_last(model.to(device))
    weight = torch.from_numpy(np.outer(wy, wx).astype(np.float32)).to(device)
    autocast = (torch.autocast(device_type="cuda", dtype=torch.float16)
                if amp and device.type == "cuda" else contextlib.nullcontext())
    batch = np.empty((int(batch_size), cin, th, tw), dtype=np.float32)
    out: np.ndarray | None = None
    try:
        with torch.inference_mode(), autocast:
            for start in range(0, len(positions), int(batch_size)):
                chunk = positions[start:start + int(batch_size)]
                for i, (y, x) in enumerate(chunk):
                    batch[i] = image[:, y:y + th, x:x + tw]
                logits = model(torch.from_numpy(batch[:len(chunk)]).to(device))
                if logits.ndim != 4 or tuple(logits.shape[2:]) != (th, tw):
                    raise InputError(
                        f"model: returned shape {tuple(logits.shape)} for a "
                        f"{len(chunk)}×{cin}×{th}×{tw} batch; expected (B, C, {th}, {tw})")
                logits = logits.float()
                proba = torch.sigmoid(logits) if logits.shape[1] == 1 else logits.softmax(1)
                if not single:
                    proba = proba * weight
                proba = proba.to("cpu").numpy()
                if out is None:
                    out = np.zeros((proba.shape[1], hp, wp), dtype=np.float32)
                for i, (y, x) in enumerate(chunk):
                    out[:, y:y + th, x:x + tw] += proba[i]
                if callback is not None:
                    callback(min(start + len(chunk), len(positions)), len(positions))
    finally:
        model.train(was_training)
    assert out is not None
    if not single:
        inv_y = (1.0 / sum_y).astype(np.float32)[:, None]
        inv_x = (1.0 / sum_x).astype(np.float32)[None, :]
        for c in range(out.shape[0]):  # in place, no (H, W) temporaries
            out[c] *= inv_y
            out[c] *= inv_x
    # float32 softmax and blending can land a rounding error outside [0, 1]
    # (1.0000001 for a confident pixel); probabilities are promised in [0, 1]
    np.clip(out, 0.0, 1.0, out=out)
    if pad_y or pad_x:
        out = np.ascontiguousarray(out[:, py0:py0 + height, px0:px0 + width])
    return out


def count_tiles(shape: tuple[int, int], *, tile: int | tuple[int, int] = 512,
                overlap: float = 0.25, multiple: int = 1, min_size: int = 1) -> int:
    """Number of tiles :func:`predict_tiled` runs for an image of ``shape`` (for progress bars).

    ``multiple`` is the model's pooling factor (:func:`model_multiple`), ``min_size`` its
    smallest input side (:func:`model_min_size`).
    """
    th, tw = _tile_shape(tile, shape, multiple, min_size)
    hp, wp = max(shape[0], th), max(shape[1], tw)
    return len(tile_starts(hp, th, overlap)) * len(tile_starts(wp, tw, overlap))
