"""Where the cross-validated graphene models err, and whether any cheap fix removes the errors.

Takes the fold models of ensemble members (each the ``graphene_cv.py --out``
folders of one recipe), predicts every held-out image with each member, and
for the mean of the members (as ``--rescore --ensemble``) prints:

- the wrong pixels by their distance to the labelled boundary, and the
  false-positive / false-negative split of those far from it;
- the error rate within ``--rim`` px of the image edge against further in;
- post-processing of the thresholded mask (threshold, removing small objects,
  filling small holes, growing or shrinking the outline by one pixel), each
  at fixed settings and with the setting chosen per fold on the other four
  folds' held-out predictions (nested: no test image picks its own setting);
- stacking with the Bragg filter of 004 (``temseg.baselines``): a logistic
  model of the network's logit and the Bragg difference map, fitted per fold
  on the other folds, again nested;
- which subset of the members, at threshold 0.4 or 0.5, scores best: in
  hindsight, and chosen per fold on the other folds (nested);
- the worst held-out images.

Example (the A + B + C + N3 ensemble of BENCHMARKS.md analysed, seven
members to choose from)::

    python benchmarks/graphene_errors.py --ensemble A,B,C,N3 \\
        --member A=runs/best150_a,runs/best150_b --member B=runs/wide_a,runs/wide_b \\
        --member C=runs/refl_a,runs/refl_b,runs/refl_c \\
        --member N3=runs/n3f8_f2,runs/n3f8_f3,runs/n3f8_a,runs/n3f8_b \\
        --member N3R=runs/n3r_x,runs/n3r_y --member LOV=runs/lov_f2,runs/lov_f3,runs/lov_rest \\
        --member CROP=runs/crop_f2,runs/crop_f3,runs/crop_rest
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from graphene_cv import REPO, find_fold_models  # noqa: E402

#: distance bins of the error histogram: a wrong pixel lies d px from the nearest pixel of the
#: other labelled class (d >= 1); bin n holds EDGES[n] <= d < EDGES[n + 1]
EDGES = (1.0, 2.0, 4.0, 6.0, 13.0, np.inf)
#: errors at d >= FAR px are "far" from the boundary (not outline placement)
FAR = 6.0


def counts(masks, labels):
    """Pooled confusion counts over pairs of masks and labels."""
    from temseg.metrics import Confusion, confusion

    return sum((confusion(m, y) for m, y in zip(masks, labels)), Confusion(0, 0, 0, 0))


def pooled_except(by_fold: dict, fold):
    """Confusion counts pooled over every fold of ``by_fold`` but ``fold``."""
    from temseg.metrics import Confusion

    return sum((c for f, c in by_fold.items() if f != fold), Confusion(0, 0, 0, 0))


def f1_jaccard(c) -> tuple[float, float]:
    """F1 and Jaccard of pooled confusion counts."""
    from temseg.metrics import scores_from_confusion

    scores = scores_from_confusion(c)
    return scores["f1"], scores["jaccard"]


def postprocessors() -> dict:
    """name -> function(prob) -> mask, for every setting tried."""
    from skimage import morphology

    ops = {f"threshold {t:.2f}": (lambda p, t=t: p >= t) for t in (0.3, 0.35, 0.4, 0.45, 0.5)}
    for size in (32, 128, 512):
        ops[f"remove objects < {size} px"] = (
            lambda p, s=size: morphology.remove_small_objects(p >= 0.5, max_size=s - 1))
        ops[f"fill holes < {size} px"] = (
            lambda p, s=size: morphology.remove_small_holes(p >= 0.5, max_size=s - 1))
    disk = morphology.disk(1)
    ops["grow outline 1 px"] = lambda p: morphology.dilation(p >= 0.5, disk)
    ops["shrink outline 1 px"] = lambda p: morphology.erosion(p >= 0.5, disk)
    return ops


def fit_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights (w..., bias) of a logistic regression of y on the columns of x (log loss)."""
    from scipy.optimize import minimize

    xb = np.column_stack([x, np.ones(len(x))])
    sign = np.where(y, 1.0, -1.0)

    def loss(w):
        z = sign * (xb @ w)
        value = np.logaddexp(0.0, -z).mean()
        grad = -(xb * (sign / (1.0 + np.exp(z)))[:, None]).mean(axis=0)
        return value, grad

    start = np.zeros(xb.shape[1])
    start[0] = 1.0
    return minimize(loss, start, jac=True, method="L-BFGS-B").x


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--member", action="append", required=True, metavar="NAME=DIR[,DIR]",
                        help="an ensemble member: its graphene_cv.py --out folders (repeat)")
    parser.add_argument("--ensemble", default=None, metavar="NAMES",
                        help="comma-separated members whose mean is analysed (default: all)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "graphene")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rim", type=int, default=8, help="edge width in px (default 8)")
    parser.add_argument("--bragg-sigma", type=float, default=0.0033,
                        help="Bragg aperture width in px⁻¹ (our fitted 0.0033)")
    parser.add_argument("--worst", type=int, default=8, help="list this many worst images")
    args = parser.parse_args(argv)
    members = {}
    for text in args.member:
        name, sep, folders = text.partition("=")
        if not sep or not name or not folders:
            print(f"error: --member {text!r}: expected NAME=DIR[,DIR...]", file=sys.stderr)
            return 2
        members[name] = [Path(f) for f in folders.split(",")]
    chosen = list(members) if args.ensemble is None else args.ensemble.split(",")
    if not set(chosen) <= set(members):
        print(f"error: --ensemble {args.ensemble}: not all of them are members "
              f"({', '.join(members)})", file=sys.stderr)
        return 2

    import torch
    from scipy import ndimage

    from temseg.baselines import BraggParams
    from temseg.baselines.bragg import bragg_difference
    from temseg.infer.segmenter import NetworkSegmenter
    from temseg.models import load_model

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    member_probs = {}  # member -> fold -> [prob per held-out image]
    images = {}  # fold -> [(name, image, label)], from the first member
    loaded = {}  # the data once per preprocessing, shared by the members
    for member, folders in members.items():
        found = find_fold_models(folders, data_dir=args.data, loaded=loaded)
        if not found:
            print(f"error: member {member}: no fold models in {folders}", file=sys.stderr)
            return 2
        member_probs[member] = {}
        for fold, group in sorted(found.items()):
            _, _, data, test_idx = group[0]
            held_out = [(data.names[i], data.images[i], data.labels[i] > 0) for i in test_idx]
            images.setdefault(fold, held_out)
            if [h[0] for h in held_out] != [h[0] for h in images[fold]]:
                print(f"error: member {member} was tested on other images in fold {fold}",
                      file=sys.stderr)
                return 2
            probs = []
            for path, _, data, _ in group:  # several models of a member: their mean
                seg = NetworkSegmenter(load_model(path)[0], tile=max(data.images[0].shape),
                                       device="cpu")
                probs.append([seg.predict(data.images[i]) for i in test_idx])
            member_probs[member][fold] = list(np.mean(probs, axis=0))
    folds = sorted(images)
    if any(sorted(p) != folds for p in member_probs.values()):
        print("error: the members do not cover the same folds", file=sys.stderr)
        return 2
    per_fold = {f: [(name, image, label, np.mean([member_probs[m][f][j] for m in chosen],
                                                  axis=0))
                    for j, (name, image, label) in enumerate(images[f])] for f in folds}
    print(f"{sum(len(v) for v in per_fold.values())} held-out images in {len(folds)} folds; "
          f"members {', '.join(members)}; analysed: the mean of {', '.join(chosen)}; "
          f"predicted in {time.perf_counter() - t0:.0f} s")

    # 1. the wrong pixels by distance to the labelled boundary
    hist, far_fp, far_fn = np.zeros(len(EDGES) - 1), 0, 0
    rim_counts = np.zeros(4)
    worst = []
    for fold in folds:
        for name, _, label, prob in per_fold[fold]:
            mask = prob >= 0.5
            wrong = mask != label
            dist = np.maximum(ndimage.distance_transform_edt(label),
                              ndimage.distance_transform_edt(~label))
            hist += np.histogram(dist[wrong], bins=EDGES)[0]
            far = wrong & (dist >= FAR)
            far_fp += int((far & mask).sum())
            far_fn += int((far & ~mask).sum())
            rim = np.ones(label.shape, bool)
            rim[args.rim:-args.rim, args.rim:-args.rim] = False
            rim_counts += [wrong[rim].sum(), rim.sum(), wrong[~rim].sum(), (~rim).sum()]
            tp, fp, fn, _ = counts([mask], [label])
            if tp + fp + fn:
                worst.append((2 * tp / (2 * tp + fp + fn), fold, name, label.mean(), fp, fn))
    total = hist.sum()
    print(f"\nwrong pixels ({int(total):,}) by distance to the labelled boundary:")
    for lo, hi, n in zip(EDGES[:-1], EDGES[1:], hist):
        span = f"d = {lo:.0f}" if hi == lo + 1 else (f"d = {lo:.0f}–{hi - 1:.0f}" if
                                                     np.isfinite(hi) else f"d >= {lo:.0f}")
        print(f"  {span + ' px':<16}{100 * n / total:5.1f} %")
    print(f"  d >= {FAR:.0f} px: {far_fp:,} false positive, {far_fn:,} false negative pixels")
    rim_rate, inner = rim_counts[0] / rim_counts[1], rim_counts[2] / rim_counts[3]
    print(f"error rate within {args.rim} px of the image edge {100 * rim_rate:.2f} %, further "
          f"in {100 * inner:.2f} % ({rim_rate / inner:.2f}x)")

    # 2. post-processing, fixed and nested
    ops = postprocessors()
    table = {}  # op -> fold -> (tp, fp, fn)
    for op_name, op in ops.items():
        table[op_name] = {f: counts([op(p) for *_, p in per_fold[f]],
                                    [y for _, _, y, _ in per_fold[f]]) for f in folds}
    print(f"\n{'post-processing (fixed)':<30}{'F1':>8}{'Jaccard':>9}   F1 per fold")
    for op_name in ops:
        scores = [f1_jaccard(table[op_name][f]) for f in folds]
        print(f"{op_name:<30}{np.mean([s[0] for s in scores]):>8.4f}"
              f"{np.mean([s[1] for s in scores]):>9.4f}   "
              + " ".join(f"{s[0]:.4f}" for s in scores))
    nested, chosen = [], []
    for f in folds:
        others = {op: f1_jaccard(pooled_except(table[op], f))[0] for op in ops}
        best = max(others, key=others.get)
        chosen.append(best)
        nested.append(f1_jaccard(table[best][f]))
    print(f"{'nested choice':<30}{np.mean([s[0] for s in nested]):>8.4f}"
          f"{np.mean([s[1] for s in nested]):>9.4f}   chosen: {', '.join(chosen)}")

    # 3. stacking with the Bragg filter, nested
    features = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in folds:
            rows = []
            for _, image, label, prob in per_fold[f]:
                diff = bragg_difference(image, BraggParams(sigma=args.bragg_sigma))
                if diff is None:  # no lattice found: all amorphous to the filter
                    diff = np.full(image.shape, np.float32(np.inf))
                p = np.clip(prob, 1e-4, 1 - 1e-4)
                rows.append((np.log(p / (1 - p)), np.minimum(diff, 10.0), label))
            features[f] = rows
    stacked, base = [], []
    for f in folds:
        train = [r for g in folds if g != f for r in features[g]]
        x = np.concatenate([np.column_stack([lg.ravel(), d.ravel()]) for lg, d, _ in train])
        y = np.concatenate([lab.ravel() for *_, lab in train])
        w = fit_logistic(x[::7], y[::7])
        masks = [(w[0] * lg + w[1] * d + w[2]) >= 0 for lg, d, _ in features[f]]
        labels = [lab for *_, lab in features[f]]
        stacked.append(f1_jaccard(counts(masks, labels)))
        base.append(f1_jaccard(table["threshold 0.50"][f]))
    print(f"\nnetwork alone                 F1 {np.mean([s[0] for s in base]):.4f}, Jaccard "
          f"{np.mean([s[1] for s in base]):.4f}")
    print(f"+ Bragg difference (stacked)  F1 {np.mean([s[0] for s in stacked]):.4f}, Jaccard "
          f"{np.mean([s[1] for s in stacked]):.4f}  (logistic fit on the other folds, "
          f"σ = {args.bragg_sigma} px⁻¹)")

    # 4. which members, at which threshold: nested choice
    if len(members) > 1:
        import itertools

        labels = {f: [y for _, _, y, _ in per_fold[f]] for f in folds}
        options = {}
        for r in range(1, len(members) + 1):
            for subset in itertools.combinations(members, r):
                mean = {f: [np.mean([member_probs[m][f][j] for m in subset], axis=0)
                            for j in range(len(labels[f]))] for f in folds}
                for t in (0.4, 0.5):
                    options[(subset, t)] = {f: counts([p >= t for p in mean[f]], labels[f])
                                            for f in folds}
        fixed = {k: np.mean([f1_jaccard(v[f]) for f in folds], axis=0) for k, v in options.items()}
        print(f"\nmembers and threshold ({len(options)} choices), best in hindsight:")
        for key in sorted(fixed, key=lambda k: -fixed[k][0])[:5]:
            print(f"  {'+'.join(key[0]):<28} t {key[1]:.1f}   F1 {fixed[key][0]:.4f}, "
                  f"Jaccard {fixed[key][1]:.4f}")
        nested = []
        for f in folds:
            best = max(options, key=lambda k: f1_jaccard(pooled_except(options[k], f))[0])
            nested.append(f1_jaccard(options[best][f]))
            print(f"  fold {f}: chosen on the other folds {'+'.join(best[0])} t {best[1]:.1f}"
                  f" -> F1 {nested[-1][0]:.4f}")
        print(f"nested choice: F1 {np.mean([s[0] for s in nested]):.4f}, Jaccard "
              f"{np.mean([s[1] for s in nested]):.4f}")

    # 5. the worst images
    worst.sort()
    print(f"\nworst {args.worst} held-out images (F1, fold, name, labelled fraction, FP, FN px):")
    for f1, fold, name, frac, fp, fn in worst[:args.worst]:
        print(f"  {f1:.3f}  fold {fold}  {name}  {frac:.3f}  {int(fp)}  {int(fn)}")
    print(f"\ndone in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
