"""Train the shipped graphene-contamination model on all 105 labelled pairs of Sadre et al.

The model is the ensemble that scored best in our 5-fold cross-validation
(BENCHMARKS.md, "Session 5: a smaller receptive field"): the recipes
``configs/graphene_best.yaml`` (A), ``configs/graphene_wide.yaml`` (B),
``configs/graphene_reflect.yaml`` (C) and ``configs/graphene_n3.yaml`` (N3),
each trained here once on every pair (no held-out images, a fixed schedule:
the last epoch is kept),
then averaged into one model file with :func:`temseg.models.combine_models`.

Each member trains in ``WORK/NAME``; a member whose ``model.json`` exists is
reused and an interrupted one resumes from its checkpoint, so members can
train in parallel processes (``--only A`` in one, ``--only B,C`` in another)
and a last call without ``--only`` combines them. ``--install`` copies the
ensemble into ``src/temseg/data/models`` as ``graphene.json`` +
``graphene.safetensors`` (what the package ships; its card is
``graphene.md`` there, written by hand from the cross-validation).

Full run (what the shipped model came from; one torch thread per process on
the 2-core dev VM)::

    python benchmarks/train_graphene_model.py --work runs/graphene_model --only B &
    python benchmarks/train_graphene_model.py --work runs/graphene_model --only C,A,N3
    python benchmarks/train_graphene_model.py --work runs/graphene_model --install --time

``--time`` prints the CPU time of segmenting with the ensemble. Quick check
that everything runs (8 pairs, one epoch per member)::

    python benchmarks/train_graphene_model.py --work /tmp/gm_quick --quick
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "graphene"
#: member name -> recipe (the four members of our best cross-validated ensemble)
MEMBERS = {"A": "configs/graphene_best.yaml", "B": "configs/graphene_wide.yaml",
           "C": "configs/graphene_reflect.yaml", "N3": "configs/graphene_n3.yaml"}
SHIPPED = ROOT / "src" / "temseg" / "data" / "models"
NAME = "graphene"


def train_member(name: str, *, data: Path, work: Path, threads: int, quick: bool) -> Path:
    """Train member ``name`` on every pair in ``data`` (or reuse it); its model.json."""
    from temseg.config import load_config
    from temseg.train import TrainConfig, run_training

    out = work / name
    if (out / "model.json").is_file():
        print(f"{name}: reusing {out / 'model.json'}", flush=True)
        return out / "model.json"
    overrides = dict(data=[str(data)], folds=1, val_fraction=0.0, num_threads=threads,
                     device="cpu")
    if quick:
        overrides["epochs"] = 1
    cfg = load_config(TrainConfig, ROOT / MEMBERS[name], **overrides)
    subset = None
    if quick:
        from temseg.train.crossval import load_recipe_data

        full = load_recipe_data(cfg)
        subset = full.subset(range(min(8, len(full))))
    t0 = time.perf_counter()
    resume = (out / "config.yaml").is_file()
    run_training(cfg, out_dir=out, resume=resume, data=subset,
                 callback=lambda run, row: print(f"  {name} epoch {row['epoch']:4d} loss "
                                                 f"{row['train_loss']:.4f}", flush=True))
    print(f"{name}: {MEMBERS[name]}, {cfg.epochs} epochs on "
          f"{len(subset) if subset is not None else 'all'} pairs in "
          f"{(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    return out / "model.json"


def time_model(model: Path, image_path: Path, *, threads: int) -> None:
    """Print the CPU time of segmenting one 256² pair image, with tta, and an 8 × 8 mosaic."""
    import numpy as np
    import torch

    from temseg.infer import load_segmenter
    from temseg.io import read_image

    torch.set_num_threads(threads)
    seg = load_segmenter(model, tile=512, device="cpu")
    image = read_image(image_path).data
    seg.predict(image)  # warm-up
    t0 = time.perf_counter()
    for _ in range(10):
        seg.predict(image)
    print(f"{threads} thread(s): {(time.perf_counter() - t0) / 10:.3f} s per 256² image", end="")
    big = np.tile(image, (8, 8))
    t0 = time.perf_counter()
    seg.predict(big)
    print(f", {time.perf_counter() - t0:.1f} s per 2048² image (tile 512)", end="")
    seg.configure(tta=True)
    t0 = time.perf_counter()
    seg.predict(image)
    print(f", {time.perf_counter() - t0:.2f} s per 256² image with tta", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("runs/graphene_model"))
    parser.add_argument("--only", default=None,
                        help="comma-separated members to train (A, B, C, N3); no ensemble")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--quick", action="store_true", help="8 pairs, one epoch (smoke run)")
    parser.add_argument("--install", action="store_true",
                        help=f"copy the ensemble into {SHIPPED.relative_to(ROOT)}")
    parser.add_argument("--time", action="store_true",
                        help="also time segmenting with the ensemble on 1 and 2 threads")
    args = parser.parse_args(argv)
    if args.install and args.quick:
        print("error: --install refuses a --quick model", file=sys.stderr)
        return 2
    if not args.data.is_dir():
        print(f"error: {args.data}: no such folder of labelled pairs", file=sys.stderr)
        return 2
    names = list(MEMBERS) if args.only is None else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in MEMBERS]
    if unknown:
        print(f"error: --only: unknown member(s) {', '.join(unknown)} (use A, B, C, N3)",
              file=sys.stderr)
        return 2
    paths = [train_member(n, data=args.data, work=args.work, threads=args.threads,
                          quick=args.quick) for n in names]
    if args.only is not None:
        return 0

    from temseg.models import combine_models

    weights, meta = combine_models(paths, args.work / NAME)
    print(f"ensemble of {', '.join(names)}: {meta}")
    if args.install:
        for src in (weights, meta):
            shutil.copyfile(src, SHIPPED / src.name)
        print(f"installed into {SHIPPED}")
    if args.time:
        sample = next(p for p in sorted(args.data.glob("*.png"))
                      if not p.stem.endswith("_LABEL"))
        for threads in (1, 2):
            time_model(meta, sample, threads=threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
