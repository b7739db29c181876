"""Runs of a training recipe: several seeds, grouped k-fold cross-validation, summaries.

:func:`run_training` is what ``temseg train`` does: read the data once,
split it by source group, train one model per (fold, seed), score each on its
held-out data (:mod:`temseg.train.scoring`), and write a table of runs with the
mean ± std.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from temseg.config import to_dict
from temseg.errors import ConfigError, InputError
from temseg.io.files import atomic_path, write_json
from temseg.record import write_record
from temseg.rng import keeps_torch_settings
from temseg.train.checkpoints import checkpoint_folders, trained_epochs
from temseg.train.config import TrainConfig
from temseg.train.data import TrainingSet, load_training_data
from temseg.train.resume import (DATA_RECORD, _check_out_apart, _check_resumable,
                                 _check_same_data, _check_same_init, _preprocessing,
                                 data_record, resolved_recipe)
from temseg.train.scoring import evaluate_pairs, mean_std, write_table

@dataclass
class Run:
    """One trained model of a recipe: which fold and seed, where it is, its scores.

    ``seed`` is ``"ensemble"`` for the average of a fold's seed models.
    """

    fold: int | None
    seed: int | str
    folder: Path
    scores: dict = field(default_factory=dict)
    best_epoch: int | None = None
    epochs: int = 0
    seconds: float = 0.0


@dataclass
class TrainingReport:
    """All runs of a recipe and their mean ± std (``summary`` maps score → (mean, std))."""

    runs: list[Run]
    summary: dict[str, tuple[float, float]]
    out_dir: Path
    scored_on: str
    ensembles: list[Run] = field(default_factory=list)
    ensemble_summary: dict[str, tuple[float, float]] = field(default_factory=dict)


def plan_splits(data: TrainingSet, config: TrainConfig) -> list[tuple[int | None, np.ndarray,
                                                                    np.ndarray | None,
                                                                    np.ndarray | None]]:
    """``(fold, train_idx, val_idx, test_idx)`` per fold, grouped by source group.

    With ``folds = k ≥ 2`` each fold's test part is held out entirely; when
    ``val_fraction > 0`` a validation part (for early stopping and the best
    checkpoint) is split off its training groups. With ``folds = 1`` there is
    no test part; validation is ``val_fraction`` of the groups (or none).
    The splits depend on ``config.split_seed`` only, so every recipe and seed
    sees the same folds.
    """
    from temseg.preprocess import group_kfold, split_groups

    groups = np.asarray(data.groups)
    n_groups = len(set(data.groups))
    if n_groups < max(config.folds, 2 if config.val_fraction > 0 and not config.val_data else 1):
        raise InputError(f"data: {n_groups} source group(s) cannot be split into "
                         f"{max(config.folds, 2)} parts; add images, or set folds 1 and "
                         "val_fraction 0")
    if config.folds >= 2:
        plans = []
        for f, (train_idx, test_idx) in enumerate(group_kfold(groups, config.folds,
                                                              seed=config.split_seed), 1):
            val_idx = None
            if config.val_fraction > 0:
                tr, va = split_groups(groups[train_idx], seed=config.split_seed + f,
                                      fractions=(1 - config.val_fraction, config.val_fraction))
                train_idx, val_idx = train_idx[tr], train_idx[va]
            plans.append((f, train_idx, val_idx, test_idx))
        return plans
    all_idx = np.arange(len(data))
    if config.val_fraction > 0 and not config.val_data:
        tr, va = split_groups(groups, seed=config.split_seed,
                              fractions=(1 - config.val_fraction, config.val_fraction))
        return [(None, tr, va, None)]
    return [(None, all_idx, None, None)]


def series_warning(names: Sequence[str], groups: Sequence[str]) -> str | None:
    """A warning when every image is its own source group yet most names differ only in a
    trailing number, in two or more series (``series1_frame001``, ``series2_frame003``): the
    frames of a series would be spread over the folds, each test fold scored on near copies
    of images trained on. ``None`` when nothing looks so (``img001``, ``img002``... are one
    numbering, not series).
    """
    import re
    from collections import Counter

    if len(set(groups)) < len(groups):  # grouped already (the group_pattern matched)
        return None
    stems = Counter(re.sub(r"\d+$", "", name) for name in names if name[-1:].isdigit())
    series = sorted(stem for stem, count in stems.items() if count >= 2)
    framed = sum(stems[stem] for stem in series)
    if len(series) < 2 or 2 * framed < len(names):
        return None
    tails = {re.search(r"[_\-. ]?[A-Za-z]*$", stem).group() for stem in series}
    hint = (f", e.g. `group_pattern: '{re.escape(tails.pop())}\\d+$'` in the recipe"
            if len(tails) == 1 and "" not in tails else "")
    return (f"{framed} images look like frames of {len(series)} series ({series[0]}…): "
            f"give a group_pattern so frames of a series stay in one fold{hint}")


def model_options(config: TrainConfig, n_classes: int, in_channels: int = 1) -> dict:
    """Options for :func:`temseg.models.build_model`: the recipe's, with the data's classes
    and input channels (where the recipe does not set them)."""
    options = dict(config.model)
    options.setdefault("classes", n_classes)
    options.setdefault("in_channels", in_channels)
    return options


def _check_recipe_fits(config: TrainConfig, data: TrainingSet) -> None:
    """The recipe's ``model.in_channels`` and ``class_weights`` against the data, before work."""
    given = config.model.get("in_channels")
    if given is not None and given != data.channels:
        shown = f" ({', '.join(data.channel_names)})" if data.channel_names else ""
        raise ConfigError(f"model.in_channels: the recipe says {given}, the data have "
                          f"{data.channels} channel(s) per image{shown}; leave it out to take "
                          "the data's")
    if config.class_weights is not None and data.class_names is not None \
            and len(config.class_weights) != len(data.class_names):
        raise ConfigError(f"class_weights: {len(config.class_weights)} weights for the data's "
                          f"{len(data.class_names)} classes ({', '.join(data.class_names)})")


def _build(config: TrainConfig, data: TrainingSet, *, seed: int, preprocessing, init_state=None):
    """The run's network (seeded; with ``init_state`` its weights are a trained model's)."""
    from temseg.models import ModelConfig, build_model
    from temseg.train.loop import init_seed

    n_classes = max(data.n_classes, config.n_classes or 2)
    options = model_options(config, n_classes, data.channels)
    init_seed(seed)
    model = build_model(config.architecture, **options)
    if init_state is not None:
        model.load_state_dict(init_state, strict=True)
    model_config = ModelConfig(
        architecture=config.architecture,
        options={k: v for k, v in options.items() if k not in ("classes", "in_channels")},
        in_channels=data.channels, classes=data.class_names_or_default(n_classes),
        channels=data.channel_names, preprocessing=to_dict(preprocessing),
        sampling=data.sampling, threshold=config.threshold, training={})
    return model, model_config


def _train_one(config, data, plan, *, seed, folder, preprocessing, resume, callback,
               batch_callback, init=None) -> Run:
    import json
    import time

    from temseg.models import save_model
    from temseg.train.checkpoints import find_checkpoint
    from temseg.train.loop import fit
    from temseg.train.plots import plot_learning_curve

    fold, train_idx, val_idx, test_idx = plan
    result_path = folder / "result.json"
    if resume and result_path.is_file():  # finished before the interruption
        done = json.loads(result_path.read_text())
        # kept as it is, unless --epochs now asks for more than its full schedule gave
        if done["epochs"] >= config.epochs or config.patience is not None:
            return Run(fold, seed, folder, done["scores"], done["best_epoch"], done["epochs"],
                       done["seconds"])
    resume_from = None
    if resume:
        try:
            resume_from = find_checkpoint(folder)
        except InputError:
            resume_from = None
    # a resumed run's checkpoint holds its weights; the init model only starts a fresh one
    model, model_config = _build(
        config, data, seed=seed, preprocessing=preprocessing,
        init_state=init.state if init is not None and resume_from is None else None)
    train_set = data.subset(train_idx)
    val_set = data.subset(val_idx) if val_idx is not None else None
    if config.val_data:  # only with folds 1 (TrainConfig refuses it with k-fold)
        val_set = _load(config, config.val_data, preprocessing)
    t0 = time.perf_counter()
    result = fit(model, train_set, val_set, config, seed=seed, out_dir=folder,
                 resume=resume_from, model_config=model_config, callback=callback,
                 batch_callback=batch_callback)
    seconds = time.perf_counter() - t0 + (sum(r.get("seconds", 0.0) for r in result.history)
                                          if resume_from is not None else 0.0)
    if test_idx is not None:
        scores = _score_held_out(result.model, data.subset(test_idx), config,
                                 folder / "test_per_image.csv")
    elif val_set is not None and result.best_epoch is not None:
        best = result.history[[r["epoch"] for r in result.history].index(result.best_epoch)]
        scores = {k[4:]: v for k, v in best.items() if k.startswith("val_") and k != "val_loss"}
    else:
        scores = {}
    model_config.training = {
        "recipe": to_dict(config), "seed": seed, "fold": fold,
        "train_images": train_set.names,
        "val_images": val_set.names if val_set is not None else [],
        "test_images": data.subset(test_idx).names if test_idx is not None else [],
        "epochs_run": len(result.history), "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early, "scores": scores,
        "scored_on": "test fold" if test_idx is not None else "validation",
        **({"init": init.record()} if init is not None else {}),
    }
    save_model(folder / "model", result.model, model_config)
    if result.history:
        plot_learning_curve(result.history, folder / "learning_curve.png", monitor=result.monitor,
                            best_epoch=result.best_epoch,
                            title=f"seed {seed}" + (f", fold {fold}" if fold else ""))
    run = Run(fold, seed, folder, scores, result.best_epoch, len(result.history), seconds)
    write_json(result_path, {"fold": fold, "seed": seed, "scores": scores,
                             "best_epoch": result.best_epoch, "epochs": run.epochs,
                             "seconds": seconds})
    return run


def _score_held_out(model, held_out: TrainingSet, config: TrainConfig, table: Path) -> dict:
    """Pooled scores of ``model`` on ``held_out`` (per-image rows written to ``table``).

    A network of K ≥ 3 classes is also scored class by class (``f1_<class>``,
    ``macro_f1``... from the summed per-class counts, :func:`evaluate_pairs`).
    """
    import torch

    from temseg.train.loop import predict_logits
    from temseg.train.losses import class_probabilities, foreground_probability

    device = next(model.parameters()).device
    model.eval()

    def predict(image):
        with torch.no_grad():
            logits = predict_logits(model, image, device=device)
        if logits.shape[1] >= 3:  # the class probabilities: scored per class and as foreground
            return class_probabilities(logits)[0].detach().to("cpu").numpy()
        return foreground_probability(logits)[0].detach().to("cpu").numpy()

    n_classes = max(held_out.n_classes, config.n_classes or 2)
    scores, per_image, _ = evaluate_pairs(predict, held_out.images, held_out.labels,
                                          threshold=config.threshold, names=held_out.names,
                                          class_names=held_out.class_names_or_default(n_classes))
    write_table(table, per_image)
    return {k: v for k, v in scores.items() if k not in ("tp", "fp", "fn", "tn")}


def _ensemble_one(config: TrainConfig, data: TrainingSet, plan, runs: Sequence[Run], *,
                  folder: Path, preprocessing) -> Run:
    """Average the seed models ``runs`` of one fold into ``folder/ensemble`` and score it."""
    from temseg.models import combine_models, load_model

    fold, _, val_idx, test_idx = plan
    _, meta = combine_models([r.folder / "model.json" for r in runs], folder / "ensemble")
    model, _ = load_model(meta)
    if test_idx is not None:
        held_out = data.subset(test_idx)
    elif val_idx is not None:
        held_out = data.subset(val_idx)
    elif config.val_data:
        held_out = _load(config, config.val_data, preprocessing)
    else:
        held_out = None
    scores = (_score_held_out(model, held_out, config, folder / "ensemble_per_image.csv")
              if held_out is not None else {})
    seconds = sum(r.seconds for r in runs)
    write_json(folder / "ensemble_result.json",
               {"fold": fold, "seeds": [r.seed for r in runs], "scores": scores,
                "seconds": seconds})
    return Run(fold, "ensemble", folder, scores, None, max(r.epochs for r in runs), seconds)


def _run_folder(out_dir: Path, fold: int | None, seed: int, seeds: Sequence[int]) -> Path:
    """Folder of one run: OUT[/fold_F][/seed_S] (seed folders only with several seeds)."""
    parts = ([f"fold_{fold}"] if fold is not None else []) + (
        [f"seed_{seed}"] if len(seeds) > 1 else [])
    return out_dir.joinpath(*parts) if parts else out_dir


def load_recipe_data(config: TrainConfig) -> TrainingSet:
    """The recipe's ``data``, read and preprocessed as its ``preprocessing`` says."""
    return _load(config, config.data, _preprocessing(config))


def _load(config: TrainConfig, paths, preprocessing) -> TrainingSet:
    return load_training_data(paths, label_suffix=config.label_suffix,
                              multiclass=config.multiclass, group_pattern=config.group_pattern,
                              preprocessing=preprocessing, sampling=config.sampling)


@keeps_torch_settings
def run_training(config: TrainConfig, *, out_dir: str | Path, resume: bool = False,
                 data: TrainingSet | None = None,
                 callback: Callable[[str, dict], None] | None = None,
                 batch_callback: Callable[[str, int, int], None] | None = None,
                 only_folds: Sequence[int] | None = None,
                 warn: Callable[[str], None] | None = None) -> TrainingReport:
    """Train the recipe ``config`` for every fold and seed; write models, logs and tables.

    Layout: a single run writes into ``out_dir`` itself; folds into
    ``out_dir/fold_F``, several seeds into ``.../seed_S``; with ``ensemble``
    the seeds' average goes beside them (``.../ensemble.json``, scored on
    the same held-out data, its row in runs.csv has seed "ensemble"). ``out_dir`` gets
    ``config.yaml`` (the resolved recipe), ``data.json`` (the images trained on,
    :func:`data_record`), ``runs.csv`` (a row per run, with its scores),
    ``summary.json`` (mean ± std) and ``record.json``. ``out_dir`` must lie
    apart from the data folders (neither one of them nor inside one).

    Parameters
    ----------
    config : TrainConfig
    out_dir : path
    resume : bool
        Continue the runs in ``out_dir`` from their last checkpoints (finished
        runs are kept as they are). The recipe may differ only in ``epochs`` and
        where it runs; the data only in where they lie (the same image names,
        groups and file contents, by SHA-256, as ``out_dir/data.json``; a run
        without it, or without the SHA-256s, is resumed with a warning).
        Without ``resume`` a folder of trained epochs is refused; one holding only
        the epoch-0 checkpoints of a run stopped before its first epoch
        (:func:`trained_epochs` 0) is started afresh.
        A fresh run stopped (Ctrl-C, an error) before its first checkpoint takes
        back what it wrote: the folder if it made it, else its files in it.
    data : TrainingSet, optional
        Already loaded and preprocessed data (else read from ``config.data``),
        preprocessed as ``resolve_init(config)[0].preprocessing`` says when the
        recipe has an ``init`` model.
    only_folds : sequence of int, optional
        Train only these folds (1-based) of the ``k`` planned (quick checks).
    warn : callable(message), optional
        Receives warnings (an ``init`` model at another pixel size, or trained on
        held-out images); default :func:`warnings.warn`.
    callback : callable(run_name, epoch_row), optional
    batch_callback : callable(run_name, done, total), optional

    Raises
    ------
    InputError
        Bad data, a model that does not fit it, ``out_dir`` overlapping a data
        folder, ``resume`` without a checkpoint or with other images.
    """
    import yaml

    from temseg.device import pick_device
    from temseg.models import ARCHITECTURES, build_model
    from temseg.train.data import check_shapes, dataset_names
    from temseg.train.init import check_init_fits, resolve_init
    from temseg.train.loop import check_model_fits

    if warn is None:
        import warnings

        def warn(message: str) -> None:
            warnings.warn(message, stacklevel=3)

    out_dir = Path(out_dir)
    config, init = resolve_init(config)
    if config.num_threads:  # the whole run, scoring after each fit too (fit gives them back)
        import torch

        torch.set_num_threads(config.num_threads)
    _check_out_apart(out_dir, config)
    if resume and not (out_dir / "config.yaml").is_file():
        raise InputError(f"{out_dir}: nothing to resume (no config.yaml from an earlier run)")
    if config.architecture not in ARCHITECTURES:
        raise ConfigError(f"architecture: {config.architecture!r} is not one of "
                          f"{', '.join(ARCHITECTURES)}")
    # the recipe's options are checked before the data are read (which may take long)
    probe = build_model(config.architecture, **model_options(config, config.n_classes or 2))
    pick_device(config.device)  # a CUDA device asked for and missing: before anything is written
    preprocessing = _preprocessing(config)
    if data is None:
        data = _load(config, config.data, preprocessing)
    _check_recipe_fits(config, data)
    n_classes = max(data.n_classes, config.n_classes or 2)
    if n_classes != (config.n_classes or 2) or data.channels != 1:
        probe = build_model(config.architecture,
                            **model_options(config, n_classes, data.channels))
    # the patch size and the network fit the images: checked before the run folder is made
    check_model_fits(probe, tile=check_shapes(data, patch_size=config.patch_size,
                                              where="training data"),
                     n_classes=n_classes, device="cpu", in_channels=data.channels)
    plans = plan_splits(data, config)
    if only_folds is not None:
        plans = [p for p in plans if p[0] in set(only_folds)]
    if init is not None:
        held_out = {name for plan in plans for idx in plan[2:] if idx is not None
                    for name in data.subset(idx).names}
        if config.val_data and config.folds < 2:  # scored on separate validation folders
            held_out |= set(dataset_names(config.val_data, label_suffix=config.label_suffix))
        for message in check_init_fits(init, data, n_classes, held_out,
                                       preprocessing=to_dict(preprocessing)):
            warn(message)
    if not resume and trained_epochs(out_dir):
        raise InputError(f"{out_dir}: holds an earlier run; resume it or choose another folder")
    record = data_record(config, data)
    if resume:
        _check_resumable(config, out_dir)
        _check_same_data(record, out_dir, warn, config)
    if resume and init is not None:
        _check_same_init(init, out_dir)
    if config.folds >= 2:
        message = series_warning(data.names, data.groups)
        if message is not None:
            warn(message)
    made = _first_missing(out_dir)  # removed again if stopped before any checkpoint
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        if not resume:  # a fresh run: what it starts from (none: no stale file of an earlier try)
            for folder in checkpoint_folders(out_dir):  # epoch 0 of a run stopped before 1
                shutil.rmtree(folder)
            write_json(out_dir / DATA_RECORD, record)
            if init is not None:
                write_json(out_dir / "init.json", init.record())
            else:
                (out_dir / "init.json").unlink(missing_ok=True)
        with atomic_path(out_dir / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(resolved_recipe(config), sort_keys=False))
        return _train_plans(config, data, plans, out_dir=out_dir, resume=resume, init=init,
                            preprocessing=preprocessing, callback=callback,
                            batch_callback=batch_callback)
    except BaseException:
        if not resume and not checkpoint_folders(out_dir):
            _unmake(out_dir, made)
        raise


def _first_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet (None: it exists)."""
    missing = None
    for path in (folder, *folder.parents):
        if path.exists():
            return missing
        missing = path
    return missing


def _unmake(out_dir: Path, made: Path | None) -> None:
    """Undo a fresh run stopped before its first checkpoint (Ctrl-C, an error): the folders it
    made go; in a folder that was there before, the files it wrote. A folder is left behind
    only once it holds a checkpoint, from which ``--resume`` continues. (Imports nothing: it
    runs while an interrupted import of torch unwinds.)"""
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        return
    for name in (DATA_RECORD, "init.json", "config.yaml"):
        (out_dir / name).unlink(missing_ok=True)


def _train_plans(config: TrainConfig, data: TrainingSet, plans, *, out_dir: Path, resume: bool,
                 init, preprocessing, callback, batch_callback) -> TrainingReport:
    """Train every (fold, seed) of ``plans`` in ``out_dir``; write runs.csv, summary.json and
    record.json (:func:`run_training`, after its checks)."""
    runs, ensembles = [], []
    for plan in plans:
        plan_dir = out_dir / f"fold_{plan[0]}" if plan[0] is not None else out_dir
        plan_runs = []
        for seed in config.seeds:
            folder = _run_folder(out_dir, plan[0], seed, config.seeds)
            name = folder.relative_to(out_dir).as_posix() if folder != out_dir else "run"
            run = _train_one(
                config, data, plan, seed=seed, folder=folder, preprocessing=preprocessing,
                resume=resume,
                callback=(lambda row, n=name: callback(n, row)) if callback else None,
                batch_callback=((lambda d, t, n=name: batch_callback(n, d, t))
                                if batch_callback else None), init=init)
            plan_runs.append(run)
        runs += plan_runs
        if config.ensemble:
            ensembles.append(_ensemble_one(config, data, plan, plan_runs, folder=plan_dir,
                                           preprocessing=preprocessing))
    rows = [{"fold": r.fold, "seed": r.seed, "epochs": r.epochs, "best_epoch": r.best_epoch,
             "seconds": round(r.seconds, 2), **r.scores} for r in runs + ensembles]
    write_table(out_dir / "runs.csv", rows)
    keys = list(dict.fromkeys(k for r in runs for k in r.scores))  # the classes in order
    summary = mean_std([r.scores for r in runs], keys)
    ensemble_summary = mean_std([r.scores for r in ensembles], keys)
    scored_on = ("test folds" if config.folds >= 2 else
                 "validation" if keys else "nothing (no validation data)")
    written = {"scored_on": scored_on, "n_runs": len(runs),
               "mean": {k: m for k, (m, _) in summary.items()},
               "std": {k: s for k, (_, s) in summary.items()}}
    if ensembles:
        written["ensemble"] = {"n_runs": len(ensembles),
                               "mean": {k: m for k, (m, _) in ensemble_summary.items()},
                               "std": {k: s for k, (_, s) in ensemble_summary.items()}}
    write_json(out_dir / "summary.json", written)
    write_record(out_dir, seed=config.seeds[0], config=to_dict(config),
                 n_images=len(data), sampling=data.sampling, runs=rows,
                 **({"init": init.record()} if init is not None else {}))
    return TrainingReport(runs, summary, out_dir, scored_on, ensembles, ensemble_summary)
