"""CLI command ``temseg info FILE``: shape, dtype, sampling, value range and metadata of a file;
for a model (file, stem, run folder or shipped name) what it takes and gives: its input
channels (a focal series' defoci), classes, pixel size, size and training scores."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from temseg.cli import _common


def _sampling_text(sampling: float | None) -> str:
    if sampling is None:
        return "none in file (give --sampling or --pixel-size-nm)"
    return f"{sampling:.6g} Å/px ({sampling / 10:.6g} nm/px)"


def _image_sampling_text(sampling: float | None, meta: dict) -> str:
    """:func:`_sampling_text` of an image, with the Y size of non-square pixels, or (when the
    file gives none) the calibration it holds that is no pixel size; takes those from ``meta``."""
    text = _sampling_text(sampling)
    if sampling is None and meta.get("sampling_ignored"):
        return f"{text}; {meta.pop('sampling_ignored')}"
    sampling_y = meta.get("sampling_y")
    if sampling is not None and isinstance(sampling_y, (int, float)) \
            and meta.get("sampling_source") != "given by caller":
        return f"{text} in X, {sampling_y:.6g} Å/px in Y (pixels not square)"
    return text


def _channels_text(channels) -> str:
    """``0: Δf -50 Å, 1: ...``: input channels in order, for a model or a dataset."""
    return escape(", ".join(f"{i}: {name}" for i, name in enumerate(channels)))


def _classes_text(classes) -> str:
    """``4: 0 background, 1 Mo, ...``: the classes, index = class."""
    return escape(f"{len(classes)}: " + ", ".join(f"{i} {name}"
                                                  for i, name in enumerate(classes)))


def _model_path(file: Path) -> Path | None:
    """The model JSON ``file`` names (``.json``, ``.safetensors``, a stem, a run folder or a
    shipped model's name), or None when it names an image."""
    from temseg.errors import ModelFileError
    from temseg.io.micrograph import supported_suffixes

    if file.suffix.lower() in supported_suffixes():
        return None  # (an image: torch, which the models import, is not needed)
    from temseg.infer import model_json

    try:
        return model_json(file)
    except ModelFileError:
        if file.suffix.lower() in (".json", ".safetensors") or (file / "checkpoints").is_dir():
            raise  # a model file, or a run interrupted before it kept a model: say why
        return None


def _score_keys(scores: dict) -> list[str]:
    """The scores worth showing: per class F1 and their mean for ≥ 3 classes, else the
    foreground's F1, Jaccard, precision and recall."""
    return [k for k in scores if k == "macro_f1" or k.startswith("f1_")] or \
        [k for k in ("f1", "jaccard", "precision", "recall") if k in scores]


def _planned_runs(output: Path) -> str:
    """`` of N`` runs (folds × seeds) the recipe of a training output plans, or ""."""
    import yaml

    try:
        recipe = yaml.safe_load((output / "config.yaml").read_text()) or {}
        planned = max(int(recipe.get("folds") or 1), 1) * len(recipe.get("seeds") or [0])
    except (OSError, ValueError, TypeError, AttributeError, yaml.YAMLError):
        return ""
    return f" of {planned}"


def _describe_runs(folder: Path) -> None:
    """Print a training output of several runs (folds, seeds), finished or interrupted (no
    summary.json yet), or a fold's folder of seeds: its scores and its runs and their state."""
    import json

    from temseg.errors import InputError
    from temseg.models.locate import ensemble_files, training_output, training_runs

    runs = training_runs(folder)
    if (folder / "summary.json").is_file():
        try:
            summary_data = json.loads((folder / "summary.json").read_text())
            mean, std = summary_data["mean"], summary_data.get("std", {})
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"{folder / 'summary.json'}: not a temseg training "
                             "summary") from None
        kind = (f"training output: {summary_data.get('n_runs', len(runs))} run(s) scored on "
                f"{summary_data.get('scored_on', '?')}")
    else:  # interrupted, or one fold of a k-fold output: no scores over the runs
        summary_data, mean, std = {}, {}, {}
        parent = folder.parent
        if (folder / "config.yaml").is_file():
            kind = (f"training output: {len(runs)}{_planned_runs(folder)} run(s), not finished "
                    "(no summary.json yet)")
        elif (parent / "config.yaml").is_file():
            kind = f"training runs: {len(runs)} run(s) of the output {parent}" + (
                f" (scores in {parent / 'summary.json'})"
                if (parent / "summary.json").is_file() else "")
        else:
            kind = f"training runs: {len(runs)} run(s)"
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("path", escape(str(folder)))
    table.add_row("format", escape(kind))
    keys = _score_keys(mean)
    if keys:
        table.add_row("scores", escape("  ".join(
            f"{k} {mean[k]:.4f} ± {std.get(k, float('nan')):.4f}" for k in keys)))
    if "ensemble" in summary_data:
        ens = summary_data["ensemble"].get("mean", {})
        table.add_row("ensemble", escape("  ".join(f"{k} {ens[k]:.4f}" for k in keys
                                                   if k in ens)))
    if runs:
        table.add_row("runs", escape(", ".join(name if state == "finished" else
                                               f"{name} ({state})"
                                               for name, state in runs.items())))
        unfinished = [name for name, state in runs.items() if state != "finished"]
        state = f"{len(runs) - len(unfinished)} finished"
        if unfinished:
            output = training_output(folder / unfinished[0])
            state += f", {len(unfinished)} unfinished" + (
                f" (resume with temseg train --resume -o {output})" if output else "")
        table.add_row("state", escape(state))
        table.add_row("models", escape(f"one per run: temseg info {folder / next(iter(runs))}"))
    averaged = ensemble_files(folder)
    if averaged:
        table.add_row("ensembles", escape(", ".join(averaged)))
    _common.show(table)


#: what the ``Δf`` of a focal series' channel names mean (simulate.dataset.channel_name)
DEFOCUS_CONVENTION = ("Δf of each channel: its offset from the image's defocus, in abTEM's "
                      "sign convention (positive Δf = underfocus, negative = overfocus)")


def _beam_energy_text(data, model: Path) -> str | None:
    """``300 kV (of the simulated training data)``: the beam energy in the ``energy`` attr
    (eV) of the zarr datasets a model's training record names, or None where none says.

    A relative path is tried as given, then from the model's folder and up to four
    folders above it (a run's folder inside a training output).
    """
    import math

    from temseg.io.files import is_zarr_dataset

    energies = []
    for item in data if isinstance(data, (list, tuple)) else []:
        given = Path(str(item)).expanduser()
        tries = [given] if given.is_absolute() else [
            given, *(folder / given for folder in Path(model).resolve().parents[:5])]
        found = next((p for p in tries if is_zarr_dataset(p)), None)
        if found is None:
            continue
        try:
            import zarr

            value = zarr.open_group(str(found), mode="r").attrs.get("energy")
            value = float(value)
        except Exception:  # not a readable dataset, or no number: say nothing of it
            continue
        if math.isfinite(value) and value > 0 and value not in energies:
            energies.append(value)
    if not energies:
        return None
    return (", ".join(f"{e / 1e3:g}" for e in sorted(energies))
            + " kV (of the simulated training data)")


def _describe_model(path: Path) -> None:
    """Print what a model takes and gives, its size and its training scores."""
    from temseg.infer import load_segmenter

    segmenter = load_segmenter(path, device="cpu", warn=_common.warn)
    described = segmenter.describe()
    config = described.get("model_config") or {}
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("model", escape(str(path)))
    kind = segmenter.kind
    if kind == "network":
        kind = f"network: {config.get('architecture', '?')}"
        options = config.get("options") or {}
        if options.get("members"):
            kind += f" of {len(options['members'])} networks"
        model = getattr(segmenter, "model", None)
        if model is not None:
            from temseg.models.receptive import count_parameters, receptive_field

            field = receptive_field(model)
            kind += f", {count_parameters(model):,} parameters, receptive field {field} px"
            if segmenter.sampling is not None:
                kind += f" ({field * segmenter.sampling / 10:.3g} nm)"
    summary.add_row("kind", escape(kind))
    summary.add_row("input", escape(segmenter.takes))
    if segmenter.channels:
        summary.add_row("channels", _channels_text(segmenter.channels))
        if any(str(name).startswith("Δf") for name in segmenter.channels):
            summary.add_row("defocus", DEFOCUS_CONVENTION)
    training = config.get("training") or {}
    energy = _beam_energy_text((training.get("recipe") or {}).get("data"), path)
    if energy:
        summary.add_row("beam energy", escape(energy))
    summary.add_row("classes", _classes_text(segmenter.classes))
    if len(segmenter.classes) >= 3:
        summary.add_row("mask", "the most probable class of every pixel (uint8 index)")
    else:
        summary.add_row("threshold", f"{segmenter.threshold:g}")
    summary.add_row("sampling", _sampling_text(segmenter.sampling).replace(
        "none in file (give --sampling or --pixel-size-nm)", "none (any pixel size)"))
    scores = training.get("scores") or {}
    if training:
        data = (training.get("recipe") or {}).get("data")
        if data:
            summary.add_row("trained on", escape(", ".join(map(str, data))))
        init = training.get("init")
        if isinstance(init, dict) and init.get("model"):
            member = f" (member {init['member']})" if init.get("member") else ""
            summary.add_row("fine-tuned from", escape(str(init["model"]) + member))
        epochs = training.get("epochs_run")
        if epochs is not None:
            best = training.get("best_epoch")
            summary.add_row("epochs", f"{epochs}" + (f" (best {best})" if best is not None
                                                     else " (the last kept)"))
    if scores:
        keys = _score_keys(scores)
        where = training.get("scored_on")
        summary.add_row(f"scores{f' ({where})' if where else ''}",
                        escape("  ".join(f"{k} {scores[k]:.4f}" for k in keys)))
    records = training.get("members") or []
    for i, member in enumerate((config.get("options") or {}).get("members") or [], 1):
        record = records[i - 1] if i <= len(records) else {}
        summary.add_row(f"member {i}", escape(_member_text(member, record.get("training"))))
    json_path = Path(described.get("path") or path)
    for card in (json_path.with_suffix(".md"), json_path.parent / "MODEL_CARD.md"):
        if card.is_file() and (card.stem == json_path.stem or _is_default(json_path)):
            summary.add_row("model card", escape(str(card)))
            break
    _common.show(summary)


def _is_default(json_path: Path) -> bool:
    """Whether ``json_path`` is the shipped default model (its card is MODEL_CARD.md)."""
    from temseg.models.default import DEFAULT_MODEL_NAME, shipped_model_path

    shipped = shipped_model_path(DEFAULT_MODEL_NAME)
    return shipped is not None and shipped.resolve() == json_path.resolve()


def _member_text(member: dict, training: dict | None) -> str:
    """``resunet blocks 4, filters 8, padding reflect; 105 images, 80 epochs, F1 0.93``: one
    member of an ensemble (``--init-member`` picks it), from its config and training record."""
    options = member.get("options") or {}
    shown = []
    for key, value in options.items():
        if key in ("in_channels", "classes", "implementation", "seed") or value is None:
            continue
        if key == "padding_mode":
            if value != "zeros":
                shown.append(f"padding {value}")
            continue
        if isinstance(value, list) and len(value) > 4:  # an MSD-net's 50 dilations
            value = f"{min(value)}–{max(value)} ({len(value)} values)"
        shown.append(f"{key} {value}")
    text = f"{member.get('architecture', '?')} " + ", ".join(shown)
    training = training or {}
    facts = []
    if training.get("train_images"):
        facts.append(f"trained on {len(training['train_images'])} images")
    if training.get("epochs_run") is not None:
        facts.append(f"{training['epochs_run']} epochs")
    scores = training.get("scores") or {}
    facts += [f"{k} {scores[k]:.3f}" for k in _score_keys(scores)[:2]]
    return text + ("; " + ", ".join(facts) if facts else "")


#: what a simulated set's labels mark, by its ``label_kind``
_LABEL_KINDS = {
    "hull": "1 inside each particle's projected outline",
    "hull_grown": "1 inside each particle's projected outline, grown by half a column spacing",
    "species": "atomic species of each column",
    "contamination": "1 under contamination, 0 on clean graphene",
}


def _describe_zarr(path: Path, *, sampling: float | None = None) -> None:
    """Print a labelled zarr dataset's images, pixel size (``sampling`` Å/px replaces the
    dataset's), channels and classes."""
    from temseg.infer.evaluation import open_labelled_zarr
    from temseg.infer.segmenter import describe_channels

    data = open_labelled_zarr(path, sampling=sampling)
    n, (h, w), c = len(data), data.shape, data.in_channels
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("path", escape(str(path)))
    summary.add_row("format", "zarr dataset (images + labels)")
    summary.add_row("images", f"{n} × {c} × {h} × {w}" if c > 1 else f"{n} × {h} × {w}")
    summary.add_row("input", escape(describe_channels(c, data.channels)))
    if data.channels:
        summary.add_row("channels", _channels_text(data.channels))
    if data.classes:
        summary.add_row("classes", _classes_text(data.classes))
    if data.label_kind:
        summary.add_row("labels", escape(_LABEL_KINDS.get(data.label_kind, data.label_kind)))
    summary.add_row("sampling", _sampling_text(data.sampling))
    if data.sampling is not None:
        summary.add_row("field of view", f"{w * data.sampling / 10:.4g} × "
                                         f"{h * data.sampling / 10:.4g} nm (W × H)")
    doses = sorted(d for d in data.doses if d is not None)
    if doses:
        from statistics import median

        unknown = n - len(doses)
        each = f"; {_common.series_dose_note(c)}" if c > 1 else ""
        summary.add_row("dose", f"{_common.dose_text(doses[0])}–{_common.dose_text(doses[-1])} "
                                f"e/Å² (median {_common.dose_text(median(doses))}{each})"
                        + (f"; {unknown} image(s) without a dose" if unknown else ""))
    made = _zarr_record(path)
    if made:
        summary.add_row("made", escape(made))
    _common.show(summary)


def _zarr_record(path: Path) -> str | None:
    """When and how a simulated dataset was made, from its ``record`` group (temseg's run
    record: time, temseg version, seed, command), or None where it has none."""
    import zarr

    try:
        record = dict(zarr.open_group(str(path), mode="r")["record"].attrs)
    except Exception:  # noqa: BLE001 - no record group (or not ours): nothing to say
        return None
    parts = [str(record.get("created") or "")]
    version = (record.get("versions") or {}).get("temseg")
    if version:
        parts.append(f"temseg {version}")
    if record.get("seed") is not None:
        parts.append(f"seed {record['seed']}")
    if record.get("command"):
        parts.append(f"`{record['command']}`")
    text = ", ".join(p for p in parts if p)
    return text or None


def info(
    file: Path = typer.Argument(..., help="Micrograph or stack: PNG, JPEG, TIFF, DM3/DM4, "
                                           "EMD, SER or MRC; a zarr dataset; or a model "
                                           "(.json, stem, run folder, shipped name) to see its "
                                           "channels and classes; a training output of "
                                           "several runs, finished or not, to list them."),
    sampling: float = typer.Option(None, "--sampling", help="Pixel size in Å/px (overrides "
                                                            "the file)."),
    pixel_size_nm: float = typer.Option(None, "--pixel-size-nm", help="Pixel size in nm/px "
                                                                      "(overrides the file)."),
    label_suffix: str = typer.Option(None, "--label-suffix",
                                     help="Label file suffix of a labelled folder (default "
                                          "_LABEL, or the common one its names use)."),
) -> None:
    """Print shape, dtype, pixel size, field of view, value range and metadata of FILE.

    For a model: what one input is (a single image, or a focal series and its
    defoci in order), its classes, pixel size, size and training scores. For a
    labelled folder: its image/label pairs, unpaired files, image sizes, pixel
    sizes, label values and how training reads them, foreground and series; for
    a folder of images: their number, sizes, pixel sizes and formats.
    """
    from temseg.io import read_image

    from temseg.io.files import is_zarr_dataset  # (not infer's: that imports torch)

    if is_zarr_dataset(file):
        _describe_zarr(file, sampling=_common.sampling_from_options(sampling, pixel_size_nm))
        return
    if file.is_dir() and not (file / "model.json").is_file() \
            and not (file / "checkpoints").is_dir():  # not one run: a training output?
        from temseg.cli._info_folder import describe_folder, holds_images

        images = holds_images(file)
        if not images or (file / "summary.json").is_file() or (file / "config.yaml").is_file():
            from temseg.models.locate import training_runs  # (imports torch)

            if (file / "summary.json").is_file() or training_runs(file):
                _describe_runs(file)
                return
        if images:  # labelled micrographs, or images to segment
            describe_folder(file, label_suffix=label_suffix,
                            sampling=_common.sampling_from_options(sampling, pixel_size_nm))
            return
    if label_suffix is not None:
        _common.warn("--label-suffix is for labelled folders")
    model = _model_path(file)
    if model is not None:
        if sampling is not None or pixel_size_nm is not None:
            _common.warn("--sampling/--pixel-size-nm are for images; the model's own is shown")
        _describe_model(model)
        return

    micrograph = read_image(file, sampling=_common.sampling_from_options(sampling, pixel_size_nm),
                            allow_nonfinite=True, allow_hyperstack=True)
    meta = dict(micrograph.metadata)
    height, width = micrograph.frame_shape
    shape = tuple(int(s) for s in micrograph.data.shape)

    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("path", escape(str(micrograph.path)))
    summary.add_row("format", str(meta.pop("format", "?")))
    summary.add_row("shape", " × ".join(map(str, shape)))
    if len(shape) > 3:  # a hyperstack (segment's NAME_prob.tif of a stack of focal series)
        axes = str(meta.pop("tiff.axes", ""))
        axes = axes if len(axes) == len(shape) else ""
        if axes:
            summary.add_row("axes", escape(axes) + (" (segment's NAME_prob.tif of focal series "
                                                    "is series × class × Y × X)"
                                                    if axes == "TCYX" else ""))
        summary.add_row("dtype", f"{meta.pop('dtype', micrograph.data.dtype)} (read as float32)")
        planes = " × ".join(map(str, shape[:-2])) + (f" ({' × '.join(axes[:-2])})" if axes
                                                     else "")
        takes = (f"a focal-series model of {shape[1]} channels segments it as {shape[0]} series"
                 if len(shape) == 4 and axes[1:2] == "C" else
                 "segment takes 2-D images, 3-D stacks and T × C × Y × X focal series")
        summary.add_row("kind", f"hyperstack: {planes} planes of {height} × {width} px ({takes})")
    else:
        summary.add_row("dtype", f"{meta.pop('dtype', micrograph.data.dtype)} (read as float32)")
        summary.add_row("kind", f"stack of {micrograph.n_frames} frames" if micrograph.is_stack
                        else "single image")
    summary.add_row("sampling", escape(_image_sampling_text(micrograph.sampling, meta)))
    if micrograph.sampling is not None:
        source = meta.pop("sampling_source", None)
        if source:
            summary.add_row("sampling from", escape(str(source)))
        sampling_y = meta.pop("sampling_y", None) if source != "given by caller" else None
        fov = (width * micrograph.sampling / 10, height * (sampling_y or micrograph.sampling) / 10)
        summary.add_row("field of view", f"{fov[0]:.4g} × {fov[1]:.4g} nm (W × H)")

    interval = meta.pop("frame_interval_s", None)
    interval_source = meta.pop("frame_interval_source", None)
    if micrograph.is_stack and interval:
        n = micrograph.n_frames
        summary.add_row("frame interval", f"{interval:.6g} s ({escape(str(interval_source))}; "
                                          f"{(n - 1) * interval:.6g} s from first to last frame)")
    if micrograph.is_stack:
        with _common.progress() as bar:
            task = bar.add_task("value range", total=micrograph.n_frames)  # planes, in 4-D
            stats = micrograph.statistics(callback=lambda done, total: bar.update(task,
                                                                                    completed=done))
    else:
        stats = micrograph.statistics()
    summary.add_row("value range", f"min {stats['min']:.6g}  max {stats['max']:.6g}  "
                                   f"mean {stats['mean']:.6g}  std {stats['std']:.6g}")
    if stats["n_nonfinite"]:
        summary.add_row("NaN/inf pixels", f"{stats['n_nonfinite']:,} (not in the value range; "
                                          "no data, e.g. blank frames of a probability map)")
    _common.show(summary)

    meta.pop("sampling_source", None)
    if meta:
        table = Table(title="metadata", title_justify="left")
        table.add_column("key", style="cyan", overflow="fold")
        table.add_column("value", overflow="fold")
        for key, value in meta.items():
            table.add_row(escape(key), escape(str(value)))
        _common.show(table)
    else:
        _common.out.print("metadata: none")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("info")(info)
