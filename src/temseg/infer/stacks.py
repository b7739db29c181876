"""Segmenting micrographs and stacks of any length into files, frame by frame.

:func:`segment_micrograph` writes, for one input, the probability map
(float32 TIFF with the pixel size), the mask (PNG for an image, TIFF stack
for a stack) and an overlay PNG (the first frame of a stack that is not
blank), through :func:`temseg.infer.series.segment_series`. A stack is
never held in memory: each frame is read, predicted and written into
memory-mapped TIFFs before the next is read. A blank frame (constant, e.g.
the beam blanked) does not stop a long series: its probability is NaN, its
mask empty, and it is listed in the result. Every file is written
atomically, so an error or Ctrl-C leaves no half-written file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from temseg.io.files import natural_key, signs_matter

Callback = Callable[[int, int], None]


@dataclasses.dataclass
class SegmentResult:
    """What :func:`segment_micrograph` wrote for one input.

    Attributes
    ----------
    input : Path or None
    outputs : dict of str → Path
        ``probability``, ``mask``, ``overlay``.
    shape : tuple
        ``(H, W)`` or ``(F, H, W)`` in pixels.
    sampling : float or None
        Å per pixel of the input (and of the outputs).
    foreground_fraction : float
        Fraction of all pixels at or above the threshold.
    frame_fractions : list of float or None
        Per frame, for stacks (``None`` for a blank frame).
    blank_frames : list of int
        Indices of the frames of a stack that were constant and not segmented.
    frames_per_series : int
        C for a focal-series model (:mod:`temseg.infer.series`): then
        ``frame_fractions`` and ``blank_frames`` count series, not frames.
    class_fractions : dict of str → float, or None
        Each class's share of the segmented pixels, for models of ≥ 3 classes.
    overlay_frame : int or None
        For a stack: the frame (or series) the overlay shows, the first that is
        not blank.
    """

    input: Path | None
    outputs: dict
    shape: tuple
    sampling: float | None
    foreground_fraction: float
    frame_fractions: list | None = None
    blank_frames: list = dataclasses.field(default_factory=list)
    frames_per_series: int = 1
    class_fractions: dict | None = None
    overlay_frame: int | None = None

    def to_dict(self) -> dict:
        out = {"input": None if self.input is None else str(self.input),
               "outputs": {k: str(v) for k, v in self.outputs.items()},
               "shape": list(self.shape), "sampling": self.sampling,
               "foreground_fraction": self.foreground_fraction}
        if self.frames_per_series > 1:  # focal series: the per-item lists count series
            out.update(frames_per_series=self.frames_per_series,
                       series_fractions=self.frame_fractions, blank_series=self.blank_frames)
        else:
            out.update(frame_fractions=self.frame_fractions, blank_frames=self.blank_frames)
        if self.class_fractions is not None:
            out["class_fractions"] = self.class_fractions
        if self.overlay_frame is not None:
            out["overlay_series" if self.frames_per_series > 1 else "overlay_frame"] = \
                self.overlay_frame
        return out


def output_paths(out_dir: str | Path, name: str, *, stack: bool) -> dict[str, Path]:
    """Where :func:`segment_micrograph` writes the files of input ``name``."""
    out_dir = Path(out_dir)
    return {"probability": out_dir / f"{name}_prob.tif",
            "mask": out_dir / f"{name}_mask{'.tif' if stack else '.png'}",
            "overlay": out_dir / f"{name}_overlay.png"}


def _imagej_options(sampling: float | None, frame_interval_s: float | None = None) -> dict:
    """The ImageJ pixel size in nm, as :func:`temseg.io.write_tiff` stores it, and the
    seconds between frames (``finterval``) where known: Fiji keeps both calibrations."""
    timing = {"finterval": frame_interval_s, "tunit": "s"} if frame_interval_s else {}
    if sampling is None:
        return {"metadata": {"axes": "TYX", **timing}}
    per_nm = 10.0 / sampling
    return {"metadata": {"axes": "TYX", "unit": "nm", **timing}, "resolution": (per_nm, per_nm)}


def segment_micrograph(segmenter, micrograph, out_dir: str | Path, *, name: str | None = None,
                       threshold: float | None = None, sampling: float | None = None,
                       on_frame: Callback | None = None,
                       on_tile: Callback | None = None,
                       on_mask: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
                       series_order: list[int] | None = None) -> SegmentResult:
    """Segment one image or stack and write its probability map, mask and overlay.

    The work is :func:`temseg.infer.series.segment_series`'s, which also
    reads the focal series of a network of C > 1 input channels and writes
    the class outputs of one of ≥ 3 classes; this page describes the binary
    single-channel outputs. A stack's overlay shows its first frame that is
    not blank.

    Parameters
    ----------
    segmenter : temseg.infer.Segmenter
    micrograph : temseg.io.Micrograph
        A single image or a lazy stack (read with :func:`temseg.io.read_image`).
    out_dir : path
        Output folder (created).
    name : str, optional
        Stem of the output files; default the input file's stem.
    threshold : float, optional
        Foreground probability threshold; default ``segmenter.threshold``.
    sampling : float, optional
        Å per pixel; default the micrograph's.
    on_frame, on_tile : callable(done, total), optional
        Progress over frames and over the tiles of the current frame.
    on_mask : callable(index, mask, image), optional
        Called with each frame's index (0 for a single image), its mask (boolean;
        class indices, uint8, for a model of ≥ 3 classes) and the frame itself,
        e.g. to measure particles while a stack streams by. For a focal-series
        model the index counts series and the image is the middle channel.
    series_order : list of int, optional
        For a focal-series model: frame k of every series is the model's channel
        ``series_order[k]`` (:func:`temseg.infer.series.check_series_order`).

    Returns
    -------
    SegmentResult
    """
    from temseg.infer.series import segment_series

    return segment_series(segmenter, micrograph, out_dir, name=name, threshold=threshold,
                          sampling=sampling, on_frame=on_frame, on_tile=on_tile,
                          on_mask=on_mask, order=series_order)


#: stem endings of the files :func:`output_paths` writes (and the column counts of
#: :mod:`temseg.infer.series` inputs)
OUTPUT_ENDINGS = ("_prob", "_mask", "_overlay", "_particles", "_fourier", "_counts", "_tracks",
                  "_particle_events")


def _is_label(path: Path, stems: set[str]) -> bool:
    """Whether ``path`` is the label image of a micrograph beside it: its stem is another
    file's stem (``stems``, lower case) plus a label suffix in common use
    (:data:`temseg.io.labelled.COMMON_LABEL_SUFFIXES`: ``img001_mask.png`` beside
    ``img001.tif``), compared without case."""
    from temseg.io.labelled import COMMON_LABEL_SUFFIXES

    stem = path.stem.lower()
    return any(stem.endswith(end.lower()) and stem[: -len(end)] in stems
               for end in COMMON_LABEL_SUFFIXES)


def is_output(path: Path, stems: set[str]) -> bool:
    """Whether ``path`` is a segment output of an image whose stem is in ``stems``, or the
    plot of ``--series-files``' series followed together (``series_counts.png`` beside its
    ``series_counts.csv``)."""
    import re

    if re.fullmatch(r"series(_all)*_counts", path.stem) and path.with_suffix(".csv").is_file():
        return True
    return any(path.stem.endswith(end) and path.stem[: -len(end)] in stems
               for end in OUTPUT_ENDINGS)


def collect_inputs(paths: Iterable[str | Path], *, skip_suffix: str = "_LABEL",
                   unique: bool = True, signed: bool = False) -> list[Path]:
    """Image files from files and folders (the readable images directly inside a folder).

    Parameters
    ----------
    paths : iterable of path
        Files are taken as given; a folder contributes its files with a suffix
        :func:`temseg.io.supported_suffixes` knows, in :func:`natural_key` order
        (``frame2`` before ``frame10``; signs read with ``signed``), leaving out
        hidden files, label images (stem ending in ``skip_suffix``, or in a label suffix in
        common use beside the image it labels: ``img001_mask.png`` beside
        ``img001.tif``) and the
        outputs of an earlier ``temseg segment`` into the same folder
        (``NAME_prob``, ``NAME_mask``, ``NAME_overlay``, ``NAME_particles``,
        ``NAME_fourier``, ``NAME_counts`` beside an image ``NAME``).
    skip_suffix : str
        Stem ending of the label images a folder's files leave out.
    unique : bool
        Drop a file met again (given twice, or inside a folder also given);
        False keeps every occurrence (to refuse repeats where they matter).
    signed : bool
        Order a folder's files with the signs of their numbers read
        (``natural_key(..., signed=True)``: ``df-50``, ``df0``, ``df50``), as the
        files of a defocus series are named, where the names need it
        (:func:`temseg.io.files.signs_matter`: ``frame-1``, ``frame-2`` keep the ``-`` as a
        separator); files given are kept as given.

    Returns
    -------
    list of Path, in the order given; without duplicates when ``unique``

    Raises
    ------
    InputError
        A path that does not exist, or a folder without any image.
    """
    from temseg.errors import InputError
    from temseg.io import supported_suffixes

    known = set(supported_suffixes())
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = [p for p in path.iterdir()
                      if p.is_file() and p.suffix.lower() in known
                      and not p.name.startswith(".")
                      and not (skip_suffix and p.stem.endswith(skip_suffix))]
            read_signs = signed and signs_matter(p.name for p in inside)
            inside.sort(key=lambda p: natural_key(p, signed=read_signs))
            stems = {p.stem for p in inside}
            lower = {stem.lower() for stem in stems}
            inside = [p for p in inside if not is_output(p, stems) and not _is_label(p, lower)]
            if not inside:
                from temseg.infer.evaluation import is_zarr_dataset

                if is_zarr_dataset(path):  # e.g. a simulated focal-series test set
                    raise InputError(f"{path}: a zarr dataset, not images: score it against "
                                     "its labels with `temseg evaluate MODEL "
                                     f"{path.name} -o DIR`; segment reads image files")
                raise InputError(f"{path}: folder holds no image files "
                                 f"({', '.join(sorted(known))})")
            found.extend(inside)
        elif path.exists():
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    if not unique:
        return found
    first: dict[Path, Path] = {}
    for path in found:
        first.setdefault(path.resolve(), path)
    return list(first.values())


def output_names(inputs: list[Path]) -> list[str]:
    """A distinct output stem per input: the file stem, numbered where stems repeat."""
    names, used = [], set()
    for path in inputs:
        name, n = path.stem, 1
        while name in used:
            n += 1
            name = f"{path.stem}_{n}"
        used.add(name)
        names.append(name)
    return names
