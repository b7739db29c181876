"""True column events: does ``temseg segment`` see a sulphur atom leave between two series?

``benchmarks/focal_events.py`` counts the false events on unchanged
structures. Here each pair of focal series differs by known events: a
MoS2 structure is simulated (``configs/simulate_mos2.yaml``), then again with
one S atom removed from ``--removed`` of its S2 columns (S2 → S1, what the
beam does), under the same imaging conditions and dose but fresh noise and
a drift of a few pixels. Both series are segmented with a focal-series
model and their columns paired as segment's ``NAME_events.csv`` does; the
S2 → S1 events found are compared with the ones made (a found event counts
as true when its column lies within the match distance of a column made S1).

    python benchmarks/focal_vacancy_events.py --model runs/mos2_316/focal3 \\
        --structures 10 --removed 5 --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def remove_sulphur(structure, picks, *, tolerance: float = 0.3):
    """A copy of ``structure`` with one S atom taken from each S2 site in ``picks``."""
    from temseg.simulate.structures import S1

    atoms = structure.atoms.copy()
    xy = atoms.positions[:, :2]
    symbols = np.array(atoms.get_chemical_symbols())
    drop = []
    for site in picks:
        near = np.flatnonzero((symbols == "S")
                              & (np.hypot(*(xy - structure.sites[site]).T) < tolerance))
        drop.append(near[np.argmax(atoms.positions[near, 2])])  # the upper S of the pair
    del atoms[drop]
    classes = structure.site_classes.copy()
    classes[list(picks)] = S1
    return dataclasses.replace(structure, atoms=atoms, site_classes=classes,
                               particle=np.delete(structure.particle, drop))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="focal-series species model")
    parser.add_argument("--structures", type=int, default=10)
    parser.add_argument("--removed", type=int, default=5, help="S atoms removed per structure")
    parser.add_argument("--column-distance", type=float, default=0.9, help="Å")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from temseg.analyze.columns import column_positions, series_drift, speck_px
    from temseg.analyze.column_events import column_transitions
    from temseg.config import load_config
    from temseg.infer import load_segmenter
    from temseg.simulate.config import SimulateConfig
    from temseg.simulate.pipeline import Renderer, draw_imaging, geometry, make_labels
    from temseg.simulate.structures import S1, S2, build_structure
    from temseg.simulate.waves import exit_wave

    torch.set_num_threads(args.threads)
    seg = load_segmenter(args.model, device="cpu")
    config = load_config(SimulateConfig, ROOT / "configs" / "simulate_mos2.yaml")
    geo = geometry(config)
    sampling = geo.sampling
    k = len(seg.classes)
    distance = args.column_distance / sampling
    speck = speck_px(None, model_sampling=seg.sampling, sampling=sampling)
    rng = np.random.default_rng(args.seed)
    made = found_true = found_false = 0
    other_false = 0
    drift_error = []
    start = time.perf_counter()
    for _ in range(args.structures):
        structure = build_structure(config.structure, cell=geo.cell, rng=rng, field=geo.field)
        inside = np.flatnonzero(structure.site_classes == S2)
        # S2 sites inside the image, away from its edge
        x, y = (structure.sites[inside] - np.array(geo.origin)).T / sampling
        margin = 3 * distance
        inside = inside[(x > margin) & (x < config.size - margin)
                        & (y > margin) & (y < config.size - margin)]
        picks = rng.choice(inside, size=min(args.removed, len(inside)), replace=False)
        changed = remove_sulphur(structure, picks)
        imaging = draw_imaging(config.imaging, rng)
        series, labels = [], []
        for s in (structure, changed):
            wave = exit_wave(s.atoms, gpts=geo.wave_gpts, energy=config.imaging.energy,
                             slice_thickness=config.slice_thickness)
            renderer = Renderer(config, geo, wave)
            clean = renderer.focal(imaging, config.focal_series)
            if not series:
                drawn = renderer.draw_detector(rng)
            series.append(np.stack([renderer.detect(c, drawn, rng) for c in clean]))
            labels.append(make_labels(s, config, geo)[0])
        # the sample drifts between the two series: shift the second by a few pixels
        shift = tuple(int(v) for v in rng.integers(-6, 7, 2))
        series[1] = np.roll(series[1], shift, axis=(1, 2))
        maps = [seg.predict_proba(s, sampling=sampling).argmax(0).astype(np.uint8)
                for s in series]
        drift = series_drift(maps[0], maps[1])
        drift_error.append(np.hypot(drift[0] - shift[0], drift[1] - shift[1]))
        before = column_positions(maps[0], classes=seg.classes, min_area_px=speck)
        after = column_positions(maps[1], classes=seg.classes, min_area_px=speck)
        result = column_transitions(before, after, n_classes=k, max_distance_px=distance,
                                    drift=drift, shape=maps[0].shape)
        # where the S2 -> S1 pairs lie, in the first series
        # a site's first coordinate runs along the image rows (abTEM order): as (x, y) in px
        made_xy = ((structure.sites[picks] - np.array(geo.origin)) / sampling)[:, ::-1]
        i, j = result["pairs"]
        s2s1 = before[i[(before[i, 0] == S2) & (after[j, 0] == S1)], 1:3]
        true = sum(np.min(np.hypot(*(made_xy - p).T)) <= distance for p in s2s1)
        made += len(picks)
        found_true += true
        found_false += len(s2s1) - true
        t = result["transitions"]
        other_false += int(t.sum() - np.trace(t) - t[S2, S1])
        if np.count_nonzero(labels[1] == S1) <= np.count_nonzero(labels[0] == S1):
            raise SystemExit("the structure with S atoms removed has no more S1 label pixels")
    recall = found_true / max(made, 1)
    print(f"{args.model}: {args.structures} structures, {made} S atoms removed (S2 → S1), "
          f"{time.perf_counter() - start:.0f} s")
    print(f"drift error median {np.median(drift_error):.2f} px, max {max(drift_error):.2f} px")
    print(f"S2 → S1 events found: {found_true} true of {made} made (recall {recall:.3f}), "
          f"{found_false} false; other false changes of class: {other_false}")


if __name__ == "__main__":
    main()
