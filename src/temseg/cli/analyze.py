"""CLI commands: analyze — ``temseg fit-noise`` (the detector noise model from vacuum).

A later ``temseg analyze ...`` group (e.g. ``analyze dose-curve``) goes on
``analyze_app`` below; it is added to the root app once it has commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from temseg.cli import _common

#: the ``temseg analyze`` command group (dose-curve etc. register here)
analyze_app = typer.Typer(name="analyze", help="Analyse images and results.",
                          no_args_is_help=True)


def fit_noise_command(
    stack: Path = typer.Argument(..., help="Image or stack (TIFF, DM3/4, EMD, SER, MRC...)."),
    vacuum: str = typer.Option(..., "--vacuum", help="Vacuum region Y0:Y1,X0:X1 in pixels."),
    out: Path = typer.Option(..., "--out", help="Output folder (detector.json, detector.png)."),
    sampling: Optional[float] = typer.Option(None, "--sampling", help="Pixel size in Å/px."),
    pixel_size_nm: Optional[float] = typer.Option(None, "--pixel-size-nm",
                                                  help="Pixel size in nm/px."),
    dose: Optional[list[float]] = typer.Option(
        None, "--dose", help="Frame dose in e/Å², once per frame (default: from the counts)."),
    counts_per_electron: float = typer.Option(1.0, "--counts-per-electron",
                                              help="Detector gain for doses from counts."),
    form: str = typer.Option("quadrature", "--form", help="Eq. A.1 form: quadrature | linear."),
    r2_min: float = typer.Option(0.9, "--r2-min", help="Reject frame fits with a lower R²."),
    force: bool = typer.Option(False, "--force", help="Keep every frame, whatever its fit."),
) -> None:
    """Fit the detector noise model (002 eq. A.1 and eq. 2) from a vacuum region.

    Writes OUT/detector.json (give it to `simulate` as the detector model),
    OUT/detector.png (the fits) and OUT/record.json.
    """
    from temseg.analyze.noise import fit_noise, parse_roi, write_noise_fit
    from temseg.errors import ConfigError
    from temseg.io import read_image
    from temseg.record import write_record

    roi = parse_roi(vacuum)
    given = _common.sampling_from_options(sampling, pixel_size_nm)
    micrograph = read_image(stack, sampling=given)
    if micrograph.sampling is None:
        raise ConfigError(f"{stack}: no pixel size in the file; give --sampling or --pixel-size-nm")
    frames = _common.track(micrograph.frames(), "fitting noise", total=micrograph.n_frames)
    fit = fit_noise(frames, vacuum_roi=roi, sampling=micrograph.sampling, doses=dose or None,
                    counts_per_electron=counts_per_electron, form=form,  # type: ignore[arg-type]
                    r2_min=r2_min, force=force)
    json_path, png_path = write_noise_fit(out, fit)
    write_record(out, config=fit.to_dict()["fit"], input=str(stack))
    n_ok = sum(f.accepted for f in fit.frames)
    if n_ok < len(fit.frames):
        _common.warn(f"{len(fit.frames) - n_ok} of {len(fit.frames)} frames rejected "
                     f"(R² < {r2_min} or spectral peaks)")
    det = fit.detector
    _common.out.print(
        f"N0 = {fit.N0:.4g} e/px, c0 = {fit.c0:.3f} [{det.c0[0]:.3f}, {det.c0[1]:.3f}], "
        f"c3 = {fit.c3:.2f} [{det.c3[0]:.2f}, {det.c3[1]:.2f}], "
        f"dose {det.dose[0]:.3g}–{det.dose[1]:.3g} e/Å², {n_ok}/{len(fit.frames)} frames")
    _common.out.print(f"wrote {json_path} and {png_path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("fit-noise")(fit_noise_command)
    if analyze_app.registered_commands or analyze_app.registered_groups:
        app.add_typer(analyze_app)
