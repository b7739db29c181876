"""CLI command: ``temseg segment [MODEL] INPUTS... --out DIR``.

Without a model (no ``--model`` and a first path that is not a model file),
the shipped default model is used (:mod:`temseg.models.default`).

Thin: inputs are collected and checked (model, every file, sizes, and for a
focal-series model the frame count) before any work, then each is segmented
by :func:`temseg.infer.segment_micrograph`, with progress bars over files,
frames (or focal series) and tiles, and the run is recorded. For a model of
≥ 3 classes the columns of each class are counted per series
(:mod:`temseg.analyze.columns`) while the series stream by.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from temseg.cli import _common
from temseg.cli._segment_inputs import (_check_foreign_outputs, _check_inputs, _frame_step,
                                      _model_words, _read, _split_model, _warn_resampling,
                                      _warn_tile_count, earlier_outputs)
from temseg.cli._segment_tables import (_column_counter, _particle_measurer, _series_together,
                                      _write_counts, _write_events, _write_particles,
                                      _write_series)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""

    @app.command("segment")
    def segment(
        paths: list[Path] = typer.Argument(
            ..., metavar="[MODEL] INPUTS",
            help="The model (network .json/.safetensors, checkpoint or run folder, a "
                 "baseline .json, or the name of a shipped model: au_ceo2, graphene), then "
                 "images, stacks or folders of images. Without a model, the shipped default "
                 "model (Au nanoparticles, HRTEM). With --model, all are inputs."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
        model: Path | None = typer.Option(None, "--model", "-m",
                                          help="The model, instead of the first argument."),
        tile: int = typer.Option(512, help="Tile size in pixels (rounded down to a multiple "
                                           "of the network's pooling factor)."),
        overlap: float = typer.Option(0.25, help="Overlap of neighbouring tiles, a fraction "
                                                 "of the tile in [0, 1)."),
        batch_size: int | None = typer.Option(
            None, help="Tiles per forward pass (default 4; 9 for an MSD-net such as the "
                       "shipped au_ceo2, whose set-up per pass costs about a tile: a 1024² "
                       "frame in one pass, about 2.4 GB)."),
        window: str = typer.Option("hamming", help="Blending window: hamming, gaussian or flat."),
        threshold: float | None = typer.Option(
            None, help="Foreground probability threshold of the mask (default: the model's)."),
        device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
        threads: int | None = typer.Option(None, help=_common.THREADS_HELP),
        amp: bool = typer.Option(False, "--amp", help="Mixed precision (CUDA only)."),
        tta: bool = typer.Option(False, "--tta", help="Average over the 8 rotations and "
                                                      "mirror images (8x the time)."),
        sampling: float | None = typer.Option(
            None, help="Pixel size in Å/px of every input, replacing the files' own "
                       "(for files without one, or with a wrong one)."),
        pixel_size_nm: float | None = typer.Option(
            None, help="Pixel size in nm/px (instead of --sampling; replaces the files' own)."),
        particles: bool = typer.Option(
            False, "--particles", help="Also measure the connected particles of each mask: "
                                       "NAME_particles.csv (area, equivalent diameter in nm, "
                                       "per frame of a stack, or per focal series) and "
                                       "NAME_particles.png."),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Replace files in --out that an earlier segment into "
                                       "it did not write (e.g. NAME_mask.png; by default "
                                       "refused: a hand-drawn label may have that name)."),
        frame_time: float | None = typer.Option(
            None, help="Seconds from one frame of a stack to the next, replacing the file's "
                       "own (ImageJ finterval, a DM/EMD time axis): with --particles the "
                       "table gains time_s and the plot a time axis; kept in the output "
                       "TIFFs."),
        dose_rate: float | None = typer.Option(
            None, help="With --particles: the dose rate on the sample in e/Å²/s; with a frame "
                       "time (the file's or --frame-time) the table gains dose_e_per_A2, the "
                       "dose received by each frame's end (beam on from the first frame's "
                       "start)."),
        min_area_px: int | None = typer.Option(
            None, help="With --particles: smaller regions are noise and not counted (pixels; "
                       "default 16 px, or 0.1 nm² where the input's pixel size makes that "
                       "more pixels: about two atomic columns)."),
        min_area_nm2: float | None = typer.Option(
            None, help="With --particles: the smallest particle in nm² instead of "
                       "--min-area-px (the same size at every pixel size; an input without a "
                       "pixel size is refused)."),
        fourier: bool = typer.Option(
            False, "--fourier", help="With --particles (implied): each particle's power "
                                     "spectrum (Leth Larsen et al.): lattice spacing in Å, "
                                     "direction, reflections and peak ratio; "
                                     "NAME_fourier.png maps the ratio (low: zone axis, "
                                     "columns resolved)."),
        series_order: str | None = typer.Option(
            None, help="Focal-series models: the model's channel held by each frame of a "
                       "series, e.g. 2,1,0 for series recorded in the reverse of the model's "
                       "order (`temseg info MODEL` lists its channels). Default: the model's "
                       "order."),
        column_distance: float = typer.Option(
            0.9, help="Models of ≥ 3 classes, stacks of series: a column of one series is the "
                      "same column in the next when their centres (after the drift) lie at "
                      "most this far apart (Å; 0.9 = half the Mo-S spacing of MoS2): "
                      "NAME_events.csv counts the columns kept, appeared, vanished and changed "
                      "in class (e.g. S2_to_S1, a sulphur atom lost)."),
        series_files: bool = typer.Option(
            False, "--series-files", help="Focal-series models: every C consecutive inputs "
                                          "(single images, in the order given; a folder's "
                                          "by name, numbers as numbers: frame2 before "
                                          "frame10, df-50 before df0 where some name has no "
                                          "sign, frame-1 before frame-10 where all have one) "
                                          "are the C images of one series, named after the "
                                          "first."),
        as_stack: bool = typer.Option(
            False, "--as-stack", help="The inputs are the frames of one movie saved a file "
                                      "per frame (files in the order given, a folder's by "
                                      "name, numbers as numbers): segmented as one stack, "
                                      "named after the folder (or the first file)."),
        min_column_px: int | None = typer.Option(
            None, help="Models of ≥ 3 classes: connected regions of a class smaller than this "
                       "(input pixels) are specks, not counted as columns in NAME_counts.csv. "
                       "Default: 3 pixels of the model's pixel size, scaled to each input's."),
    ) -> None:
        """Segment images, stacks or folders: probability TIFF, mask, overlay and a record.

        Without a model, the shipped default model segments Au nanoparticles; images
        are resampled to its pixel size when their file (or --pixel-size-nm) gives one.

        Per input NAME: NAME_prob.tif (float32, with the pixel size), NAME_mask.png
        (NAME_mask.tif for a stack), NAME_overlay.png (first frame of a stack that is not
        blank: overlay_frame in the record); and record.json for the run. Stacks are
        streamed frame by frame; a blank (constant)
        frame is reported and left unsegmented (NaN, empty mask). In a batch, an
        input found bad half-way (a NaN frame) is left out, the others are finished
        and recorded, and the run ends in an error naming it. With --particles
        also NAME_particles.csv and NAME_particles.png: a size histogram, or for a
        stack the count and median size per frame (particles touching the border
        are counted, and listed in the CSV with their cut size and touches_border,
        but left out of the sizes plotted and their medians). With --fourier the CSV
        gains each particle's
        lattice spacing and peak ratio, NAME_fourier.png maps the ratio, and a
        stack's plot adds the median peak ratio per frame. The particles of a stack
        of frames (not of focal series) are followed from frame to frame (drift
        undone): each row's track, and
        NAME_tracks.csv (a row per track: first and last frame, size then, origin,
        fate), NAME_particle_events.csv (appeared, vanished, merged, split: where and
        when) and NAME_tracks.png (size against frame per track). A stack's frame
        time (from the file, or --frame-time) adds time_s to the tables and a time
        axis to the plots, and with --dose-rate the dose received by each frame.

        A model fed focal series (C input channels, e.g. three defoci) reads each
        input stack of n·C frames as n series of C consecutive frames in the
        model's channel order (--series-order for another order), a (T, C, H, W)
        TCYX hyperstack as T series; with
        --series-files every C consecutive single-image inputs are one series
        (e.g. three DM4 files, one per defocus). A model of ≥ 3
        classes (Mo, S2, S1 columns...) writes per input NAME_prob.tif (K class
        probabilities), NAME_mask.png or .tif (class index per pixel, one page
        per series), NAME_overlay.png
        (classes in colour on the middle image, with a legend) and
        NAME_counts.csv: per series the number of connected regions (columns)
        of each class and their area; NAME_columns.csv lists every column (series,
        column id, class, centre in px and nm, area); NAME_counts.png plots the counts
        of a stack of series, and NAME_events.csv follows its columns from each series
        to the next (drift removed; kept, appeared, vanished, changed class such as
        S2_to_S1, a sulphur atom lost; needs a pixel size), NAME_column_events.csv
        placing each event (its column ids and centre). With --series-files and
        several series (a time series saved one file per defocus) the series are
        also followed as one stack: series_counts.csv (a row per series, with its
        NAME), series_columns.csv, series_counts.png, series_events.csv and
        series_column_events.csv
        (series with a blank image passed over), beside each series' own outputs.
        """
        from temseg.errors import BlankImageError, ConfigError, InputError
        from temseg.infer import (class_outputs, collect_inputs, load_segmenter, output_names,
                                  segment_micrograph)
        from temseg.record import write_record

        pixel = _common.sampling_from_options(sampling, pixel_size_nm)
        _common.check_threshold(threshold)
        _common.set_threads(threads)
        particles = particles or fourier
        if min_area_px is not None and min_area_px < 1:
            raise ConfigError(f"--min-area-px: must be ≥ 1, got {min_area_px}")
        if min_area_nm2 is not None and not 0 < min_area_nm2 < float("inf"):
            raise ConfigError(f"--min-area-nm2: must be a positive area, got {min_area_nm2:g}")
        for flag, value in (("--frame-time", frame_time), ("--dose-rate", dose_rate)):
            if value is not None and not 0 < value < float("inf"):
                raise ConfigError(f"{flag}: must be a positive number, got {value:g}")
        if dose_rate is not None and not particles:
            _common.warn("--dose-rate is not used without --particles (or --fourier)")
        if min_area_nm2 is not None and not particles:
            _common.warn("--min-area-nm2 is not used without --particles (or --fourier)")
        _common.check_column_options(column_distance, min_column_px)
        _common.check_output(out)
        model_path, input_paths = _split_model(paths, model)
        warned: set[str] = set()

        def warn(message: str) -> None:  # once per message and file
            if message not in warned:
                warned.add(message)
                _common.warn(f"{current['name']}: {message}")

        current = {"name": ""}
        segmenter = load_segmenter(model_path, tile=tile, overlap=overlap,
                                   batch_size=batch_size, window=window, device=device,
                                   amp=amp, tta=tta, warn=warn)
        from temseg.analyze.columns import speck_px
        from temseg.analyze.particles import MIN_AREA_NM2, MIN_AREA_PX, smallest_particle_px
        from temseg.analyze.tracking import ParticleTracker
        from temseg.infer.series import check_series_order

        order = check_series_order(series_order, segmenter.in_channels)
        inputs, from_folders = [], set()
        if not series_files:
            inputs = collect_inputs(input_paths)
        else:  # files given in the order given, a folder's in defocus order (signs read)
            for given in input_paths:
                found = collect_inputs([given], unique=False, signed=True)
                inputs.extend(found)
                if Path(given).is_dir():
                    from_folders.update(found)
            # a repeat would shift every later series by one file
            from collections import Counter

            path, times = Counter(p.resolve() for p in inputs).most_common(1)[0]
            if times > 1:
                raise InputError(f"--series-files: {path.name} is given {times} times; every "
                                 "image of a series is a file of its own")
        if as_stack and series_files:
            raise ConfigError("--as-stack and --series-files: give one (a movie a file per "
                              "frame, or focal series a file per defocus)")
        movie = None
        if as_stack:  # named after the one folder given, else the first file
            from temseg.infer.stacks import is_output

            given = [Path(p) for p in input_paths]
            movie = given[0] if len(given) == 1 and given[0].is_dir() else inputs[0]
            # (the outputs of an earlier run into the folder itself are no frames)
            inputs = [p for p in inputs if not is_output(p, {movie.stem})] or inputs
        plans = _check_inputs(segmenter, inputs, pixel, series_files=series_files, order=order,
                              from_folders=frozenset(from_folders), movie=movie)
        if min_area_nm2 is not None and particles:
            unknown = [plan["path"].name for plan in plans if plan["sampling"] is None]
            if unknown:
                raise InputError(f"--min-area-nm2: {unknown[0]} has no pixel size (give "
                                 "--pixel-size-nm, or --min-area-px)")
        _warn_resampling(segmenter, plans)
        _warn_tile_count(segmenter, plans, overlap)
        if (frame_time is not None or dose_rate is not None) and not any(
                plan["stack"] for plan in plans):
            _common.warn("--frame-time/--dose-rate are for stacks; no input is one: unused")
        names = output_names([plan["path"] for plan in plans])
        if not overwrite:
            _check_foreign_outputs(out, names)
        thr = segmenter.threshold if threshold is None else threshold
        classes = class_outputs(segmenter)
        if classes and threshold is not None:
            _common.warn(f"--threshold {threshold:g} is not used: a {len(segmenter.classes)}-"
                         "class mask holds the most probable class of every pixel")
        if classes and particles:
            _common.warn(f"--particles with a {len(segmenter.classes)}-class model: a particle "
                         "is a connected region of all foreground classes together ("
                         f"{', '.join(segmenter.classes[1:])}); NAME_counts.csv counts the "
                         "columns of each class")
        unit = "series" if segmenter.in_channels > 1 else "frame"
        if segmenter.path is not None:  # (after the checks: a bad input stays one line)
            _common.err.print(f"model: {escape(_model_words(Path(segmenter.path)))}",
                              highlight=False)

        # --series-files, several series, a species model: also followed as one stack of series
        together = (_series_together(plans, names, segmenter, min_column_px=min_column_px,
                                     column_distance=column_distance, warn=_common.warn)
                    if classes and series_files and len(plans) > 1 else None)
        with _common.no_empty_folder_left(out):
            results, skipped, failed = [], [], []
            with _common.progress() as bar:
                files = bar.add_task("files", total=len(plans))
                frames = bar.add_task("frames", total=None, visible=False)
                tiles = bar.add_task("tiles", total=None)
                for number, (plan, name) in enumerate(zip(plans, names)):
                    current["name"] = plan["path"].name
                    warned.clear()
                    bar.update(frames, total=plan["frames"], completed=0, visible=plan["stack"],
                               description="frames" if unit == "frame" else "focal series")
                    mg = _read(plan, pixel, segmenter.in_channels)
                    step = _frame_step(mg, frame_time, dose_rate if particles else None, warn)
                    rows: list[dict] = []
                    counts: list[dict] = []  # column counts per series (≥ 3 classes)
                    events: list[dict] = []  # what became of the columns, series to series
                    first: dict = {}  # the first frame and its mask, for the Fourier map
                    smallest = smallest_particle_px(
                        mg.sampling, min_area_px=min_area_px,
                        min_area_nm2=min_area_nm2 if particles else None)
                    tracker = (ParticleTracker(sampling=mg.sampling, max_gap=1)
                               if particles and mg.is_stack and unit == "frame" else None)
                    followed: list[dict] = []  # the tracker's events
                    measured = (_particle_measurer(rows, mg.sampling, smallest, fourier, first,
                                                   frames_per_series=segmenter.in_channels,
                                                   frame_interval_s=step, dose_rate=dose_rate,
                                                   tracker=tracker, events=followed)
                                if particles else None)
                    measure = measured
                    if classes:
                        speck = speck_px(min_column_px, sampling=mg.sampling,
                                         model_sampling=getattr(segmenter, "sampling", None))
                        measure = _column_counter(counts, segmenter, mg.sampling, speck,
                                                  measure, events=events,
                                                  column_distance=column_distance, warn=warn)
                        if together is not None:
                            measure = together["measure"](number, measure)
                    try:
                        result = segment_micrograph(
                            segmenter, mg, out, name=name, threshold=thr,
                            on_frame=lambda done, total: bar.update(frames, completed=done),
                            on_tile=lambda done, total: bar.update(tiles, completed=done,
                                                                   total=total),
                            on_mask=measure, series_order=order)
                    except InputError as exc:  # e.g. a blank image: say which file
                        message = str(exc).removeprefix("image: ")
                        if not any(message.startswith(str(path))
                                   for path in plan.get("files", [plan["path"]])):
                            message = f"{plan['path']}: {message}"
                        if len(plans) == 1:
                            raise InputError(message) from None
                        # one blank file (beam blanked, a dropped frame) must not stop a batch;
                        # nor one found bad half-way (a NaN frame): the others are finished and
                        # recorded, and the run ends in an error naming it
                        blank = isinstance(exc, BlankImageError)
                        _common.warn(f"{message}; skipped" if blank else
                                     f"{message}; this input left out, going on with the "
                                     "other inputs")
                        if together is not None:  # an empty row, passed over as a blank one
                            together["blank"].append(number)
                        (skipped if blank else failed).append(
                            {"input": str(plan["path"]), "reason": message,
                             **({"series_files": [str(p) for p in plan["files"]]}
                                if "files" in plan else {})})
                        bar.advance(files)
                        continue
                    if result.blank_frames and together is not None:
                        together["blank"].append(number)
                    if result.blank_frames:
                        from temseg.errors import format_frames

                        what = ("blank (constant) frame(s)" if unit == "frame" else
                                "focal series with a blank (constant) image")
                        where = ""
                        if unit == "series":  # which frames of the file, to find them
                            from temseg.infer.series import constant_frames

                            flat = constant_frames(mg, result.blank_frames,
                                                   segmenter.in_channels)
                            where = (f"; constant: frame {format_frames(flat)} of the file"
                                     if flat else "")
                        warn(f"{len(result.blank_frames)} {what} not segmented "
                             f"({unit} {format_frames(result.blank_frames)}{where}; "
                             "0-based): probability NaN, mask empty")
                    entry = {"name": name, **result.to_dict()}
                    if step:
                        entry["frame_interval_s"] = step
                        entry["frame_interval_source"] = mg.metadata.get("frame_interval_source")
                        if dose_rate and particles:
                            entry["dose_rate_e_per_A2_s"] = dose_rate
                    model_px = getattr(segmenter, "sampling", None)
                    if model_px and mg.sampling and abs(mg.sampling / model_px - 1) > 0.01:
                        entry["resampled_to_A_per_px"] = model_px  # (and back, for the outputs)
                    if "sampling_in_file" in plan:  # replaced by --sampling/--pixel-size-nm
                        entry["sampling_in_file"] = plan["sampling_in_file"]
                    if "files" in plan:
                        entry["series_files"] = [str(p) for p in plan["files"]]
                    if "frame_files" in plan:  # a movie: the folder (or first file) names it
                        entry["input"] = str(plan["path"])
                        entry["frame_files"] = [str(p) for p in plan["frame_files"]]
                    if classes:
                        entry["counts"] = {**_write_counts(out, name, counts, plan, segmenter,
                                                           result.blank_frames, unit),
                                           "min_column_px": speck}
                        if events:
                            entry["events"] = _write_events(out, name, events)
                        elif len(counts) > 1 and mg.sampling is None:
                            warn("no pixel size: columns not followed from series to series "
                                 "(NAME_events.csv needs --column-distance in Å; give "
                                 "--sampling)")
                    if particles:
                        measured.finish()  # (particles still missing at the end: vanished)
                        entry["particles"] = _write_particles(
                            out, name, rows, plan, result.blank_frames, first, smallest, unit,
                            interval_s=step * segmenter.in_channels if step else None,
                            tracker=tracker, events=followed)
                    results.append(entry)
                    bar.advance(files)

            config = {"model": str(model_path), "threads": threads, "tile": tile,
                      "overlap": overlap,
                      "batch_size": segmenter.batch_size if hasattr(segmenter, "batch_size")
                      else batch_size, "window": window, "threshold": thr,
                      "device": str(getattr(segmenter, "device", "cpu")), "amp": amp,
                      "tta": tta, "sampling": pixel, "series_order": order,
                      "series_files": series_files, "as_stack": as_stack,
                      "particles": {"min_area_px": min_area_px if min_area_nm2 is None
                                    else None, "min_area_nm2": min_area_nm2, "fourier": fourier,
                                    **({"default": f"{MIN_AREA_PX} px or {MIN_AREA_NM2} nm²"}
                                       if min_area_px is None and min_area_nm2 is None else {})}
                      if particles else None}
            if classes:
                config.update(threshold=None, mask="most probable class",
                              min_column_px=min_column_px, column_distance_A=column_distance)
            if not results:
                why = (f"{failed[0]['reason']}" + (f" (and {len(failed) - 1} more)"
                                                   if len(failed) > 1 else "")
                       if failed else "every one is constant")
                raise InputError(f"none of the {len(plans)} inputs could be segmented: {why}")
            extra = ({"series": _write_series(out, together, segmenter, warn=_common.warn)}
                     if together is not None else {})
            # what every run so far wrote here, that a later run may replace (not a label)
            extra["outputs_in_folder"] = sorted(earlier_outputs(out) | {
                Path(p).name for entry in results for p in entry["outputs"].values()})
            write_record(out, config=config, segmenter=segmenter.describe(), inputs=results,
                         skipped=skipped, failed=failed, classes=segmenter.classes,
                         channels=segmenter.channels, **extra)
        table = _summary(results)
        _common.show(table)
        _common.out.print(f"wrote {len(results)} result(s) and record.json to {out}"
                          + (f"; skipped {len(skipped)} constant input(s)" if skipped else ""))
        if failed:
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise InputError(f"{len(failed)} of {len(plans)} inputs failed: {failed[0]['reason']}"
                             f"{more}; the other results and record.json (its 'failed' list) "
                             f"are in {out}")


def _summary(results: list[dict]):
    from rich.table import Table

    with_particles = any("particles" in r for r in results)
    counted = [name for r in results[:1] if "counts" in r for name in r["counts"]["per_class"]]
    columns = ["input", "shape", "Å/px", "foreground"] + (["particles", "median eq. diameter"]
                                                         if with_particles else [])
    columns += [f"{name} columns" for name in counted]
    table = Table(*columns, box=None)
    for r in results:
        cells = [Path(r["input"]).name, "×".join(map(str, r["shape"])),
                 "-" if r["sampling"] is None else f"{r['sampling']:.4g}",
                 f"{100 * r['foreground_fraction']:.1f} %"]
        if with_particles:
            p = r["particles"]
            each = "series" if "particles_per_series" in p else "frame"
            per_frame = p.get(f"particles_per_{each}")
            cells.append(f"{per_frame:.1f} per {each}" if per_frame is not None
                         else str(p["particles"]))
            cells.append("-" if p["diameter_median"] is None
                         else f"{p['diameter_median']:.3g} {p['diameter_unit']}")
        for name in counted:
            stats = r["counts"]["per_class"].get(name)
            each = "series" if "frames_per_series" in r else "frame"
            many = len(r.get("series_fractions") or r.get("frame_fractions") or []) > 1
            cells.append("-" if stats is None else f"{stats['mean']:.1f} per {each}" if many
                         else str(stats["max"]))
        table.add_row(*cells)
    return table
