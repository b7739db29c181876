"""``temseg info FOLDER``: what a folder of labelled micrographs holds before training (pairs,
unpaired files, sizes, pixel sizes, label values and how they are read, foreground, series),
or what a folder of plain images holds for segment.

Labels are read once, by :func:`temseg.io.labels.read_label` (as training reads them);
nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
from rich.markup import escape
from rich.table import Table

from temseg.cli import _common

#: how many names a row lists before counting the rest
SHOWN = 3


def _names(paths_or_names, *, shown: int = SHOWN) -> str:
    """``a.png, b.png, c.png and 4 more``."""
    names = [getattr(p, "name", p) for p in paths_or_names]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(map(str, names[:shown])) + more


def _counted(counter: Counter, text=str) -> str:
    """``256 × 256 (100), 512 × 512 (5)``: the values of ``counter``, most common first; the
    count is left out where there is one value."""
    items = counter.most_common()
    if len(items) == 1:
        return text(items[0][0])
    return ", ".join(f"{text(value)} ({n})" for value, n in items)


def _size_text(shape) -> str:
    """``256 × 256 px``, or ``4 frames of 256 × 256 px`` (a stack, a hyperstack's planes)."""
    frames = int(np.prod(shape[:-2]))
    return f"{shape[-2]} × {shape[-1]} px" if len(shape) == 2 else (
        f"{frames} frames of {shape[-2]} × {shape[-1]} px")


def _sampling_text(sampling: float | None) -> str:
    if sampling is None:
        return "none in file"
    return f"{sampling:.6g} Å/px ({sampling / 10:.6g} nm/px)"


def _samplings_row(samplings: Counter, *, given: bool) -> str:
    if given:
        return f"{_counted(samplings, _sampling_text)} (given by caller)"
    if set(samplings) == {None}:
        return "none in files (give --sampling or --pixel-size-nm)"
    return _counted(samplings, _sampling_text)


@dataclasses.dataclass
class LabelKinds:
    """How the label files will be read (binary training), by file name."""

    binary: list[str] = dataclasses.field(default_factory=list)
    drawn: list[str] = dataclasses.field(default_factory=list)
    colour: list[str] = dataclasses.field(default_factory=list)
    other: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class FolderSurvey:
    """What :func:`survey_folder` found in a labelled folder, or a folder of images.

    ``sizes`` counts (H, W) (or (F, H, W) of stacks), ``samplings`` Å/px (None: none in the
    file), ``formats`` file formats, over the images read; ``foreground`` maps a pair's name to
    its label's fraction of foreground pixels; ``problems`` are the errors training would meet.
    """

    folder: Path
    label_suffix: str
    layout: str
    pairs: int = 0
    unlabelled: list[Path] = dataclasses.field(default_factory=list)
    unmatched: list[Path] = dataclasses.field(default_factory=list)
    sizes: Counter = dataclasses.field(default_factory=Counter)
    samplings: Counter = dataclasses.field(default_factory=Counter)
    formats: Counter = dataclasses.field(default_factory=Counter)
    values: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, int))
    kinds: LabelKinds = dataclasses.field(default_factory=LabelKinds)
    foreground: dict[str, float] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    stacks: int = 0


def _layout(found) -> str:
    if found.label_folder is None:
        return f"NAME.ext + NAME{found.label_suffix}.ext side by side"
    return (f"{found.image_folder.name}/ + {found.label_folder.name}/ of the same names "
            f"(or NAME{found.label_suffix})")


def _find(folder: Path, label_suffix: str | None):
    """The folder's files with the suffix given, or (none given) the default or the common
    suffix the names use, with a note of which."""
    from temseg.io.labelled import folder_files

    found = folder_files(folder, label_suffix=label_suffix or "_LABEL")
    hint = found.suffix_hint()
    if hint is None:
        return found, []
    path, stem, suffix = hint
    if label_suffix is None:
        return folder_files(folder, label_suffix=suffix), [
            f"labels named NAME{suffix} ({path.name}): train needs --label-suffix {suffix} "
            f"(recipe: label_suffix: {suffix})"]
    return found, [f"{path.name} looks like the label of {stem}: give --label-suffix {suffix}?"]


def _label_kind(values: np.ndarray, colour, threshold: float | None) -> str:
    """``binary``, ``drawn`` (read above ``threshold``, half its maximum), ``colour``
    (non-black is foreground) or ``other`` (many values, read as > 0)."""
    from temseg.io.labels import MAX_QUIET_CLASS_ID

    if colour is not None:
        return "colour"
    if threshold is not None:
        return "drawn"
    if len(values) <= 2 or (values[0] >= 0 and values[-1] <= MAX_QUIET_CLASS_ID):
        return "binary"
    return "other"


def survey_folder(folder: Path, *, label_suffix: str | None = None,
                  sampling: float | None = None) -> FolderSurvey:
    """Read a folder's images and labels once, as training would, and gather what they hold.

    A folder without any label (no ``NAME{label_suffix}`` file, no ``masks/``) is surveyed
    as plain images (``layout`` ``"images"``; stacks allowed). Errors of single files are
    collected in ``problems``, not raised.

    Raises
    ------
    InputError
        The folder holds no image (:func:`~temseg.io.labelled.folder_files`).
    """
    from temseg.errors import InputError
    from temseg.io import read_image
    from temseg.io.labels import read_label

    found, notes = _find(folder, label_suffix)
    images = not found.labels
    unlabelled, unmatched = found.unpaired()
    survey = FolderSurvey(folder, found.label_suffix, "images" if images else _layout(found),
                          pairs=len(found.pairs), unlabelled=list(unlabelled.values()),
                          unmatched=list(unmatched.values()), notes=notes)
    todo = [(path, None) for path in found.images.values()] if images else found.pairs
    values = set()
    for image_path, label_path in _common.track(todo, "reading", transient=True):
        try:
            micrograph = read_image(image_path, sampling=sampling, warn=survey.warnings.append,
                                    allow_hyperstack=images)
        except InputError as exc:
            survey.problems.append(str(exc))
            continue
        survey.formats[micrograph.format or image_path.suffix] += 1
        survey.samplings[micrograph.sampling] += 1
        survey.sizes[tuple(int(s) for s in micrograph.data.shape)] += 1
        if micrograph.is_stack:
            survey.stacks += 1
        if label_path is None:
            continue
        if micrograph.is_stack:
            survey.problems.append(f"{image_path}: a stack of {micrograph.n_frames} frames "
                                   "(labelled folders hold single images)")
        elif micrograph.data.min() == micrograph.data.max():
            survey.problems.append(f"{image_path}: constant image (a labelled image needs "
                                   "contrast)")
        try:
            label, stored, colour, threshold = read_label(label_path,
                                                          warn=survey.warnings.append)
        except InputError as exc:
            survey.problems.append(str(exc))
            continue
        if label.shape != micrograph.frame_shape:
            survey.problems.append(f"{label_path}: label shape {label.shape} differs from "
                                   f"image shape {micrograph.frame_shape}")
        values.update(int(v) for v in stored)
        getattr(survey.kinds, _label_kind(stored, colour, threshold)).append(label_path.name)
        survey.foreground[image_path.stem] = np.count_nonzero(label) / label.size
    survey.values = np.array(sorted(values), int)
    return survey


def _values_text(values: np.ndarray) -> str:
    if len(values) <= 8:
        return ", ".join(map(str, values))
    return f"{len(values)} distinct, {values[0]}–{values[-1]}"


def _read_as_text(survey: FolderSurvey) -> str:
    """How training will read the labels (binary unless ``multiclass: true``)."""
    from temseg.io.labels import class_ids

    kinds = survey.kinds
    ids = class_ids(survey.values)
    if ids:
        return (f"class ids {', '.join(map(str, ids))}: binary training reads label > 0 as one "
                f"foreground; `multiclass: true` in the recipe keeps {ids[-1] + 1} classes "
                "(0 background)")
    parts = []
    if kinds.binary:
        two = [int(v) for v in survey.values] if len(survey.values) == 2 else None
        parts.append(f"binary, {two[0]} background, {two[1]} foreground" if two and
                     not (kinds.drawn or kinds.colour or kinds.other) else
                     f"{len(kinds.binary)} binary (label > 0 is foreground)")
    if kinds.drawn:
        parts.append(f"{len(kinds.drawn)} drawn in grey levels (JPEG or anti-aliased: "
                     f"{_names(kinds.drawn)}), thresholded at half their maximum")
    if kinds.colour:
        parts.append(f"{len(kinds.colour)} one colour on black ({_names(kinds.colour)}), "
                     "non-black is foreground")
    if kinds.other:
        parts.append(f"{len(kinds.other)} of many small values ({_names(kinds.other)}; lossy?),"
                     " label > 0 is foreground")
    return "; ".join(parts) or "no label read"


def _groups_text(names: list[str]) -> str:
    """Series by train's default ``group_pattern``, or :func:`series_warning`'s advice."""
    from temseg.train.crossval import series_warning
    from temseg.train.data import group_of

    pattern = r"_layer_\d+$"
    groups = [group_of(name, pattern) for name in names]
    counts = Counter(groups)
    if len(counts) < len(groups):
        largest, n = counts.most_common(1)[0]
        return (f"{len(counts)} source groups by group_pattern '{pattern}' (frames of one "
                f"series kept in one fold; largest {largest}: {n} images)")
    return series_warning(names, groups) or (
        f"{len(groups)} images, each its own group (no series in the names by "
        f"group_pattern '{pattern}')")


def _verdict(survey: FolderSurvey) -> str:
    """What ``temseg train`` will make of the folder (binary training)."""
    reasons = []
    if survey.unlabelled or survey.unmatched:
        reasons.append("every image needs its label and every label its image")
    if survey.problems:
        reasons.append(f"{len(survey.problems)} file(s) it cannot use (problems)")
    fractions = list(survey.foreground.values())
    if fractions and max(fractions) == 0:
        reasons.append("every label is background")
    elif fractions and min(fractions) == 1:
        reasons.append("no label has a background pixel (0)")
    if reasons:
        return "refuses it: " + "; ".join(reasons)
    suffix = "" if survey.label_suffix == "_LABEL" else f" --label-suffix {survey.label_suffix}"
    return f"takes it: temseg train {survey.folder} -c RECIPE.yaml{suffix}"


def _labelled_table(survey: FolderSurvey, *, given_sampling: bool) -> Table:
    table = _table(survey.folder)
    table.add_row("format", escape(f"labelled folder: {survey.layout}"))
    table.add_row("pairs", f"{survey.pairs} image/label pairs")
    if survey.unlabelled:
        table.add_row("images without labels",
                      escape(f"{len(survey.unlabelled)}: {_names(survey.unlabelled)}"))
    if survey.unmatched:
        table.add_row("labels without images",
                      escape(f"{len(survey.unmatched)}: {_names(survey.unmatched)}"))
    if not (survey.unlabelled or survey.unmatched):
        table.add_row("unpaired", "none (every image has its label, every label its image)")
    for note in survey.notes:
        table.add_row("label suffix", escape(note))
    _image_rows(table, survey, given_sampling=given_sampling)
    if len(survey.values):
        table.add_row("label values", escape(_values_text(survey.values)))
        table.add_row("read as", escape(_read_as_text(survey)))
    fractions = survey.foreground
    if fractions:
        share = np.array(list(fractions.values())) * 100
        table.add_row("foreground", f"min {share.min():.3g} %  median {np.median(share):.3g} %  "
                                    f"max {share.max():.3g} % of each label's pixels")
        empty = [name for name, f in fractions.items() if f == 0]
        full = [name for name, f in fractions.items() if f == 1]
        if empty:
            table.add_row("empty labels", escape(f"{len(empty)}: {_names(empty)} (no "
                                                 "foreground pixel)"))
        if full:
            table.add_row("no background", escape(f"{len(full)}: {_names(full)} (every pixel "
                                                  "foreground: class ids 1/2, or inverted?)"))
        table.add_row("groups", escape(_groups_text(list(fractions))))
    _problem_rows(table, survey)
    table.add_row("train", escape(_verdict(survey)))
    return table


def _images_table(survey: FolderSurvey, *, given_sampling: bool) -> Table:
    table = _table(survey.folder)
    n = len(survey.unlabelled)
    single = n - survey.stacks - len(survey.problems)
    kinds = ", ".join(part for part in (
        f"{single} single" if single else "",
        f"{survey.stacks} stack{'s' if survey.stacks > 1 else ''}" if survey.stacks else "",
        f"{len(survey.problems)} unreadable" if survey.problems else "") if part)
    table.add_row("format", f"folder of {n} image{'s' if n != 1 else ''} ({kinds}), no labels: "
                            "segment takes them (temseg segment [MODEL] FOLDER -o DIR)")
    _image_rows(table, survey, given_sampling=given_sampling)
    table.add_row("labels", escape(f"none: training needs NAME{survey.label_suffix}.png beside "
                                   "each image (--label-suffix), or images/ beside masks/"))
    _problem_rows(table, survey)
    return table


def _table(folder: Path) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("path", escape(str(folder)))
    return table


def _image_rows(table: Table, survey: FolderSurvey, *, given_sampling: bool) -> None:
    if not survey.sizes:
        return
    table.add_row("image files", escape(", ".join(f"{n} {kind}" for kind, n
                                                  in survey.formats.most_common())))
    table.add_row("image sizes", escape(_counted(survey.sizes, _size_text) + " (H × W)"))
    table.add_row("sampling", escape(_samplings_row(survey.samplings, given=given_sampling)))


def _problem_rows(table: Table, survey: FolderSurvey) -> None:
    for i, problem in enumerate(survey.problems[:SHOWN]):
        table.add_row("problems" if i == 0 else "", escape(problem))
    if len(survey.problems) > SHOWN:
        table.add_row("", f"and {len(survey.problems) - SHOWN} more")
    if survey.warnings:
        more = f" (and {len(survey.warnings) - 1} more)" if len(survey.warnings) > 1 else ""
        table.add_row("warnings", escape(survey.warnings[0] + more))


def describe_folder(folder: Path, *, label_suffix: str | None = None,
                    sampling: float | None = None) -> None:
    """Print what a labelled folder (or a folder of plain images) holds."""
    survey = survey_folder(folder, label_suffix=label_suffix, sampling=sampling)
    given = sampling is not None
    _common.show(_images_table(survey, given_sampling=given) if survey.layout == "images"
                 else _labelled_table(survey, given_sampling=given))


def holds_images(folder: Path) -> bool:
    """Whether ``folder`` holds image files, or a labelled folder's ``images/`` or ``masks/``
    (``labels/``, ``gt/``...) folder."""
    from temseg.io.labelled import IMAGE_FOLDERS, LABEL_FOLDERS
    from temseg.io.micrograph import supported_suffixes

    suffixes = supported_suffixes()
    return any(path.suffix.lower() in suffixes if path.is_file() else
               path.is_dir() and path.name.lower() in IMAGE_FOLDERS + LABEL_FOLDERS
               for path in folder.iterdir() if not path.name.startswith("."))
