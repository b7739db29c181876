"""Scoring a segmenter on labelled data: zarr datasets read lazily, per-class scores (003).

``temseg evaluate`` takes labelled folders (:func:`temseg.io.read_labelled_folder`)
or zarr datasets (``images (N, H, W)`` or ``(N, C, H, W)`` float32, ``labels
(N, H, W)`` uint8, attrs ``sampling``, ``classes``, ``channels``, as
``temseg simulate`` writes them). :func:`open_labelled_zarr` reads one image
at a time. For a model of K ≥ 3 classes :func:`evaluate_classes` scores each
class one against the rest from the K × K confusion matrix summed over all
images (pooled over pixels, as :func:`temseg.metrics.score_set` pools binary
masks), and reports the mean over the *foreground* classes: the background
fills most pixels and would lift a mean over every class towards 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from temseg.errors import InputError
from temseg.io.files import is_zarr_dataset
from temseg.metrics import CLASS_SCORE_KEYS, class_confusion, class_report

__all__ = ["CLASS_KEYS", "LabelledZarr", "check_class_labels", "class_scores",
           "evaluate_classes", "is_zarr_dataset", "labels_have_background",
           "open_labelled_zarr", "training_overlap"]

#: per-class scores reported by :func:`class_scores`
CLASS_KEYS = CLASS_SCORE_KEYS


class LabelledZarr(Sequence):
    """A zarr dataset of labelled images, read one image at a time.

    Items are :class:`temseg.io.labelled.LabelledPair` (``name`` =
    ``STEM_00000``..., ``image`` ``(H, W)`` or ``(C, H, W)`` float32, ``label``
    ``(H, W)``, ``sampling``, ``path`` the dataset).

    Attributes
    ----------
    path : Path
    sampling : float or None
        Attr ``sampling`` (Å/px), or the caller's.
    classes, channels : list of str or None
        Attrs ``classes`` (index = class) and ``channels`` (focal series).
    in_channels : int
        1 for ``(N, H, W)`` images, C for ``(N, C, H, W)``.
    shape : (H, W)
    doses : list of float or None
        Each image's dose in e/Å² (``parameters/dose`` of a simulated set),
        None where the set has none (no detector) or the value is not a
        finite positive number.

    Raises
    ------
    InputError
        Not a dataset of images and labels; attr ``sampling`` that is no positive
        number (when no ``sampling`` is given); on reading, a label that is not
        integer-valued (as a labelled folder's label would be refused). Each message
        names the dataset (and the image).
    """

    def __init__(self, path: str | Path, *, sampling: float | None = None):
        import zarr

        self.path = Path(path)
        try:
            root = zarr.open_group(str(self.path), mode="r")
            self._images, self._labels = root["images"], root["labels"]
        except Exception as exc:  # noqa: BLE001 - zarr raises many types for a bad store
            raise InputError(f"{self.path}: not a temseg zarr dataset with images/labels "
                             f"({type(exc).__name__})") from None
        images, labels = tuple(self._images.shape), tuple(self._labels.shape)
        if len(labels) != 3 or len(images) not in (3, 4) or images[0] != labels[0] \
                or images[-2:] != labels[1:]:
            raise InputError(f"{self.path}: images {images} and labels {labels} must be "
                             "(N, H, W) or (N, C, H, W) and (N, H, W) of one N, H, W")
        if labels[0] == 0:
            raise InputError(f"{self.path}: the dataset holds no images")
        from temseg.io.labelled import attr_sampling

        attrs = dict(root.attrs)
        self.sampling = sampling if sampling is not None else attr_sampling(
            self.path, attrs.get("sampling"))
        self.classes = None if attrs.get("classes") is None else [str(c) for c in
                                                                   attrs["classes"]]
        self.channels = None if attrs.get("channels") is None else [str(c) for c in
                                                                    attrs["channels"]]
        self.in_channels = 1 if len(images) == 3 else int(images[1])
        #: what the labels mark (a simulated set's ``label_kind``: hull, species, contamination...)
        self.label_kind = None if attrs.get("label_kind") is None else str(attrs["label_kind"])
        self._order: list[int] | None = None
        self.shape = labels[1:]
        self.names = [f"{self.path.stem}_{i:05d}" for i in range(labels[0])]
        self.doses = _doses(root, labels[0])

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index):
        from temseg.io.labelled import LabelledPair

        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = range(len(self))[index]
        image = np.asarray(self._images[index], dtype=np.float32)
        if self._order is not None:
            image = image[self._order]
        label = self._checked(index, self._labels[index:index + 1])[0]
        return LabelledPair(self.names[index], image, label, self.sampling, self.path,
                            dose=self.doses[index])

    def _checked(self, start: int, labels) -> np.ndarray:
        """Labels ``start...`` as integers; fractional ones refused naming the image (as a
        labelled folder's are), see :func:`temseg.io.labels.check_labels`."""
        from temseg.io.labels import check_labels

        labels = np.asarray(labels)
        return check_labels(self.path, self.names[start:start + len(labels)], labels)

    def reorder_channels(self, names: Sequence[str]) -> bool:
        """Give the channels in the order of ``names`` (a model's) when the dataset's named
        channels are the same names in another order; whether it did so.

        A focal series simulated with its offsets in another order holds the same
        defoci: read in the model's order, not scored by index.
        """
        names = [str(n) for n in names]
        if self.channels is None or sorted(self.channels) != sorted(names) \
                or len(set(names)) != len(names):
            return False
        self._order = [self.channels.index(n) for n in names]
        self.channels = names
        return True

    def label_maxima(self, *, block: int = 64) -> Iterator[tuple[str, int]]:
        """``(name, largest label)`` of every image, reading only the labels, ``block`` at a
        time."""
        for start in range(0, len(self), block):
            labels = self._checked(start, self._labels[start:start + block])
            for name, top in zip(self.names[start:start + block],
                                 labels.reshape(len(labels), -1).max(axis=1)):
                yield name, int(top)

    def has_background(self, *, block: int = 64) -> bool:
        """Whether any label holds a background (0) pixel, reading only the labels, ``block``
        images at a time, up to the first that does."""
        for start in range(0, len(self), block):
            if (self._checked(start, self._labels[start:start + block]) == 0).any():
                return True
        return False

    def label_values(self, *, block: int = 64, limit: int = 256) -> list[int]:
        """The distinct values of the labels, sorted, reading only the labels, ``block`` images
        at a time; once more than ``limit`` are found the rest are not looked for."""
        found: set[int] = set()
        for start in range(0, len(self), block):
            labels = self._checked(start, self._labels[start:start + block])
            found.update(np.unique(labels).tolist())
            if len(found) > limit:
                break
        return sorted(found)


def _doses(root, n: int) -> list[float | None]:
    """``parameters/dose`` of a dataset (e/Å² per image), or None per image without one."""
    try:
        dose = np.asarray(root["parameters"]["dose"][:], dtype=np.float64)
    except Exception:  # noqa: BLE001 - no parameters table, no dose column (no detector)
        return [None] * n
    if dose.shape != (n,):
        return [None] * n
    return [float(v) if np.isfinite(v) and v > 0 else None for v in dose]


def check_class_labels(source, classes: Sequence[str], *, name: str | None = None) -> None:
    """Refuse labels beyond the K ``classes`` before any work (an :class:`InputError` naming
    the first such image), so that a K-class evaluation does not stop half-way.

    ``source`` is a :class:`LabelledZarr` (only its labels are read) or a sequence of
    labelled pairs.
    """
    k = len(classes)
    if isinstance(source, LabelledZarr):
        maxima: Iterable[tuple[str, int]] = source.label_maxima()
        name = name or str(source.path)
    else:
        maxima = ((p.name, int(np.max(p.label))) for p in source if np.size(p.label))
    for image, top in maxima:
        if top >= k:
            where = f"{name}: image {image}" if name else f"image {image}"
            raise InputError(f"{where}: labels hold class index {top}, beyond the model's {k} "
                             f"classes 0..{k - 1} ({', '.join(map(str, classes))})")


def labels_have_background(sources: Iterable) -> bool:
    """Whether any label of ``sources`` holds a background (0) pixel.

    Labels of class ids 1/2 (or an inverted mask) have none: scored against a
    2-class model, every labelled pixel would count as foreground.

    Parameters
    ----------
    sources : iterable of LabelledZarr or of sequences of LabelledPair
        A :class:`LabelledZarr` reads only its labels, up to the first 0.

    Examples
    --------
    >>> from temseg.io.labelled import LabelledPair
    >>> ids = LabelledPair("a", np.zeros((2, 2), np.float32), np.array([[1, 2], [2, 1]]))
    >>> labels_have_background([[ids]])
    False
    """
    for source in sources:
        if isinstance(source, LabelledZarr):
            if source.has_background():
                return True
        elif any((np.asarray(p.label) == 0).any() for p in source):
            return True
    return False


def _record_names(training, key: str) -> set[str]:
    """The names under ``key`` of a training record and of its ensemble members' records."""
    if not isinstance(training, dict):
        return set()
    names = training.get(key)
    found = {str(n) for n in names} if isinstance(names, list) else set()
    members = training.get("members")
    for member in members if isinstance(members, list) else []:
        if isinstance(member, dict):
            found |= _record_names(member.get("training"), key)
    return found


def training_overlap(training: dict | None, names: Iterable[str]) -> dict:
    """Which of the images scored a model's training record names: trained on, or validation.

    Images are matched by name only (file stems, ``STEM_00000`` of a zarr
    dataset), as the record keeps no pixels: another image of the same name
    matches too.

    Parameters
    ----------
    training : dict or None
        A model file's ``training`` record: ``train_images`` and ``val_images``
        (lists of names); an ensemble's ``members``, each with its own
        ``training``, count as one (an image any member trained on was trained on).
    names : iterable of str
        The names of the images scored.

    Returns
    -------
    dict
        ``train_images``: the names trained on; ``val_images``: the others among the
        validation images (which chose the best epoch: optimistic too), both in the order
        of ``names``; ``known``: whether the record lists any training image at all
        (a baseline's or a checkpoint's has none: nothing can be said).

    Examples
    --------
    >>> training_overlap({"train_images": ["a", "b"], "val_images": ["c"]}, ["a", "c", "d"])
    {'train_images': ['a'], 'val_images': ['c'], 'known': True}
    """
    trained, validation = _record_names(training, "train_images"), _record_names(
        training, "val_images")
    names = [str(n) for n in names]
    return {"train_images": [n for n in names if n in trained],
            "val_images": [n for n in names if n in validation and n not in trained],
            "known": bool(trained)}


def open_labelled_zarr(path: str | Path, *, sampling: float | None = None) -> LabelledZarr:
    """Open a labelled zarr dataset lazily (:class:`LabelledZarr`); ``sampling`` (Å/px)
    replaces the dataset's own."""
    return LabelledZarr(path, sampling=sampling)


def class_scores(matrix: np.ndarray, classes: Sequence[str]) -> dict:
    """Per-class scores of a (pooled) confusion matrix and their mean over foreground classes.

    Parameters
    ----------
    matrix : (K, K) ndarray — :func:`temseg.metrics.class_confusion`, summed over images to pool
    classes : K class names, index = class (0 the background)

    Returns
    -------
    dict
        :func:`temseg.metrics.class_report` of the :data:`CLASS_KEYS`:
        ``per_class``: a dict per class (background included) with ``class``,
        ``index``, the :data:`CLASS_KEYS` scores and ``tp, fp, fn, tn``;
        ``mean_foreground``: each score's mean over classes 1..K−1;
        ``accuracy``: the fraction of pixels given their true class.
        Empty-class conventions are :func:`temseg.metrics.scores_from_confusion`'s.
    """
    return class_report(matrix, classes, keys=CLASS_KEYS)


def evaluate_classes(predict: Callable[[object], np.ndarray], items: Iterable, *,
                     classes: Sequence[str], n_items: int | None = None,
                     callback: Callable[[int, int], None] | None = None,
                     on_prediction: Callable[[object, np.ndarray, np.ndarray], None] | None = None
                     ) -> tuple[dict, list[dict]]:
    """Score a K-class predictor on labelled items, pooled over pixels and per image.

    Parameters
    ----------
    predict : callable(item) → (K, H, W) class probabilities
        E.g. ``lambda p: segmenter.predict_proba(p.image, sampling=p.sampling)``.
    items : iterable of LabelledPair
        Consumed one at a time (a :class:`LabelledZarr` stays lazy); ``label``
        holds class indices.
    classes : K class names.
    n_items : int, optional
        For ``callback``'s total (default ``len(items)``).
    callback : callable(done, total), optional
    on_prediction : callable(item, class map, confusion matrix), optional
        Sees each ``(H, W)`` uint8 predicted class map (e.g. to draw overlays)
        and the image's ``(K, K)`` :func:`~temseg.metrics.class_confusion`
        matrix before they are dropped.

    Returns
    -------
    pooled : dict
        :func:`class_scores` of the summed confusion matrix plus ``classes``,
        ``n_images`` and ``matrix`` (list of lists, ``[true][predicted]``).
    per_image : list of dict
        ``name``, ``accuracy``, ``f1_<class>`` per foreground class and
        ``mean_f1`` (over the foreground classes) of every image.
    """
    classes = [str(c) for c in classes]
    k = len(classes)
    total = n_items if n_items is not None else len(items)  # type: ignore[arg-type]
    pooled_matrix = np.zeros((k, k), np.int64)
    rows = []
    for i, item in enumerate(items):
        try:
            proba = np.asarray(predict(item))
        except InputError as exc:  # e.g. a NaN pixel: say which image of which dataset
            raise InputError(f"{item.path or item.name}: image {item.name}: {exc}") from None
        if proba.ndim != 3 or proba.shape[0] != k:
            raise InputError(f"{item.name}: the model gave {proba.shape[0]} class maps for "
                             f"{k} classes")
        pred = proba.argmax(0).astype(np.uint8)
        try:
            matrix = class_confusion(pred, np.asarray(item.label), n_classes=k)
        except InputError as exc:
            raise InputError(f"{item.path or item.name}: image {item.name}: {exc}") from None
        pooled_matrix += matrix
        scores = class_scores(matrix, classes)
        rows.append({"name": item.name, "accuracy": scores["accuracy"],
                     **{f"f1_{r['class']}": r["f1"] for r in scores["per_class"][1:]},
                     "mean_f1": scores["mean_foreground"]["f1"]})
        if on_prediction is not None:
            on_prediction(item, pred, matrix)
        if callback is not None:
            callback(i + 1, total)
    if not rows:
        raise InputError("evaluate: no labelled images to score")
    pooled = class_scores(pooled_matrix, classes)
    pooled.update(classes=classes, n_images=len(rows), matrix=pooled_matrix.tolist())
    return pooled, rows
