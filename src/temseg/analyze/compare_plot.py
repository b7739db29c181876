"""The figure and files of a comparison of simulated images with a stack
(:mod:`temseg.analyze.compare`): :func:`plot_comparison` draws the two rows of images and the
spectra, :func:`write_comparison` writes it with the numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from temseg.analyze.compare import NOISE_BAND, Comparison
from temseg.analyze.dose import plain_dose as short_number


def plot_comparison(comparison: Comparison, path: str | Path) -> Path:
    """``path``: the two rows of images (one colour scale per row, in e/px, a scale bar,
    the measured region dashed) above the spectra and a table of the numbers."""
    import textwrap

    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    from temseg.analyze.particles import plot_scale_bar
    from temseg.io.files import write_figure

    c = comparison
    rows = (("simulated", c.simulated, "tab:blue"), ("stack", c.stack, "tab:red"))
    k = max(len(c.simulated.images), len(c.stack.images))
    fig = Figure(figsize=(max(1.8 * k + 1.2, 11.0), 9.5), layout="constrained")
    outer = fig.add_gridspec(2, 1, height_ratios=[2.0, 1.45])
    top = outer[0].subgridspec(2, k + 1, width_ratios=[1.0] * k + [0.06])
    for r, (name, row, colour) in enumerate(rows):
        pooled = np.concatenate([a.ravel() for a in row.images])
        vmin, vmax = np.percentile(pooled, [0.5, 99.5])
        shown = None
        for j in range(k):
            ax = fig.add_subplot(top[r, j])
            ax.set(xticks=[], yticks=[])
            if j >= len(row.images):
                ax.set_frame_on(False)
                continue
            image = row.images[j]
            shown = ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax)
            ax.set_title(row.titles[j] if j < len(row.titles) else "", fontsize=8)
            plot_scale_bar(ax, image.shape, c.sampling)
            if row.boxes[j] is not None:
                y0, x0, h, w = row.boxes[j]
                ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), w, h, fill=False, ec=colour,
                                       ls="--", lw=1.2))
            if j == 0:
                source = Path(c.sources.get(name, "")).name
                ax.set_ylabel(f"{name}\n{source}", fontsize=9, color=colour)
        bar = fig.colorbar(shown, cax=fig.add_subplot(top[r, k]))
        bar.set_label("e/px", fontsize=8)
        bar.ax.tick_params(labelsize=7)

    bottom = outer[1].subgridspec(1, 2, width_ratios=[1.45, 1.0])
    ax = fig.add_subplot(bottom[0])
    nyquist = 5.0 / c.sampling
    ax.axvspan(NOISE_BAND[0] * nyquist, NOISE_BAND[1] * nyquist, color="0.92", lw=0)
    for name, row, colour in rows:
        ax.plot(row.q_per_nm, row.psd, color=colour,
                label=f"{name}: {row.region}, mean of {len(row.images)}")
        ax.axhline(row.numbers()["mean_e_per_px"], color=colour, ls=":", lw=1)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.4", ls=":", label="shot noise at MTF 1 (= mean)"),
                Rectangle((0, 0), 1, 1, color="0.92", label="band of the noise column")]
    ax.legend(handles=handles, fontsize=7.5, loc="lower left")
    ax.set(yscale="log", xlabel="spatial frequency (1/nm)", xlim=(0, nyquist * 1.02),
           ylabel="PSD ((e/px)², per-pixel variance)", title="radially averaged power spectra")
    ax.title.set_fontsize(10)

    ax = fig.add_subplot(bottom[1])
    ax.axis("off")
    numbers = [c.simulated.numbers(), c.stack.numbers(), c.ratios()]
    keys = ("mean_e_per_px", "std_e_per_px", "noise_e_per_px", "noise2_over_mean")
    table = ax.table(cellText=[[short_number(row[key]) for key in keys] for row in numbers],
                     rowLabels=["simulated", "stack", "sim / stack"],
                     colLabels=["mean (e/px)", "std (e/px)", "noise (e/px)", "noise²/mean"],
                     bbox=[0.22, 0.64, 0.78, 0.36])
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    lines = [f"per pixel, mean over the images, in each row's region (spectra legend); "
             f"counts / {c.counts_per_electron:g} counts/e"] + c.notes
    text = "\n".join(textwrap.fill(s, 62, subsequent_indent="  ") for s in lines)
    notes = ax.text(0.0, 0.58, text, fontsize=7.5, va="top", transform=ax.transAxes)
    warn = "\n".join(textwrap.fill("warning: " + s, 62, subsequent_indent="  ")
                     for s in c.warnings())
    if warn:  # right below the notes, however many lines they take
        ax.annotate(warn, xy=(0, 0), xycoords=notes, xytext=(0, -6), textcoords="offset points",
                    fontsize=7.5, va="top", color="tab:red")
    names = " vs ".join(Path(c.sources[key]).name for key in ("simulated", "stack")
                        if key in c.sources)
    fig.suptitle(f"{names + ': ' if names else ''}{c.fov_A[0] / 10:.3g} × {c.fov_A[1] / 10:.3g}"
                 f" nm at {c.sampling:.4g} Å/px, in electrons per pixel", fontsize=11)
    return write_figure(fig, path, dpi=110)


def write_comparison(folder: str | Path, comparison: Comparison) -> tuple[Path, Path]:
    """Write ``folder/compare.json`` (:meth:`Comparison.to_dict`) and ``folder/compare.png``."""
    from temseg.io.files import write_json

    folder = Path(folder)
    json_path = write_json(folder / "compare.json", comparison.to_dict())
    return json_path, plot_comparison(comparison, folder / "compare.png")
