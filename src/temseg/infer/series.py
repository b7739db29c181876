"""Segmenting, one input at a time: frames, focal series (003) and class maps.

:func:`segment_series` is the one streaming path of ``temseg segment``
(:func:`~temseg.infer.stacks.segment_micrograph` calls it for every model).
A single-channel model takes frames; a network fed a focal series (C images
of one field of view at C defoci) takes each input stack of n·C frames as n
series: frames ``i·C .. i·C + C − 1`` are series ``i``, in the order of the
model's ``channels`` (or ``order``). Anything else (a frame count not
divisible by C, a single image) is refused before any work by
:func:`count_series`, naming the file and what the model takes. A series
saved as C files of one image each is read by :func:`read_series_files`.

Only one frame or series is in memory at a time; stacks of outputs go into
memory-mapped TIFFs, written atomically. A blank (constant) frame or series
does not stop a stack: NaN probability, empty mask, listed in the result.
A model of two classes writes the foreground probability and a binary mask
per frame or series; a model of K ≥ 3 classes writes:

- ``NAME_prob.tif``: the class probabilities, float32 with the pixel size,
  ``(K, H, W)`` (ImageJ axes CYX) for one series, ``(n, K, H, W)`` (TCYX)
  for a stack of series;
- ``NAME_mask.png`` (one series) or ``NAME_mask.tif`` (``n`` pages): the class
  index of every pixel (uint8, the most probable class; 0 is the background);
- ``NAME_overlay.png``: the first segmented series' middle image with every
  foreground class in its own colour and a legend.

The column counts (``NAME_counts.csv``) are the caller's, through ``on_mask``
(``infer`` does not import ``analyze``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from temseg.errors import BlankImageError, InputError
from temseg.infer.segmenter import foreground
from temseg.infer.stacks import Callback, SegmentResult, _imagej_options, output_paths
from temseg.io.files import atomic_path


def class_outputs(segmenter) -> bool:
    """Whether ``segmenter`` gets class outputs (class-index mask, K probability maps): K ≥ 3."""
    return len(segmenter.classes) >= 3


def count_series(segmenter, micrograph, *, name: str | None = None) -> int:
    """How many inputs ``micrograph`` holds for ``segmenter``: focal series of C frames (C > 1),
    else frames.

    Raises
    ------
    InputError
        For C > 1: a single image, or a frame count that is not a multiple of C;
        one line naming the file and what the model takes.
    """
    c = segmenter.in_channels
    if c == 1:
        return micrograph.n_frames
    name = name or str(micrograph.path or "image")
    if not micrograph.is_stack:
        hint = " (images of a series in files of their own: --series-files)"
        if "S" in str((micrograph.metadata or {}).get("tiff.axes", "")):
            # tifffile.imwrite of a (3, H, W) series stores RGB: its frames became one image
            hint = (" (its samples per pixel were read as colour and made grey: save the "
                    "frames with photometric='minisblack')")
        raise InputError(f"{name}: the model takes {segmenter.takes} (stacks of {c}·n frames, "
                         f"n series); the file is a single image{hint}")
    n = micrograph.n_frames
    if n % c:
        raise InputError(f"{name}: the model takes {segmenter.takes} (stacks of {c}·n frames, "
                         f"n series); the file has {n} frames")
    return n // c


def group_series_files(paths: list[Path], in_channels: int) -> list[list[Path]]:
    """``paths`` cut into focal series of C consecutive files (``--series-files``).

    Raises
    ------
    InputError
        For a model of single images, or a file count that is not a multiple of C.
    """
    if in_channels == 1:
        raise InputError("--series-files: the model takes single images, not focal series")
    if not paths or len(paths) % in_channels:
        raise InputError(f"--series-files: the model takes focal series of {in_channels} "
                         f"images; {len(paths)} file(s) given, not a multiple of "
                         f"{in_channels} (a stack holding whole series goes without "
                         "--series-files)")
    return [list(paths[i:i + in_channels]) for i in range(0, len(paths), in_channels)]


#: images of one focal series whose pixel sizes differ by more than this fraction are refused
SAMPLING_TOLERANCE = 0.01


def read_series_files(paths: list[Path], *, sampling: float | None = None, warn=None):
    """One focal series from C single-image files, as an in-memory ``(C, H, W)`` stack.

    Parameters
    ----------
    paths : list of path
        The images of the series, in the order the model's channels take them
        (or the order ``--series-order`` describes).
    sampling : float, optional
        Å per pixel of every image, replacing the files' own.
    warn : callable(str), optional
        Hears what the readers warn of (e.g. a colour image read as grey).

    Returns
    -------
    temseg.io.Micrograph
        ``path`` the first file; ``metadata`` the first file's, with
        ``series_files`` (the paths in order, as given).

    Raises
    ------
    InputError
        A file that is a stack, images of different sizes, or pixel sizes that
        differ by more than 1 % (or one file with and one without).
    """
    from temseg.io import Micrograph, read_image

    images = [read_image(path, sampling=sampling, warn=warn) for path in paths]
    first = images[0]
    for path, image in zip(paths, images):
        if image.is_stack:
            raise InputError(f"{path}: a stack of {image.n_frames} frames; --series-files "
                             "takes one image per file")
        if image.frame_shape != first.frame_shape:
            raise InputError(f"{path}: {image.frame_shape[0]}×{image.frame_shape[1]} px "
                             f"(H × W), but {Path(paths[0]).name} is {first.frame_shape[0]}×"
                             f"{first.frame_shape[1]} px: the images of one focal series "
                             "must be the same size")
        a, b = image.sampling, first.sampling
        if (a is None) != (b is None) or (a is not None and
                                          abs(a - b) > SAMPLING_TOLERANCE * b):
            raise InputError(f"{path}: {_pixel_size(a)}, but {Path(paths[0]).name} has "
                             f"{_pixel_size(b)}: the images of one focal series share the "
                             "pixel size (--sampling sets it for all)")
    data = np.stack([np.asarray(image.data, np.float32) for image in images])
    metadata = {**first.metadata, "series_files": [str(p) for p in paths]}
    return Micrograph(data, sampling=first.sampling, metadata=metadata, path=Path(paths[0]))


def hyperstack_as_series(micrograph, in_channels: int):
    """A ``(T, C, H, W)`` hyperstack (ImageJ axes ``TCYX`` or ``ZCYX``: a time series of
    focal series, as Fiji saves one) as the ``(T·C, H, W)`` stack of T focal series a model
    of ``C = in_channels`` channels takes, lazily; a micrograph of ≤ 3 dimensions as it is.

    Raises
    ------
    InputError
        Any other hyperstack: one whose second axis is not the channels (C), or holds
        another number of them than the model takes, or of more than 4 dimensions.
    """
    data = micrograph.data
    if data.ndim <= 3:
        return micrograph
    import dataclasses

    axes = str(micrograph.metadata.get("tiff.axes", ""))
    name = micrograph.path or "image"
    shape = tuple(int(n) for n in data.shape)
    if data.ndim != 4 or len(axes) != 4 or axes[1] != "C":
        raise InputError(f"{name}: a {data.ndim}-D array of shape {shape}"
                         + (f", axes {axes}" if axes else "") + "; a focal-series model takes "
                         "a stack of n·C frames or a (T, C, H, W) hyperstack (axes TCYX)")
    if shape[1] != in_channels:
        raise InputError(f"{name}: a hyperstack of {shape[1]} channels (axes {axes}, shape "
                         f"{shape}), but the model takes focal series of {in_channels}")
    flat = data.reshape((shape[0] * shape[1], *shape[2:]))
    metadata = {**micrograph.metadata, "hyperstack_axes": axes, "hyperstack_shape": list(shape)}
    step = micrograph.frame_interval_s  # ImageJ's finterval is per time point, C frames
    if step:
        metadata["frame_interval_s"] = step / in_channels
    return dataclasses.replace(micrograph, data=flat, metadata=metadata)


def _pixel_size(sampling: float | None) -> str:
    return "no pixel size" if sampling is None else f"{sampling:.4g} Å/px"


def check_series_order(order, in_channels: int) -> list[int] | None:
    """``order`` (frame k of every series is the model's channel ``order[k]``) as a list,
    checked to be a permutation of the C channels; None keeps the model's order.

    >>> check_series_order("2,1,0", 3), check_series_order("2 1 0", 3)
    ([2, 1, 0], [2, 1, 0])
    """
    if order is None:
        return None
    if isinstance(order, str):
        try:
            order = [int(v) for v in re.split(r"[,\s]+", order.strip()) if v != ""]
        except ValueError:
            raise InputError(f"series order: {order!r} is not channel indices separated by "
                             "commas or spaces (e.g. 2,1,0)") from None
    order = [int(v) for v in order]
    if in_channels == 1:
        raise InputError("series order: the model takes single images, not focal series")
    if sorted(order) != list(range(in_channels)):
        raise InputError(f"series order: {','.join(map(str, order))} is not an order of the "
                         f"model's {in_channels} channels 0..{in_channels - 1}")
    return order


def iter_series(micrograph, in_channels: int, *, order: list[int] | None = None
                ) -> Iterator[np.ndarray]:
    """Yield ``(C, H, W)`` float32 focal series of consecutive frames (``(H, W)`` frames for
    C = 1), reading only C frames at a time. The frame count must be a multiple of C.

    ``order`` (from :func:`check_series_order`) says which of the model's channels
    each frame of a series holds (frame k is channel ``order[k]``), for series
    recorded in another order, e.g. from over- to underfocus; default the
    model's own order.
    """
    if in_channels == 1:
        yield from micrograph.frames()
        return
    # channel i of the model is frame position[i] of the series
    position = list(range(in_channels)) if order is None else [order.index(i) for i in
                                                              range(in_channels)]
    for start in range(0, micrograph.n_frames - in_channels + 1, in_channels):
        yield np.stack([micrograph.frame(start + position[i]) for i in range(in_channels)])


def constant_frames(micrograph, series: list[int], in_channels: int) -> list[int]:
    """The frames (0-based indices in the file) that are constant in the given series of a
    stack, e.g. the blank series of a :class:`SegmentResult`, to name them in a message.

    Frame ``i·C + k`` is frame ``k`` of series ``i`` as stored, whatever ``order`` the
    series are read in; only these series' frames are read again.

    >>> from temseg.io import Micrograph
    >>> data = np.random.default_rng(0).random((6, 4, 4)); data[4] = 1.0
    >>> constant_frames(Micrograph(data), [1], 3)
    [4]
    """
    found = []
    for i in series:
        for f in range(i * in_channels, (i + 1) * in_channels):
            frame = np.asarray(micrograph.frame(f), np.float64)
            # as standardize finds a blank image: no range, or a std lost in the mean
            if np.ptp(frame) == 0 or not frame.std() > 1e-12 * max(1.0, abs(frame.mean())):
                found.append(f)
    return found


def display_image(series: np.ndarray) -> np.ndarray:
    """The image shown in overlays: a frame itself, or the middle image of a focal series."""
    return series if series.ndim == 2 else series[series.shape[0] // 2]


def _predict(segmenter, series, sampling, on_tile, threshold, classes: bool):
    """(probability map to write, mask to write, mask for ``on_mask``) of one series."""
    proba = segmenter.predict_proba(series, sampling=sampling, callback=on_tile)
    if classes:
        mask = proba.argmax(0).astype(np.uint8)
        return proba, mask, mask
    prob = np.ascontiguousarray(foreground(proba), dtype=np.float32)
    mask = prob >= threshold
    return prob, mask.view(np.uint8) * np.uint8(255), mask


def _write_overlay(path: Path, image, mask, segmenter, classes: bool, title: str,
                   sampling: float | None = None) -> None:
    from temseg.io import write_overlay
    from temseg.io.writers import write_class_overlay

    if classes:
        write_class_overlay(path, image, mask, classes=segmenter.classes, title=title,
                            sampling=sampling)
    else:
        write_overlay(path, image, mask, sampling=sampling)


def segment_series(segmenter, micrograph, out_dir: str | Path, *, name: str | None = None,
                   threshold: float | None = None, sampling: float | None = None,
                   on_frame: Callback | None = None, on_tile: Callback | None = None,
                   on_mask: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
                   order: list[int] | None = None) -> SegmentResult:
    """Segment the focal series (or, for C = 1, the frames) of one file and write the outputs.

    Parameters
    ----------
    segmenter : temseg.infer.Segmenter
        With ``in_channels`` C and K ``classes``.
    micrograph : temseg.io.Micrograph
        An image or a lazy stack; for C > 1 a stack of n·C frames.
    out_dir : path
        Output folder (created).
    name : str, optional
        Stem of the output files; default the input file's stem.
    threshold : float, optional
        Foreground threshold of a 2-class model (a K ≥ 3 mask is the most
        probable class).
    sampling : float, optional
        Å per pixel; default the micrograph's.
    on_frame, on_tile : callable(done, total), optional
        Progress over series (frames for C = 1) and over the tiles of the current one.
    on_mask : callable(index, mask, image), optional
        Called with each segmented series' index, its mask (uint8 class indices
        for K ≥ 3, else boolean) and its display image (the middle channel).
    order : list of int, optional
        Frame k of every series holds the model's channel ``order[k]``
        (:func:`check_series_order`); default the model's order.

    Returns
    -------
    SegmentResult
        ``shape`` is the input's; ``frame_fractions`` and ``blank_frames`` count
        series (``frames_per_series`` = C); ``class_fractions`` gives each
        class's share of the pixels for K ≥ 3.
    """
    import tifffile

    c = segmenter.in_channels
    classes = class_outputs(segmenter)
    k = len(segmenter.classes)
    threshold = segmenter.threshold if threshold is None else float(threshold)
    sampling = micrograph.sampling if sampling is None else sampling
    if name is None:
        name = Path(micrograph.path).stem if micrograph.path is not None else "image"
    n = count_series(segmenter, micrograph, name=str(micrograph.path or name))
    stacked = micrograph.is_stack if c == 1 else n > 1
    paths = output_paths(out_dir, name, stack=stacked)  # the names of the binary path
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    h, w = micrograph.frame_shape
    label = str(Path(micrograph.path).name if micrograph.path is not None else name)
    middle = f" ({segmenter.channels[c // 2]})" if c > 1 and segmenter.channels else ""
    files = (micrograph.metadata or {}).get("series_files") if c > 1 else None
    if files:  # one series from C files (read_series_files): name the file shown
        shown = files[c // 2 if order is None else order.index(c // 2)]
        label = f"series {name}: {Path(shown).name}"
    pixels = np.zeros(k if classes else 2, np.int64)  # pixels per class (or bg/fg)

    def tally(mask_out: np.ndarray) -> float:
        counts = np.bincount((mask_out if classes else mask_out > 0).ravel(),
                             minlength=len(pixels))
        pixels[:] += counts[:len(pixels)]
        return float(1.0 - counts[0] / mask_out.size)

    if not stacked:
        from temseg.io import write_mask, write_tiff

        series = next(iter_series(micrograph, c, order=order))
        try:
            prob, mask_out, mask = _predict(segmenter, series, sampling, on_tile, threshold,
                                            classes)
        except BlankImageError as exc:
            if files:  # say which file is constant, not only which channel
                flat = [f for f, frame in zip(files, micrograph.frames())
                        if np.all(frame == frame.flat[0])]
                if flat:
                    raise BlankImageError(f"{', '.join(map(str, flat))}: constant image "
                                          f"in the series of {Path(files[0]).name} ({exc})"
                                          ) from None
            raise
        image = display_image(series)
        if on_mask is not None:
            on_mask(0, mask, image)
        fraction = tally(mask_out)
        write_tiff(paths["probability"], prob, sampling=sampling,
                   axes="CYX" if classes else None)
        write_mask(paths["mask"], mask_out if classes else mask, sampling=sampling)
        _write_overlay(paths["overlay"], image, mask_out, segmenter, classes,
                       f"{label}{middle}", sampling)
        if on_frame is not None:
            on_frame(1, 1)
        return SegmentResult(micrograph.path, paths, tuple(micrograph.data.shape), sampling,
                             fraction, [fraction] if c > 1 else None, [],
                             frames_per_series=c, class_fractions=_fractions(segmenter, pixels,
                                                                             classes))

    fractions: list[float | None] = []
    blank: list[int] = []
    first: dict = {}
    step = micrograph.frame_interval_s  # seconds per frame; a series takes C of them
    options = _imagej_options(sampling, step * c if step else None)
    prob_shape: tuple = (n, k, h, w) if classes else (n, h, w)
    if classes:
        options["metadata"] = {**options["metadata"], "axes": "TCYX"}
    with atomic_path(paths["probability"]) as prob_tmp, atomic_path(paths["mask"]) as mask_tmp:
        prob_map = tifffile.memmap(prob_tmp, shape=prob_shape, dtype=np.float32, imagej=True,
                                   **options)
        mask_map = tifffile.memmap(mask_tmp, shape=(n, h, w), dtype=np.uint8, imagej=True,
                                   **_imagej_options(sampling, step * c if step else None))
        try:
            for i, series in enumerate(iter_series(micrograph, c, order=order)):
                try:
                    prob, mask_out, mask = _predict(segmenter, series, sampling, on_tile,
                                                    threshold, classes)
                except BlankImageError:  # one blank series must not stop a long run
                    blank.append(i)
                    prob_map[i] = np.nan
                    mask_map[i] = 0
                    fractions.append(None)
                else:
                    prob_map[i] = prob
                    mask_map[i] = mask_out
                    fractions.append(tally(mask_out))
                    image = display_image(series)
                    if on_mask is not None:
                        on_mask(i, mask, image)
                    if not first:
                        first.update(index=i, image=image, mask=mask_out)
                if on_frame is not None:
                    on_frame(i + 1, n)
            if len(blank) == n:
                what = "focal series" if c > 1 else "frames"
                raise BlankImageError(f"{micrograph.path or 'stack'}: every one of the {n} "
                                      f"{what} is constant; nothing to segment")
            prob_map.flush()
            mask_map.flush()
        finally:
            del prob_map, mask_map
        unit = "series" if c > 1 else "frame"
        _write_overlay(paths["overlay"], first["image"], first["mask"], segmenter, classes,
                       f"{label}: {unit} {first['index']}{middle}", sampling)
    done = [f for f in fractions if f is not None]
    return SegmentResult(micrograph.path, paths, tuple(micrograph.data.shape), sampling,
                         float(np.mean(done)), fractions, blank, frames_per_series=c,
                         overlay_frame=first["index"],
                         class_fractions=_fractions(segmenter, pixels, classes))


def _fractions(segmenter, pixels: np.ndarray, classes: bool) -> dict | None:
    """Each class's share of the segmented pixels (K ≥ 3 only)."""
    if not classes:
        return None
    total = max(int(pixels.sum()), 1)
    return {name: float(count / total) for name, count in zip(segmenter.classes, pixels)}
