"""MSD-net against the residual U-Net at low dose, on the same simulated data (issue 7, 002).

Leth Larsen et al. (002) favour MSD-net for low-dose segmentation. This
script trains each architecture with the default model's recipe
(``configs/default_model_train.yaml``: loss, schedule, patches, epochs) on
the *same* simulated training set that ``train_default_model.py`` makes
(Au on CeO2, MTF4, high dose range), then scores each on

* the held-out high-dose test set (pooled F1, Jaccard),
* a low-dose test set (same recipe, seed 1004, 10–1e3 e/Å², below most of
  the training range: 002's generalisation test), F1 per dose band,
* the one-particle dose series (50 % and converged doses, 002 fig. 4),

The recipe's own run is ``WORK/train`` (the default model's, reused when
there), the other architecture's ``WORK/train_ARCH``. It writes ``WORK/compare/comparison.json`` and ``comparison.png`` (F1 per
dose band and segmented area against dose, one line per architecture).

Stages whose outputs exist are reused, so an interrupted run continues.

Example (the figures in BENCHMARKS.md; MSD-net depth 50, width 1, 9×9
kernels, dilations 1–10 as 002's supplement)::

    python benchmarks/compare_low_dose.py --work runs/default_model --threads 1 --tta

Quick check (tiny images, one epoch)::

    python benchmarks/compare_low_dose.py --work /tmp/cmp_quick --quick
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_default_model as tdm  # noqa: E402  (the sets and scoring of the default model)

LOW_DOSE = (10.0, 1e3)
LOW_BANDS = ((10.0, 30.0), (30.0, 100.0), (100.0, 300.0), (300.0, 1e3))


def low_dose_config(args):
    """The test set's config at seed 1004 with doses 10–1e3 e/Å² (log-uniform)."""
    from dataclasses import replace

    test = tdm.sim_configs(args)["test"]
    return replace(test, seed=1004, detector=replace(test.detector, dose=LOW_DOSE))


def score_arch(arch: str, folder: Path, paths: dict, work: Path, tta: bool = False) -> dict:
    """Test scores, low-dose F1 per band and the dose curve of one trained model."""
    from temseg.analyze.dose import dose_curve
    from temseg.analyze.dose_run import read_series, run_dose_curve
    from temseg.infer import load_segmenter
    from temseg.models import count_parameters, load_model

    model, _ = load_model(folder / "model.json")
    segmenter = load_segmenter(folder / "model.json", tile=256, overlap=0.25, tta=tta)
    t0 = time.perf_counter()
    test = tdm.evaluate(segmenter, paths["test"])
    low = tdm.evaluate(segmenter, paths["low"], bands=LOW_BANDS)
    infer_s = (time.perf_counter() - t0) / (test["n_images"] + low["n_images"])
    name = f"{arch}+tta" if tta else arch
    run = run_dose_curve(segmenter, read_series(paths["dose"]), work / "compare" / name,
                         title=f"{name}: one Au particle, 10–1e4 e/Å²")
    strict = dose_curve(run.curve.doses, run.curve.areas, tolerance=0.05)  # ±5 % of the full
    full = run.curve.full_area
    fraction = run.curve.areas / full if full > 0 else np.zeros_like(run.curve.areas, float)
    return {"parameters": count_parameters(model), "seconds_per_256_image": infer_s,
            "test": test["pooled"], "low_dose": low["pooled"], "low_dose_bands": low["by_dose"],
            "dose_half_e_per_A2": run.curve.dose_half,
            "dose_converged_e_per_A2": run.curve.dose_converged,
            "dose_converged_5pct_e_per_A2": strict.dose_converged,
            "curve": {"doses": run.curve.doses.tolist(),
                      "area_fraction": fraction.tolist()}}


def plot(path: Path, results: dict) -> None:
    """F1 per low-dose band and area fraction against dose, one line per architecture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from temseg.io.files import atomic_path

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for arch, r in results.items():
        mids = [np.sqrt(b["dose_range"][0] * b["dose_range"][1]) for b in r["low_dose_bands"]]
        ax1.plot(mids, [b["f1"] for b in r["low_dose_bands"]], "o-", label=arch)
        ax2.plot(r["curve"]["doses"], r["curve"]["area_fraction"], "o-", ms=3, label=arch)
        if r["dose_half_e_per_A2"]:
            ax2.axvline(r["dose_half_e_per_A2"], ls=":", color=ax2.lines[-1].get_color())
    ax1.set(xscale="log", xlabel="dose (e/Å²)", ylabel="F1 (pooled per band)",
            title="low-dose test set", ylim=(0, 1))
    ax2.axvspan(20, 30, color="0.85", label="002 MSD-net 50 %")
    ax2.set(xscale="log", xlabel="dose (e/Å²)", ylabel="area / full area",
            title="dose series (one particle)")
    for ax in (ax1, ax2):
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True,
                        help="work folder of train_default_model.py (sets are reused or made)")
    parser.add_argument("--arch", nargs="+", default=list(tdm.ARCHITECTURES),
                        choices=list(tdm.ARCHITECTURES))
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="simulation workers")
    parser.add_argument("--quick", action="store_true", help="tiny images, one epoch")
    parser.add_argument("--tta", action="store_true",
                        help="also score each model with 8-view test-time augmentation")
    parser.add_argument("--n-structures", type=int, default=None)
    parser.add_argument("--images-per-structure", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    from temseg.io.files import write_json

    torch.set_num_threads(args.threads)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    sims = tdm.sim_configs(args)
    sims["low"] = low_dose_config(args)
    paths = {name: tdm.simulate(name, cfg, work, args.workers) for name, cfg in sims.items()}
    results = {}
    for arch in args.arch:
        _, folder, seconds = tdm.train(paths, work, args, architecture=arch)
        results[arch] = {"train_seconds": seconds, **score_arch(arch, folder, paths, work)}
        if args.tta:
            results[f"{arch}+tta"] = {"train_seconds": seconds,
                                      **score_arch(arch, folder, paths, work, tta=True)}
    out = work / "compare"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "comparison.json", results)
    plot(out / "comparison.png", results)

    fmt = lambda v: "—" if v is None else f"{v:.3g}"  # noqa: E731
    print()
    print(f"{'':<28}" + "".join(f"{a:>13}" for a in results))
    lines = [("parameters", lambda r: f"{r['parameters']:,}"),
             ("train time (min)", lambda r: f"{r['train_seconds'] / 60:.1f}"),
             ("test F1 (high dose)", lambda r: f"{r['test']['f1']:.3f}"),
             ("test Jaccard", lambda r: f"{r['test']['jaccard']:.3f}"),
             ("low-dose F1 (10–1e3)", lambda r: f"{r['low_dose']['f1']:.3f}")]
    def band_f1(r, band):
        found = [b["f1"] for b in r["low_dose_bands"] if tuple(b["dose_range"]) == band]
        return f"{found[0]:.3f}" if found else "—"

    lines += [(f"  F1 {lo:g}–{hi:g} e/Å²", lambda r, b=(lo, hi): band_f1(r, b))
              for lo, hi in LOW_BANDS]
    def dose(r, key):  # at the series' lowest dose: reached there or below
        v = r[key]
        return ("≤" if v is not None and v <= min(r["curve"]["doses"]) else "") + fmt(v)

    lines += [("dose at 50 % area", lambda r: dose(r, "dose_half_e_per_A2")),
              ("converged (±10 %)", lambda r: dose(r, "dose_converged_e_per_A2")),
              ("converged (±5 %)", lambda r: dose(r, "dose_converged_5pct_e_per_A2")),
              ("s per 256² image", lambda r: f"{r['seconds_per_256_image']:.3f}")]
    for name, get in lines:
        print(f"{name:<28}" + "".join(f"{get(r):>13}" for r in results.values()))
    print(f"(002: MSD-net 50 % at 20–30 e/Å², converged at ~200)  -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
