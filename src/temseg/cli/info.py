"""CLI command ``temseg info FILE``: shape, dtype, sampling, value range and metadata of a file."""

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


def info(
    file: Path = typer.Argument(..., help="Micrograph or stack: PNG, JPEG, TIFF, DM3/DM4, "
                                           "EMD, SER or MRC."),
    sampling: float = typer.Option(None, "--sampling", help="Pixel size in Å/px (overrides "
                                                            "the file)."),
    pixel_size_nm: float = typer.Option(None, "--pixel-size-nm", help="Pixel size in nm/px "
                                                                      "(overrides the file)."),
) -> None:
    """Print shape, dtype, pixel size, field of view, value range and metadata of FILE."""
    from temseg.io import read_image

    micrograph = read_image(file, sampling=_common.sampling_from_options(sampling, pixel_size_nm),
                            allow_nonfinite=True)
    meta = dict(micrograph.metadata)
    height, width = micrograph.frame_shape

    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("path", escape(str(micrograph.path)))
    summary.add_row("format", str(meta.pop("format", "?")))
    summary.add_row("shape", " × ".join(str(s) for s in micrograph.data.shape))
    summary.add_row("dtype", f"{meta.pop('dtype', micrograph.data.dtype)} (read as float32)")
    summary.add_row("kind", f"stack of {micrograph.n_frames} frames" if micrograph.is_stack
                    else "single image")
    summary.add_row("sampling", _sampling_text(micrograph.sampling))
    if micrograph.sampling is not None:
        source = meta.pop("sampling_source", None)
        if source:
            summary.add_row("sampling from", escape(str(source)))
        fov = (width * micrograph.sampling / 10, height * micrograph.sampling / 10)
        summary.add_row("field of view", f"{fov[0]:.4g} × {fov[1]:.4g} nm (W × H)")

    if micrograph.is_stack:
        with _common.progress() as bar:
            task = bar.add_task("value range", total=micrograph.n_frames)
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
