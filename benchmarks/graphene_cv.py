"""Grouped 5-fold cross-validation on the graphene set of Sadre et al. 2021 (paper 004).

Trains a recipe (configs/graphene_paper.yaml or configs/graphene_best.yaml)
once per fold, scores each model on its held-out fold (pooled over the fold's
pixels) and prints the six metrics of 004 table 1 as mean ± std over the
folds beside the paper's U-Net column, with the wall time and the schedule
actually used. The trained models (safetensors + JSON with the full config
and training record) go to --out.

Examples
--------
Smoke run (1 fold, 1 epoch)::

    python benchmarks/graphene_cv.py --recipe configs/graphene_best.yaml --epochs 1 --max-folds 1

Full runs (see BENCHMARKS.md for the figures)::

    python benchmarks/graphene_cv.py --recipe configs/graphene_paper.yaml --epochs 40 --out runs/paper
    python benchmarks/graphene_cv.py --recipe configs/graphene_best.yaml --out runs/best

Folds in parallel on a 2-core machine (one thread each), then one table::

    python benchmarks/graphene_cv.py --only-folds 1,2,3 --threads 1 --out runs/best_a &
    python benchmarks/graphene_cv.py --only-folds 4,5 --threads 1 --out runs/best_b
    python benchmarks/graphene_cv.py --combine runs/best_a runs/best_b

Score the trained fold models again on their held-out folds with test-time
augmentation (mean over the 8 rotations/mirror images; threshold unchanged)::

    python benchmarks/graphene_cv.py --rescore runs/best_a runs/best_b --tta

Score the ensemble of two recipes' fold models (per fold, the mean of the
models' probabilities)::

    python benchmarks/graphene_cv.py --rescore runs/best_a runs/best_b runs/wide_a runs/wide_b --ensemble
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

#: Sadre et al. 2021 table 1, U-Net column
PAPER_UNET = {"accuracy": 0.979, "balanced_accuracy": 0.950, "jaccard": 0.812, "f1": 0.884,
              "precision": 0.886, "recall": 0.889}
REPO = Path(__file__).resolve().parents[1]
#: width of the image rim whose error rate --rescore reports apart (pixels)
EDGE_PX = 8


def edge_mask(shape, width: int):
    """Boolean (H, W) mask of the pixels less than ``width`` from the image edge."""
    import numpy as np

    mask = np.ones(shape, bool)
    mask[width:-width, width:-width] = False
    return mask


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=REPO / "configs" / "graphene_best.yaml")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "graphene")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the fold models go (default: a folder under /tmp)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--init", default=None,
                        help="fine-tune every fold from this trained network (e.g. one "
                             "pretrained on simulated graphene)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-folds", type=int, default=None,
                        help="train only the first N folds (smoke runs)")
    parser.add_argument("--seeds", type=str, default=None, help="comma-separated, e.g. 0,1")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: all cores)")
    parser.add_argument("--max-images", type=int, default=None,
                        help="use only the first N pairs (smoke runs)")
    parser.add_argument("--only-folds", type=str, default=None,
                        help="comma-separated folds to train, e.g. 1,2,3 (parallel workers)")
    parser.add_argument("--combine", type=Path, nargs="+", default=None, metavar="DIR",
                        help="print one table from the runs.csv of earlier --out folders")
    parser.add_argument("--rescore", type=Path, nargs="+", default=None, metavar="DIR",
                        help="score the fold models in earlier --out folders again")
    parser.add_argument("--tta", action="store_true",
                        help="with --rescore: average over the 8 dihedral views")
    parser.add_argument("--ensemble", action="store_true",
                        help="with --rescore: average the models of each fold over all the "
                             "folders (one ensemble per fold)")
    args = parser.parse_args(argv)
    if args.combine:
        return combine(args.combine)
    if args.rescore:
        return rescore(args.rescore, data_dir=args.data, tta=args.tta, threads=args.threads,
                       ensemble=args.ensemble)

    import torch

    from temseg.config import load_config
    from temseg.models import build_model, count_parameters
    from temseg.train.config import TrainConfig
    from temseg.train.crossval import load_recipe_data, model_options, run_training

    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    cfg = load_config(TrainConfig, args.recipe, epochs=args.epochs, batch_size=args.batch_size,
                      folds=args.folds, seeds=seeds, device=args.device, data=[str(args.data)],
                      num_threads=args.threads, init=args.init)
    if cfg.init is not None:
        from temseg.train.init import resolve_init

        cfg, _ = resolve_init(cfg)
    data = load_recipe_data(cfg)
    if args.max_images:
        data = data.subset(range(min(args.max_images, len(data))))
    out = args.out or Path("/tmp") / f"graphene_cv_{args.recipe.stem}_{os.getpid()}"
    n_params = count_parameters(build_model(cfg.architecture, **model_options(cfg, 2)))
    from temseg.device import pick_device

    device = pick_device(cfg.device)
    print(f"recipe {args.recipe.name}: {cfg.architecture} {cfg.model} ({n_params:,} parameters), "
          f"loss {cfg.loss}, Adam lr {cfg.lr:g} (amsgrad {cfg.amsgrad}, {cfg.lr_schedule}), "
          f"batch {cfg.batch_size}, {cfg.epochs} epochs, dihedral {cfg.dihedral}, "
          f"intensity {cfg.intensity}" + (f", from {cfg.init}" if cfg.init else ""))
    print(f"data {args.data}: {len(data)} pairs, {len(set(data.groups))} source groups; "
          f"{cfg.folds} grouped folds (split_seed {cfg.split_seed}), seeds {cfg.seeds}")
    print(f"machine: {platform.node()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__} on {device}, "
          f"{torch.get_num_threads()} threads")

    t0 = time.perf_counter()

    def on_epoch(name, row):
        print(f"  {name} epoch {row['epoch']:4d} loss {row['train_loss']:.4f} "
              f"{row['seconds']:.1f} s", flush=True)

    folds = range(1, args.max_folds + 1) if args.max_folds else None
    if args.only_folds:
        folds = [int(f) for f in args.only_folds.split(",")]
    report = run_training(cfg, out_dir=out, data=data, callback=on_epoch, only_folds=folds)
    wall = time.perf_counter() - t0
    rows = [{"fold": r.fold, "seed": r.seed, "epochs": r.epochs, "seconds": r.seconds,
             **r.scores} for r in report.runs]
    print_table(rows)
    print(f"wall time {wall / 60:.1f} min for {len(rows)} run(s) "
          f"({wall / 60 / len(rows):.1f} min per fold)")
    print(f"models and configs in {out}")
    return 0


def print_table(rows) -> None:
    """The six 004 table 1 metrics, mean ± std over ``rows``, beside the paper's U-Net.

    Rows that also carry ``image_<metric>`` (the mean over a fold's images of
    each image's own score, as :func:`rescore` adds) get a second column: the
    paper's Jaccard (0.812) exceeds F1/(2 − F1) of its F1 (0.792), so its
    figures cannot be pooled over pixels, and per-image means fit them.
    """
    import numpy as np

    from temseg.train.scoring import TABLE1, mean_std

    summary = mean_std([{k: float(r[k]) for k in TABLE1} for r in rows], TABLE1)
    per_image = all(f"image_{k}" in r for r in rows for k in TABLE1)
    if per_image:
        image = mean_std([{k: float(r[f"image_{k}"]) for k in TABLE1} for r in rows], TABLE1)
    epoch_s = np.mean([float(r["seconds"]) / max(int(r["epochs"]), 1) for r in rows])
    print()
    print(f"{len(rows)} run(s) scored on held-out folds (pooled pixels per fold"
          f"{'; and the mean over the images of each fold' if per_image else ''}), "
          f"mean ± std over runs; {epoch_s:.1f} s per epoch")
    header = f"{'metric':<20}{'ours':>18}"
    print(header + (f"{'ours, per image':>20}" if per_image else "") + f"{'004 U-Net':>12}")
    for key in TABLE1:
        mean, std = summary[key]
        extra = f"{image[key][0]:>12.3f} ± {image[key][1]:.3f}" if per_image else ""
        print(f"{key:<20}{mean:>10.3f} ± {std:.3f}{extra}{PAPER_UNET[key]:>12.3f}")


def find_fold_models(folders, *, data_dir: Path, loaded: dict | None = None) -> dict:
    """The fold models in ``folders``: fold -> [(model.json, config, data, test indices)].

    Each folder's data is loaded and preprocessed as its config says (once per
    preprocessing; pass the same ``loaded`` dict to several calls to share it),
    and split into its folds again, so a model is always paired with the images
    it was not trained on.
    """
    from temseg.config import load_config
    from temseg.train.config import TrainConfig
    from temseg.train.crossval import load_recipe_data, plan_splits

    found = {}
    loaded = {} if loaded is None else loaded
    for folder in folders:
        cfg = load_config(TrainConfig, Path(folder) / "config.yaml", data=[str(data_dir)])
        key = json.dumps([cfg.preprocessing, cfg.label_suffix, cfg.group_pattern,
                          cfg.sampling, cfg.multiclass], sort_keys=True)
        if key not in loaded:
            loaded[key] = load_recipe_data(cfg)  # preprocessed exactly as in training
        data = loaded[key]
        for fold, _, _, test_idx in plan_splits(data, cfg):
            path = Path(folder) / f"fold_{fold}" / "model.json"
            if path.is_file():
                found.setdefault(fold, []).append((path, cfg, data, test_idx))
    return found


def rescore(folders, *, data_dir: Path, tta: bool, threads: int | None,
            ensemble: bool = False) -> int:
    """Score each fold model of ``folders`` on its held-out fold (same split, same threshold).

    With ``ensemble`` the fold models of all ``folders`` that share a fold are
    averaged into one model (:func:`temseg.models.combine_models`) and scored
    once per fold; the folders must use the same folds and preprocessing.
    """
    import tempfile
    import time

    import numpy as np
    import torch

    from temseg.infer.segmenter import NetworkSegmenter
    from temseg.models import combine_models, load_model
    from temseg.train.scoring import TABLE1, evaluate_pairs, image_means

    torch.set_num_threads(threads or 1)
    t0 = time.perf_counter()
    found = find_fold_models(folders, data_dir=data_dir)
    if not found:
        print("error: no fold models found", file=sys.stderr)
        return 2
    rows = []
    edge_counts = np.zeros(4)  # wrong at the rim, rim pixels, wrong inside, inside pixels
    with tempfile.TemporaryDirectory() as tmp:
        for fold in sorted(found):
            for group in ([found[fold]] if ensemble else [[r] for r in found[fold]]):
                path, cfg, data, test_idx = group[0]
                names = [data.names[i] for i in test_idx]
                for other in group[1:]:
                    if [other[2].names[i] for i in other[3]] != names:
                        print(f"error: {other[0]} was tested on other images than {path}",
                              file=sys.stderr)
                        return 2
                if len(group) > 1:
                    path = combine_models([g[0] for g in group], Path(tmp) / f"fold_{fold}")[1]
                model, _ = load_model(path)
                seg = NetworkSegmenter(model, tile=max(data.images[0].shape), device="cpu",
                                       tta=tta)
                labels = [data.labels[i] for i in test_idx]
                scores, per_image, probs = evaluate_pairs(
                    seg.predict, [data.images[i] for i in test_idx], labels,
                    threshold=cfg.threshold)
                for prob, label in zip(probs, labels):
                    wrong = (prob >= cfg.threshold) != (label > 0)
                    rim = edge_mask(wrong.shape, EDGE_PX)
                    edge_counts += [wrong[rim].sum(), rim.sum(), wrong[~rim].sum(), (~rim).sum()]
                results = [json.loads((g[0].parent / "result.json").read_text()) for g in group]
                rows.append({"fold": fold, "seed": cfg.seeds[0], "epochs": results[0]["epochs"],
                             "seconds": sum(r["seconds"] for r in results), **scores,
                             **{f"image_{k}": v for k, v in image_means(per_image).items()
                                if k in TABLE1}})
                print(f"fold {fold}: F1 {scores['f1']:.4f}, Jaccard {scores['jaccard']:.4f}"
                      f"{f' (ensemble of {len(group)})' if len(group) > 1 else ''}"
                      f"{' (tta)' if tta else ''}", flush=True)
    print_table(rows)
    rim_rate, inner_rate = edge_counts[0] / edge_counts[1], edge_counts[2] / edge_counts[3]
    print(f"pixels wrong within {EDGE_PX} px of the image edge: {100 * rim_rate:.2f} %, "
          f"further in: {100 * inner_rate:.2f} % ({rim_rate / inner_rate:.2f}x)")
    print(f"rescored {len(rows)} fold model(s){' with 8-view tta' if tta else ''} in "
          f"{time.perf_counter() - t0:.0f} s")
    return 0


def combine(folders) -> int:
    """One table from the runs.csv files of several partial runs (folds trained apart)."""
    import csv

    rows, seen = [], set()
    for folder in folders:
        path = Path(folder) / "runs.csv"
        if path.is_file():
            with path.open(newline="") as fh:
                found = list(csv.DictReader(fh))
        else:  # a worker stopped early: its finished folds still have result.json
            found = [{"fold": str(r["fold"]), "seed": str(r["seed"]), "epochs": r["epochs"],
                      "seconds": r["seconds"], **r["scores"]}
                     for r in (json.loads(f.read_text())
                               for f in sorted(Path(folder).glob("fold_*/result.json")))]
        if not found:
            print(f"error: {folder}: no finished fold (no runs.csv or fold_*/result.json)",
                  file=sys.stderr)
            return 2
        for row in found:
            key = (row["fold"], row["seed"])
            if key in seen:
                print(f"error: fold {key[0]} seed {key[1]} appears twice", file=sys.stderr)
                return 2
            seen.add(key)
            rows.append(row)
    print_table(rows)
    print(f"folds {', '.join(sorted(r['fold'] for r in rows))} from "
          f"{', '.join(str(f) for f in folders)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
