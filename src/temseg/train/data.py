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


@dataclass
class TrainingSet:
    """Images and labels ready for training (already preprocessed).

    Attributes
    ----------
    images : list of (H, W) ndarray of float32
    labels : list of (H, W) ndarray of uint8 — class indices (binary: 0/1)
    names : list of str — one per image
    groups : list of str — source group per image (splits never cut a group)
    sampling : float or None — Å per pixel, when the data says so
    """

    images: list[np.ndarray]
    labels: list[np.ndarray]
    names: list[str]
    groups: list[str] = field(default_factory=list)
    sampling: float | None = None

    def __post_init__(self) -> None:
        if not self.groups:
            self.groups = list(self.names)
        if not (len(self.images) == len(self.labels) == len(self.names) == len(self.groups)):
            raise InputError("training set: images, labels, names and groups differ in length")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int]) -> TrainingSet:
        """The images at ``indices`` as a new set (arrays shared, not copied)."""
        idx = [int(i) for i in indices]
        return TrainingSet([self.images[i] for i in idx], [self.labels[i] for i in idx],
                           [self.names[i] for i in idx], [self.groups[i] for i in idx],
                           self.sampling)

    @property
    def n_classes(self) -> int:
        """Number of classes seen in the labels (at least 2)."""
        return max(2, max((int(lab.max()) for lab in self.labels), default=0) + 1)

    def foreground_fraction(self) -> float:
        """Fraction of labelled pixels that are foreground (label > 0)."""
        fg = sum(int(np.count_nonzero(lab)) for lab in self.labels)
        total = sum(lab.size for lab in self.labels)
        return fg / total if total else 0.0


def group_of(name: str, pattern: str = r"_layer_\d+$") -> str:
    """Source group of an image name: the name with ``pattern`` removed.

    >>> group_of("2014_0601_Gr_FS_029_layer_0011")
    '2014_0601_Gr_FS_029'
    """
    return re.sub(pattern, "", name) or name


def _read_zarr(path: Path, *, multiclass: bool) -> TrainingSet:
    import zarr

    try:
        root = zarr.open_group(str(path), mode="r")
        images, labels = root["images"], root["labels"]
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for a bad store
        raise InputError(f"{path}: not a temseg zarr dataset with images/labels "
                         f"({type(exc).__name__})") from None
    if images.shape != labels.shape or len(images.shape) != 3:
        raise InputError(f"{path}: images {images.shape} and labels {labels.shape} must be "
                         "(N, H, W) of one shape")
    imgs = np.asarray(images[:], dtype=np.float32)
    labs = np.asarray(labels[:])
    labs = (labs if multiclass else labs > 0).astype(np.uint8)
    sampling = root.attrs.get("sampling")
    names = [f"{path.stem}_{i:05d}" for i in range(len(imgs))]
    # images of one simulated structure (its imaging conditions, "image epochs") are one group,
    # so they never straddle a train/validation split
    try:
        structure = np.asarray(root["parameters"]["structure"][:])
        groups = [f"{path.stem}_s{int(s):05d}" for s in structure]
    except (KeyError, TypeError, ValueError):
        groups = list(names)
    if len(groups) != len(names):
        raise InputError(f"{path}: parameters/structure has {len(groups)} rows for {len(names)} images")
    return TrainingSet(list(imgs), list(labs), names, groups,
                       float(sampling) if sampling is not None else None)


def common_sampling(samplings: dict[str, float | None]) -> float | None:
    """The one pixel size (Å/px) of data whose parts (name → sampling) may differ, with a warning.

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


def _read_folder(path: Path, *, label_suffix: str, multiclass: bool, pattern: str) -> TrainingSet:
    from temseg.io import read_labelled_folder

    pairs = read_labelled_folder(path, label_suffix=label_suffix, multiclass=multiclass)
    images, labels, names, samplings = [], [], [], {}
    for pair in pairs:
        images.append(np.asarray(pair.image, dtype=np.float32))
        lab = np.asarray(pair.label)
        labels.append((lab if multiclass else lab > 0).astype(np.uint8))
        names.append(pair.name)
        samplings[str(pair.path or pair.name)] = pair.sampling
    return TrainingSet(images, labels, names, [group_of(n, pattern) for n in names],
                       common_sampling(samplings))


def load_training_data(paths: Sequence[str | Path], *, label_suffix: str = "_LABEL",
                       multiclass: bool = False, group_pattern: str = r"_layer_\d+$",
                       preprocessing=None, sampling: float | None = None) -> TrainingSet:
    """Read labelled folders and/or zarr datasets into one preprocessed :class:`TrainingSet`.

    Parameters
    ----------
    paths : sequence of path
        Labelled folders or zarr dataset folders (recognised by ``.zarr`` or a
        ``zarr.json``/``.zgroup`` inside).
    preprocessing : callable (H, W) → (H, W), optional
        Applied to every image (a :class:`temseg.preprocess.Preprocessing`).
    sampling : float, optional
        Å/px overriding the calibration of the data.

    Raises
    ------
    InputError
        A path is missing, the set is empty, or no pixel is foreground.
    """
    if not paths:
        raise InputError("data: give at least one labelled folder or zarr dataset")
    parts = []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(f"{path}: no such folder or dataset")
        is_zarr = path.suffix == ".zarr" or (path / "zarr.json").exists() or (
            path / ".zgroup").exists()
        with warnings.catch_warnings():
            if sampling is not None:  # the user's pixel size replaces the files': no doubt left
                warnings.filterwarnings("ignore", message=r".*(no pixel size; taken|training "
                                        r"data at \d+ pixel sizes)", category=UserWarning)
            parts.append(_read_zarr(path, multiclass=multiclass) if is_zarr else
                         _read_folder(path, label_suffix=label_suffix, multiclass=multiclass,
                                      pattern=group_pattern))
        if not len(parts[-1]):
            raise InputError(f"{path}: no labelled images found")
    merged = TrainingSet([i for p in parts for i in p.images], [lab for p in parts for lab in p.labels],
                         [n for p in parts for n in p.names], [g for p in parts for g in p.groups])
    merged.sampling = sampling if sampling is not None else common_sampling(
        {str(path): part.sampling for path, part in zip(paths, parts)})
    if merged.foreground_fraction() == 0.0:
        raise InputError(f"{', '.join(map(str, paths))}: every label is background; "
                         "nothing to learn")
    if preprocessing is not None:
        merged.images = [np.asarray(preprocessing(img), dtype=np.float32) for img in merged.images]
    return merged


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

    Yields
    ------
    x : (B, 1, P, P) ndarray of float32
    y : (B, P, P) ndarray of int64 — class indices
    """
    from temseg.preprocess import random_dihedral, random_intensity, random_zoom

    rng = epoch_rng(seed, epoch)
    order = np.repeat(np.arange(len(data)), patches_per_image)
    rng.shuffle(order)
    for start in range(0, len(order), batch_size):
        xs, ys = [], []
        for i in order[start:start + batch_size]:
            img, lab = data.images[i], data.labels[i]
            if zoom > 0:
                side = img.shape if patch_size is None else (patch_size, patch_size)
                img, lab, _ = random_zoom(img, lab, seed=rng, zoom=(1.0 / (1.0 + zoom), 1.0 + zoom),
                                          shape=side)
            elif patch_size is not None:
                h, w = img.shape
                y0 = int(rng.integers(0, h - patch_size + 1))
                x0 = int(rng.integers(0, w - patch_size + 1))
                img = img[y0:y0 + patch_size, x0:x0 + patch_size]
                lab = lab[y0:y0 + patch_size, x0:x0 + patch_size]
            if dihedral:
                img, lab, _ = random_dihedral(img, lab, seed=rng)
            if intensity > 0 or noise > 0 or blur > 0:
                img = random_intensity(img, seed=rng, gain=(1.0 / (1.0 + intensity),
                                                            1.0 + intensity),
                                       offset=(-intensity, intensity),
                                       noise_sigma=(0.0, noise), blur_px=(0.0, blur))
            xs.append(np.ascontiguousarray(img, dtype=np.float32))
            ys.append(np.ascontiguousarray(lab, dtype=np.int64))
        yield np.stack(xs)[:, None], np.stack(ys)


def check_shapes(data: TrainingSet, *, patch_size: int | None, where: str = "data") -> int:
    """The training tile side: ``patch_size``, or the common image shape; errors name the image.

    Raises
    ------
    InputError
        Whole-image training on images of different shapes, or an image smaller
        than ``patch_size``.
    """
    if patch_size is None:
        shapes = {img.shape for img in data.images}
        if len(shapes) != 1:
            raise InputError(f"{where}: images differ in shape {sorted(shapes)[:3]}; "
                             "set patch_size to train on crops")
        shape = shapes.pop()
        if shape[0] != shape[1]:
            return min(shape)
        return shape[0]
    for name, img in zip(data.names, data.images):
        if min(img.shape) < patch_size:
            raise InputError(f"{where}: image {name} {img.shape} is smaller than "
                             f"patch_size {patch_size}")
    return patch_size
