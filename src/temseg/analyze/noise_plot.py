"""The figure and files of a detector noise fit (:func:`temseg.analyze.noise.fit_noise`):
:func:`plot_noise_fit` draws the fits as Leth Larsen et al. do (002 fig. 5–6),
:func:`write_noise_fit` writes ``detector.json`` (for ``simulate --noise-model``) and the PNG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from temseg.analyze.noise import NoiseFit, spectrum_model


def _dose_axis(ax, values: np.ndarray, label: str) -> None:
    """Log x axis over doses spanning 3× or more; else linear with plain ticks (no offset)."""
    lo, hi = float(values.min()), float(values.max())
    if hi >= 3 * lo:
        ax.set(xscale="log", xlabel=label)
        return
    pad = max(0.1 * (hi - lo), 0.02 * hi)  # one dose: ±2 %, not matplotlib's ±1e-x sliver
    ax.set(xlim=(lo - pad, hi + pad), xlabel=label)
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)


def plot_noise_fit(fit: NoiseFit, path: str | Path) -> Path:
    """A PNG of the fits, as 002 fig. 5–6 and SOI fig. 6–7 (atomic write).

    Panels: spectrum and fit of the first and last frame; their noise amplitude
    normalised by ``c1`` with the fit, the fitted MTF ``1/(1 + (q̃/c0)^c3)`` and the
    readout floor ``C``; ``c0``, ``c3`` and ``C`` against dose; ``C`` against N_D
    with eq. 2. Dose axes are logarithmic where the doses span 3× or more. The
    title gives the gain, given and measured from the shot noise. Accepted frames
    are filled, rejected ones hollow.
    """
    from matplotlib.figure import Figure

    from temseg.io.files import write_figure

    model = spectrum_model(fit.form)  # type: ignore[arg-type]
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    axes = fig.subplots(2, 3)
    ends = [fit.frames[0]] + ([fit.frames[-1]] if len(fit.frames) > 1 else [])
    for f, colour in zip(ends, ("tab:blue", "tab:red")):
        qq = np.linspace(0, max(1.0, float(f.q_norm.max())), 200)
        label = (f"frame {f.index}, {f.dose:,.4g} e/Å², R²={f.r2:.3f}"
                 + ("" if f.accepted else " (rejected)"))
        axes[0, 0].plot(f.q_norm, f.amplitude, "." if f.accepted else "o", color=colour,
                        ms=3, label=label, **({} if f.accepted else {"mfc": "none"}))
        axes[0, 0].plot(qq, model(qq, f.c0, f.c1, f.C, f.c3), "-", color=colour, lw=1)
        axes[0, 1].plot(f.q_norm, f.amplitude / f.c1, ".", color=colour, ms=3)
        axes[0, 1].plot(qq, model(qq, f.c0, 1.0, f.C, f.c3), "-", color=colour, lw=1,
                        label=f"fit: C={f.C:.3f} (readout floor)")
        axes[0, 1].plot(qq, 1.0 / (1.0 + (qq / f.c0) ** f.c3), "--", color=colour, lw=1.5,
                        label=f"MTF: c0={f.c0:.3f}, c3={f.c3:.2f}")
    axes[0, 0].set(xlabel="q / q_Nyquist", ylabel="√PSD (counts)", yscale="log",
                   title=f"noise spectrum, eq. A.1 ({fit.form})")
    axes[0, 1].set(xlabel="q / q_Nyquist", ylabel="√PSD / c1", ylim=(0, None),
                   title="noise amplitude / c1; fitted MTF (dashed)")
    for ax in axes[0]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    doses = np.array([f.dose for f in fit.frames])
    ok = np.array([f.accepted for f in fit.frames])
    for ax, key in zip((axes[0, 2], axes[1, 0], axes[1, 1]), ("c0", "c3", "C")):
        values = np.array([getattr(f, key) for f in fit.frames])
        ax.scatter(doses[ok], values[ok], s=14, color="tab:blue", label=f"R² ≥ {fit.r2_min}")
        if (~ok).any():
            ax.scatter(doses[~ok], values[~ok], s=14, facecolors="none", edgecolors="tab:gray",
                       label="rejected")
        if key in ("c0", "c3"):
            ax.axhline(getattr(fit, key), color="tab:orange", label="median of shape frames")
        _dose_axis(ax, doses, "frame dose (e/Å²)")
        ax.set(ylabel=key, title=f"{key} vs dose")
        ax.legend(fontsize=7)
    nd = np.array([f.dose_per_pixel for f in fit.frames])
    cs = np.array([f.C for f in fit.frames])
    ax = axes[1, 2]
    ax.scatter(nd[ok], cs[ok], s=14, color="tab:blue")
    if (~ok).any():
        ax.scatter(nd[~ok], cs[~ok], s=14, facecolors="none", edgecolors="tab:gray")
    _dose_axis(ax, nd, "N_D (e/px)")
    grid = np.linspace(*ax.get_xlim(), 200) if ax.get_xscale() == "linear" else np.geomspace(
        nd.min() / 2, nd.max() * 2, 200)
    r2 = (", one dose" if fit.readout_one_dose else
          "" if math.isnan(fit.N0_r2) else f", R²={fit.N0_r2:.2f}")
    ax.plot(grid, np.sqrt(fit.N0 / (fit.N0 + grid)), color="tab:orange",
            label=f"eq. 2, N0={fit.N0:.3g} e/px{r2}")
    ax.set(ylabel="C", title="readout fraction (eq. 2)")
    ax.legend(fontsize=7)
    gain = fit.check.get("noise_gain")
    fig.suptitle(f"gain (counts per electron): {fit.check.get('counts_per_electron', 1):g} given, "
                 + (f"{gain:.3g} measured from the shot noise" if gain else "none measured")
                 + " (unreliable: specimen in the region?)" * bool(fit.check.get("specimen")))
    return write_figure(fig, path, dpi=110)


def write_noise_fit(folder: str | Path, fit: NoiseFit, *, name: str = "detector"
                    ) -> tuple[Path, Path]:
    """Write ``folder/NAME.json`` (for ``DetectorConfig.from_json``) and ``folder/NAME.png``."""
    from temseg.io.files import write_json

    folder = Path(folder)
    json_path = write_json(folder / f"{name}.json", fit.to_dict())
    png_path = plot_noise_fit(fit, folder / f"{name}.png")
    return json_path, png_path
