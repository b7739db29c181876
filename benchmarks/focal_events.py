"""False column events between series of an unchanged structure (003's event counting).

``temseg segment`` pairs the columns of consecutive focal series of a stack
(``NAME_events.csv``): kept, appeared, vanished, changed in class (S2 → S1, a
sulphur atom lost). Which of those are real? The simulated test set holds
each structure under five imaging conditions (defocus, aberrations, blur,
dose) at the same position: between two of them no atom moved, so every
event the pipeline reports there is false, and the drift it measures is an
error. This benchmark segments every consecutive pair of images of a
structure with a focal-series model and prints, per pair and summed:

* the drift measured (true: 0) from the middle-defocus images, from the
  segmented foreground masks and from the class maps, the ways segment
  could estimate it;
* columns paired, and false events per 1,000 paired columns (changes of
  class; appeared and vanished away from the edges), with the drift of each
  way taken out, and the same pairing on the true labels (which must give
  none).

Needs a trained focal-series model and its labelled test set, e.g. from
``benchmarks/mos2_focal.py --work runs/mos2_316``::

    python benchmarks/focal_events.py --model runs/mos2_316/focal3 \\
        --data runs/mos2_316/test.zarr --threads 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="focal-series species model")
    parser.add_argument("--data", required=True, help="its labelled zarr test set")
    parser.add_argument("--column-distance", type=float, default=0.9, help="Å")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch
    import zarr

    from temseg.analyze.columns import column_positions, series_drift, speck_px
    from temseg.analyze.column_events import column_transitions
    from temseg.infer import load_segmenter

    torch.set_num_threads(args.threads)
    seg = load_segmenter(args.model, device="cpu")
    root = zarr.open_group(args.data, mode="r")
    sampling = float(root.attrs["sampling"])
    structure = np.asarray(root["parameters"]["structure"][:])
    classes = seg.classes
    k = len(classes)
    speck = speck_px(None, model_sampling=seg.sampling, sampling=sampling)
    distance = args.column_distance / sampling
    start = time.perf_counter()
    cache: dict[int, tuple] = {}

    def segmented(i: int):
        if i not in cache:
            series = np.asarray(root["images"][i], np.float32)
            mask = seg.predict_proba(series, sampling=sampling).argmax(0).astype(np.uint8)
            label = np.asarray(root["labels"][i])
            cache.clear() if len(cache) > 4 else None
            cache[i] = (series[len(series) // 2], mask, label)
        return cache[i]

    ways = ("image", "foreground", "classes")
    totals = {way: np.zeros(2) for way in ways}  # (false events, paired)
    drifts: dict[str, list] = {way: [] for way in ways}
    truth_events = 0
    pairs = 0
    names = classes
    changes = {way: np.zeros((k, k), np.int64) for way in totals}
    for i in range(len(structure) - 1):
        if structure[i] != structure[i + 1]:
            continue
        image_a, mask_a, label_a = segmented(i)
        image_b, mask_b, label_b = segmented(i + 1)
        pos_a = column_positions(mask_a, classes=classes, min_area_px=speck)
        pos_b = column_positions(mask_b, classes=classes, min_area_px=speck)
        pairs += 1
        for way, (a, b) in (("image", (image_a, image_b)),
                            ("foreground", (mask_a > 0, mask_b > 0)),
                            ("classes", (mask_a, mask_b))):
            drift = series_drift(a, b)
            drifts[way].append(np.hypot(*drift))
            found = column_transitions(pos_a, pos_b, n_classes=k, max_distance_px=distance,
                                       drift=drift, shape=mask_a.shape)
            t = found["transitions"]
            off = t.sum() - np.trace(t)
            false = off + found["appeared"][1:].sum() + found["vanished"][1:].sum()
            totals[way] += (false, t.sum())
            changes[way] += t - np.diag(np.diag(t))
        true_a = column_positions(label_a, classes=classes)
        true_b = column_positions(label_b, classes=classes)
        found = column_transitions(true_a, true_b, n_classes=k, max_distance_px=distance,
                                   shape=label_a.shape)
        t = found["transitions"]
        truth_events += int(t.sum() - np.trace(t) + found["appeared"][1:].sum()
                            + found["vanished"][1:].sum())
    print(f"{args.model} on {pairs} pairs of series of an unchanged structure "
          f"({time.perf_counter() - start:.0f} s; {args.column_distance:g} Å = {distance:.1f} px"
          f", specks < {speck} px)")
    for way in totals:
        d = np.array(drifts[way])
        false, paired = totals[way]
        print(f"drift from the {way}: |drift| median {np.median(d):.2f} px, 95th percentile "
              f"{np.percentile(d, 95):.2f} px, max {d.max():.2f} px (true 0); "
              f"{int(paired)} columns paired, {int(false)} false events = "
              f"{1000 * false / max(paired, 1):.1f} per 1,000 paired")
        moves = [f"{names[a]}→{names[b]} {int(changes[way][a, b])}" for a in range(1, k)
                 for b in range(1, k) if a != b and changes[way][a, b]]
        print(f"  false changes of class: {', '.join(moves) or 'none'}")
    print(f"events found on the true labels: {truth_events} (must be 0)")


if __name__ == "__main__":
    main()
