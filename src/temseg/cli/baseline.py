"""CLI commands: ``temseg baseline fit|apply`` — Fourier and Bragg filtering without training."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import typer

from temseg.cli import _common
from temseg.train.config import MAX_SEED

_GROUP_DEFAULT = r"_layer_\d+$"
#: --seed takes 0 … 2³² − 1 (a seed a record's JSON keeps exactly, as NumPy's legacy seeds)


class Method(str, Enum):
    bragg = "bragg"
    fourier = "fourier"


class Side(str, Enum):
    amorphous = "amorphous"
    crystal = "crystal"


def _groups(names: list[str], pattern: str) -> list[str]:
    from temseg.errors import ConfigError

    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"--group-by: not a valid regular expression ({exc})") from None
    return [regex.sub("", name) for name in names]


def _band(band, band_nm, sampling):
    """Pass band in px⁻¹ from ``--band`` (px⁻¹) or ``--band-nm`` (nm⁻¹, needs the sampling)."""
    from temseg.errors import ConfigError

    if band is not None and band_nm is not None:
        raise ConfigError("give either --band (px⁻¹) or --band-nm (nm⁻¹), not both")
    if band_nm is not None:
        if sampling is None:
            raise ConfigError("--band-nm needs --sampling or --pixel-size-nm")
        return (band_nm[0] * sampling / 10.0, band_nm[1] * sampling / 10.0)
    return tuple(band) if band is not None else None


def _check_seed(seed: int) -> int:
    from temseg.errors import ConfigError

    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed: must be an integer from 0 to {MAX_SEED}, got {seed}")
    return seed


def _check_model_out(out: Path, overwrite: bool) -> None:
    """Refuse an existing ``--out`` without ``--overwrite``, and anything but an earlier
    baseline model file with it (a micrograph given as -o must not become JSON)."""
    from temseg.baselines.files import is_baseline_file
    from temseg.errors import ConfigError

    if not out.exists():
        return
    if not overwrite:
        raise ConfigError(f"--out: {out} already exists (use --overwrite to replace it)")
    if not is_baseline_file(out):
        raise ConfigError(f"--out: {out} exists and is not a baseline model file; refusing to "
                          "replace it")


def _fmt(mean: float, std: float) -> str:
    return f"{mean:.4g} ± {std:.2g}"


def fit(
    data_folder: Path = typer.Argument(..., help="Folder of NAME.png / NAME_LABEL.png pairs."),
    method: Method = typer.Option(Method.bragg, "--method",
                                  help="bragg (Sadre et al. 2021) or fourier (Sytwu et al.)."),
    folds: int = typer.Option(5, "--folds", min=2, help="Folds of the cross-validation."),
    out: Path = typer.Option(Path("baseline.json"), "--out", "-o", help="Model file to write."),
    foreground: Side | None = typer.Option(
        None, "--foreground",
        help="Which side the labels mark: amorphous (default for bragg, e.g. contamination on "
             "graphene) or crystal (default for fourier, e.g. nanoparticles)."),
    objective: str = typer.Option("f1", "--objective",
                                  help="Pooled score to maximise: f1, jaccard, "
                                       "balanced_accuracy or accuracy."),
    max_evals: int = typer.Option(60, "--max-evals", min=5,
                                  help="Bragg: parameter sets tried per fit."),
    sigma: float | None = typer.Option(
        None, "--sigma",
        help="Bragg: start aperture width in px⁻¹ (default 0.0156, as Sadre et al.)."),
    g_thresh: float | None = typer.Option(
        None, "--g-thresh", help="Bragg: start peak threshold, in multiples of the power "
                                 "spectrum's mean on the ring of equal |q| (default 1.6)."),
    m_thresh: float | None = typer.Option(
        None, "--m-thresh", help="Bragg: start mask threshold on the low-passed difference "
                                 "image, in standard deviations of the image (default 0.6)."),
    band: tuple[float, float] | None = typer.Option(
        None, "--band", help="Fourier: fixed pass band LOW HIGH in px⁻¹ (default: per image)."),
    band_nm: tuple[float, float] | None = typer.Option(
        None, "--band-nm", help="Fourier: fixed pass band LOW HIGH in nm⁻¹."),
    group_by: str = typer.Option(
        _GROUP_DEFAULT, "--group-by",
        help="Regex removed from image names to get their group (a series); a group never "
             "spans folds."),
    label_suffix: str = typer.Option("_LABEL", "--label-suffix",
                                     help="Label file suffix (NAME + SUFFIX.png)."),
    sampling: float | None = typer.Option(None, "--sampling", help="Å per pixel."),
    pixel_size_nm: float | None = typer.Option(None, "--pixel-size-nm", help="nm per pixel."),
    seed: int = typer.Option(0, "--seed", help=f"Seed of the fold assignment (0 to {MAX_SEED})."),
    overwrite: bool = typer.Option(False, "--overwrite",
                                   help="Replace the baseline model file OUT of an earlier fit."),
) -> None:
    """Fit a baseline's parameters with k-fold cross-validation, then on all data; save it."""
    from rich.table import Table

    from temseg.baselines import (BaselineModel, BraggParams, FourierParams, cross_validate,
                                  save_baseline)
    from temseg.baselines.fourier import check_image
    from temseg.config import load_config
    from temseg.io import read_labelled_folder
    from temseg.record import run_record

    _common.check_output(out, kind="file")
    _check_model_out(out, overwrite)  # before the fit, which can take minutes
    _check_seed(seed)
    sampling = _common.sampling_from_options(sampling, pixel_size_nm)
    other = {"bragg": {"--band": band, "--band-nm": band_nm},
             "fourier": {"--sigma": sigma, "--g-thresh": g_thresh, "--m-thresh": m_thresh}}
    unused = [name for name, value in other[method.value].items() if value is not None]
    if unused:
        from temseg.errors import ConfigError

        raise ConfigError(f"{', '.join(unused)}: not an option of the {method.value} filter "
                          f"(--method {'fourier' if method is Method.bragg else 'bragg'}?)")
    with _common.progress() as bar:
        task = bar.add_task("reading", total=None)
        data = read_labelled_folder(data_folder, label_suffix=label_suffix, sampling=sampling,
                                    callback=lambda d, t: bar.update(task, completed=d, total=t))
    for p in data:  # an unusable image is named before the fit starts
        check_image(p.image, name=str(p.path))
    samplings = {p.sampling for p in data}
    sampling = samplings.pop() if len(samplings) == 1 else None
    side = (foreground.value if foreground is not None
            else ("amorphous" if method is Method.bragg else "crystal"))
    if method is Method.bragg:
        start = load_config(BraggParams, {}, sigma=sigma, g_thresh=g_thresh, m_thresh=m_thresh,
                            foreground=side)
    else:
        start = load_config(FourierParams, {}, band=_band(band, band_nm, sampling),
                            foreground=side)
    groups = _groups(data.names, group_by)
    _common.err.print(f"{len(data)} images in {len(set(groups))} groups, "
                      f"{folds}-fold cross-validation of the {method.value} filter")
    with _common.progress() as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        cv = cross_validate([p.image for p in data], [p.label for p in data],
                            method=method.value, k=folds, groups=groups, seed=seed, start=start,
                            objective=objective, max_evals=max_evals, progress=report)
    table = Table(title=f"{method.value} filter, {folds}-fold cross-validation "
                        f"(foreground: {side})")
    table.add_column("")
    table.add_column("mean ± std over folds", justify="right")
    table.add_column("final fit (all data)", justify="right")
    final = cv.final.fitted()
    for name in cv.params_mean:
        table.add_row(name, _fmt(cv.params_mean[name], cv.params_std[name]), f"{final[name]:.4g}")
    for name in cv.scores_mean:
        table.add_row(name, _fmt(cv.scores_mean[name], cv.scores_std[name]),
                      f"pooled held-out {cv.pooled[name]:.3f}")
    _common.show(table)
    model = BaselineModel(method.value, cv.final.params, sampling=sampling, cv=cv.summary(),
                          record=run_record(seed=seed, config={
                              "data_folder": str(data_folder), "folds": folds,
                              "objective": objective, "max_evals": max_evals,
                              "group_by": group_by}))
    save_baseline(out, model)
    _common.out.print(f"model written to {out}")


def apply(
    model: Path = typer.Argument(..., help="Baseline model file (temseg baseline fit)."),
    images: list[Path] = typer.Argument(..., help="Images to segment."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for masks and overlays."),
    sampling: float | None = typer.Option(None, "--sampling", help="Å per pixel."),
    pixel_size_nm: float | None = typer.Option(None, "--pixel-size-nm", help="nm per pixel."),
    overlay: bool = typer.Option(True, "--overlay/--no-overlay", help="Also write overlays."),
) -> None:
    """Segment images with a baseline model: NAME_mask.png (+ NAME_overlay.png) per image."""
    from temseg.baselines import load_baseline
    from temseg.record import write_record

    _common.check_output(out)
    sampling = _common.sampling_from_options(sampling, pixel_size_nm)
    baseline = load_baseline(model)
    _check_inputs(baseline, images, sampling)  # a bad input: nothing written
    names = [path.stem for path in images]
    if len(set(names)) < len(names):  # lab/ok/X.png, lab/l01/X.png: X and X_2, as segment
        from temseg.infer.stacks import output_names  # (only then: temseg.infer loads torch)

        names = output_names(images)
    written = []
    with _common.no_empty_folder_left(out):
        out.mkdir(parents=True, exist_ok=True)
        _apply_all(baseline, images, names, out, sampling, overlay, written)
    write_record(out, config={"model": str(model), "method": baseline.method,
                              "params": baseline.to_dict()["params"],
                              "model_sampling": baseline.sampling, "sampling_given": sampling},
                 outputs=written)
    _common.out.print(f"{len(written)} masks written to {out}")


def _frame_name(path: Path, i: int, n: int) -> str:
    return str(path) if n == 1 else f"{path} frame {i}"


def _check_inputs(baseline, images: list[Path], sampling) -> None:
    """Read every frame of every input and check it can be filtered (as segment checks its
    inputs first): an unreadable, NaN or too small input fails before anything is written.
    Frames are read one at a time and not kept; the pixel-size warnings are given here."""
    from temseg.baselines.fourier import check_image
    from temseg.io import read_image

    for path in _common.track(images, "checking inputs", transient=True):
        micrograph = read_image(path, sampling=sampling)
        n = micrograph.n_frames
        for i, frame in enumerate(micrograph.frames()):
            check_image(frame, name=_frame_name(path, i, n))
        _warn_pixel_size(baseline, path, micrograph)
        del micrograph


def _apply_all(baseline, images, names: list[str], out: Path, sampling, overlay: bool,
               written: list) -> None:
    """Segment every frame of ``images`` with ``baseline`` into ``out`` as ``names[k]_mask.png``
    (``names[k]_fNNNN`` per frame of a stack); rows to ``written``."""
    import warnings

    from temseg.baselines import NoLatticeWarning
    from temseg.baselines.fourier import check_image
    from temseg.io import read_image, write_mask, write_overlay

    for path, name in _common.track(list(zip(images, names)), "segmenting"):
        micrograph = read_image(path, sampling=sampling)
        n = micrograph.n_frames
        for i, frame in enumerate(micrograph.frames()):
            stem = name if n == 1 else f"{name}_f{i:04d}"
            check_image(frame, name=_frame_name(path, i, n))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", NoLatticeWarning)
                mask = baseline.segment(frame, sampling=micrograph.sampling)
            for w in caught:
                _common.warn(f"{path.name}: {w.message}")
            write_mask(out / f"{stem}_mask.png", mask.astype("uint8"),
                       sampling=micrograph.sampling)
            if overlay:
                write_overlay(out / f"{stem}_overlay.png", frame, mask,
                              sampling=micrograph.sampling)
            written.append({"image": str(path), "frame": i, "mask": f"{stem}_mask.png",
                            "sampling": micrograph.sampling,
                            "sampling_source": micrograph.metadata.get("sampling_source"),
                            "foreground_fraction": float(mask.mean())})


def _warn_pixel_size(baseline, path: Path, micrograph) -> None:
    """Warn, as segment does, where a filter fitted at one pixel size meets an image without
    one (its band and blur are in pixels) or one it must resample ≥ 4× (a slip of nm for Å?)."""
    from temseg.preprocess.resample import resampling_note

    model, given = baseline.sampling, micrograph.sampling
    if model is None:
        return
    if given is None:
        _common.warn(f"{path.name}: no pixel size: filtered at its own pixels, although the "
                     f"filter was fitted at {model:g} Å/px (give --sampling or "
                     "--pixel-size-nm)")
        return
    message = resampling_note(path.name, given, model, micrograph.frame_shape,
                                         what="filter")
    if message:
        _common.warn(message)


def register(app: typer.Typer) -> None:
    """Add ``temseg baseline fit|apply`` to ``app``."""
    group = typer.Typer(help="Classical baselines: Fourier and Bragg filtering (no training).",
                        no_args_is_help=True)
    group.command("fit")(fit)
    group.command("apply")(apply)
    app.add_typer(group, name="baseline")
