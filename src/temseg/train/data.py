"""Training data: labelled folders or zarr datasets → preprocessed arrays, splits, batches.

Everything random here is a pure function of ``(seed, epoch)``: the order,
crops and augmentations of epoch ``e`` are the same whether the run was
resumed or not, which is what makes a resumed run bit-identical.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from temseg.errors import InputError
from temseg.io.labelled import attr_sampling
from temseg.io.labels import MAX_QUIET_CLASS_ID, check_labels, class_ids


@dataclass
class TrainingSet:
    """Images and labels ready for training (already preprocessed).

    Attributes
    ----------
    images : list of (H, W) or (C, H, W) ndarray of float32
        One plain image each, or C channels (a focal series, 003), the same C for all.
    labels : list of (H, W) ndarray of uint8 — class indices (binary: 0/1)
    names : list of str — one per image
    groups : list of str — source group per image (splits never cut a group)
    sampling : float or None — Å per pixel, when the data says so
    channel_names : list of str or None — names of the C channels (e.g. ``"Δf +0 Å"``)
    class_names : list of str or None — class names, index = class (from a dataset's attrs)
    channels : int — input channels C (1 for (H, W) images); found from the images
    """

    images: list[np.ndarray]
    labels: list[np.ndarray]
    names: list[str]
    groups: list[str] = field(default_factory=list)
    sampling: float | None = None
    channel_names: list[str] | None = None
    class_names: list[str] | None = None
    channels: int | None = None

    def __post_init__(self) -> None:
        if not self.groups:
            self.groups = list(self.names)
        if not (len(self.images) == len(self.labels) == len(self.names) == len(self.groups)):
            raise InputError("training set: images, labels, names and groups differ in length")
        bad = [(name, np.shape(img)) for name, img in zip(self.names, self.images)
               if np.ndim(img) not in (2, 3)]
        if bad:
            raise InputError(f"training set: image {bad[0][0]} has shape {bad[0][1]}; "
                             "expected (H, W) or (C, H, W)")
        found = {1 if np.ndim(img) == 2 else int(np.shape(img)[0]) for img in self.images}
        if len(found) > 1:
            raise InputError(f"training set: images must all be (H, W) or all (C, H, W) with "
                             f"one C; got {len(found)} channel counts {sorted(found)}")
        if self.channels is None:
            self.channels = found.pop() if found else 1
        elif found and found != {self.channels}:
            raise InputError(f"training set: images have {found.pop()} channels, "
                             f"not {self.channels}")
        if self.channel_names is not None and len(self.channel_names) != self.channels:
            raise InputError(f"training set: {len(self.channel_names)} channel names for "
                             f"{self.channels} channels")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int]) -> TrainingSet:
        """The images at ``indices`` as a new set (arrays shared, not copied)."""
        idx = [int(i) for i in indices]
        return TrainingSet([self.images[i] for i in idx], [self.labels[i] for i in idx],
                           [self.names[i] for i in idx], [self.groups[i] for i in idx],
                           self.sampling, self.channel_names, self.class_names, self.channels)

    @property
    def n_classes(self) -> int:
        """Number of classes: the named ones, or those seen in the labels (at least 2)."""
        seen = max((int(lab.max()) for lab in self.labels), default=0) + 1
        return max(2, seen, len(self.class_names or ()))

    def class_names_or_default(self, n_classes: int | None = None) -> list[str]:
        """Names of ``n_classes`` classes (default :attr:`n_classes`), index = class.

        The data's names when there are as many, else ``background, foreground``
        for two classes and ``background, class_1, ...`` for more.
        """
        return default_class_names(self.class_names,
                                   self.n_classes if n_classes is None else n_classes)

    def foreground_fraction(self) -> float:
        """Fraction of labelled pixels that are foreground (label > 0)."""
        fg = sum(int(np.count_nonzero(lab)) for lab in self.labels)
        total = sum(lab.size for lab in self.labels)
        return fg / total if total else 0.0


def default_class_names(names: Sequence[str] | None, n_classes: int) -> list[str]:
    """``names`` when there are ``n_classes`` of them, else ``background, foreground`` for two
    classes and ``background, class_1, ...`` for more."""
    n = int(n_classes)
    if names is not None and len(names) == n:
        return list(names)
    return ["background", "foreground"] if n == 2 else [
        "background", *(f"class_{i}" for i in range(1, n))]


def group_of(name: str, pattern: str = r"_layer_\d+$") -> str:
    """Source group of an image name: the name with ``pattern`` removed.

    >>> group_of("2014_0601_Gr_FS_029_layer_0011")
    '2014_0601_Gr_FS_029'
    """
    return re.sub(pattern, "", name) or name


def _names_attr(root, key: str, path: Path) -> list[str] | None:
    """A list-of-names attribute of a dataset (``classes``, ``channels``), or None."""
    value = root.attrs.get(key)
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise InputError(f"{path}: attribute {key!r} must be a list of names, got {value!r}")
    return [str(v) for v in value]


def _read_zarr(path: Path, *, multiclass: bool, sampling: float | None = None,
               raw: dict | None = None) -> TrainingSet:
    """A zarr dataset: ``images`` (N, H, W) or (N, C, H, W), ``labels`` (N, H, W).

    Labels are kept as classes with ``multiclass`` or when the attrs name
    three or more ``classes`` (a species dataset, 003); else label > 0 is
    foreground (warned when they hold three or more class ids). Attrs
    ``channels`` and ``classes`` become the set's ``channel_names`` and
    ``class_names``; attr ``sampling`` its pixel size, unless ``sampling`` is given.
    Errors name the dataset (and the image: fractional labels, non-finite pixels).
    Binary labels without a 0 put their values in ``raw[path]`` (for the error that follows).
    """
    import zarr

    raw = {} if raw is None else raw
    try:
        root = zarr.open_group(str(path), mode="r")
        images, labels = root["images"], root["labels"]
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for a bad store
        raise InputError(f"{path}: not a temseg zarr dataset with images/labels "
                         f"({type(exc).__name__})") from None
    ishape, lshape = tuple(images.shape), tuple(labels.shape)
    if len(ishape) not in (3, 4) or len(lshape) != 3 or ishape[0] != lshape[0] \
            or ishape[-2:] != lshape[-2:]:
        raise InputError(f"{path}: images {ishape} and labels {lshape} must be (N, H, W) or "
                         "(N, C, H, W) images with (N, H, W) labels of the same N, H, W")
    classes = _names_attr(root, "classes", path)
    channel_names = _names_attr(root, "channels", path)
    n_channels = ishape[1] if len(ishape) == 4 else 1
    if channel_names is not None and len(channel_names) != n_channels:
        raise InputError(f"{path}: attribute 'channels' names {len(channel_names)} channels, "
                         f"the images have {n_channels}")
    if sampling is None:  # checked before any pixel is read
        sampling = attr_sampling(path, root.attrs.get("sampling"))
    names = [f"{path.stem}_{i:05d}" for i in range(ishape[0])]
    labs = check_labels(path, names, labels[:])
    keep = multiclass or (classes is not None and len(classes) >= 3)
    if keep and labs.size and int(labs.min()) < 0:
        raise InputError(f"{path}: label has negative class id {int(labs.min())}")
    if keep and classes is not None and labs.size and int(labs.max()) >= len(classes):
        raise InputError(f"{path}: label value {int(labs.max())} has no name in attribute "
                         f"'classes' ({len(classes)} names: {', '.join(classes)})")
    if not keep and labs.size and labs.min() > 0:  # no background: kept to say which values
        raw[path] = [int(v) for v in np.unique(labs)[:MAX_QUIET_CLASS_ID + 2]]
    if not keep and labs.size and 0 <= labs.min() and labs.max() < 256:
        ids = class_ids(np.flatnonzero(np.bincount(labs.ravel().astype(np.intp))))
        if ids:
            warnings.warn(f"{path}: labels hold {len(ids)} class ids ({', '.join(map(str, ids))})"
                          "; binary training reads label > 0 as foreground, one class for all; "
                          "to keep the classes set `multiclass: true` in the recipe (--config)",
                          UserWarning, stacklevel=3)
    labs = (labs if keep else labs > 0).astype(np.uint8)
    if not keep and classes is not None and len(classes) != 2:
        classes = None  # binary training of a dataset named otherwise: the default names
    imgs = np.asarray(images[:], dtype=np.float32)
    if imgs.ndim == 4 and n_channels == 1:
        imgs = imgs[:, 0]  # one channel: plain (H, W) images, as a labelled folder gives
    bad = (~np.isfinite(imgs)).reshape(len(imgs), int(np.prod(imgs.shape[1:]))).sum(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: image {names[first]}: {int(bad[first])} non-finite "
                         "(NaN/inf) pixel(s)")
    # images of one simulated structure (its imaging conditions, "image epochs") are one group,
    # so they never straddle a train/validation split
    try:
        structure = np.asarray(root["parameters"]["structure"][:])
        groups = [f"{path.stem}_s{int(s):05d}" for s in structure]
    except (KeyError, TypeError, ValueError):
        groups = list(names)
    if len(groups) != len(names):
        raise InputError(f"{path}: parameters/structure has {len(groups)} rows for "
                         f"{len(names)} images")
    return TrainingSet(list(imgs), list(labs), names, groups, sampling,
                       channel_names=channel_names, class_names=classes, channels=n_channels)


def common_sampling(samplings: dict[str, float | None]) -> float | None:
    """The one pixel size (Å/px) of data whose parts (name → sampling) may differ (warns).

    Parts without a calibration are taken to share the others' one pixel size
    (warned: a model records the pixel size segment resamples new images to).
    Parts at different pixel sizes give ``None``: the network sees every scale
    and the model records none, so segment will not resample (warned).
    """
    known = {name: value for name, value in samplings.items() if value is not None}
    values = sorted(set(known.values()))
    unknown = [name for name, value in samplings.items() if value is None]
    if len(values) > 1:
        shown = ", ".join(f"{v:g}" for v in values)
        warnings.warn(f"training data at {len(values)} pixel sizes ({shown} Å/px): the model "
                      "records none, so segment will not resample new images to it; resample "
                      "the data to one pixel size if that is not meant", UserWarning, stacklevel=3)
        return None
    if values and unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        warnings.warn(f"{', '.join(unknown[:3])}{more}: no pixel size; taken to be "
                      f"{values[0]:g} Å/px like the rest of the training data (give --sampling "
                      "to set it)", UserWarning, stacklevel=3)
    return values[0] if values else None


def _read_folder(path: Path, *, label_suffix: str, multiclass: bool, pattern: str,
                 raw: dict | None = None) -> TrainingSet:
    """A labelled folder; the label files' values as stored go to ``raw[path]``."""
    from temseg.io import read_labelled_folder

    pairs = read_labelled_folder(path, label_suffix=label_suffix, multiclass=multiclass)
    if raw is not None:
        raw[path] = list(pairs.label_values)
    images, labels, names, samplings = [], [], [], {}
    for pair in pairs:
        images.append(np.asarray(pair.image, dtype=np.float32))
        lab = np.asarray(pair.label)
        labels.append((lab if multiclass else lab > 0).astype(np.uint8))
        names.append(pair.name)
        samplings[str(pair.path or pair.name)] = pair.sampling
    return TrainingSet(images, labels, names, [group_of(n, pattern) for n in names],
                       common_sampling(samplings))


def dataset_sources(paths: Sequence[str | Path], *, label_suffix: str = "_LABEL"):
    """``(name, image, label)`` per image of ``paths`` in the order :func:`load_training_data`
    reads them, without reading pixels: the files of a labelled folder, ``(dataset, index)``
    of a zarr dataset (``STEM_00000``…). A path that is neither, or cannot be read, gives
    nothing: reading it reports the error."""
    from temseg.io.files import is_zarr_dataset
    from temseg.io.labelled import find_pairs

    for path in map(Path, paths):
        if is_zarr_dataset(path):
            import zarr

            try:
                n = zarr.open_group(str(path), mode="r")["images"].shape[0]
            except Exception:  # noqa: BLE001 - a bad store is reported when it is read
                continue
            for i in range(n):
                yield f"{path.stem}_{i:05d}", (path, i), (path, i)
        elif path.is_dir():
            try:
                pairs = find_pairs(path, label_suffix=label_suffix)
            except InputError:
                continue
            for image, label in pairs:
                yield image.stem, image, label


def dataset_names(paths: Sequence[str | Path], *, label_suffix: str = "_LABEL") -> list[str]:
    """The image names :func:`load_training_data` would give ``paths``, without reading pixels
    (:func:`dataset_sources`)."""
    return [name for name, _, _ in dataset_sources(paths, label_suffix=label_suffix)]


def load_training_data(paths: Sequence[str | Path], *, label_suffix: str = "_LABEL",
                       multiclass: bool = False, group_pattern: str = r"_layer_\d+$",
                       preprocessing=None, sampling: float | None = None) -> TrainingSet:
    """Read labelled folders and/or zarr datasets into one preprocessed :class:`TrainingSet`.

    Parameters
    ----------
    paths : sequence of path
        Labelled folders or zarr dataset folders (recognised by ``.zarr`` or a
        ``zarr.json``/``.zgroup`` inside).
    label_suffix : str
        A labelled folder pairs ``NAME`` with ``NAME<label_suffix>``.
    multiclass : bool
        Keep the labels' class ids (else label > 0 is foreground).
    group_pattern : str
        Regular expression cut from an image's stem to name its source group
        (``_layer_0031``: frames of one series stay on one side of a split).
    preprocessing : callable, optional
        Applied to every image, (H, W) → (H, W) or (C, H, W) → (C, H, W) (a
        :class:`temseg.preprocess.Preprocessing`, which works channel by channel).
    sampling : float, optional
        Å/px overriding the calibration of the data.

    Returns
    -------
    TrainingSet
        (H, W) images, or (C, H, W) from a zarr dataset of (N, C, H, W) images
        (a focal series; labelled folders are one channel); ``channel_names``
        and ``class_names`` from the datasets' attrs ``channels``/``classes``.

    Raises
    ------
    InputError
        A path is missing, the set is empty, no pixel is foreground, no pixel
        is background in binary training (labels saved as class ids 1/2, or an
        inverted mask: the message says which values they hold), or the parts
        differ in channels (count or names) or class names.

    Warns
    -----
    UserWarning
        In binary training, images whose label is foreground everywhere among
        others that are not; parts at different or unknown pixel sizes
        (:func:`common_sampling`).
    """
    if not paths:
        raise InputError("data: give at least one labelled folder or zarr dataset")
    parts, raw = [], {}
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(f"{path}: no such folder or dataset")
        is_zarr = path.suffix == ".zarr" or (path / "zarr.json").exists() or (
            path / ".zgroup").exists()
        with warnings.catch_warnings():
            if sampling is not None:  # the user's pixel size replaces the files': no doubt left
                warnings.filterwarnings("ignore", message=r".*(no pixel size; taken|training "
                                        r"data at \d+ pixel sizes)", category=UserWarning)
            parts.append(_read_zarr(path, multiclass=multiclass, sampling=sampling, raw=raw)
                         if is_zarr else
                         _read_folder(path, label_suffix=label_suffix, multiclass=multiclass,
                                      pattern=group_pattern, raw=raw))
        if not len(parts[-1]):
            raise InputError(f"{path}: no labelled images found")
    channel_names, class_names = _agreeing(paths, parts)
    merged = TrainingSet([i for p in parts for i in p.images],
                         [lab for p in parts for lab in p.labels],
                         [n for p in parts for n in p.names], [g for p in parts for g in p.groups],
                         channel_names=channel_names, class_names=class_names,
                         channels=parts[0].channels)
    merged.sampling = sampling if sampling is not None else common_sampling(
        {str(path): part.sampling for path, part in zip(paths, parts)})
    fraction = merged.foreground_fraction()
    if fraction == 0.0:
        raise InputError(f"{', '.join(map(str, paths))}: every label is background; "
                         "nothing to learn")
    if fraction == 1.0 and merged.n_classes == 2:
        raise InputError(_no_background(paths, raw))
    if merged.n_classes == 2:
        full = [name for name, lab in zip(merged.names, merged.labels) if lab.all()]
        if full:
            more = f" and {len(full) - 3} more" if len(full) > 3 else ""
            warnings.warn(f"{', '.join(full[:3])}{more}: every pixel of the label is foreground "
                          "(0 is background: a label saved as class ids 1/2, or inverted?)",
                          UserWarning, stacklevel=2)
    if preprocessing is not None:
        origins = [path for path, part in zip(paths, parts) for _ in part.names]
        merged.images = [_preprocessed(preprocessing, img, origin, name)
                         for img, origin, name in zip(merged.images, origins, merged.names)]
    return merged


def _no_background(paths: Sequence[str | Path], raw: dict) -> str:
    """The one line refusing binary labels without a background pixel: which values they hold."""
    values = sorted({v for found in raw.values() for v in found})
    held = (f"every label is {values[0]} everywhere" if len(values) == 1 else
            f"the labels hold only {', '.join(map(str, values))}" if values else
            "every pixel of every label is foreground")
    return (f"{', '.join(map(str, paths))}: no label has a background pixel: {held}; 0 must be "
            "background: save labels as 0 = background, 1 = foreground (class ids 1/2, as "
            "ilastik writes them: subtract 1; an inverted mask: invert it)")


def _preprocessed(preprocessing, image: np.ndarray, origin, name: str) -> np.ndarray:
    """``preprocessing(image)`` as float32; an error (a constant image...) names the image and
    the folder or dataset it came from."""
    from temseg.errors import TemsegError

    try:
        return np.asarray(preprocessing(image), dtype=np.float32)
    except TemsegError as exc:
        raise type(exc)(f"{origin}: image {name}: {exc}") from None


def _agreeing(paths: Sequence[str | Path], parts: Sequence[TrainingSet]
              ) -> tuple[list[str] | None, list[str] | None]:
    """The channel and class names of parts that must agree; an error names the two paths.

    Parts without names (labelled folders) agree with any names of their channel
    or class count: the merged set takes the names that are known.
    """
    first = {"channels": (None, None), "classes": (None, None)}
    for path, part in zip(paths, parts):
        if part.channels != parts[0].channels:
            raise InputError(f"data: {paths[0]} has {parts[0].channels} channel(s) per image, "
                             f"{path} has {part.channels}; a network takes one channel count")
        for key, names in (("channels", part.channel_names), ("classes", part.class_names)):
            known_path, known = first[key]
            if names is None:
                continue
            if known is not None and names != known:
                raise InputError(f"data: {known_path} and {path} name their {key} differently "
                                 f"({', '.join(known)} vs {', '.join(names)})")
            first[key] = (path, names)
    return first["channels"][1], first["classes"][1]


def epoch_rng(seed: int, epoch: int, stream: int = 0) -> np.random.Generator:
    """The generator of one epoch of one seed (independent of any earlier epoch)."""
    return np.random.default_rng([int(seed), int(epoch), int(stream)])


def epoch_batches(data: TrainingSet, *, seed: int, epoch: int, batch_size: int,
                  patch_size: int | None = None, patches_per_image: int = 1,
                  dihedral: bool = True, intensity: float = 0.0, zoom: float = 0.0,
                  noise: float = 0.0, blur: float = 0.0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shuffled, cropped and augmented batches of one epoch.

    ``intensity`` = a draws a gain log-uniformly in [1/(1+a), 1+a] and an offset
    in [−a, a] image standard deviations (:func:`temseg.preprocess.random_intensity`).
    ``zoom`` = a magnifies by a factor drawn log-uniformly in [1/(1+a), 1+a]
    (:func:`temseg.preprocess.random_zoom`; it draws the crop's place itself).
    ``blur`` = b applies a Gaussian blur of std drawn in [0, b] pixels (before the
    gain), ``noise`` = n adds white Gaussian noise of std drawn in [0, n] image
    standard deviations (after it); see :func:`temseg.preprocess.random_intensity`.

    (C, H, W) images (a focal series) are cropped, zoomed and turned with one
    draw for all channels and the label, so the channels stay registered;
    intensity, blur and noise are drawn for each channel in turn (each defocus
    is its own exposure, with its own contrast and noise). One-channel data
    draw exactly as they always did. A non-square tile (whole-image training
    on non-square images) is only mirrored or turned by 180°, so it keeps its
    shape (:func:`temseg.preprocess.random_dihedral` with ``keep_shape``).

    Yields
    ------
    x : (B, C, P, P) ndarray of float32 (C = 1 for (H, W) images)
    y : (B, P, P) ndarray of int64 — class indices
    """
    from temseg.preprocess import random_dihedral, random_intensity, random_zoom

    quality = dict(gain=(1.0 / (1.0 + intensity), 1.0 + intensity),
                   offset=(-intensity, intensity), noise_sigma=(0.0, noise), blur_px=(0.0, blur))
    rng = epoch_rng(seed, epoch)
    order = np.repeat(np.arange(len(data)), patches_per_image)
    rng.shuffle(order)
    for start in range(0, len(order), batch_size):
        xs, ys = [], []
        for i in order[start:start + batch_size]:
            img, lab = data.images[i], data.labels[i]
            if zoom > 0:
                side = img.shape[-2:] if patch_size is None else (patch_size, patch_size)
                img, lab, _ = random_zoom(img, lab, seed=rng, zoom=(1.0 / (1.0 + zoom), 1.0 + zoom),
                                          shape=side)
            elif patch_size is not None:
                h, w = img.shape[-2:]
                y0 = int(rng.integers(0, h - patch_size + 1))
                x0 = int(rng.integers(0, w - patch_size + 1))
                img = img[..., y0:y0 + patch_size, x0:x0 + patch_size]
                lab = lab[y0:y0 + patch_size, x0:x0 + patch_size]
            if dihedral:  # a non-square tile is only flipped or turned 180°: one batch, one shape
                img, lab, _ = random_dihedral(img, lab, seed=rng,
                                              keep_shape=img.shape[-2] != img.shape[-1])
            if intensity > 0 or noise > 0 or blur > 0:
                img = (random_intensity(img, seed=rng, **quality) if img.ndim == 2 else
                       np.stack([random_intensity(c, seed=rng, **quality) for c in img]))
            xs.append(np.ascontiguousarray(img, dtype=np.float32))
            ys.append(np.ascontiguousarray(lab, dtype=np.int64))
        x = np.stack(xs)
        yield (x[:, None] if x.ndim == 3 else x), np.stack(ys)


def check_shapes(data: TrainingSet, *, patch_size: int | None, where: str = "data") -> int:
    """The training tile side: ``patch_size``, or the common image shape; errors name the image.

    Raises
    ------
    InputError
        Whole-image training on images of different shapes, or an image smaller
        than ``patch_size``.
    """
    if patch_size is None:
        shapes = {img.shape[-2:] for img in data.images}
        if len(shapes) != 1:
            raise InputError(f"{where}: images differ in shape {sorted(shapes)[:3]}; "
                             "set patch_size to train on crops")
        shape = shapes.pop()
        if shape[0] != shape[1]:
            return min(shape)
        return shape[0]
    for name, img in zip(data.names, data.images):
        if min(img.shape[-2:]) < patch_size:
            raise InputError(f"{where}: image {name} {img.shape} is smaller than "
                             f"patch_size {patch_size}")
    return patch_size
