"""Atomic species from a focal series (003): three defoci as channels against one image.

Leth Larsen et al. (003) tell the columns of monolayer MoS2 apart (one Mo, two
S, or one S: a sulphur vacancy) by feeding the network a focal series of three
images. This benchmark measures what the focal series adds, through the CLI a
user would run:

1. simulate (``configs/simulate_mos2.yaml``) a training set (seed 0, 60
   structures × 10 imaging conditions × 3 defoci) and a test set (seed 1,
   20 × 5); the one-image sets are the same data's middle channel (Δf + 0 Å);
2. train ``configs/mos2_focal.yaml`` on both (same recipe, seed, crops);
3. ``temseg evaluate`` both on their test set: per-class pixel F1 pooled over
   pixels, columns matched by centre distance (0.9 Å), and the S1 pixel F1 by
   dose band (from the per-image rows and the simulated doses).

Stages whose outputs exist are reused. Full run, two trainings side by side on
one torch thread each (about 20 min on the 2-core dev VM)::

    python benchmarks/mos2_focal.py --work runs/mos2

Quick check that everything runs (tiny sets, one epoch, about a minute)::

    python benchmarks/mos2_focal.py --work /tmp/mos2_quick --quick
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIMULATE = ROOT / "configs" / "simulate_mos2.yaml"
RECIPE = ROOT / "configs" / "mos2_focal.yaml"
SPECIES = ("Mo", "S2", "S1")


def run(args: list[str]) -> None:
    """One temseg command, stopping the benchmark with its message if it fails."""
    print("$ temseg " + " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "temseg", *args], cwd=ROOT)
    if done.returncode:
        sys.exit(f"temseg {args[0]} failed (exit {done.returncode})")


def simulate(work: Path, quick: bool) -> None:
    """Training and test sets (seeds 0 and 1) and their middle-channel copies."""
    sizes = {"train": (["--n-structures", "4", "--images-per-structure", "2", "--size", "64"]
                       if quick else ["--n-structures", "60"]),
             "test": (["--seed", "1", "--n-structures", "2", "--images-per-structure", "2",
                       "--size", "64"] if quick else
                      ["--seed", "1", "--n-structures", "20", "--images-per-structure", "5"])}
    for part, extra in sizes.items():
        if not (work / f"{part}.zarr").exists():
            run(["simulate", str(SIMULATE), "-o", str(work / f"{part}.zarr"), *extra])
        if not (work / f"{part}_mid.zarr").exists():
            middle_channel(work / f"{part}.zarr", work / f"{part}_mid.zarr")


def middle_channel(source: Path, target: Path) -> None:
    """The dataset as one image per field of view: the focal series' middle defocus."""
    import zarr

    src = zarr.open_group(str(source), mode="r")
    images = src["images"]
    mid = images.shape[1] // 2
    dst = zarr.open_group(str(target), mode="w")
    dst.create_array("images", data=np.asarray(images[:, mid]), chunks=(1, *images.shape[2:]))
    dst.create_array("labels", data=np.asarray(src["labels"][:]),
                     chunks=(1, *images.shape[2:]))
    params = dst.create_group("parameters")
    for key in ("structure", "dose"):
        params.create_array(key, data=np.asarray(src["parameters"][key][:]))
    attrs = dict(src.attrs)
    attrs.update(channels=[attrs["channels"][mid]],
                 defocus_offsets=[attrs["defocus_offsets"][mid]])
    dst.attrs.update(attrs)


def train(work: Path, quick: bool, threads: int) -> None:
    """Both trainings at once, one process each (they share the CPU)."""
    extra = ["--epochs", "1", "--patch-size", "64"] if quick else []
    jobs = []
    for name, data in (("focal3", "train.zarr"), ("mid1", "train_mid.zarr")):
        if (work / name / "model.json").exists():
            continue
        args = ["train", str(work / data), "-c", str(RECIPE), "-o", str(work / name),
                "--threads", str(threads), *extra]
        print("$ temseg " + " ".join(args), flush=True)
        log = open(work / f"{name}.log", "w")
        jobs.append((name, time.perf_counter(), log,
                     subprocess.Popen([sys.executable, "-m", "temseg", *args], cwd=ROOT,
                                      stdout=log, stderr=subprocess.STDOUT)))
    for name, start, log, job in jobs:
        if job.wait():
            sys.exit(f"training {name} failed: see {work / (name + '.log')}")
        log.close()
        print(f"trained {name} in {(time.perf_counter() - start) / 60:.1f} min", flush=True)


def score(work: Path) -> dict:
    """``temseg evaluate`` of both models on their test set; the figures of the table."""
    out = {}
    for name, data in (("focal3", "test.zarr"), ("mid1", "test_mid.zarr")):
        folder = work / f"eval_{name}"
        if not (folder / "pooled.json").exists():
            run(["evaluate", str(work / name), str(work / data), "-o", str(folder),
                 "--no-overlays", "--device", "cpu"])
        pooled = json.loads((folder / "pooled.json").read_text())
        with open(folder / "per_image.csv") as fh:
            rows = list(csv.DictReader(fh))
        out[name] = {"pooled": pooled, "rows": rows}
    return out


def dose_bands(work: Path, rows: list[dict]) -> list[tuple[str, int, float]]:
    """(band, images, mean per-image S1 F1) per half decade of the simulated dose."""
    import zarr

    doses = np.asarray(zarr.open_group(str(work / "test.zarr"), mode="r")["parameters"]["dose"])
    f1 = np.array([float(r["f1_S1"]) for r in rows])
    edges = (1e3, 3e3, 1e4, 3e4, 1e5)
    bands = []
    for low, high in zip(edges[:-1], edges[1:]):
        pick = (doses >= low) & (doses < high)
        if pick.any():
            bands.append((f"{low:.0e}-{high:.0e} e/Å²", int(pick.sum()), float(f1[pick].mean())))
    return bands


def report(work: Path, figures: dict) -> None:
    """The side-by-side table BENCHMARKS.md records."""
    def classes(name):
        return {r["class"]: r for r in figures[name]["pooled"]["per_class"]}

    three, one = classes("focal3"), classes("mid1")
    print("\n| score | 3 defoci | middle defocus only |")
    print("|---|---|---|")
    for sp in SPECIES:
        print(f"| pixel F1, {sp} | {three[sp]['f1']:.3f} | {one[sp]['f1']:.3f} |")
    mean3 = figures["focal3"]["pooled"]["mean_foreground"]
    mean1 = figures["mid1"]["pooled"]["mean_foreground"]
    print(f"| pixel F1, mean of the species | {mean3['f1']:.3f} | {mean1['f1']:.3f} |")
    col3, col1 = figures["focal3"]["pooled"]["columns"], figures["mid1"]["pooled"]["columns"]
    for sp in SPECIES:
        print(f"| column F1, {sp} ({col3[sp]['labelled']} labelled) | {col3[sp]['f1']:.3f} | "
              f"{col1[sp]['f1']:.3f} |")
    for sp in ("S1",):
        e3, e1 = col3[sp]["count_error"], col1[sp]["count_error"]
        print(f"| {sp} count error (found − labelled) | {100 * e3:+.1f} % | {100 * e1:+.1f} % |")
    for (band, n, f3), (_, _, f1) in zip(dose_bands(work, figures["focal3"]["rows"]),
                                         dose_bands(work, figures["mid1"]["rows"])):
        print(f"| S1 pixel F1 per image, {band} ({n} images) | {f3:.3f} | {f1:.3f} |")
    for name in ("focal3", "mid1"):
        log = json.loads((work / name / "log.json").read_text())
        minutes = sum(r["seconds"] for r in log) / 60
        print(f"{name}: {len(log)} epochs, {minutes:.1f} min of training")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="Folder of every stage.")
    parser.add_argument("--quick", action="store_true", help="Tiny sets and one epoch.")
    parser.add_argument("--threads", type=int, default=1, help="Torch threads per training.")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    simulate(args.work, args.quick)
    train(args.work, args.quick, args.threads)
    report(args.work, score(args.work))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
