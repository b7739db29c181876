"""CLI command ``temseg analyze compare``: simulated images beside a stack, in e/px."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from temseg.cli import _common


def compare_command(
    simulated: Path = typer.Argument(..., help="Simulated dataset (zarr from `temseg simulate`)."),
    stack: Path = typer.Argument(..., help="Image or stack in counts (TIFF, DM3/4, EMD, MRC...)."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Output folder (compare.png, compare.json, record.json)."),
    vacuum: Optional[str] = typer.Option(
        None, "--vacuum", help="The stack's vacuum region Y0:Y1,X0:X1 in pixels: measured "
                               "there, and the simulated images in their least-structured "
                               "window of that size (default: the whole field shown)."),
    counts_per_electron: float = typer.Option(1.0, "--counts-per-electron",
                                              help="The stack's gain in counts per electron."),
    n: int = typer.Option(6, "--n", help="Images per row (1 to 12)."),
    sampling: Optional[float] = typer.Option(None, "--sampling",
                                             help="The stack's pixel size in Å/px."),
    pixel_size_nm: Optional[float] = typer.Option(None, "--pixel-size-nm",
                                                  help="The stack's pixel size in nm/px."),
) -> None:
    """Show simulated training images beside frames of your stack, in electrons per pixel.

    A row of simulated images (those whose dose lies nearest the stack's) above a row
    of frames evenly spaced through the stack, cropped to the same field of view
    (the finer pixel resampled to the coarser, said when done), each row on one
    colour scale in e/px (the stack's counts over --counts-per-electron); below, the
    radially averaged power spectra (1/nm) and the per-pixel mean, std and
    high-frequency noise of each: of the stack's --vacuum region and the simulated
    images' least-structured window, or of the whole field shown. Gain, dose, blur
    (MTF) and noise differences show there; intensity scales or noise levels more
    than 2× apart are warned.

    Writes OUT/compare.png, OUT/compare.json (the numbers and spectra) and
    OUT/record.json.
    """
    from temseg.analyze.compare import compare_files
    from temseg.analyze.compare_plot import write_comparison
    from temseg.record import write_record

    _common.check_output(out)
    given = _common.sampling_from_options(sampling, pixel_size_nm)
    result = compare_files(simulated, stack, n=n, vacuum=vacuum,
                           counts_per_electron=counts_per_electron, sampling=given)
    json_path, png_path = write_comparison(out, result)
    write_record(out, config={"n": n, "vacuum": vacuum,
                              "counts_per_electron": counts_per_electron,
                              "sampling": result.stack_sampling},
                 input={"simulated": str(simulated), "stack": str(stack)})
    for note in result.notes[1:]:  # the first (which images) is in the JSON and the figure
        _common.err.print(f"note: {note}", highlight=False)
    for message in result.warnings():
        _common.warn(message)
    _common.out.print(result.summary(), highlight=False)
    _common.out.print(f"wrote {png_path} and {json_path}", highlight=False)


def register(app: typer.Typer | None = None) -> None:
    """Add ``compare`` to the ``temseg analyze`` group (once, however often called).

    ``app`` is the root application; the group itself is added to it by
    :func:`temseg.cli.analyze.register`.
    """
    from temseg.cli.analyze import analyze_app

    if not any(c.name == "compare" for c in analyze_app.registered_commands):
        analyze_app.command("compare")(compare_command)
