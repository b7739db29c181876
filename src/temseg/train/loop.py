"""The training loop: one model, one seed, one split; logs, checkpoints, early stopping, resume.

:func:`fit` trains any ``torch.nn.Module`` that maps ``(N, C_in, H, W)`` images
(C_in = 1, or the channels of a focal series) to ``(N, K, H, W)`` logits. Each
epoch appends a row to ``log.csv`` and ``log.json`` (loss, validation scores,
learning rate, seconds; with K ≥ 3 classes also the F1 of each foreground
class, ``val_f1_<class>``, and their mean ``val_macro_f1``) and rewrites
``checkpoints/last`` (and ``checkpoints/best`` on a better validation score).
Ctrl-C during an epoch leaves ``checkpoints/last`` at the previous epoch;
resuming from it gives the same weights, bit for bit on the CPU, as a run
that was never stopped. With ``config.ema`` a moving average of the weights
(:mod:`temseg.train.average`) is kept beside them, checkpointed with them, and
is what validation scores and what the trained model holds.
"""

from __future__ import annotations

import csv
import math
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from temseg.device import from_device, pick_device, to_device
from temseg.errors import InputError
from temseg.io.files import atomic_path, write_json
from temseg.models.blocks import channels_last
from temseg.rng import keeps_torch_settings, seed_torch
from temseg.train.average import WeightAverage
from temseg.train.checkpoints import (find_checkpoint, load_average, load_checkpoint,
                                      read_tensors, save_checkpoint)
from temseg.train.config import TrainConfig
from temseg.train.data import TrainingSet, check_shapes, default_class_names, epoch_batches
from temseg.train.losses import foreground_probability, make_loss

#: validation images are reflect-padded to a multiple of this (or of the model's
#: ``pooling_factor`` attribute) before the forward pass
PAD_MULTIPLE = 32


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : torch.nn.Module — with the best weights (the last when there is no validation;
        the weight average when ``config.ema`` is on)
    history : list of dict — one row per epoch (see ``log.csv``)
    best_epoch : int or None
    best_score : float — the best ``monitor`` value (NaN without validation)
    stopped_early : bool
    out_dir : path or None
    monitor : str — the validation score that chose the best epoch (see :func:`monitored`)
    """

    model: torch.nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float = math.nan
    stopped_early: bool = False
    out_dir: Path | None = None
    monitor: str = "f1"


def monitored(monitor: str, n_classes: int) -> str:
    """The score that early stopping and the best checkpoint follow (``val_`` + it in the log).

    With three or more classes ``f1`` means ``macro_f1``, the mean F1 of the
    foreground classes (one rare species counts as much as a common one);
    the other monitors score foreground (any class) against background, as
    for two classes. ``macro_f1`` with two classes is ``f1``.
    """
    if monitor in ("f1", "macro_f1"):
        return "macro_f1" if n_classes >= 3 else "f1"
    return monitor


def check_classes(train_set: TrainingSet, val_set: TrainingSet | None,
                  class_names: list[str]) -> None:
    """Validation data of other class names are an error; a class without a pixel a warning.

    With K ≥ 3 classes, a foreground class that no validation pixel has scores F1 1
    while the network predicts none of it and 0 once it predicts one pixel of it
    (:func:`temseg.metrics.scores_from_confusion`): a step of 1/(K − 1) in
    ``val_macro_f1``, which early stopping follows, decided by stray pixels. A class
    absent from the training labels cannot be learned. Both are warned, naming the
    classes.

    Raises
    ------
    InputError
        Training and validation data both name their classes, differently.
    """
    if val_set is not None and len(val_set) and train_set.class_names is not None \
            and val_set.class_names is not None and val_set.class_names != train_set.class_names:
        raise InputError(f"validation data: classes {', '.join(val_set.class_names)} differ "
                         f"from the training data's {', '.join(train_set.class_names)}")
    k = len(class_names)
    if k < 3:
        return
    for where, data in (("training data", train_set), ("validation data", val_set)):
        if data is None or not len(data):
            continue
        counts = sum(np.bincount(np.asarray(lab).ravel(), minlength=k)[:k] for lab in data.labels)
        missing = [class_names[c] for c in range(1, k) if counts[c] == 0]
        if not missing:
            continue
        if where == "training data":
            warnings.warn(f"training data: no pixel of class {', '.join(missing)}; the network "
                          "cannot learn it", stacklevel=3)
        else:
            warnings.warn(f"validation data: no pixel of class {', '.join(missing)}; its F1 is "
                          "1 while the network predicts none of it and 0 once it predicts any, "
                          f"a step of 1/{k - 1} in val_macro_f1 (early stopping): hold out more "
                          "images or give val_data that have it", stacklevel=3)


def check_model_fits(model: torch.nn.Module, *, tile: int, n_classes: int, device,
                     in_channels: int = 1) -> int:
    """Probe the model with one ``(1, in_channels, tile, tile)`` image before any training.

    Returns the number of output channels.

    Raises
    ------
    InputError
        The model does not take ``in_channels``-channel images of this size (too
        small for its pooling, wrong input channels) or its classes do not fit the labels.
    """
    factor = getattr(model, "pooling_factor", None) or getattr(model, "factor", None)
    if factor and tile < int(factor):
        raise InputError(f"model: the training images ({tile} px) are smaller than the "
                         f"network's pooling factor of {int(factor)} px")
    takes = getattr(model, "options", {}).get("in_channels")
    if takes is not None and int(takes) != in_channels:
        raise InputError(f"model: takes {takes} input channel(s) but the training images have "
                         f"{in_channels} (wrong input channels)")
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, in_channels, tile, tile, device=device))
    except RuntimeError as exc:
        raise InputError(f"model: does not accept {in_channels}-channel {tile}×{tile} images "
                         f"(too small for its pooling, or wrong input channels): "
                         f"{str(exc).splitlines()[0][:160]}") from None
    if out.ndim != 4 or tuple(out.shape[2:]) != (tile, tile):
        raise InputError(f"model: maps a {tile}×{tile} image to {tuple(out.shape)}; "
                         f"the tile side must be a multiple of its pooling factor")
    channels = int(out.shape[1])
    if not (channels == n_classes or (channels == 1 and n_classes == 2)):
        raise InputError(f"model: has {channels} output classes but the labels have {n_classes}")
    return channels


def predict_logits(model: torch.nn.Module, image: np.ndarray, *, device,
                   amp: bool = False) -> torch.Tensor:
    """Whole-image forward pass of one ``(H, W)`` image or ``(C, H, W)`` channels
    → ``(1, K, H, W)`` logits (float32)."""
    h, w = image.shape[-2:]
    multiple = int(getattr(model, "pooling_factor", None) or getattr(model, "factor", None)
                   or PAD_MULTIPLE)
    ph, pw = (-h) % multiple, (-w) % multiple
    pad = ((0, 0),) * (image.ndim - 2) + ((0, ph), (0, pw))
    padded = np.pad(image, pad, mode="reflect") if (ph or pw) else image
    x = to_device(padded[None, None] if padded.ndim == 2 else padded[None], device)
    with torch.autocast(device.type, enabled=amp):
        logits = model(x)
    return logits[..., :h, :w].float()


def validate(model: torch.nn.Module, data: TrainingSet, *, loss_fn, threshold: float,
             device, amp: bool = False, class_names: list[str] | None = None) -> dict:
    """Validation loss and pooled scores (``temseg.metrics.score_set``) of ``data``.

    The scores are of foreground (any class > 0, probability ≥ ``threshold``)
    against background. A network of K ≥ 3 classes also gets ``val_f1_<class>``
    for each foreground class (the most probable class per pixel, pooled over
    the images; :mod:`temseg.train.scoring`) and ``val_macro_f1``, their mean;
    ``class_names`` (K names) name them (default ``class_1``...).
    """
    from temseg.metrics import SCORE_KEYS, score_set
    from temseg.train.scoring import class_confusion, class_scores, pixel_accuracy

    model.eval()
    preds, truths, probs, losses = [], [], [], []
    matrix = None
    with torch.no_grad():
        for image, label in zip(data.images, data.labels):
            logits = predict_logits(model, image, device=device, amp=amp)
            target = torch.as_tensor(label.astype(np.int64), device=device)[None]
            losses.append(float(loss_fn(logits, target)))
            prob = from_device(foreground_probability(logits)[0]).astype(np.float32)
            probs.append(prob)
            preds.append(prob >= threshold)
            truths.append(label > 0)
            k = int(logits.shape[1])
            if k >= 3:
                counts = class_confusion(from_device(logits[0].argmax(0)), label, n_classes=k)
                matrix = counts if matrix is None else matrix + counts
    pooled, _ = score_set(preds, truths, probs=probs)
    row = {"val_loss": float(np.mean(losses)),
           **{f"val_{k}": float(pooled[k]) for k in SCORE_KEYS if pooled.get(k) is not None}}
    if matrix is not None:
        names = default_class_names(class_names, len(matrix))
        row.update({f"val_{k}": v for k, v in class_scores(matrix, names, keys=("f1",)).items()})
        row["val_pixel_accuracy"] = pixel_accuracy(matrix)
    return row


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """Learning rate of ``epoch`` (1-based): constant, or cosine decay over ``config.epochs``."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / config.epochs))
    return config.lr


def write_log(out_dir: Path, history: list[dict]) -> None:
    """``log.csv`` and ``log.json`` of the epochs so far (atomic)."""
    write_json(out_dir / "log.json", history)
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with atomic_path(out_dir / "log.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)


@keeps_torch_settings
def fit(model: torch.nn.Module, train_set: TrainingSet, val_set: TrainingSet | None,
        config: TrainConfig, *, seed: int, out_dir: str | Path | None = None,
        resume: str | Path | None = None, model_config=None,
        callback: Callable[[dict], None] | None = None,
        batch_callback: Callable[[int, int], None] | None = None) -> FitResult:
    """Train ``model`` on ``train_set``, validating on ``val_set`` each epoch.

    Parameters
    ----------
    model : torch.nn.Module
        ``(N, C_in, H, W)`` → ``(N, K, H, W)`` logits, ``C_in = train_set.channels``;
        ``K = 1`` for a binary sigmoid output. Its initial weights should come
        from ``seed`` (see :func:`temseg.rng.seed_torch`).
    train_set, val_set : TrainingSet
        Preprocessed data of one channel count; ``val_set`` may be ``None`` (no
        early stopping). With K ≥ 3 classes the best epoch is the one of the best
        ``val_macro_f1`` (when ``config.monitor`` is ``f1``; see :func:`monitored`).
    config : TrainConfig
    seed : int
        Seeds the batch order, crops and augmentation of every epoch.
    out_dir : path, optional
        Where ``log.csv``, ``log.json`` and ``checkpoints/{last,best}`` go.
    resume : path, optional
        A checkpoint (or a run folder) to continue from, up to ``config.epochs``.
    model_config : temseg.models.ModelConfig, optional
        Makes checkpoints loadable model files.
    callback : callable(row), optional
        Called after each epoch with its log row.
    batch_callback : callable(done, total), optional
        Called after each batch (for progress bars).

    Raises
    ------
    InputError
        Bad data or a model that does not fit it, before any training.
    KeyboardInterrupt
        Re-raised after the log is written; ``checkpoints/last`` holds the last whole epoch.
    """
    device = pick_device(config.device)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    if not len(train_set):
        raise InputError("training set is empty")
    if train_set.foreground_fraction() == 0.0:
        raise InputError("training set: every label is background; nothing to learn")
    tile = check_shapes(train_set, patch_size=config.patch_size, where="training data")
    patch = config.patch_size  # None: whole images (check_shapes: all of one shape)
    n_classes = max(train_set.n_classes, config.n_classes or 2)
    if val_set is not None and len(val_set) and val_set.channels != train_set.channels:
        raise InputError(f"validation data: {val_set.channels} channel(s) per image, the "
                         f"training data {train_set.channels}")
    model.to(device)
    channels_last(model)  # ~20 % faster convolutions on a CPU (BENCHMARKS.md)
    check_model_fits(model, tile=tile, n_classes=n_classes, device=device,
                     in_channels=train_set.channels)
    monitor = monitored(config.monitor, n_classes)
    class_names = train_set.class_names_or_default(n_classes)
    check_classes(train_set, val_set, class_names)

    amp = bool(config.amp and device.type == "cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, amsgrad=config.amsgrad,
                                 weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    loss_fn = make_loss(config.loss, class_weights=config.class_weights)
    out_dir = Path(out_dir) if out_dir is not None else None
    ckpt = out_dir / "checkpoints" if out_dir is not None else None

    history: list[dict] = []
    start, best_score, best_epoch, bad_epochs = 0, -math.inf, None, 0
    best_state = None
    average = WeightAverage(model, config.ema) if config.ema else None
    if resume is not None:
        trainer = load_checkpoint(resume, model=model, optimizer=optimizer, device=device)
        if trainer.get("seed") != seed:
            raise InputError(f"{resume}: checkpoint was trained with seed {trainer.get('seed')}, "
                             f"not {seed}")
        if average is None and trainer.get("ema"):
            raise InputError(f"{resume}: checkpoint was trained with ema {trainer['ema']}, "
                             "not without")
        if average is not None and int(trainer["epoch"]) > 0:
            sums = load_average(resume)
            if sums is None or trainer.get("ema") != config.ema:
                raise InputError(f"{resume}: checkpoint was trained with ema "
                                 f"{trainer.get('ema') or 0}, not {config.ema}")
            average.load_tensors(sums, trainer["ema_steps"])
        start, history = int(trainer["epoch"]), list(trainer["history"])
        best_epoch, bad_epochs = trainer["best_epoch"], int(trainer["bad_epochs"])
        best_score = -math.inf if trainer["best_score"] is None else float(trainer["best_score"])
        if trainer.get("scaler"):
            scaler.load_state_dict(trainer["scaler"])
        best_dir = find_checkpoint(resume).parent / "best"
        if best_epoch is not None and (best_dir / "model.safetensors").is_file():
            best_state = read_tensors(best_dir / "model.safetensors")

    def trainer_state(epoch: int) -> dict:
        return {"epoch": epoch, "seed": seed, "history": history, "best_epoch": best_epoch,
                "best_score": None if not math.isfinite(best_score) else best_score,
                "bad_epochs": bad_epochs, "scaler": scaler.state_dict() if amp else None,
                "ema": config.ema or None, "ema_steps": average.steps if average else None}

    def save(name: str, epoch: int, *, averaged: bool = False) -> None:
        sums = average.to_tensors() if average is not None and average.steps else None
        # the best checkpoint holds the weights that were scored: the average, when kept
        scored = average.applied(model) if averaged and sums is not None else nullcontext()
        with scored:
            save_checkpoint(ckpt / name, model=model, optimizer=optimizer,
                            trainer=trainer_state(epoch), model_config=model_config,
                            average=sums)

    if ckpt is not None and resume is None:
        save("last", 0)

    stopped_early = False
    n_batches = math.ceil(len(train_set) * config.patches_per_image / config.batch_size)
    try:
        for epoch in range(start + 1, config.epochs + 1):
            t0 = time.perf_counter()
            lr = learning_rate(config, epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            model.train()
            total, count = 0.0, 0
            batches = epoch_batches(train_set, seed=seed, epoch=epoch,
                                    batch_size=config.batch_size, patch_size=patch,
                                    patches_per_image=config.patches_per_image,
                                    dihedral=config.dihedral, intensity=config.intensity,
                                    zoom=config.zoom, noise=config.noise,
                                    blur=config.blur)
            for i, (xb, yb) in enumerate(batches, 1):
                x = to_device(xb, device)
                y = torch.from_numpy(yb).to(device)
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device.type, enabled=amp):
                    logits = model(x)
                loss = loss_fn(logits.float(), y)
                if not torch.isfinite(loss):
                    raise InputError(f"epoch {epoch}: the loss became {float(loss)}; "
                                     "lower the learning rate")
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                if average is not None:
                    average.update(model)
                total += float(loss.detach()) * len(xb)
                count += len(xb)
                if batch_callback is not None:
                    batch_callback(i, n_batches)
            row = {"epoch": epoch, "train_loss": total / count}
            if val_set is not None and len(val_set):
                with average.applied(model) if average is not None else nullcontext():
                    row.update(validate(model, val_set, loss_fn=loss_fn,
                                        threshold=config.threshold, device=device, amp=amp,
                                        class_names=class_names))
            row["lr"] = lr
            row["seconds"] = time.perf_counter() - t0
            history.append(row)
            improved = False
            score = row.get(f"val_{monitor}")
            if score is not None and math.isfinite(score) and score > best_score:
                best_score, best_epoch, bad_epochs, improved = score, epoch, 0, True
                best_state = average.state() if average is not None else model.state_dict()
                best_state = {k: v.detach().to("cpu").clone() for k, v in best_state.items()}
            elif score is not None:
                bad_epochs += 1
            if ckpt is not None:
                if improved:
                    save("best", epoch, averaged=True)
                save("last", epoch)
                write_log(out_dir, history)
            if callback is not None:
                callback(row)
            if config.patience is not None and bad_epochs >= config.patience:
                stopped_early = True
                break
    except KeyboardInterrupt:
        if out_dir is not None and history:
            write_log(out_dir, history)
        raise
    if best_state is not None:
        model.load_state_dict(best_state)
    elif average is not None and average.steps:
        model.load_state_dict(average.state())
    return FitResult(model=model, history=history, best_epoch=best_epoch,
                     best_score=best_score if math.isfinite(best_score) else math.nan,
                     stopped_early=stopped_early, out_dir=out_dir, monitor=monitor)


def init_seed(seed: int) -> None:
    """Seed torch before building a model so its initial weights follow from ``seed``."""
    seed_torch(int(seed))
