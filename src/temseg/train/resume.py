"""What a training run records of its data and recipe, and what ``--resume`` checks against
it: the same recipe (but for what may change), the same images and labels (SHA-256 of each
file), the same starting network, and an output folder apart from the data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from temseg.config import from_dict, to_dict
from temseg.errors import ConfigError, InputError
from temseg.train.config import TrainConfig
from temseg.train.data import TrainingSet, dataset_sources


def _preprocessing(config: TrainConfig):
    from temseg.preprocess import Preprocessing

    return from_dict(Preprocessing, config.preprocessing, prefix="preprocessing.")


def resolved_recipe(config: TrainConfig) -> dict:
    """The recipe as plain data with every default filled in, model and preprocessing included.

    What ``temseg train --show-config`` prints: the network's options are the
    architecture's defaults overlaid with the recipe's, so an option the
    architecture does not have is an error here, as it would be in training.
    With an ``init`` model its network and preprocessing are filled in first
    (:func:`temseg.train.init.resolve_init`).
    """
    from temseg.models import model_defaults
    from temseg.train.init import resolve_init

    config, _ = resolve_init(config)
    shown = to_dict(config)
    defaults = model_defaults(config.architecture)
    if config.architecture != "ensemble":
        unknown = sorted(set(config.model) - set(defaults) - {"in_channels", "classes"})
        if unknown:
            raise ConfigError(f"model: {config.architecture} has no option "
                              f"{', '.join(map(repr, unknown))} (it has: {', '.join(defaults)})")
        from temseg.models.registry import check_options

        try:  # types too: blocks '4' or 0 is no network (--show-config printed them as valid)
            check_options(config.architecture, config.model)
        except ConfigError as exc:
            raise ConfigError(f"model.{exc}") from None
    shown["model"] = {**defaults, **config.model}
    shown["preprocessing"] = to_dict(_preprocessing(config))
    return shown


#: recipe keys a resumed run may change: where it runs, not what it computes
#: and ``epochs``: a resumed run (finished or not) may be trained for longer; ``data`` and
#: ``val_data`` may name moved folders, but their images must be those of ``DATA_RECORD``
RESUME_MAY_CHANGE = ("device", "num_threads", "amp", "data", "val_data", "epochs")
#: file in the output folder naming the images a run was trained on (checked by ``--resume``)
DATA_RECORD = "data.json"


def _check_resumable(config: TrainConfig, out_dir: Path) -> None:
    """Refuse a resume that would not continue the same training.

    Another learning rate, loss, model... would not continue the same
    training; only ``epochs`` may grow (train longer). Finished runs are kept
    as they are, so resuming a finished job is a no-op and a resubmitted batch
    job is harmless.
    """
    from temseg.train.config import load_recipe

    saved = resolved_recipe(load_recipe(out_dir / "config.yaml", paths_from_recipe=False))
    now = resolved_recipe(config)
    changed = [k for k in now if k not in RESUME_MAY_CHANGE and now[k] != saved.get(k)]
    if changed:
        shown = "; ".join(f"{k}: {saved.get(k)!r} → {now[k]!r}" for k in changed[:4])
        raise ConfigError(f"--resume: the recipe differs from {out_dir / 'config.yaml'} "
                          f"({shown}); a resumed run continues the same training — start a "
                          "new run in another folder instead")


def _sha256_file(path: Path) -> str:
    import hashlib

    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _sha256_array(array: np.ndarray) -> str:
    import hashlib

    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def fingerprints(paths: Sequence[str | Path], *, label_suffix: str = "_LABEL"
                 ) -> list[tuple[str, str, str]]:
    """``(name, image SHA-256, label SHA-256)`` per image of labelled folders and zarr datasets.

    Of a folder the bytes of its files, of a dataset each image's and label's stored array
    (dtype, shape and values, read a chunk at a time), so that ``--resume`` notices a label
    edited since training. In the order :func:`temseg.train.data.load_training_data` reads
    them; a path that cannot be read gives nothing (reading it reports the error).
    """
    from temseg.io.files import is_zarr_dataset

    found = []
    for path in map(Path, paths):
        if not is_zarr_dataset(path):
            found += [(name, _sha256_file(image), _sha256_file(label))
                      for name, image, label in dataset_sources([path], label_suffix=label_suffix)]
            continue
        import zarr

        try:
            root = zarr.open_group(str(path), mode="r")
            images, labels = root["images"], root["labels"]
        except Exception:  # noqa: BLE001 - a bad store is reported when it is read
            continue
        step = max(1, int(getattr(images, "chunks", (1,))[0]))
        for start in range(0, images.shape[0], step):
            pairs = zip(np.asarray(images[start:start + step]),
                        np.asarray(labels[start:start + step]))
            found += [(f"{path.stem}_{start + k:05d}", _sha256_array(image),
                       _sha256_array(label)) for k, (image, label) in enumerate(pairs)]
    return found


def _source_text(paths: Sequence[str | Path], name: str, which: str, *,
                 label_suffix: str) -> str:
    """The file (or dataset array) of image ``name``'s ``which`` ("image" or "label")."""
    for found, image, label in dataset_sources(paths, label_suffix=label_suffix):
        if found == name:
            source = image if which == "image" else label
            return str(source) if isinstance(source, Path) else \
                f"{source[0]}: {which}s[{source[1]}]"
    return f"the {which} of {name}"


def _listing(names: Sequence[str], groups: Sequence[str] | None, prints) -> dict:
    """Sorted ``names`` (with their ``groups``, and the SHA-256s of ``prints``, the
    :func:`fingerprints` of the same images, unless ``None``)."""
    from collections import defaultdict, deque

    sums: list | None = None
    if prints is not None:
        found = defaultdict(deque)
        for name, image, label in prints:
            found[name].append((image, label))
        try:
            sums = [found[name].popleft() for name in names]
        except IndexError:  # (data given in code, not read from the paths)
            sums = None
    columns = list(zip(*sums)) if sums else []
    rows = sorted(zip(names, groups if groups is not None else names, *columns))
    part = {"images": [r[0] for r in rows]}
    if groups is not None:
        part["groups"] = [r[1] for r in rows]
    if sums:
        part["image_sha256"], part["label_sha256"] = [r[2] for r in rows], [r[3] for r in rows]
    return part


def data_record(config: TrainConfig, data: TrainingSet) -> dict:
    """What a run trains on: the sorted image names (with source groups) of ``data`` and the
    image names of ``config.val_data``, each with the SHA-256 of its image and label
    (:func:`fingerprints`) — written to ``OUT/data.json`` by a fresh run."""
    from temseg.train.data import dataset_names

    suffix = config.label_suffix
    val = dataset_names(config.val_data, label_suffix=suffix) if config.val_data else []
    return {"data": _listing(data.names, data.groups,
                             fingerprints(config.data, label_suffix=suffix)),
            "val_data": _listing(val, None, fingerprints(config.val_data, label_suffix=suffix))}


def _check_same_data(record: dict, out_dir: Path, warn: Callable[[str], None],
                     config: TrainConfig) -> None:
    """Refuse to resume with other images than the run was trained on (``OUT/data.json``).

    Another image set would leak a fold's test images into its training (the
    folds are planned from the data) or claim data the models never saw; the
    same images from a moved folder are fine, an edited image or label (another
    SHA-256) is not. An older run without the file, or without the SHA-256s, is
    resumed with a warning.
    """
    import json
    from collections import Counter

    path = out_dir / DATA_RECORD
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        warn(f"--resume: {out_dir} has no {DATA_RECORD} (an older run): the data could not "
             "be checked against the images it was trained on")
        return
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable ({exc}); cannot check the data of --resume") \
            from None
    for key in ("data", "val_data"):
        before, now = saved.get(key, {}).get("images", []), record[key]["images"]
        added = sorted((Counter(now) - Counter(before)).elements())
        missing = sorted((Counter(before) - Counter(now)).elements())
        parts = [f"{len(names)} image(s) {how}, e.g. {names[0]!r}"
                 for names, how in ((added, "added"), (missing, "missing")) if names]
        if parts:
            raise InputError(f"--resume: the {key} differ from the images {out_dir} was "
                             f"trained on ({'; '.join(parts)}; see {path}); a resumed run must "
                             "see the same images — start a new run in another folder")
    groups = dict(zip(saved["data"]["images"], saved["data"].get("groups", [])))
    for name, group in zip(record["data"]["images"], record["data"]["groups"]):
        if groups.get(name, group) != group:
            raise InputError(f"--resume: image {name!r} is now in source group {group!r}, not "
                             f"{groups[name]!r} as when {out_dir} was trained (the folds would "
                             "differ); start a new run in another folder")
    for key, paths in (("data", config.data), ("val_data", config.val_data)):
        before, now = saved.get(key, {}), record[key]
        if not now["images"] or "label_sha256" not in now:
            continue
        if "label_sha256" not in before or "image_sha256" not in before:
            warn(f"--resume: {path} has no SHA-256 of the files (an older run): an image or "
                 "label edited since training could not be noticed")
            return
        kept = Counter(zip(before["images"], before["image_sha256"], before["label_sha256"]))
        for row in zip(now["images"], now["image_sha256"], now["label_sha256"]):
            if kept[row] > 0:
                kept[row] -= 1
                continue
            name = row[0]
            which = "image" if row[1] not in {i for n, i in zip(before["images"],
                                                                before["image_sha256"])
                                              if n == name} else "label"
            changed = _source_text(paths, name, which, label_suffix=config.label_suffix)
            raise InputError(f"--resume: {changed} changed since {out_dir} was trained on it "
                             f"(its SHA-256 is not the one in {path}); a resumed run must see "
                             "the same images and labels — start a new run in another folder")


def _check_out_apart(out_dir: Path, config: TrainConfig) -> None:
    """Refuse an output folder that is or lies inside a data folder: the run's files (plots,
    models) would be read as data the next time. (One that holds a data folder, such as a
    project folder, writes beside the data, not into them.)"""
    out = out_dir.resolve()
    for path in (*config.data, *config.val_data):
        given = Path(path).resolve()
        how = "is" if out == given else "lies inside" if given in out.parents else None
        if how is not None:
            raise InputError(f"{out_dir}: the output folder {how} the data {path}; write the "
                             "run to a folder apart from the data")


def _check_same_init(init, out_dir: Path) -> None:
    """Refuse to resume from another init model than the run started from (``init.json``)."""
    import json

    try:
        started = json.loads((out_dir / "init.json").read_text())
    except (OSError, ValueError):
        return  # nothing recorded: nothing to compare
    if (started.get("weights_sha256"), started.get("member")) != (init.sha256, init.member):
        raise InputError(f"--resume: the init model {init.path} is not the one "
                         f"{out_dir} started from (weights SHA-256 or member differ; see "
                         f"{out_dir / 'init.json'}); start a new run in another folder")
