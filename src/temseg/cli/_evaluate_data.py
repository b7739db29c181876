"""What ``temseg evaluate`` checks of its data before scoring, and says of it: the labelled
sources against the model (channels, classes, labels with and without foreground), names that
repeat across DATA paths, and whether the images are held out from the model's training."""

from __future__ import annotations

from pathlib import Path

from temseg.cli import _common


def _dataset_entry(path: Path, source, sampling: float | None) -> dict:
    """What the record says of one DATA path: images, the pixel size they were scored at
    (Å/px; a list when a folder's images differ), and a zarr's class and channel names."""
    entry: dict = {"path": str(path), "images": len(source)}
    if hasattr(source, "in_channels"):  # a zarr dataset (its attrs; nothing read)
        entry.update(sampling=source.sampling, classes=source.classes, channels=source.channels)
        return entry
    found = sorted({p.sampling for p in source if p.sampling is not None})
    found += [None] if any(p.sampling is None for p in source) else []
    entry["sampling"] = sampling if sampling is not None else (
        None if not found else found[0] if len(found) == 1 else found)
    return entry


class _Named:
    """A labelled source that names itself in ``current`` while its pairs are read."""

    def __init__(self, name: str, source, current: dict):
        self.name, self.source, self.current = name, source, current

    def __len__(self) -> int:
        return len(self.source)

    def __iter__(self):
        for pair in self.source:
            self.current["name"] = self.name
            yield pair


def _labelled_sources(segmenter, data: list[Path], *, label_suffix: str,
                      sampling: float | None, multiclass: bool) -> list:
    """Each DATA path as a sequence of labelled pairs (folders read, zarr datasets lazy),
    checked against the model before any work: channels, classes, image size."""
    from temseg.errors import InputError
    from temseg.infer.evaluation import (check_class_labels, is_zarr_dataset,
                                         labels_have_background, open_labelled_zarr)
    from temseg.io import read_labelled_folder

    sources = []
    for path in data:
        if is_zarr_dataset(path):
            source = open_labelled_zarr(path, sampling=sampling)
            if source.in_channels != segmenter.in_channels:
                raise InputError(f"{path}: images have {source.in_channels} channel(s) "
                                 f"({len(source)}×{source.in_channels}×{source.shape[0]}×"
                                 f"{source.shape[1]}); the model takes {segmenter.takes}")
            theirs = source.channels
            if theirs is not None and segmenter.channels is not None and \
                    theirs != segmenter.channels and source.reorder_channels(segmenter.channels):
                _common.warn(f"{path}: channels {', '.join(theirs)} read in the model's order, "
                             f"{', '.join(segmenter.channels)}")
            for what, theirs, ours in (("classes", source.classes, segmenter.classes),
                                       ("channels", source.channels, segmenter.channels)):
                if multiclass or what == "channels":
                    if theirs is not None and ours is not None and theirs != ours:
                        _common.warn(f"{path}: {what} {', '.join(theirs)} differ from the "
                                     f"model's {', '.join(ours)}; scored by index")
            if not multiclass and source.classes is not None and len(source.classes) >= 3:
                _common.warn(f"{path}: labels of {len(source.classes)} classes "
                             f"({', '.join(source.classes)}) for a model of 2 "
                             f"({', '.join(segmenter.classes)}): scored as foreground (any "
                             "class > 0) against background")
            elif not multiclass:  # class ids 0/1/2 without names: merged just the same
                _class_ids_warning(path, source.label_values(), segmenter)
            segmenter.check_image(source.shape, sampling=source.sampling, name=str(path))
        else:
            if segmenter.in_channels > 1:
                raise InputError(f"{path}: a labelled folder holds single images; the model "
                                 f"takes {segmenter.takes}: give a zarr dataset with images "
                                 f"(N, {segmenter.in_channels}, H, W)")
            source = read_labelled_folder(path, label_suffix=label_suffix,
                                          multiclass=multiclass)
            for p in source:  # too small for the model: an error naming the file
                segmenter.check_image(p.image.shape, name=str(p.path),
                                      sampling=sampling if sampling is not None else p.sampling)
        if multiclass:  # labels beyond the classes: refused now, not after half the images
            check_class_labels(source, segmenter.classes, name=str(path))
        sources.append(source)
    if not any(len(s) for s in sources):
        raise InputError(f"{', '.join(map(str, data))}: no labelled images found")
    if not multiclass and not labels_have_background(sources):  # as train refuses them
        raise InputError(f"{', '.join(map(str, data))}: every labelled pixel is foreground (no "
                         "label holds a 0); 0 must be background: class ids 1/2 instead of "
                         "0/1, or an inverted mask?")
    return sources


def _held_out(segmenter, original: list[list[str]], names: list[list[str]]) -> dict:
    """Which scored images the model's training record names as trained on or as validation
    images (matched by their names as read, ``original``; listed as scored, ``names``), for
    pooled.json and record.json; warned in one line."""
    from temseg.infer.evaluation import training_overlap

    training = getattr(getattr(segmenter, "config", None), "training", None)
    pairs = list(zip([n for s in original for n in s], [n for s in names for n in s]))
    found = training_overlap(training, [n for n, _ in pairs])
    trained = [name for n, name in pairs if n in found["train_images"]]
    validation = [name for n, name in pairs if n in found["val_images"]]
    total = len(pairs)
    record = {"held_out": (not trained and not validation) if found["known"] else None,
              "n_images": total, "train_images": trained, "val_images": validation}
    parts = []
    if trained:
        parts.append(f"{len(trained)} of {total} scored images are named as images the model "
                     "was trained on: their scores are not held-out")
    if validation:
        parts.append(f"{len(validation)} {'more' if trained else f'of {total} scored images'} "
                     "are named as its validation images, which chose its best epoch: "
                     "optimistic too")
    if parts:
        record["note"] = "; ".join(parts)
        _common.warn(record["note"])
    return record


def _in_training(rows: list[dict], held_out: dict) -> None:
    """Each image row's ``in_training`` (train, validation or no) where some scored image is
    among the model's training or validation images (nothing added otherwise)."""
    if not held_out["train_images"] and not held_out["val_images"]:
        return
    trained, validation = set(held_out["train_images"]), set(held_out["val_images"])
    for row in rows:
        row["in_training"] = ("train" if row["name"] in trained else
                              "validation" if row["name"] in validation else "no")


def _class_ids_warning(path: Path, values: list[int], segmenter) -> None:
    """Warn that labels holding three or more class ids are scored as one foreground."""
    from temseg.io.labels import class_ids

    ids = class_ids(values)
    if ids:
        _common.warn(f"{path}: labels hold {len(ids)} class ids ({', '.join(map(str, ids))}) "
                     f"for a model of 2 classes ({', '.join(segmenter.classes)}): scored as "
                     "foreground (any class > 0) against background")


def _distinct_names(data: list[Path], sources: list) -> None:
    """Rename the images of a DATA path whose names repeat an earlier one's (a/test.zarr and
    b/test.zarr both hold test_00000), prefixing its folder's name: their rows in
    per_image.csv and their confusion PNGs would otherwise be one."""
    seen: set[str] = set()
    for j, (path, source) in enumerate(zip(data, sources)):
        names = list(source.names)
        if seen.intersection(names):
            base = Path(path).resolve().parent.name or f"data{j + 1}"
            prefix, k = f"{base}_", 2
            while seen.intersection(prefix + n for n in names):
                prefix, k = f"{base}{k}_", k + 1
            names = [prefix + n for n in names]
            if hasattr(source, "pairs"):  # a labelled folder, read
                for pair, name in zip(source.pairs, names):
                    pair.name = name
            else:  # a zarr dataset, read lazily under these names
                source.names = names
            _common.warn(f"{path}: image names repeat those of an earlier DATA path; "
                         f"written as {prefix}NAME")
        seen.update(names)


def _no_foreground_warning(n_images: int, found: int) -> None:
    """Say that labels without any foreground pixel leave the foreground scores undefined."""
    _common.warn(f"the labels of all {n_images} image(s) hold no foreground pixel ({found:,} "
                 "predicted as foreground): F1, Jaccard, precision and recall are undefined; "
                 "only accuracy is meaningful")


def _empty_labels_warning(rows: list[dict], *, scores: str) -> None:
    """Say, once, which images' labels hold no foreground pixel (``label_foreground_px`` 0 in
    their rows) and how their ``scores`` count (:func:`temseg.metrics.scores_from_confusion`:
    1 where nothing is predicted, else 0)."""
    empty = [row["name"] for row in rows if row["label_foreground_px"] == 0]
    if not empty:
        return
    shown = ", ".join(empty[:3]) + (", ..." if len(empty) > 3 else "")
    _common.warn(f"{len(empty)} of {len(rows)} images have no foreground pixel in their label "
                 f"({shown}): {scores} 1 where nothing is predicted, 0 with any false "
                 "positive (recall is 0/0 either way); per_image.csv: label_foreground_px 0")
