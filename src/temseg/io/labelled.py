"""Labelled folders: image/label pairs matched by file stem (``name.png`` + ``name_LABEL.png``).

This is the layout of the graphene data of Sadre et al. 2021; the label suffix
is configurable (any case). A folder may instead hold ``images/`` and ``masks/``
side by side (see :func:`find_pairs`). Images may be in any single-image format
:func:`~temseg.io.read_image` reads; labels are PNG, JPEG, BMP or TIFF. Binary
labels: label > 0 is foreground, but for 8-bit drawings (JPEG, anti-aliased: read
above half the maximum) and one colour on black (non-black), both warned about.
Multi-class labels are class ids, never thresholded. Constant images are refused.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from temseg.errors import BlankImageError, InputError
from temseg.io.labels import (_colour_warning, _read_label, class_ids)
from temseg.io.micrograph import (RASTER, TIFF, Warn, check_sampling, default_warn, read_image,
                                  supported_suffixes)

#: file types a label may be (single images only); images may be any of supported_suffixes()
LABEL_SUFFIXES = (*RASTER, *TIFF)

#: the two side-by-side folders of a labelled folder (DATA/images + DATA/masks), any case
IMAGE_FOLDERS = ("images", "image", "imgs", "img")
LABEL_FOLDERS = ("masks", "mask", "labels", "label", "gt", "ground_truth")

#: label suffixes in common use, named in the error when the folder's labels use another
COMMON_LABEL_SUFFIXES = ("_LABEL", "_labels", "_mask", "-mask", "_masks", "_gt", "_seg",
                         "-label")


@dataclasses.dataclass(eq=False, repr=False)
class LabelledPair:
    """One image with its label.

    Attributes
    ----------
    name : str
        The image's file stem.
    image : (H, W) ndarray of float32
    label : (H, W) ndarray of uint8 (int32 if class ids exceed 255)
        0/1 for binary sets, class ids for multi-class ones.
    sampling : float or None
        Å per pixel.
    path, label_path : Path or None
        The files they came from (to name them in messages).
    dose : float or None
        Electron dose in e/Å², where known (a simulated image's).
    """

    name: str
    image: np.ndarray
    label: np.ndarray
    sampling: float | None = None
    path: Path | None = None
    label_path: Path | None = None
    dose: float | None = None

    def __repr__(self) -> str:
        return f"LabelledPair({self.name!r}, shape={self.image.shape}, sampling={self.sampling})"


@dataclasses.dataclass(eq=False, repr=False)
class LabelledSet(Sequence):
    """A sequence of :class:`LabelledPair` read from one folder, sorted by name.

    ``label_values`` holds the smallest distinct values of the label files as
    stored (up to 17 per file), before a binary read made them 0/1.
    """

    pairs: list[LabelledPair]
    folder: Path | None = None
    label_suffix: str = "_LABEL"
    multiclass: bool = False
    label_values: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index):
        return self.pairs[index]

    def __iter__(self) -> Iterator[LabelledPair]:
        return iter(self.pairs)

    def __repr__(self) -> str:
        return f"LabelledSet({len(self)} pairs from {str(self.folder)!r})"

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.pairs]

    @property
    def n_classes(self) -> int:
        """2 for binary sets; the largest class id + 1 for multi-class ones."""
        if not self.multiclass:
            return 2
        return int(max(int(p.label.max()) for p in self.pairs)) + 1

    def label_fraction(self) -> float:
        """Pooled fraction of foreground (label > 0) pixels over all pairs."""
        fg = sum(int(np.count_nonzero(p.label)) for p in self.pairs)
        return fg / sum(p.label.size for p in self.pairs)


def _files(folder: Path, suffixes) -> list[Path]:
    """The visible files of ``folder`` with one of ``suffixes`` (any case), sorted."""
    return [path for path in sorted(folder.iterdir())
            if not path.name.startswith(".") and path.is_file()
            and path.suffix.lower() in suffixes]


def _ends_with(stem: str, suffix: str) -> bool:
    return len(stem) > len(suffix) and stem.lower().endswith(suffix.lower())


def _side_by_side(folder: Path) -> tuple[Path, Path] | None:
    """``(images, labels)`` subfolders of ``folder`` (``images/`` + ``masks/``...), else None.

    Raises
    ------
    InputError
        One of the two without the other, or two label folders (``masks/`` and ``labels/``).
    """
    dirs = [path for path in sorted(folder.iterdir())
            if path.is_dir() and not path.name.startswith(".")]
    images = [path for path in dirs if path.name.lower() in IMAGE_FOLDERS]
    labels = [path for path in dirs if path.name.lower() in LABEL_FOLDERS]
    if not images and not labels:
        return None
    found = ", ".join(f"{path.name}/" for path in images + labels)
    if len(images) != 1 or len(labels) != 1:
        raise InputError(f"{folder}: holds {found}; a labelled folder holds one images/ "
                         f"folder and one of {'/, '.join(LABEL_FOLDERS)}/ beside it, their "
                         "files paired by name")
    return images[0], labels[0]


def _suffix_hint(images: dict[str, Path], missing: Sequence[str],
                 label_suffix: str) -> tuple[Path, str, str] | None:
    """``(file, image stem, suffix)`` of a file that is ``STEM<suffix>`` for an image ``STEM``
    of ``missing`` (lacking a label) and a suffix in common use other than ``label_suffix``."""
    lower = {stem.lower(): path for stem, path in images.items()}
    for stem in missing:
        for suffix in COMMON_LABEL_SUFFIXES:
            path = lower.get((stem + suffix).lower())
            if path is not None and suffix.lower() != label_suffix.lower():
                return path, stem, path.stem[len(stem):]
    return None


def _suffix_error(hint: tuple[Path, str, str], label_suffix: str, where: Path) -> InputError:
    path, stem, suffix = hint
    return InputError(f"{path}: looks like the label of {stem}, but no {stem}{label_suffix}.* "
                      f"is in {where}; give --label-suffix {suffix} (recipe: label_suffix: "
                      f"{suffix})")


def _sibling_hint(folder: Path) -> str:
    """Where ``folder`` is ``DATA/images`` or ``DATA/masks`` of a side-by-side pair: advice to
    give ``DATA``; else ''."""
    try:
        pair = (folder.name.lower() in IMAGE_FOLDERS + LABEL_FOLDERS
                and _side_by_side(folder.resolve().parent))
    except InputError:
        pair = None
    return (f"; give {folder.parent} instead: it pairs {pair[0].name}/ with {pair[1].name}/ "
            "by name") if pair else ""


@dataclasses.dataclass(eq=False)
class FolderFiles:
    """A labelled folder's files as :func:`folder_files` finds them, unpaired ones kept.

    ``images`` maps stems to image files, ``labels`` an image's stem to its
    label file, in name order; ``label_folder`` is the ``masks/`` (``gt/``...)
    beside ``image_folder`` (``images/``), None where labels lie beside their
    images (``image_folder`` is then ``folder``).
    """

    folder: Path
    images: dict[str, Path]
    labels: dict[str, Path]
    label_suffix: str
    image_folder: Path
    label_folder: Path | None = None

    @property
    def pairs(self) -> list[tuple[Path, Path]]:
        """``(image, label)`` of the images that have a label, sorted by name."""
        return [(self.images[s], self.labels[s]) for s in sorted(self.images) if s in self.labels]

    def unpaired(self) -> tuple[dict[str, Path], dict[str, Path]]:
        """``(images without a label, labels without an image)``, by stem as in ``images``
        and ``labels``."""
        return ({s: p for s, p in self.images.items() if s not in self.labels},
                {s: p for s, p in self.labels.items() if s not in self.images})

    def suffix_hint(self) -> tuple[Path, str, str] | None:
        """``(file, image stem, suffix)``: a file named as the label of an image that lacks
        one with a common suffix other than ``label_suffix`` (``a.png`` + ``a_mask.png``)."""
        images, labels = self.unpaired()
        if self.label_folder is None:
            return _suffix_hint(self.images, list(images), self.label_suffix)
        return next(filter(None, (_other_suffix(s, p, self.images) for s, p in labels.items())),
                    None)


def _other_suffix(stem: str, label: Path, images: dict) -> tuple[Path, str, str] | None:
    """``(label, image stem, suffix)`` where the ``stem`` of a label without an image (in
    ``masks/``) is an image's followed by one of :data:`COMMON_LABEL_SUFFIXES`, else None."""
    for suffix in COMMON_LABEL_SUFFIXES:
        base = stem[: -len(suffix)]
        if _ends_with(stem, suffix) and base in images:
            return label, base, stem[len(base):]
    return None


def _side_by_side_files(folder: Path, image_dir: Path, label_dir: Path, *,
                        label_suffix: str, image_suffixes) -> FolderFiles:
    """The files of ``DATA/images`` and ``DATA/masks``: a label's stem is its image's, or that
    followed by ``label_suffix``."""
    images: dict[str, Path] = {}
    for path in _files(image_dir, image_suffixes):
        if path.stem in images:
            raise InputError(f"{path}: two files with the stem '{path.stem}' "
                             f"({images[path.stem].name} and {path.name})")
        images[path.stem] = path
    labels: dict[str, Path] = {}
    for path in _files(label_dir, image_suffixes):
        stem = path.stem
        if stem not in images and _ends_with(stem, label_suffix):
            stem = stem[: -len(label_suffix)]
        if path.suffix.lower() not in LABEL_SUFFIXES:
            raise InputError(f"{path}: labels are read from PNG, JPEG, BMP or TIFF files")
        if stem in labels:
            raise InputError(f"{path}: two labels for the image {stem} "
                             f"({labels[stem].name} and {path.name})")
        labels[stem] = path
    if not images and not labels:
        raise InputError(f"{folder}: no images ({', '.join(image_suffixes)}) in "
                         f"{image_dir.name}/ or {label_dir.name}/")
    return FolderFiles(folder, images, labels, label_suffix, image_dir, label_dir)


def folder_files(folder: str | Path, *, label_suffix: str = "_LABEL") -> FolderFiles:
    """The images and labels of ``folder`` as :func:`find_pairs` matches them (see there),
    without refusing an image without a label or a label without an image.

    Raises
    ------
    InputError
        As :func:`find_pairs`, but for the files without a partner.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}")
    if not label_suffix:
        raise InputError(f"{folder}: label_suffix must not be empty")
    image_suffixes = supported_suffixes()
    files = _files(folder, image_suffixes)
    if not files:
        pair = _side_by_side(folder)
        if pair is not None:
            return _side_by_side_files(folder, *pair, label_suffix=label_suffix,
                                       image_suffixes=image_suffixes)
    images: dict[str, Path] = {}
    labels: dict[str, Path] = {}
    for path in files:
        stem = path.stem
        is_label = _ends_with(stem, label_suffix)
        if is_label and path.suffix.lower() not in LABEL_SUFFIXES:
            raise InputError(f"{path}: labels are read from PNG, JPEG, BMP or TIFF files")
        target, key = ((labels, stem[: -len(label_suffix)]) if is_label else (images, stem))
        if key in target:
            raise InputError(f"{path}: two files with the stem '{path.stem}' "
                             f"({target[key].name} and {path.name})")
        target[key] = path
    if not images and not labels:
        raise InputError(f"{folder}: no images ({', '.join(image_suffixes)}) in the folder, "
                         f"nor an images/ and a masks/ folder")
    return FolderFiles(folder, images, labels, label_suffix, folder)


def find_pairs(folder: str | Path, *, label_suffix: str = "_LABEL") -> list[tuple[Path, Path]]:
    """``(image, label)`` paths in ``folder`` matched by stem, sorted by name.

    ``folder`` holds ``NAME.ext`` images and ``NAME{label_suffix}.ext`` labels
    (the suffix in any case: ``_mask`` finds ``a_Mask.png``), or, holding no
    images itself, two folders side by side: ``images/`` and one of
    ``masks/``, ``mask/``, ``labels/``, ``label/``, ``gt/``, ``ground_truth/``
    (any case), a label's stem that of its image (or that followed by
    ``label_suffix``). Images may be any file type
    :func:`~temseg.io.supported_suffixes` lists; labels PNG, JPEG, BMP or TIFF.
    A pair's name is its image's stem.

    Raises
    ------
    InputError
        Folder missing or not a folder, no images in it, an image without a
        label, a label without an image, or two files with the same stem.
        Labels named with another common suffix (``a.tif`` + ``a_mask.tif``
        for the default ``_LABEL``) are named, with the ``--label-suffix`` to give.
    """
    found = folder_files(folder, label_suffix=label_suffix)
    folder, side = found.folder, found.label_folder
    images, labels = found.unpaired()
    hint = found.suffix_hint() if side is None else None
    if hint is not None:
        raise _suffix_error(hint, label_suffix, folder)
    for stem, path in list(labels.items())[:1]:
        hint = None if side is None else _other_suffix(stem, path, found.images)
        if hint is not None:
            raise _suffix_error(hint, label_suffix, side)
        raise InputError(f"{path}: label without an image (no {stem}.* in {found.image_folder})")
    for stem, path in list(images.items())[:1]:
        raise InputError(f"{path}: image without a label " + (
            f"(no {stem}.* in {side})" if side is not None else
            f"(no {stem}{label_suffix}.* in {folder}){_sibling_hint(folder)}"))
    return found.pairs


def read_labelled_folder(folder: str | Path, *, label_suffix: str = "_LABEL",
                         multiclass: bool = False, sampling: float | None = None,
                         callback: Callable[[int, int], None] | None = None,
                         warn: Warn | None = None) -> LabelledSet:
    """Read all image/label pairs of a folder.

    Parameters
    ----------
    folder : str or Path
        Holds ``NAME.ext`` images and ``NAME{label_suffix}.ext`` labels, or
        side by side an ``images/`` and a ``masks/`` (``labels/``, ``gt/``...)
        folder of files of the same stems (see :func:`find_pairs`). Images in
        any single-image format :func:`~temseg.io.read_image` reads (PNG,
        JPEG, BMP, TIFF, DM3/DM4, EMD, SER, MRC; the pixel size from the file),
        labels PNG, JPEG, BMP or TIFF.
    label_suffix : str
        Suffix of label stems, ``"_LABEL"`` by default (the graphene data); any case.
    multiclass : bool
        False: label > 0 is foreground (labels become 0/1), except in an 8-bit
        drawing of three or more grey levels up to 128 or more (a JPEG or
        anti-aliased mask), read above half its maximum (:func:`drawn_threshold`),
        and in an RGB(A) label of two colours, one black, whose non-black
        pixels are foreground. True: labels are integer class ids, never
        thresholded (a label holding only 0 and 255 counts as binary).
        A palette (indexed colour) label whose entries are all grey gives its
        greys (as a grey PNG of the mask would; the palette's order does not
        matter); one with coloured entries gives its palette indices, index 0
        taken as background as labelling tools number it; an RGBA
        or grey+alpha label of one colour with a varying alpha gives its alpha.
        Other true colour labels are refused.
    sampling : float, optional
        Å per pixel for all images; overrides what the files say.
    callback : callable, optional
        ``callback(done, total)`` after each pair (progress bars).
    warn : callable, optional
        ``warn(message)`` receives warnings naming the file: a label with more
        than 2 distinct values that are not all class ids 0..15 (a JPEG or
        anti-aliased mask; the threshold it was read at), colour labels read as
        binary (once for the folder), colour images folded into grey. Default
        :func:`warnings.warn` (``UserWarning``).

    Returns
    -------
    LabelledSet
        Pairs sorted by name; images ``(H, W) float32``, labels uint8.

    Raises
    ------
    InputError
        See :func:`find_pairs`; also a label whose shape differs from its
        image's, a label that is not integer-valued or in colour, an image that is a stack.
        Every message names the file.
    BlankImageError
        A constant image (no contrast: nothing to learn from or score).
    """
    sampling = check_sampling(sampling)
    warn = warn if warn is not None else default_warn
    paths = find_pairs(folder, label_suffix=label_suffix)
    pairs = []
    seen: set[int] = set()
    coloured: list = []
    for i, (image_path, label_path) in enumerate(paths):
        micrograph = read_image(image_path, sampling=sampling, warn=warn)
        if micrograph.is_stack:
            raise InputError(f"{image_path}: a stack of {micrograph.n_frames} frames; "
                             "labelled folders hold single images (save each labelled frame "
                             "as an image of its own)")
        image = micrograph.data
        if image.min() == image.max():
            raise BlankImageError(f"{image_path}: constant image (value {image.flat[0]:g}); "
                                  "a labelled image needs contrast")
        label = _read_label(label_path, multiclass=multiclass, warn=warn, seen=seen,
                            coloured=coloured)
        if label.shape != image.shape:
            raise InputError(f"{label_path}: label shape {label.shape} differs from image "
                             f"shape {image.shape}")
        pairs.append(LabelledPair(image_path.stem, image, label, micrograph.sampling,
                                  image_path, label_path))
        if callback is not None:
            callback(i + 1, len(paths))
    if coloured:
        warn(_colour_warning(coloured))
    ids = None if multiclass else class_ids(seen)
    if ids:
        warn(f"{folder}: the labels hold {len(ids)} class ids ({', '.join(map(str, ids))}), "
             "read as binary: label > 0 is foreground, one class for all (`multiclass: "
             "true` in a training recipe keeps them; a model of as many classes is scored "
             "per class)")
    return LabelledSet(pairs, Path(folder), label_suffix, multiclass, tuple(sorted(seen)))


def attr_sampling(path: str | Path, value) -> float | None:
    """A dataset's attr ``sampling`` (Å/px) as a float, ``None`` when it has none.

    Raises
    ------
    InputError
        Not a positive finite number (``"abc"``, -1, ``true``...); the message names the dataset.
    """
    if value is None:
        return None
    try:
        number = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not (math.isfinite(number) and number > 0):
        raise InputError(f"{path}: attr sampling must be a positive number of Å/px, "
                         f"got {value!r}")
    return number

