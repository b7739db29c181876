"""Can a focal series read in the wrong order be told from the network's output?

A microscope may save a focal series from over- to underfocus, or with the
other sign convention for defocus, and ``temseg segment`` takes the order
the user gives (``--series-order``). This benchmark feeds every test series
of a focal-series model to it in all C! channel orders and prints, per
order, the mean top-class probability (how sure the network is), the mean
per-pixel entropy and the pixel accuracy against the simulated labels. If a
wrong order lowered the network's confidence clearly, segment could warn;
the figures say whether it can.

Needs a trained focal-series model and a labelled test set, e.g. from
``benchmarks/mos2_focal.py --work runs/mos2_316``::

    python benchmarks/focal_order.py --model runs/mos2_316/focal3 \\
        --data runs/mos2_316/test.zarr --every 5 --threads 1
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="focal-series model (run folder/json)")
    parser.add_argument("--data", required=True, help="labelled zarr test set of that model")
    parser.add_argument("--every", type=int, default=5, help="take every n-th test series")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()

    import torch
    import zarr

    from temseg.infer import load_segmenter

    torch.set_num_threads(args.threads)
    segmenter = load_segmenter(args.model, device="cpu")
    data = zarr.open(args.data, mode="r")
    sampling = float(data.attrs["sampling"])
    c = segmenter.in_channels
    if c < 2:
        raise SystemExit(f"{args.model}: not a focal-series model (1 input channel)")
    theirs = [str(v) for v in data.attrs.get("channels") or []]
    if theirs and segmenter.channels and theirs != list(segmenter.channels):
        raise SystemExit(f"{args.data}: channels {theirs} are not the model's "
                         f"{segmenter.channels} in its order: 'right' would be wrong")
    orders = list(itertools.permutations(range(c)))
    scores = {order: [] for order in orders}
    wins = {order: 0 for order in orders}
    start = time.perf_counter()
    indices = range(0, data["images"].shape[0], args.every)
    for i in indices:
        series = np.asarray(data["images"][i], np.float32)
        label = np.asarray(data["labels"][i])
        confidence = {}
        for order in orders:
            proba = segmenter.predict_proba(series[list(order)], sampling=sampling)
            top = proba.max(0)
            entropy = -(proba * np.log(np.clip(proba, 1e-9, 1.0))).sum(0)
            accuracy = (proba.argmax(0) == label).mean()
            scores[order].append((top.mean(), entropy.mean(), accuracy))
            confidence[order] = top.mean()
        wins[max(orders, key=confidence.get)] += 1
    print(f"{args.model} on {len(indices)} series of {args.data} "
          f"({time.perf_counter() - start:.0f} s; channels {segmenter.channels})")
    print("order (frame k = channel order[k]) | mean top probability | mean entropy | "
          "pixel accuracy | most confident order for n series")
    for order in orders:
        top, entropy, accuracy = np.mean(scores[order], axis=0)
        name = ",".join(map(str, order)) + (" (right)" if order == tuple(range(c)) else "")
        print(f"{name:>13} | {top:.4f} | {entropy:.4f} | {accuracy:.3f} | {wins[order]}")
    right = np.array(scores[tuple(range(c))])
    for order in orders[1:]:
        other = np.array(scores[order])
        surer = int((other[:, 0] >= right[:, 0]).sum())
        print(f"order {','.join(map(str, order))}: at least as confident as the right order "
              f"on {surer} of {len(right)} series")


if __name__ == "__main__":
    main()
