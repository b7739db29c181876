"""CLI command ``train`` (a recipe over seeds/folds); ``evaluate`` is in :mod:`.evaluate`."""

from __future__ import annotations

from pathlib import Path

import typer

from temseg.cli import _common
from temseg.errors import Terminated

#: the six scores of 004 table 1 (soft dice is in the CSV files)
_SCORES = ("accuracy", "balanced_accuracy", "jaccard", "f1", "precision", "recall")


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    from temseg.errors import ConfigError

    try:
        return [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise ConfigError(f"--seeds: expected comma-separated integers, got {text!r}") from None


def _d(name: str) -> str:
    """Help text tail: where an unset option's value comes from."""
    from temseg.train.config import TrainConfig

    value = TrainConfig.__dataclass_fields__[name]
    value = value.default_factory() if callable(value.default_factory) else value.default
    if isinstance(value, list):
        value = ",".join(map(str, value))
    return f" (default: the recipe's, else {value})."


def train(
    data: list[Path] = typer.Argument(None, help="Labelled folders or a zarr dataset "
                                                 "(else the config's `data`)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder of the run(s) "
                                                             "(required, but for --show-config)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Recipe YAML (TrainConfig); "
                                                                    "its relative data paths "
                                                                    "are its folder's."),
    init: str | None = typer.Option(
        None, "--init", help="Fine-tune: start from this trained network (model file, run "
                             "folder or shipped name); its architecture and options are kept, "
                             "and its preprocessing (fields the recipe gives replace its own)."),
    init_member: int | None = typer.Option(
        None, "--init-member", help="With an ensemble as --init (e.g. the shipped graphene "
                                    "model): which member network to start from, 1-based."),
    architecture: str | None = typer.Option(None, help="resunet, unet or msdnet (default: the "
                                                       "recipe's, else the --init model's, "
                                                       "else resunet)."),
    epochs: int | None = typer.Option(None, help="Training epochs" + _d("epochs")),
    batch_size: int | None = typer.Option(None, help="Images (crops) per batch"
                                                     + _d("batch_size")),
    lr: float | None = typer.Option(None, help="Adam learning rate" + _d("lr")),
    amsgrad: bool | None = typer.Option(None, "--amsgrad/--no-amsgrad",
                                        help="AMSGrad variant" + _d("amsgrad")),
    loss: str | None = typer.Option(None, help="ce, dice, ce+dice, lovasz or ce+lovasz"
                                               + _d("loss")),
    patch_size: int | None = typer.Option(None, help="Random crop side in pixels (default: the "
                                                     "recipe's, else whole images)."),
    val_fraction: float | None = typer.Option(None, help="Fraction of the images held out for "
                                                         "validation, whole source groups at a "
                                                         "time" + _d("val_fraction")),
    patience: int | None = typer.Option(None, help="Early stopping patience in epochs (default: "
                                                   "the recipe's, else no early stopping)."),
    seeds: str | None = typer.Option(None, help="Comma-separated seeds, e.g. 0,1,2,3,4"
                                                + _d("seeds")),
    ensemble: bool | None = typer.Option(None, "--ensemble/--no-ensemble",
                                         help="Also average each fold's seed models into "
                                              "one model file and score it."),
    folds: int | None = typer.Option(None, help="k of grouped k-fold cross-validation "
                                                "(1: none)" + _d("folds")),
    device: str | None = typer.Option(None, help="auto, cpu, cuda or cuda:N" + _d("device")),
    threads: int | None = typer.Option(None, help="CPU threads for torch (default: the "
                                                  "recipe's, else torch's choice)."),
    label_suffix: str | None = typer.Option(None, help="Label file suffix"
                                                       + _d("label_suffix")),
    sampling: float | None = typer.Option(None, help="Pixel size in Å/px (overrides the data)."),
    pixel_size_nm: float | None = typer.Option(None, help="Pixel size in nm/px."),
    resume: bool = typer.Option(False, "--resume", help="Continue the runs in --out from "
                                                        "their last checkpoints (the same "
                                                        "images and labels, by SHA-256; "
                                                        "their folder may have moved)."),
    show_config: bool = typer.Option(False, "--show-config",
                                     help="Print the resolved recipe (every option, defaults "
                                          "included) as YAML and exit without training."),
) -> None:
    """Train a segmentation network from labelled micrographs (seeds, k-fold CV, resume).

    Writes per run: model.safetensors + model.json, log.csv/log.json,
    learning_curve.png, checkpoints/{last,best}; and runs.csv, summary.json,
    config.yaml, data.json (the images trained on, with the SHA-256 of each image and
    label) and record.json in --out, which must lie apart from the data folders.
    """
    from temseg.errors import ConfigError
    from temseg.train.config import load_recipe
    from temseg.train.crossval import run_training

    overrides = dict(init=init, init_member=init_member, architecture=architecture,
                     epochs=epochs, batch_size=batch_size, lr=lr,
                     amsgrad=amsgrad, loss=loss, patch_size=patch_size,
                     val_fraction=val_fraction, patience=patience, seeds=_seeds(seeds),
                     ensemble=ensemble, folds=folds, device=device, num_threads=threads,
                     label_suffix=label_suffix,
                     sampling=_common.sampling_from_options(sampling, pixel_size_nm),
                     data=[str(p) for p in data] if data else None)
    _common.check_threads(threads)
    if out is None and not show_config:
        raise ConfigError("--out: required (the folder the run(s) are written to)")
    if out is not None:
        _common.check_output(out)
    own = resume and config is None and out is not None and (out / "config.yaml").is_file()
    if own:  # the run's own recipe: its relative paths are the working folder's
        config = out / "config.yaml"
    cfg = load_recipe(config, paths_from_recipe=not own, **overrides)
    if cfg.init is not None:  # the init model's network, before anything is printed
        from temseg.train.init import resolve_init

        cfg, _ = resolve_init(cfg)
    if show_config:
        import yaml

        from temseg.train.crossval import resolved_recipe

        typer.echo(yaml.safe_dump(resolved_recipe(cfg), sort_keys=False), nl=False)
        return
    folds = f" × {cfg.folds} folds" if cfg.folds > 1 else ""
    verb = "resuming" if resume else "training"
    _common.err.print(f"{verb} {cfg.architecture} to {cfg.epochs} epoch(s) × {len(cfg.seeds)} "
                      f"seed(s){folds}" + (f" from {cfg.init}" if cfg.init else "")
                      + f" → {out}", highlight=False)
    with _common.progress() as bar:
        tasks: dict[str, int] = {}
        batches = bar.add_task("batches", total=None)

        def on_epoch(name: str, row: dict) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=cfg.epochs)
            monitor = cfg.monitor  # with >= 3 classes "f1" follows the mean of the classes' F1
            if monitor == "f1" and row.get("val_macro_f1") is not None:
                monitor = "macro_f1"
            score = row.get(f"val_{monitor}")
            extra = f" {monitor} {score:.3f}" if score is not None else ""
            bar.update(tasks[name], completed=row["epoch"],
                       description=f"{name} loss {row['train_loss']:.4f}{extra}")

        def on_batch(name: str, done: int, total: int) -> None:
            bar.update(batches, completed=done, total=total, description=f"{name} batches")

        try:
            report = run_training(cfg, out_dir=out, resume=resume, callback=on_epoch,
                                  batch_callback=on_batch, warn=_common.warn)
        except KeyboardInterrupt as exc:
            _stopped(out, exc)
        except Exception as exc:  # raised while an interrupt unwound (a half-imported library)
            interrupt = _interrupt_behind(exc)
            if interrupt is None:
                raise
            _stopped(out, interrupt)
    _print_report(report)


def _interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (or SIGTERM) during whose unwinding ``exc`` was raised, if any: torch
    interrupted halfway through its import fails in odd ways when touched again."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KeyboardInterrupt):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _stopped(out: Path, exc: KeyboardInterrupt) -> None:
    """Say what a Ctrl-C (or SIGTERM) left in ``out`` and exit 130 (143).

    Imports nothing heavy: the interrupt may have cut torch's import short, and touching a
    half-imported torch gives errors that are not the user's (or a crash).
    """
    from temseg.train.checkpoints import checkpoint_folders, trained_epochs

    stop = "terminated" if isinstance(exc, Terminated) else "interrupted"
    if trained_epochs(out):
        _common.err.print(f"{stop}: the last whole epoch is saved; continue with "
                          f"`temseg train --resume --out {out}`", highlight=False)
    elif checkpoint_folders(out):
        _common.err.print(f"{stop} before the first epoch finished: nothing was "
                          "trained, so there is nothing to resume; run the same "
                          "command again to start afresh", highlight=False)
    else:  # stopped while starting (reading the data, importing torch): nothing written
        _common.err.print(stop, highlight=False)
    _common.STOP_SAID.append(True)
    raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None


def _report_keys(summary: dict) -> list[str]:
    """The scores of the report table: the binary six, or with >= 3 classes the pixel
    accuracy over all classes, each foreground class's F1 and the classes' mean F1 and
    Jaccard (foreground-vs-background, ``accuracy`` among them, stays in runs.csv)."""
    per_class = [k for k in summary if k.startswith("f1_")]
    if per_class and "macro_f1" in summary:
        first = "pixel_accuracy" if "pixel_accuracy" in summary else "accuracy"
        return [k for k in (first, *per_class, "macro_f1", "macro_jaccard") if k in summary]
    return [k for k in _SCORES if k in summary]


def _print_report(report) -> None:
    from rich.table import Table

    table = Table(title=f"scores on {report.scored_on}")
    keys = _report_keys(report.summary)
    for col in ("fold", "seed", "epochs", "best"):
        table.add_column(col, justify="right")
    for k in keys:
        table.add_column(k, justify="right")
    for run in report.runs:
        table.add_row(str(run.fold or "-"), str(run.seed), str(run.epochs),
                      str(run.best_epoch or "-"), *(f"{run.scores[k]:.4f}" for k in keys))
    if len(report.runs) > 1:
        table.add_row("mean", "", "", "", *(f"{report.summary[k][0]:.4f}" for k in keys))
        table.add_row("std", "", "", "", *(f"{report.summary[k][1]:.4f}" for k in keys))
    _common.show(table)
    if report.ensembles:
        n = len(report.runs) // len(report.ensembles)
        table = Table(title=f"ensemble of {n} seeds (mean probability), scores on "
                            f"{report.scored_on}")
        table.add_column("fold", justify="right")
        for k in keys:
            table.add_column(k, justify="right")
        summary = report.ensemble_summary
        for run in report.ensembles:
            table.add_row(str(run.fold or "-"), *(f"{run.scores[k]:.4f}" if k in run.scores
                                                  else "-" for k in keys))
        if len(report.ensembles) > 1:
            table.add_row("mean", *(f"{summary[k][0]:.4f}" if k in summary else "-"
                                    for k in keys))
            table.add_row("std", *(f"{summary[k][1]:.4f}" if k in summary else "-"
                                   for k in keys))
        _common.show(table)
    _common.out.print(f"written to {report.out_dir}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("train")(train)
