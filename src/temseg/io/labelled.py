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
from temseg.io.micrograph import (RASTER, TIFF, Warn, check_sampling, default_warn, read_image,
                                  read_raster, supported_suffixes)

#: file types a label may be (single images only); images may be any of supported_suffixes()
LABEL_SUFFIXES = (*RASTER, *TIFF)

#: labels with more distinct values than 2 are warned about unless all lie in 0..this
#: (a few class ids of a multi-class label)
MAX_QUIET_CLASS_ID = 15

#: a binary label of three or more values whose maximum is at least this is an 8-bit drawing
#: (JPEG or anti-aliased), read as foreground above half its maximum rather than above 0
MIN_DRAWN_MAXIMUM = 128

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


def _distinct(array: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array (bincount for 8/16-bit: no sort)."""
    if array.dtype.kind in "bu" and array.dtype.itemsize <= 2:
        return np.flatnonzero(np.bincount(array.ravel()))
    return np.unique(array)


def drawn_threshold(values) -> float | None:
    """The level above which a binary label is foreground, where it is an 8-bit drawing.

    A label of three or more distinct ``values`` (sorted), none negative and
    the largest at least 128, is a mask drawn in grey levels and saved lossily
    or anti-aliased (JPEG ringing, soft edges): half its maximum separates
    foreground from background, where > 0 would make every ring foreground.
    Two values (0/1, 0/255) are a clean mask and a few small ones (0..15)
    class ids: both are read as > 0, and ``None`` is returned.

    >>> drawn_threshold([0, 3, 250, 255])
    127.5
    >>> drawn_threshold([0, 1, 2]) is None and drawn_threshold([0, 255]) is None
    True
    """
    values = [int(v) for v in values]
    if len(values) <= 2 or values[0] < 0 or values[-1] < MIN_DRAWN_MAXIMUM:
        return None
    return values[-1] / 2


def _label_warning(path: Path, values: np.ndarray, *, multiclass: bool) -> str | None:
    """A warning for a label that looks lossy or anti-aliased rather than a clean mask."""
    if len(values) <= 2 or (values[0] >= 0 and values[-1] <= MAX_QUIET_CLASS_ID):
        return None
    threshold = None if multiclass else drawn_threshold(values)
    if threshold is not None:
        return (f"{path}: {len(values)} distinct values (a lossy or anti-aliased mask?); read "
                f"as foreground above {threshold:g}, half its maximum {int(values[-1])}")
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
                stored: list | None = None) -> np.ndarray:
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
    message = _label_warning(path, values, multiclass=multiclass)
    if message:
        warn(message)
    if not multiclass:
        threshold = drawn_threshold(values)
        return (array > (0 if threshold is None else threshold)).astype(np.uint8)
    if values[0] < 0:
        raise InputError(f"{path}: label has negative class id {values[0]}")
    if set(values.tolist()) <= {0, 255}:  # a binary mask saved as 0/255
        return (array > 0).astype(np.uint8)
    return array.astype(np.uint8 if values[-1] <= 255 else np.int32)


def read_label(path: str | Path, *, multiclass: bool = False, warn: Warn | None = None
               ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...] | None]:
    """One label file read as :func:`read_labelled_folder` reads it (see there), with the
    values it stores.

    Returns
    -------
    label : (H, W) ndarray of uint8 (int32 for class ids above 255)
    values : (K,) ndarray of int
        The file's distinct values as stored, sorted; 0, 1 for a colour mask on black.
    colour : tuple of int or None
        The foreground colour of a two-colour label read as binary, else None.
    """
    stored: list = []
    coloured: list = []
    label = _read_label(Path(path), multiclass=multiclass, warn=warn or default_warn,
                        coloured=coloured, stored=stored)
    if coloured:
        return label, np.array([0, 1]), coloured[0][1]
    return label, stored[0], None


def _colour_warning(coloured: list) -> str:
    """One line for the colour labels read as binary (the first named, the rest counted)."""
    path, colour = coloured[0]
    more = f" (and {len(coloured) - 1} more labels)" if len(coloured) > 1 else ""
    return (f"{path}{more}: colour label of two colours read as binary: black is background, "
            f"{colour} foreground")


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
