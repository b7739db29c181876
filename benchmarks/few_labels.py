"""How many labelled micrographs a network needs, from scratch and fine-tuned (graphene, 004).

For each size n of --sizes and each of --subsets random draws, trains the
recipe on n images of the training part of one grouped fold of the graphene
set, from scratch and from --init (a network pretrained on simulated images),
with the same number of image passes (--images-seen / n epochs), and scores
both on that fold's held-out images (pooled over pixels, as 004 table 1).
Prints the table, writes rows.csv and few_labels.png (F1 against n) to --out.

Two processes share a 2-core machine (one mode each), then one report::

    python benchmarks/few_labels.py --init runs/gpre --mode scratch --out runs/few --threads 1 &
    python benchmarks/few_labels.py --init runs/gpre --mode init --out runs/few --threads 1
    python benchmarks/few_labels.py --report runs/few
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODES = ("scratch", "init")


def train_and_score(cfg, data, train_idx, test_idx, out: Path) -> dict:
    """Train ``cfg`` on ``data[train_idx]`` into ``out`` and score it on ``data[test_idx]``."""
    from temseg.models import load_model
    from temseg.train.crossval import _score_held_out, run_training

    t0 = time.perf_counter()
    run_training(cfg, out_dir=out, data=data.subset(train_idx), warn=print)
    seconds = time.perf_counter() - t0
    model, _ = load_model(out / "model.json")
    scores = _score_held_out(model, data.subset(test_idx), cfg, out / "test_per_image.csv")
    return {"seconds": round(seconds, 1), **{k: scores[k] for k in
                                             ("f1", "jaccard", "precision", "recall")}}


def run(args) -> None:
    import numpy as np
    import torch

    from temseg.config import load_config
    from temseg.train.config import TrainConfig
    from temseg.train.crossval import load_recipe_data, plan_splits
    from temseg.train.init import resolve_init

    if args.threads:
        torch.set_num_threads(args.threads)
    base = load_config(TrainConfig, args.recipe, data=[str(args.data)], folds=5,
                       val_fraction=0.0, num_threads=args.threads, device="cpu")
    # the recipe with the pretrained network's shape and preprocessing, once from its
    # weights and once from a seeded random start: the only difference between the modes
    tuned, _ = resolve_init(dataclasses.replace(base, init=args.init))
    scratch = dataclasses.replace(tuned, init=None)
    data = load_recipe_data(tuned)
    fold = next(p for p in plan_splits(data, base) if p[0] == args.fold)
    _, pool, _, test_idx = fold
    print(f"fold {args.fold}: {len(pool)} training images to draw from, {len(test_idx)} held out")
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / f"rows_{args.mode}.csv"
    done = set()
    if table.is_file():
        with open(table) as f:
            done = {(int(r["n"]), int(r["subset"])) for r in csv.DictReader(f)}
    for n in args.sizes:
        for subset in range(args.subsets):
            if (n, subset) in done:
                continue
            picked = np.sort(np.random.default_rng([args.fold, n, subset]).choice(
                pool, size=n, replace=False))
            epochs = max(1, round(args.images_seen / n))
            cfg = dataclasses.replace(tuned if args.mode == "init" else scratch, folds=1,
                                      epochs=epochs, seeds=[subset])
            out = args.out / f"n{n}_s{subset}_{args.mode}"
            row = {"fold": args.fold, "n": n, "subset": subset, "mode": args.mode,
                   "epochs": epochs,
                   **train_and_score(cfg, data, picked, test_idx, out)}
            print(row, flush=True)
            new = not table.is_file()
            with open(table, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(row))
                if new:
                    writer.writeheader()
                writer.writerow(row)


def report(folder: Path, fold: int | None = None) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = []
    for table in sorted(folder.glob("rows_*.csv")):
        with open(table) as f:
            rows += list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{folder}: no rows_*.csv")
    sizes = sorted({int(r["n"]) for r in rows})
    print("n images | mode | F1 mean (per subset) | Jaccard mean | epochs")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for mode in MODES:
        means = []
        for n in sizes:
            sel = [r for r in rows if r["mode"] == mode and int(r["n"]) == n]
            if not sel:
                means.append(np.nan)
                continue
            f1 = [float(r["f1"]) for r in sel]
            jac = [float(r["jaccard"]) for r in sel]
            means.append(np.mean(f1))
            print(f"{n:8d} | {mode:7s} | {np.mean(f1):.3f} ({', '.join(f'{v:.3f}' for v in f1)})"
                  f" | {np.mean(jac):.3f} | {sel[0]['epochs']}")
        ax.plot(sizes, means, "o-", label="from scratch" if mode == "scratch" else
                "fine-tuned from simulation")
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.set_xlabel("labelled training images")
    ax.set_ylabel("held-out F1 (pooled)")
    ax.set_title("graphene contamination (004)" + (f", fold {fold}" if fold else ""))
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "few_labels.png", dpi=120)
    print(f"plot: {folder / 'few_labels.png'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=REPO / "configs" / "graphene_n3.yaml")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "graphene")
    parser.add_argument("--init", default=None, help="the pretrained network (model or run)")
    parser.add_argument("--mode", choices=MODES, default="scratch")
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")],
                        default=[5, 10, 20, 40])
    parser.add_argument("--subsets", type=int, default=2, help="random draws per size")
    parser.add_argument("--images-seen", type=int, default=1200,
                        help="training image passes per run (epochs = this / n)")
    parser.add_argument("--fold", type=int, default=None,
                        help="which of the 5 grouped folds (default 1; with --report: named in "
                             "the plot's title)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("/tmp/few_labels"))
    parser.add_argument("--report", type=Path, default=None, metavar="DIR")
    args = parser.parse_args(argv)
    if args.report:
        report(args.report, fold=args.fold)
        return 0
    args.fold = args.fold or 1
    if args.init is None:
        parser.error("--init: the pretrained network is needed (both modes use its shape)")
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
