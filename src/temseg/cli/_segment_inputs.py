"""What ``temseg segment`` checks and reads before the work: the model among the paths,
every input (size, pixel size, focal-series frame counts), files it must not replace, a
stack's frame time, and the warnings of resampling and tile counts."""

from __future__ import annotations

from pathlib import Path


from temseg.cli import _common


def _is_model(path: Path) -> bool:
    """Whether ``path`` names a model (file, stem, checkpoint or run folder), not an image."""
    from temseg.errors import ModelFileError
    from temseg.models.locate import model_json, run_folders

    try:
        model_json(path)
    except ModelFileError:
        if path.is_dir() and run_folders(path):  # a training output of several runs:
            raise                                # refused, naming the runs to choose from
        return False
    return True


def _shipped_clash(path: Path) -> str | None:
    """The shipped model named like ``path`` (a bare name), when a file or folder of that name
    exists here and is no model (then it is read as an input), else None."""
    from temseg.models.default import shipped_model_path

    bare = len(path.parts) == 1 and not path.suffix
    return path.name if bare and path.exists() and shipped_model_path(path.name) else None


def _split_model(paths: list[Path], model: Path | None) -> tuple[Path, list[Path]]:
    """The model and the inputs: ``--model`` if given, else the first path when it is a
    model, else the shipped default model (all paths are inputs).

    ``--model NAME`` of a shipped model is that model even where a file or folder NAME
    (no model) lies here; as the first argument such a NAME is an input, with a warning.
    """
    from temseg.errors import ConfigError
    from temseg.models.default import default_model_path, shipped_model_path

    if model is not None:
        if not paths:
            raise ConfigError("inputs: give at least one image, stack or folder to segment")
        if _shipped_clash(model) and not _is_model(model):
            return shipped_model_path(model.name), paths
        return model, paths
    if paths and paths[0].suffix.lower() in (".json", ".safetensors") and not paths[0].exists():
        from temseg.errors import ModelFileError

        raise ModelFileError(f"{paths[0]}: no such model file")
    if paths and _is_model(paths[0]):
        if len(paths) < 2:
            raise ConfigError(f"inputs: give at least one image, stack or folder to segment "
                              f"after the model {paths[0]}")
        return paths[0], paths[1:]
    if not paths:
        raise ConfigError("inputs: give at least one image, stack or folder to segment")
    name = _shipped_clash(paths[0])
    if name:
        kind = "folder" if paths[0].is_dir() else "file"
        _common.warn(f"{name}: the {kind} here is segmented as an input, with the default "
                     f"model; for the shipped {name} model give --model {name}")
    return default_model_path(), paths


def _model_words(json_path: Path) -> str:
    """How a model is named to the user: ``graphene (shipped)`` or its path."""
    from temseg.models.default import shipped_model_path

    name = json_path.stem
    shipped = shipped_model_path(name)
    if shipped is not None and shipped.resolve() == Path(json_path).resolve():
        return f"{name} (shipped with temseg)"
    return str(json_path)


def _check_inputs(segmenter, inputs: list[Path], sampling: float | None, *,
                  series_files: bool = False, order: list[int] | None = None,
                  from_folders: frozenset = frozenset(),
                  movie: Path | None = None) -> list[dict]:
    """Open every input (stacks stay lazy) and check it can be segmented; nothing kept in memory.

    For a model of C > 1 channels every file must be a stack of n·C frames
    (n focal series); ``frames`` of a plan counts series then, ``stack`` says
    whether there is more than one. With ``series_files`` every C consecutive
    files are the images of one series (``files`` of a plan; file k holds the
    model's channel ``order[k]``; ``from_folders`` those of them found in a folder). With
    ``movie`` (a path to name it by) all inputs are the frames of one stack
    (``frame_files`` of its one plan).
    """
    from temseg.infer import count_series
    from temseg.infer.series import group_series_files

    groups = (group_series_files(inputs, segmenter.in_channels) if series_files
              else [inputs] if movie is not None else [[path] for path in inputs])
    if series_files:
        _show_series_files(segmenter, groups, order, from_folders=from_folders)
    elif segmenter.in_channels > 1:  # stacks: which frame of a series feeds which channel
        names, sign = _channel_names(segmenter, order)
        _common.out.print("each focal series: " + ", ".join(
            f"frame {k + 1} → {name}" for k, name in enumerate(names)) + sign, highlight=False)
    plans = []
    for group in _common.track(groups, "checking inputs", transient=True):
        plan = ({"path": group[0], "files": group} if series_files else
                {"path": movie, "frame_files": group} if movie is not None else
                {"path": group[0]})
        mg = _read(plan, sampling, segmenter.in_channels)
        segmenter.check_image(mg.frame_shape, sampling=mg.sampling, name=str(plan["path"]))
        n = count_series(segmenter, mg, name=str(plan["path"]))
        stack = mg.is_stack if segmenter.in_channels == 1 else n > 1
        in_file = mg.metadata.get("sampling_in_file")
        if in_file is not None and sampling is not None and abs(in_file / sampling - 1) > 0.01:
            _common.warn(f"{plan['path']}: the file's pixel size {in_file:g} Å/px is replaced by "
                         f"the {sampling:g} Å/px given")
        if in_file is not None:
            plan["sampling_in_file"] = in_file
        plans.append({**plan, "frames": n, "shape": mg.frame_shape, "sampling": mg.sampling,
                      "stack": stack})
        del mg
    return plans


def _channel_names(segmenter, order: list[int] | None) -> tuple[list[str], str]:
    """The model's channel names in the order a series' frames (or files) feed them, and the
    note on the defocus sign where they are defoci."""
    names = segmenter.channels or [f"channel {i}" for i in range(segmenter.in_channels)]
    names = names if order is None else [names[k] for k in order]
    # channel names carry the simulation's (abTEM's) defocus sign; many microscopes show
    # the opposite, so say which it is where the names are defoci
    sign = (" (Δf as abTEM: positive = underfocus)"
            if any(str(name).startswith("Δf") for name in names) else "")
    return list(names), sign


def _show_series_files(segmenter, groups: list[list[Path]], order: list[int] | None, *,
                       from_folders: frozenset = frozenset()) -> None:
    """Print which file feeds which channel (a wrong order is not seen in the output), with
    the defocus sign of the channel names; warn of a series whose files come from different
    folders, and once where a folder's files were ordered with signs read (``from_folders``:
    the files found in a folder; files given are in the user's order)."""
    from temseg.io.files import sign_texts

    names, sign = _channel_names(segmenter, order)
    for group in groups:
        _common.out.print(f"series {group[0].stem}: " + ", ".join(
            f"{path.name} → {name}" for path, name in zip(group, names)) + sign,
            highlight=False)
        if len({path.parent for path in group}) > 1:
            _common.warn(f"series {group[0].stem}: its files come from different folders ("
                         f"{', '.join(str(path) for path in group)}); check the grouping")
    folders = sorted({path.parent for group in groups for path in group if path in from_folders})
    for folder in folders:
        signed, separators = sign_texts(p.name for p in from_folders if p.parent == folder)
        if signed:
            _common.warn(f"{folder}: files ordered with the signs of their numbers read after "
                         f"{', '.join(sorted(signed))} (df-50, df0, df50); check the file → "
                         "channel lines")
        if separators:
            _common.warn(f"{folder}: a - before every number after {', '.join(sorted(separators))}"
                         " is read as a separator (frame-1, frame-2, frame-10); if it is a "
                         "sign (defoci all of one sign), give the files in their order")


def _read(plan: dict, sampling: float | None, in_channels: int = 1):
    """The micrograph of a plan: its file, the focal series of its ``files``, or the movie of
    its ``frame_files``; for a model of ``in_channels`` > 1 a ``(T, C, H, W)`` hyperstack is
    read as T focal series."""
    from temseg.io import read_image

    if "files" in plan:
        from temseg.infer.series import read_series_files

        return read_series_files(plan["files"], sampling=sampling)
    if "frame_files" in plan:  # every file checked once, by _check_inputs
        from temseg.io import read_frames

        return read_frames(plan["frame_files"], sampling=sampling, check="frames" not in plan)
    mg = read_image(plan["path"], sampling=sampling, allow_hyperstack=in_channels > 1)
    if mg.data.ndim > 3:
        from temseg.infer.series import hyperstack_as_series

        mg = hyperstack_as_series(mg, in_channels)
    return mg


def earlier_outputs(out: Path) -> set[str]:
    """The names of the files that earlier runs of segment wrote into ``out``, by its
    record.json: its ``outputs_in_folder`` (every run's, carried from record to record) and
    the outputs of its inputs (a record written before that list was kept)."""
    import json

    names: set[str] = set()
    try:
        record = json.loads((out / "record.json").read_text())
        names.update(str(n) for n in record.get("outputs_in_folder") or [])
        for entry in record.get("inputs") or []:
            names.update(Path(p).name for p in (entry.get("outputs") or {}).values())
    except (OSError, ValueError, TypeError, AttributeError):  # none, or not ours
        pass
    return names


def _check_foreign_outputs(out: Path, names: list[str]) -> None:
    """Refuse, before the work, to replace a file in ``out`` that segment would write (the
    probability, mask or overlay of an input) but that no earlier segment into ``out`` wrote
    (:func:`earlier_outputs`): ``img001_mask.png`` beside ``img001.png`` in a folder of
    hand-drawn labels segmented into itself."""
    from temseg.errors import InputError
    from temseg.infer.stacks import output_paths

    ours = earlier_outputs(out)
    for name in names:
        for stack in (False, True):
            for path in output_paths(out, name, stack=stack).values():
                if path.exists() and path.name not in ours:
                    raise InputError(f"{path}: exists and is no output of an earlier "
                                     f"`temseg segment` into {out} (a hand-drawn label?); "
                                     "give another --out, or --overwrite to replace it")


def _frame_step(mg, frame_time: float | None, dose_rate: float | None, warn) -> float | None:
    """Seconds between the frames of stack ``mg`` (``--frame-time``, else the file's, kept in
    its metadata for the outputs), None for a single image or a stack without one."""
    if frame_time is not None and mg.is_stack:
        mg.metadata.update(frame_interval_s=frame_time, frame_interval_source="--frame-time")
    step = mg.frame_interval_s if mg.is_stack else None
    if dose_rate is not None and step is None and mg.is_stack:
        warn("no frame time in the file: --dose-rate unused (give --frame-time)")
    return step


def _warn_resampling(segmenter, plans: list[dict]) -> None:
    """Say so when an input's pixel size is far from the model's (it is resampled that much;
    a fitted filter's too, whose band and blur are in pixels)."""
    model = getattr(segmenter, "sampling", None)
    if model is None:
        return
    from temseg.preprocess.resample import resampling_note

    what = "filter" if getattr(segmenter, "kind", None) == "baseline" else "model"
    for plan in plans:
        if plan["sampling"] is not None:
            message = resampling_note(str(plan["path"]), plan["sampling"], model,
                                                 tuple(plan["shape"]), what=what)
            if message:
                _common.warn(message)
                said = getattr(segmenter, "resampling_said", None)
                if said is not None:  # (the network need not say it again, unnamed)
                    said.add(float(plan["sampling"]))


def _warn_tile_count(segmenter, plans: list[dict], overlap: float) -> None:
    """Say so when the overlap multiplies the work (0.99 made 37,249 tiles of a 256² image)."""
    from temseg.infer.tiling import count_tiles

    if not plans or not hasattr(segmenter, "tile") or overlap <= 0.5:
        return
    plan = max(plans, key=lambda p: p["shape"][0] * p["shape"][1])
    work = segmenter._working_shape(tuple(plan["shape"]), plan["sampling"])
    shape = {"multiple": segmenter.multiple, "min_size": segmenter.min_size}
    n = count_tiles(work, tile=segmenter.tile, overlap=overlap, **shape)
    usual = count_tiles(work, tile=segmenter.tile, overlap=0.25, **shape)
    if n >= 10 * usual:
        _common.warn(f"--overlap {overlap:g} makes {n:,} tiles per frame of "
                     f"{plan['path'].name} ({usual:,} at the default 0.25): {n / usual:.0f}× "
                     "the work for a smoother blend than the window already gives")
