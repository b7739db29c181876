"""CLI command ``temseg evaluate MODEL DATA... -o DIR``: score a model on labelled images.

DATA are labelled folders (``NAME`` + ``NAME_LABEL``) or zarr datasets, read
lazily for models of ≥ 3 classes. Everything is checked against the model
before any work (channels, classes, labels, sizes); a 2-class model or a
baseline is scored foreground against background, a model of ≥ 3 classes per
class and, where the pixel size is known, per column (003).
"""

from __future__ import annotations

from pathlib import Path

import typer

from temseg.cli import _common
from temseg.cli._evaluate_data import (_dataset_entry, _distinct_names, _empty_labels_warning,
                                       _held_out, _in_training, _labelled_sources, _Named,
                                       _no_foreground_warning)

#: the six scores of 004 table 1 (soft dice is in the CSV files)
_SCORES = ("accuracy", "balanced_accuracy", "jaccard", "f1", "precision", "recall")

#: confusion overlays of smaller images are enlarged to this side (a 64² simulated image's
#: scale-bar label read "5 A" in 9 px)
OVERLAY_MIN_SIDE_PX = 256


def evaluate(
    model: Path = typer.Argument(..., help="Model file (.json/.safetensors/stem), run folder, "
                                           "shipped name (au_ceo2, graphene) or baseline "
                                           "JSON."),
    data: list[Path] = typer.Argument(..., help="Labelled folders (NAME + NAME_LABEL) or zarr "
                                                "datasets (images (N, H, W) or (N, C, H, W), "
                                                "labels (N, H, W))."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    threshold: float | None = typer.Option(None, help="Foreground probability threshold "
                                                      "(default: the model's, usually 0.5)."),
    label_suffix: str = typer.Option("_LABEL", help="Label file suffix."),
    sampling: float | None = typer.Option(None, help="Pixel size in Å/px of the data."),
    pixel_size_nm: float | None = typer.Option(None, help="Pixel size in nm/px of the data."),
    overlays: bool = typer.Option(True, "--overlays/--no-overlays",
                                  help="Confusion PNGs (TP white, TN black, FP red, FN blue; "
                                       "wrong class yellow)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    threads: int | None = typer.Option(None, help=_common.THREADS_HELP),
    tile: int = typer.Option(512, help="Tile side for tiled prediction (pixels)."),
    tta: bool = typer.Option(False, "--tta", help="Average over the 8 rotations and mirror "
                                                  "images (networks; 8x the time)."),
    column_distance: float = typer.Option(
        0.9, help="Models of ≥ 3 classes: a found column matches a labelled one of its class "
                  "when their centres lie at most this far apart (Å; 0.9 = half the Mo-S "
                  "spacing of MoS2)."),
    min_column_px: int | None = typer.Option(
        None, help="Models of ≥ 3 classes: found regions smaller than this (pixels of the "
                   "data) are specks, not columns. Default: 3 pixels of the model's pixel "
                   "size, scaled to the data's."),
) -> None:
    """Score a trained network or a baseline on labelled images: pooled and per image.

    Writes per_image.csv, pooled.json, confusion/NAME.png and record.json. Scores
    are pooled over all pixels, and also averaged over the images (every image
    weighing the same: the "mean of images" row, "image_mean" in pooled.json).
    A model of ≥ 3 classes (e.g. Mo, S2, S1 columns) is scored per class, one
    class against the rest, pooled over all pixels: per_class.csv (F1, Jaccard,
    precision, recall and pixel counts of every class, and their mean over the
    foreground classes), pooled.json with the confusion matrix, and per image
    the F1 of each class in per_image.csv. Its columns (connected regions) are
    matched to the labelled ones by centre distance where the pixel size is
    known: columns.csv gives, per class, the columns labelled and found,
    precision, recall, F1 and the relative count error (e.g. of S1 columns,
    sulphur vacancies). Zarr datasets are read one image at a time. Where the
    images have doses (simulated sets: parameters/dose), per_dose.csv and
    per_dose.png give the scores pooled per half decade of dose (F1 per class
    for ≥ 3 classes) and per_image.csv each image's dose: the dose a model needs.
    An earlier evaluation into the same folder leaves nothing stale: its confusion PNGs of
    images not scored now, and its files this run does not write, are removed (other
    files are kept). Images whose label has no foreground pixel are scored with a warning
    (per_image.csv: label_foreground_px 0): F1, Jaccard, precision and recall are 1 there
    where nothing is predicted, 0 with any false positive, and count so in the mean of
    images. A 2-class model refuses data whose labels hold no background (0) pixel at all
    (class ids 1/2). Images the model file's training record names as trained on (or as
    validation images, which chose its best epoch) are warned of and noted in pooled.json
    and record.json ("held_out"; per_image.csv: in_training): their scores are not held-out.
    """

    _common.check_output(out)
    data_sampling = _common.sampling_from_options(sampling, pixel_size_nm)
    _common.check_threshold(threshold)
    _common.check_column_options(column_distance, min_column_px)
    current = {"name": ""}  # the DATA path being scored: the segmenter's warnings name it
    warned: set[str] = set()

    def warn(message: str) -> None:  # once per DATA path, not once per image
        line = f"{current['name']}: {message}" if current["name"] else message
        if line not in warned:
            warned.add(line)
            _common.warn(line)

    _common.set_threads(threads)
    with _common.no_empty_folder_left(out):  # a failure leaves no empty folder behind
        _evaluate(model, data, out, warn=warn, current=current, threshold=threshold,
                  label_suffix=label_suffix, data_sampling=data_sampling, overlays=overlays,
                  device=device, tile=tile, tta=tta, column_distance=column_distance,
                  min_column_px=min_column_px)


def _evaluate(model: Path, data: list[Path], out: Path, *, warn, current: dict,
              threshold: float | None, label_suffix: str, data_sampling: float | None,
              overlays: bool, device: str, tile: int, tta: bool, column_distance: float,
              min_column_px: int | None) -> None:
    """The work of ``evaluate`` once its options are checked."""
    from temseg.device import pick_device
    from temseg.infer import load_segmenter

    segmenter = load_segmenter(model, tile=tile, device=pick_device(device), tta=tta,
                               warn=warn)
    classes = len(segmenter.classes) >= 3
    sources = _labelled_sources(segmenter, data, label_suffix=label_suffix,
                                sampling=data_sampling, multiclass=classes)
    original = [list(s.names) for s in sources]  # as the model's training record names them
    _distinct_names(data, sources)
    held_out = _held_out(segmenter, original, [list(s.names) for s in sources])
    previous = _Previous(out)  # an earlier evaluate's outputs here: its stale ones go at the end
    config = {"model": str(model), "data": [str(d) for d in data], "label_suffix": label_suffix,
              "sampling": data_sampling, "tta": tta, "tile": tile,
              "device": str(getattr(segmenter, "device", "cpu")),
              "datasets": [_dataset_entry(d, s, data_sampling) for d, s in zip(data, sources)],
              "segmenter": segmenter.describe()}
    sources = [_Named(str(d), s, current) for d, s in zip(data, sources)]
    if classes:
        if threshold is not None:
            _common.warn(f"--threshold {threshold:g} is not used: a {len(segmenter.classes)}-"
                         "class prediction is the most probable class of every pixel")
        config.update(column_distance_A=column_distance, min_column_px=min_column_px)
        names = _evaluate_classes(segmenter, sources, out, model=model, config=config,
                                  overlays=overlays, sampling=data_sampling, held_out=held_out)
    else:
        names = _evaluate_binary(segmenter, sources, out, model=model, config=config,
                                 overlays=overlays, threshold=threshold, sampling=data_sampling,
                                 held_out=held_out)
    previous.remove_stale(names if overlays else [])


#: the files of fixed name evaluate writes into its folder (not every run writes all)
#: per_image.csv's summary rows after the images (no overlay of theirs to remove)
_SUMMARY_ROWS = ("pooled", "mean of images")
_OUTPUTS = ("per_image.csv", "pooled.json", "record.json", "per_class.csv", "columns.csv",
            "per_dose.csv", "per_dose.png")


class _Previous:
    """What an earlier ``temseg evaluate`` wrote into ``out`` (found by its per_image.csv):
    its images' names and its output files, so that those this run does not rewrite (the
    confusion PNGs of other images, per_dose.csv of data with doses...) are removed once
    this run has written its own, and do not pass for its results. Other files are kept."""

    def __init__(self, out: Path):
        import csv

        self.out, self.names, self.files = out, [], {}
        table = out / "per_image.csv"
        if not table.is_file():
            return
        try:
            with open(table, newline="") as fh:
                names = [row.get("name") or "" for row in csv.DictReader(fh)]
            if tuple(names[-2:]) == _SUMMARY_ROWS:  # a binary table's last two rows
                names = names[:-2]
            self.names = [name for name in names if name]
        except (OSError, UnicodeDecodeError, KeyError, csv.Error):
            return
        self.files = {name: self._stamp(out / name) for name in _OUTPUTS
                      if (out / name).is_file()}

    @staticmethod
    def _stamp(path: Path) -> tuple[int, int]:
        stat = path.stat()
        return stat.st_ino, stat.st_mtime_ns

    def remove_stale(self, overlays: list[str]) -> None:
        """Remove the earlier run's confusion PNGs not among ``overlays`` (this run's image
        names) and its output files this run did not write again."""
        folder = self.out / "confusion"
        for name in set(self.names) - set(overlays):
            (folder / f"{name}.png").unlink(missing_ok=True)
        if self.names and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        for name, stamp in self.files.items():
            path = self.out / name
            if path.is_file() and self._stamp(path) == stamp:  # not written by this run
                path.unlink()


def _evaluate_binary(segmenter, sources: list, out: Path, *, model: Path, config: dict,
                     overlays: bool, threshold: float | None, sampling: float | None,
                     held_out: dict) -> list[str]:
    """Foreground scores of a 2-class model or a baseline (unchanged for labelled folders);
    returns the images' names."""
    from rich.table import Table

    from temseg.errors import InputError
    from temseg.io import write_confusion_overlay, write_json
    from temseg.record import write_record
    from temseg.train.scoring import evaluate_pairs, image_means, write_table

    pairs, origins = [], []
    for source in sources:  # read whole, as before; each pair remembers its DATA path
        for pair in source:
            pairs.append(pair)
            origins.append(source.name)
    thr = float(segmenter.threshold if threshold is None else threshold)
    samplings = {p.name: (sampling if sampling is not None else p.sampling) for p in pairs}
    names = [p.name for p in pairs]

    def predict(item):
        image, pixel, origin, name = item
        sources[0].current["name"] = origin  # the segmenter's warnings name the DATA path
        try:
            return segmenter.predict(image, sampling=pixel)
        except InputError as exc:  # e.g. a NaN pixel: say which image of which DATA path
            raise InputError(f"{origin}: image {name}: {exc}") from None

    with _common.progress() as bar:
        task = bar.add_task("evaluating", total=len(pairs))
        pooled, rows, probs = evaluate_pairs(
            predict, [(p.image, samplings[p.name], o, p.name) for p, o in zip(pairs, origins)],
            [p.label for p in pairs],
            threshold=thr,
            names=names, callback=lambda done, total: bar.update(task, completed=done))
        if overlays:
            for pair, prob in bar.track(list(zip(pairs, probs)), description="overlays"):
                write_confusion_overlay(out / "confusion" / f"{pair.name}.png", prob >= thr,
                                        pair.label > 0, sampling=samplings[pair.name],
                                        min_side_px=OVERLAY_MIN_SIDE_PX)
    for row in rows:
        row["label_foreground_px"] = row["tp"] + row["fn"]
    _in_training(rows, held_out)
    if pooled.get("tp", 0) + pooled.get("fn", 0) == 0:
        _no_foreground_warning(len(pairs), pooled.get("fp", 0))
    else:
        _empty_labels_warning(rows, scores='they count in "mean of images" with F1, Jaccard, '
                                           'precision and recall')
    means = image_means(rows)
    doses = [p.dose for p in pairs]
    by_dose = _by_dose(out, doses, [[[r["tn"], r["fp"]], [r["fn"], r["tp"]]] for r in rows],
                       segmenter.classes, {segmenter.classes[1]: [r["f1"] for r in rows]},
                       rows, title=f"{model} at threshold {thr:g}",
                       channels=segmenter.in_channels)
    write_table(out / "per_image.csv",
                rows + [{"name": name, **scores}
                        for name, scores in zip(_SUMMARY_ROWS, (pooled, means))])
    write_json(out / "pooled.json", {"threshold": thr, "n_images": len(pairs), **pooled,
                                     "image_mean": means, "by_dose": by_dose,
                                     "held_out": held_out})
    write_record(out, config={**config, "threshold": thr}, pooled=pooled, by_dose=by_dose,
                 held_out=held_out)
    table = Table(title=f"{model} at threshold {thr:g}")
    keys = [k for k in _SCORES if k in pooled]
    table.add_column("image")
    for k in keys:
        table.add_column(k, justify="right")
    for row in rows:
        table.add_row(row["name"], *(f"{row[k]:.4f}" for k in keys))
    table.add_row("[bold]pooled[/]", *(f"[bold]{pooled[k]:.4f}[/]" for k in keys))
    table.add_row("mean of images", *(f"{means[k]:.4f}" for k in keys))
    _common.show(table)
    _show_by_dose(by_dose, segmenter.classes, segmenter.in_channels)
    _common.out.print(f"written to {out}", highlight=False)
    return names


def _evaluate_classes(segmenter, sources: list, out: Path, *, model: Path, config: dict,
                      overlays: bool, sampling: float | None, held_out: dict) -> list[str]:
    """Per-class scores of a model of ≥ 3 classes, streamed one image at a time; returns the
    images' names."""
    from rich.table import Table

    from temseg.analyze.columns import speck_px
    from temseg.analyze.column_events import column_scores, match_columns
    from temseg.infer.evaluation import CLASS_KEYS, evaluate_classes
    from temseg.io import write_confusion_overlay, write_json
    from temseg.record import write_record
    from temseg.train.scoring import write_table

    def pixel_size(pair):
        return sampling if sampling is not None else pair.sampling

    def predict(pair):
        return segmenter.predict_proba(pair.image, sampling=pixel_size(pair))

    names = segmenter.classes
    totals = {name: dict.fromkeys(("tp", "fp", "fn", "labelled", "found"), 0)
              for name in names[1:]}
    uncalibrated = []
    matrices, doses = [], []  # per image, for the scores by dose
    specks: set[int] = set()  # the speck sizes used (px), for the record

    written: list[Path] = []  # confusion PNGs of this run, removed if it fails half-way

    def seen(pair, pred, matrix) -> None:
        matrices.append(matrix)
        doses.append(pair.dose)
        if overlays:
            written.append(write_confusion_overlay(out / "confusion" / f"{pair.name}.png", pred,
                                                   pair.label, classes=True,
                                                   sampling=pixel_size(pair),
                                                   min_side_px=OVERLAY_MIN_SIDE_PX))
        if pixel_size(pair) is None:
            uncalibrated.append(pair.name)
            return
        speck = speck_px(config["min_column_px"], sampling=pixel_size(pair),
                         model_sampling=getattr(segmenter, "sampling", None))
        specks.add(speck)
        found = match_columns(pred, pair.label, classes=names, min_area_px=speck,
                              max_distance_px=config["column_distance_A"] / pixel_size(pair))
        for name, counts in found.items():
            for key, value in counts.items():
                totals[name][key] += value

    total = sum(len(s) for s in sources)
    with _common.progress() as bar:
        task = bar.add_task("evaluating", total=total)
        try:
            pooled, rows = evaluate_classes(
                predict, (p for source in sources for p in source), classes=segmenter.classes,
                n_items=total, callback=lambda done, n: bar.update(task, completed=done),
                on_prediction=seen)
        except BaseException:  # no folder of half the overlays and no scores
            for path in written:
                Path(path).unlink(missing_ok=True)
            if written and not any((out / "confusion").iterdir()):
                (out / "confusion").rmdir()
            raise
    for row, matrix in zip(rows, matrices):  # pixels of a foreground class in the label
        row["label_foreground_px"] = int(matrix[1:].sum())
    _in_training(rows, held_out)
    if not any(row["tp"] + row["fn"] for row in pooled["per_class"][1:]):
        _no_foreground_warning(total, sum(row["tp"] + row["fp"]
                                          for row in pooled["per_class"][1:]))
    else:
        _empty_labels_warning(rows, scores="their F1 of each class (per_image.csv) is")
    mean = {"class": "mean (foreground)", "index": None, **pooled["mean_foreground"]}
    write_table(out / "per_class.csv", pooled["per_class"] + [mean])
    by_dose = _by_dose(out, doses, matrices, names,
                       {name: [r[f"f1_{name}"] for r in rows] for name in names[1:]}, rows,
                       title=f"{model}: F1 per class against dose",
                       channels=segmenter.in_channels)
    write_table(out / "per_image.csv", rows)
    columns = column_scores(totals) if len(uncalibrated) < total else None
    if uncalibrated:
        _common.warn(f"{len(uncalibrated)} of {total} images have no pixel size: their columns "
                     "are not matched (give --sampling)")
    if columns is not None:
        write_table(out / "columns.csv", [{"class": n, **c} for n, c in columns.items()])
    write_json(out / "pooled.json", {"pooling": "pixels", **pooled, "columns": columns,
                                     "by_dose": by_dose, "held_out": held_out})
    write_record(out, config={**config, "prediction": "most probable class",
                              "min_column_px_used": sorted(specks)},
                 pooled={k: pooled[k] for k in ("accuracy", "mean_foreground", "classes")},
                 columns=columns, classes=segmenter.classes, channels=segmenter.channels,
                 by_dose=by_dose, held_out=held_out)
    table = Table(title=f"{model}: {pooled['n_images']} images, per class (pooled over pixels)")
    table.add_column("class")
    for k in CLASS_KEYS:
        table.add_column(k, justify="right")
    table.add_column("pixels", justify="right")
    for row in pooled["per_class"]:
        table.add_row(row["class"], *(f"{row[k]:.4f}" for k in CLASS_KEYS),
                      f"{row['tp'] + row['fn']:,}")
    table.add_row("[bold]mean (foreground)[/]",
                  *(f"[bold]{pooled['mean_foreground'][k]:.4f}[/]" for k in CLASS_KEYS), "")
    _common.show(table)
    if columns is not None:
        table = Table(title=f"columns: centres at most {config['column_distance_A']:g} Å apart "
                            "match")
        for col in ("class", "labelled", "found", "precision", "recall", "f1", "count error"):
            table.add_column(col, justify="left" if col == "class" else "right")
        for name, c in columns.items():
            error = "-" if c["count_error"] is None else f"{100 * c['count_error']:+.1f} %"
            table.add_row(name, f"{c['labelled']:,}", f"{c['found']:,}", f"{c['precision']:.4f}",
                          f"{c['recall']:.4f}", f"{c['f1']:.4f}", error)
        _common.show(table)
    _show_by_dose(by_dose, names, segmenter.in_channels)
    _common.out.print(f"pixel accuracy {pooled['accuracy']:.4f}; written to {out}",
                      highlight=False)
    return [row["name"] for row in rows]


def _dose_label(channels: int) -> str:
    """What the dose of a dataset image is: of one image, or of each image of a focal series."""
    series = _common.series_dose_note(channels)
    return "dose (e/Å²)" if not series else f"dose (e/Å²; {series})"


def _by_dose(out: Path, doses: list, matrices: list, classes: list[str],
             image_f1: dict[str, list], rows: list[dict], *, title: str,
             channels: int) -> list[dict] | None:
    """Scores pooled per dose band where the images have doses (simulated sets): per_dose.csv
    and per_dose.png, and each image's dose in its per-image row; None without doses."""
    if all(d is None for d in doses):
        return None
    from temseg.analyze.dose import plot_scores_by_dose, scores_by_dose
    from temseg.train.scoring import write_table

    for row, dose in zip(rows, doses):
        row["dose_e_per_A2"] = dose
    unknown = sum(d is None for d in doses)
    if unknown:
        _common.warn(f"{unknown} of {len(doses)} images have no dose: left out of "
                     "per_dose.csv")
    by_dose = scores_by_dose(doses, matrices, classes)
    write_table(out / "per_dose.csv", by_dose)
    plot_scores_by_dose(out / "per_dose.png", doses, image_f1, by_dose, title=title,
                        dose_label=_dose_label(channels))
    return by_dose


def _show_by_dose(by_dose: list[dict] | None, classes: list[str], channels: int) -> None:
    """The scores by dose band as a table (nothing without doses)."""
    if not by_dose:
        return
    from rich.table import Table

    keys = (["f1", "jaccard", "precision", "recall"] if len(classes) == 2 else
            [f"f1_{name}" for name in classes[1:]] + ["mean_f1"])
    table = Table(title=f"pooled per band of {_dose_label(channels)} (per_dose.csv, "
                        "per_dose.png)")
    table.add_column("e/Å²")
    table.add_column("images", justify="right")
    for key in keys:
        table.add_column(key.replace("f1_", "F1 ").replace("mean_f1", "mean F1"),
                         justify="right")
    for row in by_dose:
        table.add_row(f"{_common.dose_text(row['dose_low_e_per_A2'])}–"
                      f"{_common.dose_text(row['dose_high_e_per_A2'])}", str(row["images"]),
                      *(f"{row[k]:.4f}" for k in keys))
    _common.show(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("evaluate")(evaluate)
