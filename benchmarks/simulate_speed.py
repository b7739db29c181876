"""Benchmark: simulated labelled training images per second (issue 6).

The full run is the issue's target, 1,000 labelled 256² images of a 7.7 nm
field (100 structures × 10 imaging conditions), 002's recipe from
configs/simulate_002.yaml at 0.3 Å/px::

    python benchmarks/simulate_speed.py --structures 100 --images-per-structure 10

Prints the wall time, the time per exit wave and per image, and the time
the full 1,000-image run would take at the measured rate. The dataset is
written to a temporary folder (``--out`` keeps it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "simulate_002.yaml"))
    parser.add_argument("--structures", type=int, default=100)
    parser.add_argument("--images-per-structure", type=int, default=10)
    parser.add_argument("--size", type=int, default=256, help="image side in px")
    parser.add_argument("--sampling", type=float, default=0.3, help="Å/px (0.3: 7.7 nm at 256 px)")
    parser.add_argument("--padding", type=float, default=None, help="Å (config: 6)")
    parser.add_argument("--slice-thickness", type=float, default=None, help="Å (config: 2)")
    parser.add_argument("--wave-sampling", type=float, default=None, help="Å (config: 0.075)")
    parser.add_argument("--scheduler", default="threads",
                        choices=("threads", "processes", "synchronous"))
    parser.add_argument("--workers", type=int, default=None, help="default: CPU cores")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="keep the dataset here")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from temseg.config import load_config
    from temseg.simulate.config import SimulateConfig
    from temseg.simulate.dataset import simulate_dataset
    from temseg.simulate.pipeline import geometry

    cfg = load_config(SimulateConfig, args.config, n_structures=args.structures,
                      images_per_structure=args.images_per_structure, size=args.size,
                      sampling=args.sampling, seed=args.seed, padding=args.padding,
                      slice_thickness=args.slice_thickness, wave_sampling=args.wave_sampling)
    geo = geometry(cfg)
    workers = args.workers or os.cpu_count()
    print(f"{cfg.n_images} images ({args.structures} structures × {args.images_per_structure}) "
          f"of {cfg.size}² px at {cfg.sampling} Å/px = {cfg.field_of_view / 10:.2f} nm field; "
          f"exit waves {geo.wave_gpts}² at {geo.wave_sampling:.4f} Å over a {geo.cell:.1f} Å cell; "
          f"scheduler {args.scheduler}, {workers} workers, {os.cpu_count()} CPU cores")

    t0 = time.perf_counter()
    from temseg.simulate.waves import configure_abtem  # import and warm abTEM outside the timing

    configure_abtem()
    warm = time.perf_counter() - t0
    marks = []  # (time, images done) after each structure

    def progress(done, total):
        marks.append((time.perf_counter(), done))

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "bench.zarr"
        start = time.perf_counter()
        simulate_dataset(cfg, out, scheduler=args.scheduler, workers=args.workers,
                         overwrite=True, callback=progress)
        wall = time.perf_counter() - start
    per_image = wall / cfg.n_images
    print(f"import abTEM: {warm:.1f} s (not counted)")
    print(f"wall time: {wall:.1f} s for {cfg.n_images} images ({cfg.n_images / wall:.2f} images/s)")
    print(f"per structure (exit wave + {args.images_per_structure} images, all workers): "
          f"{wall / args.structures:.2f} s; per image: {per_image * 1e3:.0f} ms")
    # steady state: after the first `workers` structures (abTEM/numba/FFTW warm-up) are done
    warm_mark = marks[min(workers, len(marks) - 1)]
    print(f"first {workers} structure(s) done after {warm_mark[0] - start:.1f} s "
          "(includes JIT warm-up)")
    if marks[-1][1] > warm_mark[1]:
        rate = (marks[-1][1] - warm_mark[1]) / (marks[-1][0] - warm_mark[0])
        full = warm_mark[0] - start + (1000 - warm_mark[1]) / rate
        print(f"steady state: {rate:.2f} images/s; extrapolated to 1,000 images (100 × 10): "
              f"{full / 60:.1f} min (target <= 4 min)")


if __name__ == "__main__":
    main()
