"""CLI commands: ``temseg fit-noise`` (the detector noise model from vacuum) and the
``temseg analyze`` group (``analyze dose-curve``: segmented area against dose, 002).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from temseg.cli import _common

#: the ``temseg analyze`` command group (dose-curve etc. register here)
analyze_app = typer.Typer(name="analyze", help="Analyse images and results.",
                          no_args_is_help=True)

#: commands taking ``--dose`` collect stray arguments, to say how to give several doses
_EXTRA_ARGS = {"allow_extra_args": True}
_DOSE_HELP = ("Frame dose in e/Å²: repeat per frame (--dose 20 --dose 50) or give a "
              "comma-separated list (--dose 20,50,100)")


def _doses(dose: list[str] | None, extra: list[str], *, argument: str, files: bool = False):
    """The doses of ``--dose`` (repeated or comma-separated), or None; a stray argument
    (``--dose 20 50 100``) is a usage error saying how to give several doses (or, not a
    number, that ``argument`` takes one input)."""
    from temseg.analyze.dose_run import parse_doses
    from temseg.errors import InputError

    if extra:
        try:
            parse_doses(extra)
            where = "--dose"
        except InputError:
            where = "--dose" if dose else argument
        how = ("repeat --dose per frame (--dose 20 --dose 50), give a comma-separated list "
               "(--dose 20,50,100)" + (" or --doses FILE" if files else "")
               if where == "--dose" else "give one input")
        raise typer.BadParameter(f"unexpected extra argument(s) {' '.join(extra)}: {how}",
                                 param_hint=where)
    return parse_doses(dose, name="--dose").tolist() if dose else None


def fit_noise_command(
    ctx: typer.Context,
    stack: Path = typer.Argument(..., help="Image or stack (TIFF, DM3/4, EMD, SER, MRC...)."),
    vacuum: str = typer.Option(..., "--vacuum", help="Vacuum region Y0:Y1,X0:X1 in pixels."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Output folder (detector.json, detector.png)."),
    sampling: Optional[float] = typer.Option(None, "--sampling", help="Pixel size in Å/px."),
    pixel_size_nm: Optional[float] = typer.Option(None, "--pixel-size-nm",
                                                  help="Pixel size in nm/px."),
    dose: Optional[list[str]] = typer.Option(
        None, "--dose", help=f"{_DOSE_HELP}; one value is the dose of every frame; default: "
                             "from the counts.", metavar="<float[,float...]>"),
    counts_per_electron: float = typer.Option(1.0, "--counts-per-electron",
                                              help="Detector gain in counts per electron, to turn "
                                                   "counts into doses (e/Å²)."),
    form: str = typer.Option("quadrature", "--form",
                             help="Noise model form (eq. A.1): quadrature or linear."),
    r2_min: float = typer.Option(0.9, "--r2-min", help="Reject frame fits with a lower R²."),
    force: bool = typer.Option(False, "--force",
                               help="Keep every frame, whatever its fit, and write the fit even "
                                    "with doses 100× off the counts (e/nm² for e/Å²); "
                                    "detector.json lists the warnings it was written with."),
    overwrite: bool = typer.Option(False, "--overwrite",
                                   help="Replace the detector.json of an earlier fit in OUT."),
) -> None:
    """Fit the detector noise model (Leth Larsen et al., eq. A.1 and eq. 2) from a vacuum region.

    Writes OUT/detector.json (give it to `simulate` as the detector model),
    OUT/detector.png (the fits) and OUT/record.json. Frames whose fit sits at a
    bound of the optimiser are rejected (specimen in the region?). The gain
    measured from the shot noise is printed; one that disagrees with
    --counts-per-electron by more than 1.4× (from 6 frames of 64² px; more over
    fewer pixels), or doses that disagree with the counts by more than 2×, are
    warned; doses 100× above the counts (e/nm² typed for e/Å²) are an error,
    nothing written, unless --force. detector.json lists the warnings.
    """
    from temseg.errors import ConfigError

    dose = _doses(dose, ctx.args, argument="STACK")
    _common.check_output(out)
    if (out / "detector.json").exists() and not overwrite:  # as `simulate` refuses a dataset
        raise ConfigError(f"{out / 'detector.json'}: already exists (use --overwrite to "
                          "replace it)")
    from temseg.analyze.dose import plain_dose
    from temseg.analyze.noise import check_roi_inside, fit_noise, parse_roi
    from temseg.analyze.noise_plot import write_noise_fit
    from temseg.io import read_image
    from temseg.record import write_record

    roi = parse_roi(vacuum)
    given = _common.sampling_from_options(sampling, pixel_size_nm)
    micrograph = read_image(stack, sampling=given)
    if micrograph.sampling is None:
        raise ConfigError(f"{stack}: no pixel size in the file; give --sampling or --pixel-size-nm")
    if dose and len(dose) not in (1, micrograph.n_frames):
        raise ConfigError(f"--dose: {len(dose)} doses for {micrograph.n_frames} frames "
                          "(give one per frame, or one for every frame)")
    check_roi_inside(roi, micrograph.frame_shape)  # (before the progress bar starts)
    frames = _common.track(micrograph.frames(), "fitting noise", total=micrograph.n_frames)
    fit = fit_noise(frames, vacuum_roi=roi, sampling=micrograph.sampling, doses=dose or None,
                    counts_per_electron=counts_per_electron, form=form,  # type: ignore[arg-type]
                    r2_min=r2_min, force=force)
    said = []  # (the library's lines were warned as they came)
    if fit.blank_frames:
        from temseg.errors import format_frames

        said.append(f"{len(fit.blank_frames)} blank (constant) frame(s) left out "
                    f"(frame {format_frames(fit.blank_frames)}; 0-based)")
    said += [fit.rejection_summary()] if fit.rejection_summary() else []
    for line in said:
        _common.warn(line)
    fit.warnings += said  # detector.json lists every line it was written with
    json_path, png_path = write_noise_fit(out, fit)
    write_record(out, config=fit.to_dict()["fit"], input=str(stack))
    n_ok = sum(f.accepted for f in fit.frames)
    det, check = fit.detector, fit.check
    gain = (f"gain {check['noise_gain']:.3g} counts/e from the shot noise "
            f"(given {check['counts_per_electron']:g})" if check["noise_gain"] is not None
            else f"gain not measurable (given {check['counts_per_electron']:g})")
    low, high = (plain_dose(d) for d in det.dose)
    doses = (f"dose {low} e/Å² given for every frame" if dose and len(dose) == 1 else
             f"dose {low} e/Å²" if low == high else f"dose {low}–{high} e/Å²")
    _common.out.print(
        f"N0 = {fit.N0:.4g} e/px, c0 = {fit.c0:.3f} [{det.c0[0]:.3f}, {det.c0[1]:.3f}], "
        f"c3 = {fit.c3:.2f} [{det.c3[0]:.2f}, {det.c3[1]:.2f}], {gain}"
        + (" (unreliable: specimen?)" if check["specimen"] else "")
        + f", {doses}, {n_ok}/{len(fit.frames)} frames", highlight=False)
    _common.out.print(f"wrote {json_path} and {png_path}", highlight=False)


def dose_curve_command(
    ctx: typer.Context,
    series: Path = typer.Argument(..., help="A stack (TIFF, DM3/4, EMD, MRC...) or a simulated "
                                            "dose series (zarr from `temseg simulate`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    model: Optional[Path] = typer.Option(None, "--model", "-m",
                                         help="Model file, run folder or shipped name (au_ceo2, "
                                              "graphene); default: the shipped au_ceo2."),
    doses: Optional[Path] = typer.Option(
        None, "--doses", help="File of per-frame doses in e/Å² (one per line, or a CSV "
                              "with a dose column; a column named in e/nm², e.g. "
                              "dose_e_per_nm2, is converted)."),
    dose: Optional[list[str]] = typer.Option(
        None, "--dose", help=f"{_DOSE_HELP}; instead of --doses.",
        metavar="<float[,float...]>"),
    sampling: Optional[float] = typer.Option(None, "--sampling", help="Pixel size in Å/px."),
    pixel_size_nm: Optional[float] = typer.Option(None, "--pixel-size-nm",
                                                  help="Pixel size in nm/px."),
    threshold: Optional[float] = typer.Option(
        None, help="Foreground probability threshold (default: the model's)."),
    reference_fraction: float = typer.Option(
        0.1, help="Fraction of frames, by highest dose, whose mean area is the full area: "
                  "round(fraction × frames), but at least 3 frames (so 0.1 of 10 frames is 3); "
                  "in (0, 0.5]."),
    tolerance: float = typer.Option(
        0.1, help="Half-width of the convergence band, relative to the full area (0.1: "
                  "every frame from the convergence dose on within ±10 %)."),
    smooth: int = typer.Option(5, help="Running-median window in frames (1 to the number "
                                        "of frames) for the 50 % dose; the convergence is "
                                        "tested on the frames' own areas."),
    tile: int = typer.Option(512, help="Tile size in pixels."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    threads: int | None = typer.Option(None, help=_common.THREADS_HELP),
    tta: bool = typer.Option(False, "--tta", help="Average over the 8 rotations and mirror "
                                                  "images (8x the time)."),
) -> None:
    """Segment every frame of a dose series and find the dose where the area holds.

    The full area is the mean area of the highest-dose frames (--reference-fraction,
    at least 3; frames tied at the lowest of their doses join them). The area has
    converged from the lowest dose from which every frame up to the highest dose
    lies within ±--tolerance (default 10 %) of the full area; the reference frames
    must lie inside too but cannot by themselves count: at least the frame next
    below them must, otherwise "not converged within the series".

    Doses: --dose or --doses for a stack (doses in its metadata are not read);
    a simulated zarr series brings its own (parameters/dose). At least 3 distinct
    doses: a movie at a constant dose rate is not a dose series. Frames that look
    like a mask (0 and one other value), or raw counts whose mean per pixel area
    is over 10× off the doses given (at 1 count per electron), are warned about.

    Writes OUT/areas.csv (dose in e/Å² and segmented area per frame, the reference
    frames marked; F1 against the labels of a simulated series),
    OUT/dose_curve.json (dose at 50 % of the full area, dose of convergence,
    reference frames, band and this rule),
    OUT/dose_curve.png and OUT/record.json; prints the two doses beside Leth
    Larsen et al.'s. Doses may come in any order. Blank (constant) frames, e.g.
    with the beam blanked, are left out of the curve (empty area in areas.csv)
    with a warning.
    """
    dose = _doses(dose, ctx.args, argument="SERIES", files=True)
    _common.check_output(out)
    from temseg.analyze.dose import check_tolerance, plain_dose
    from temseg.analyze.dose_run import (PAPER_002, check_series, read_series, run_dose_curve,
                                         series_warnings)
    from temseg.errors import ConfigError, format_frames
    from temseg.infer import load_segmenter
    from temseg.models.default import default_model_path
    from temseg.record import write_record

    if doses is not None and dose:
        raise ConfigError("give per-frame doses with --doses FILE or --dose, not both")
    _common.check_threshold(threshold)
    _common.set_threads(threads)
    if not 0.0 < reference_fraction <= 0.5:
        raise ConfigError(f"--reference-fraction: must be in (0, 0.5], got {reference_fraction}")
    check_tolerance(tolerance, name="--tolerance")
    if smooth < 1:
        raise ConfigError(f"--smooth: the running-median window must be at least 1 frame, "
                          f"got {smooth}")
    pixel = _common.sampling_from_options(sampling, pixel_size_nm)
    data = read_series(series, doses=doses if doses is not None else (dose or None),
                       sampling=pixel)
    check_series(data, smooth=smooth, smooth_name="--smooth",
                 reference_fraction=reference_fraction)
    for value, frames in data.repeated_doses().items():
        _common.warn(f"dose {plain_dose(value)} e/Å² given for {len(frames)} frames "
                     f"({format_frames(frames)}; 0-based); each is kept as a point of the curve")
    for message in series_warnings(data):
        _common.warn(message)
    model_path = model if model is not None else default_model_path()
    segmenter = load_segmenter(model_path, tile=tile, device=device, tta=tta, warn=_common.warn)
    with _common.progress() as bar:
        task = bar.add_task("segmenting frames", total=len(data))
        run = run_dose_curve(segmenter, data, out, threshold=threshold,
                             reference_fraction=reference_fraction, tolerance=tolerance,
                             smooth=smooth, title=series.name,
                             callback=lambda done, total: bar.update(task, completed=done))
    summary = run.summary()
    if run.blank_frames:
        _common.warn(f"{len(run.blank_frames)} blank (constant) frame(s) left out of the dose "
                     f"curve (frame {format_frames(run.blank_frames)}; 0-based): area empty "
                     "in areas.csv")
    if run.curve.reference_warning():
        _common.warn(run.curve.reference_warning())
    write_record(out, config={"model": str(model_path), "threshold": threshold,
                              "reference_fraction": reference_fraction,
                              "n_reference_frames": run.curve.n_reference,
                              "tolerance": tolerance, "smooth": smooth,
                              "sampling": data.sampling, "tile": tile, "tta": tta},
                 input=str(series), segmenter=segmenter.describe(), result=summary)
    lo, hi = PAPER_002["dose_half_e_per_A2"]
    blank = f" ({len(run.blank_frames)} blank left out)" if run.blank_frames else ""
    _common.out.print(f"{len(data)} frames{blank}, {plain_dose(run.curve.doses.min())}–"
                      f"{plain_dose(run.curve.doses.max())} e/Å²; full area "
                      f"{run.describe_full_area()}", highlight=False)
    _common.out.print(f"50 % of the full area at {run.curve.describe('half')} "
                      f"(Leth Larsen et al.: {plain_dose(lo)}–{plain_dose(hi)} e/Å²)",
                      highlight=False)
    band = f"±{100 * tolerance:g} % of the full area"
    converged = (f"area converged from {run.curve.describe('converged')}, every frame above "
                 f"within {band}" if run.curve.dose_converged is not None else
                 "area not converged within the series: no dose below the reference frames "
                 f"from which every frame stays within {band}")
    _common.out.print(f"{converged} (Leth Larsen et al.: "
                      f"{plain_dose(PAPER_002['dose_converged_e_per_A2'])} e/Å²)",
                      highlight=False)
    _common.out.print(f"wrote areas.csv, dose_curve.json, dose_curve.png and record.json to "
                      f"{out}", highlight=False)


analyze_app.command("dose-curve", context_settings=_EXTRA_ARGS)(dose_curve_command)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("fit-noise", context_settings=_EXTRA_ARGS)(fit_noise_command)
    if analyze_app.registered_commands or analyze_app.registered_groups:
        app.add_typer(analyze_app)
