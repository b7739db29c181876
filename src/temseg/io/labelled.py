"""Labelled folders: image/label pairs matched by file stem (``name.png`` + ``name_LABEL.png``).

This is the layout of the graphene data of Sadre et al. 2021; the label
suffix is configurable. Binary labels: label > 0 is foreground. With
``multiclass=True`` labels are integer class ids. Labels that look like a
lossy (JPEG) or anti-aliased mask are read but warned about; a constant
image is refused (nothing to learn from or score).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from temseg.errors import BlankImageError, InputError
from temseg.io.micrograph import (RASTER, TIFF, Warn, check_sampling, default_warn, read_image,
                                  read_raster)

#: file types a labelled folder may hold (single images only)
IMAGE_SUFFIXES = (*RASTER, *TIFF)

#: labels with more distinct values than 2 are warned about unless all lie in 0..this
#: (a few class ids of a multi-class label)
MAX_QUIET_CLASS_ID = 15


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
    """A sequence of :class:`LabelledPair` read from one folder, sorted by name."""

    pairs: list[LabelledPair]
    folder: Path | None = None
    label_suffix: str = "_LABEL"
    multiclass: bool = False

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


def _distinct(array: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array (bincount for 8/16-bit: no sort)."""
    if array.dtype.kind in "bu" and array.dtype.itemsize <= 2:
        return np.flatnonzero(np.bincount(array.ravel()))
    return np.unique(array)


def _label_warning(path: Path, values: np.ndarray, *, multiclass: bool) -> str | None:
    """A warning for a label that looks lossy or anti-aliased rather than a clean mask."""
    if len(values) <= 2 or (values[0] >= 0 and values[-1] <= MAX_QUIET_CLASS_ID):
        return None
    expected = "0/1, 0/255 or a few class ids" if multiclass else "0/1 or 0/255"
    return (f"{path}: {len(values)} distinct values; expected {expected} "
            "(a lossy or anti-aliased mask?)")


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
                seen: set | None = None) -> np.ndarray:
    """Label pixels: integer-valued, one channel; binary → 0/1, class ids kept otherwise.

    A palette image of greys gives its greys; one with colours gives its
    indices (the class ids), see :func:`_palette_label`. Grey stored as RGB(A)
    gives the grey, unless one colour (any colour) fills the
    image and the alpha channel varies: then the alpha is the mask.
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
        elif not (colour == colour[..., :1]).all():
            raise InputError(f"{path}: label is a colour image; expected one channel of class ids")
        else:
            array = colour[..., 0]
    if array.ndim != 2:
        raise InputError(f"{path}: label must be a 2-D image, got shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or not np.array_equal(array, np.round(array)):
            raise InputError(f"{path}: label is not integer-valued (found fractional or NaN values)")
    elif array.dtype.kind not in "biu":
        raise InputError(f"{path}: label has unsupported pixel type {array.dtype}")
    values = _distinct(array)
    if seen is not None:  # (the folder's values, for a warning of class ids read as binary)
        seen.update(int(v) for v in values[:MAX_QUIET_CLASS_ID + 2])
    message = _label_warning(path, values, multiclass=multiclass)
    if message:
        warn(message)
    if not multiclass:
        return (array > 0).astype(np.uint8)
    if values[0] < 0:
        raise InputError(f"{path}: label has negative class id {values[0]}")
    if set(values.tolist()) <= {0, 255}:  # a binary mask saved as 0/255
        return (array > 0).astype(np.uint8)
    return array.astype(np.uint8 if values[-1] <= 255 else np.int32)


def find_pairs(folder: str | Path, *, label_suffix: str = "_LABEL") -> list[tuple[Path, Path]]:
    """``(image, label)`` paths in ``folder`` matched by stem, sorted by name.

    Raises
    ------
    InputError
        Folder missing or not a folder, no images in it, an image without a
        label, a label without an image, or two files with the same stem.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}")
    if not label_suffix:
        raise InputError(f"{folder}: label_suffix must not be empty")
    images: dict[str, Path] = {}
    labels: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        stem = path.stem
        target, key = ((labels, stem[: -len(label_suffix)]) if stem.endswith(label_suffix)
                       else (images, stem))
        if key in target:
            raise InputError(f"{path}: two files with the stem '{path.stem}' "
                             f"({target[key].name} and {path.name})")
        target[key] = path
    if not images and not labels:
        raise InputError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    for stem, path in labels.items():
        if stem not in images:
            raise InputError(f"{path}: label without an image (no {stem}.* in {folder})")
    for stem, path in images.items():
        if stem not in labels:
            raise InputError(f"{path}: image without a label (no {stem}{label_suffix}.* "
                             f"in {folder})")
    return [(images[s], labels[s]) for s in sorted(images)]


def read_labelled_folder(folder: str | Path, *, label_suffix: str = "_LABEL",
                         multiclass: bool = False, sampling: float | None = None,
                         callback: Callable[[int, int], None] | None = None,
                         warn: Warn | None = None) -> LabelledSet:
    """Read all image/label pairs of a folder.

    Parameters
    ----------
    folder : str or Path
        Holds ``NAME.ext`` images and ``NAME{label_suffix}.ext`` labels
        (PNG, JPEG, BMP or TIFF; the two may differ in format).
    label_suffix : str
        Suffix of label stems, ``"_LABEL"`` by default (the graphene data).
    multiclass : bool
        False: label > 0 is foreground (labels become 0/1). True: labels are
        integer class ids (a label holding only 0 and 255 counts as binary).
        A palette (indexed colour) label whose entries are all grey gives its
        greys (as a grey PNG of the mask would; the palette's order does not
        matter); one with coloured entries gives its palette indices, index 0
        taken as background as labelling tools number it; an RGBA
        or grey+alpha label of one colour with a varying alpha gives its alpha.
        True colour labels are refused.
    sampling : float, optional
        Å per pixel for all images; overrides what the files say.
    callback : callable, optional
        ``callback(done, total)`` after each pair (progress bars).
    warn : callable, optional
        ``warn(message)`` receives warnings naming the file: a label with more
        than 2 distinct values that are not all class ids 0..15 (a JPEG or
        anti-aliased mask, thresholded at > 0 all the same), colour images
        folded into grey. Default :func:`warnings.warn` (``UserWarning``).

    Returns
    -------
    LabelledSet
        Pairs sorted by name; images ``(H, W) float32``, labels uint8.

    Raises
    ------
    InputError
        See :func:`find_pairs`; also a label whose shape differs from its
        image's, a label that is not integer-valued, an image that is a stack.
        Every message names the file.
    BlankImageError
        A constant image (no contrast: nothing to learn from or score).
    """
    sampling = check_sampling(sampling)
    warn = warn if warn is not None else default_warn
    paths = find_pairs(folder, label_suffix=label_suffix)
    pairs = []
    seen: set[int] = set()
    for i, (image_path, label_path) in enumerate(paths):
        micrograph = read_image(image_path, sampling=sampling, warn=warn)
        if micrograph.is_stack:
            raise InputError(f"{image_path}: a stack of {micrograph.n_frames} frames; "
                             "labelled folders hold single images")
        image = micrograph.data
        if image.min() == image.max():
            raise BlankImageError(f"{image_path}: constant image (value {image.flat[0]:g}); "
                                  "a labelled image needs contrast")
        label = _read_label(label_path, multiclass=multiclass, warn=warn, seen=seen)
        if label.shape != image.shape:
            raise InputError(f"{label_path}: label shape {label.shape} differs from image "
                             f"shape {image.shape}")
        pairs.append(LabelledPair(image_path.stem, image, label, micrograph.sampling,
                                  image_path, label_path))
        if callback is not None:
            callback(i + 1, len(paths))
    ids = None if multiclass else class_ids(seen)
    if ids:
        warn(f"{folder}: the labels hold {len(ids)} class ids ({', '.join(map(str, ids))}), "
             "read as binary: label > 0 is foreground, one class for all (`multiclass: "
             "true` in a training recipe keeps them; a model of as many classes is scored "
             "per class)")
    return LabelledSet(pairs, Path(folder), label_suffix, multiclass)


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
    (as for a labelled folder's labels) are classes; more or larger values, a soft mask.
    """
    values = sorted(int(v) for v in values)
    if len(values) < 3 or values[0] < 0 or values[-1] > MAX_QUIET_CLASS_ID:
        return None
    return values
