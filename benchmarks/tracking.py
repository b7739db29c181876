"""Particle tracking on a simulated in-situ movie whose truth is known.

Builds a seeded movie in memory (default 50 frames of 512²): about twenty blob-shaped
particles (radius 5-25 px) that ripen (the large grow, the small shrink, some away),
coalesce (pairs that grow and move into one, then sinter), nucleate, move a little on their
own (one small particle hops 16 px in one frame), and a field that drifts (a random walk of
1-4 px per frame with three jumps of about 15 px) so that particles cross the image border.
:class:`temseg.analyze.tracking.ParticleTracker` then follows

  (a) the true masks; (a') the same with ``max_drift_px=10``, under the jumps;
  (b) degraded masks: each particle of each frame eroded or dilated by 1 px (or kept, a
      third each), about four specks per frame (radius 1.2-2.8 px), three frames blank
      and skipped;
  (c) masks thresholded from noisy rendered images (mass contrast, fringes, amorphous
      background and white noise; Gaussian blur σ 2 px, threshold at half the contrast),

and the script prints how its tracks and events compare with the truth, and the time per
frame of ``update`` at 512² and at 2048² (the true masks scaled 4×).

Matching. A found particle (a frame's connected component) is the true particle that covers
most of its pixels, if that is at least half of them; else it matches none (a speck). A true
*particle* is one visit of the field: a run of given frames in which it has at least 16 px
(the tracker's least area) in the image; leaving and coming back makes two. A track is the
true particle most of its matched particles are. ``id changes``: over all true particles,
how often the track of the particle found for it (the largest, if several) changes from one
frame it is found in to the next; ``fragmented``: true particles found under two or more
tracks; ``mixed``: tracks holding two or more true particles (a swap or a hand-over).

True events happen at the first given frame of the new state: a coalescence when the two
true particles first touch (8-connected; the smaller one ends then, and sinters into the
larger over the next frames); an appearance when a particle first has 16 px in the image:
an entry where it had them on the sample just outside the image in the frame before, else
a nucleation; a vanishing when it no longer has them: an exit where it still has them
outside the image, else a dissolution. A found ``merged`` is right when its particle is the
survivor, one of the tracks involved held the absorbed particle, and its frame is the true
one (±0) or one off (±1); an ``appeared``/``vanished`` is right when the particle it names
(its track's true particle) starts/ends there ±1, and its ``touches_border`` should be True
at entries and exits, False at nucleations and dissolutions. Each true event is claimed
once; found events that claim none within 5 frames are false.

    python benchmarks/tracking.py [--frames 50] [--size 512] [--seed 0] [--big-frames 12]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

MIN_AREA = 16  # the tracker's least particle area (label_particles' default), px
OFF = 5        # found events up to this many frames off a true one are late, not false
MARGIN = 64    # the canvas reaches this far (px) past the image on each side


# -- the movie --------------------------------------------------------------------------------

@dataclass
class Particle:
    id: int
    y: float  # position on the sample (px); in the image at (y, x) + the drift of the frame
    x: float
    r: float
    growth: float = 0.0           # px per frame
    velocity: tuple = (0.0, 0.0)  # steady motion on the sample, px per frame
    born: int = 0
    hop: tuple | None = None      # (frame, dy, dx): a jump on the sample
    shape: tuple = (0.0, 0.0, 0.0, 0.0)  # a2, phase2, a3, phase3: r(θ) modulation
    root: int = 0                 # the particle it is sintering into (itself: its id)
    gone: int | None = None       # the frame it was no longer there


@dataclass
class Movie:
    labels: np.ndarray  # (F, H, W) int16: the true particle of each pixel (0: none)
    drift: np.ndarray   # (F, 2): where the sample's origin lies in the image, px
    merges: list        # (frame, survivor, absorbed)
    sample_px: np.ndarray  # (F, ids + 1) pixels per true particle, in and round the image
    born: dict          # id -> frame
    hopper: tuple       # (id, frame)
    counts: np.ndarray = field(init=False)  # (F, ids + 1) pixels per true particle

    def __post_init__(self):
        n = self.sample_px.shape[1]
        self.counts = np.stack([np.bincount(f.ravel(), minlength=n) for f in self.labels])


def _paint(canvas: np.ndarray, p: Particle, offset: np.ndarray, value: int) -> None:
    cy, cx = p.y + offset[0], p.x + offset[1]
    reach = p.r * 1.25 + 2
    y0, y1 = max(int(cy - reach), 0), min(int(cy + reach) + 2, canvas.shape[0])
    x0, x1 = max(int(cx - reach), 0), min(int(cx + reach) + 2, canvas.shape[1])
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    dy, dx = yy - cy, xx - cx
    a2, f2, a3, f3 = p.shape if p.r >= 4 else (0, 0, 0, 0)
    t = np.arctan2(dy, dx)
    edge = p.r * (1 + a2 * np.cos(2 * (t - f2)) + a3 * np.cos(3 * (t - f3)))
    canvas[y0:y1, x0:x1][dy**2 + dx**2 <= edge**2] = value


def _contacts(canvas: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of different particles whose pixels touch (8-connected)."""
    found = set()
    for a, b in ((canvas[1:], canvas[:-1]), (canvas[:, 1:], canvas[:, :-1]),
                 (canvas[1:, 1:], canvas[:-1, :-1]), (canvas[1:, :-1], canvas[:-1, 1:])):
        m = (a > 0) & (b > 0) & (a != b)
        if m.any():
            found |= {tuple(sorted(p)) for p in np.unique(np.stack([a[m], b[m]], 1), axis=0)}
    return sorted(found)


def make_movie(*, n_frames: int = 50, size: int = 512, seed: int = 0) -> Movie:
    """The seeded movie (see the module's notes)."""
    rng = np.random.default_rng(seed)
    F, S = n_frames, size
    steps, theta = np.zeros((F, 2)), rng.uniform(0, 2 * np.pi)
    for t in range(1, F):
        theta += rng.normal(0, 0.35)
        steps[t] = rng.uniform(1, 4) * np.array([np.sin(theta), np.cos(theta)])
    for t in rng.choice(np.arange(5, F), 3, replace=False):  # jumps of ~15 px
        a = rng.uniform(0, 2 * np.pi)
        steps[t] += rng.uniform(14, 17) * np.array([np.sin(a), np.cos(a)])
    drift = np.cumsum(steps, axis=0)

    keep_out: list[tuple[float, float, float]] = []  # (y, x, reach) on the sample

    def place(reach, t, lo, hi):
        """A sample position clear of the others, in [lo, hi)² of the image at frame t."""
        for _ in range(3000):
            iy, ix = rng.uniform(lo, hi, 2)
            y, x = iy - drift[t, 0], ix - drift[t, 1]
            if all(np.hypot(y - py, x - px) >= reach + pr + 12 for py, px, pr in keep_out):
                keep_out.append((y, x, reach))
                return y, x
        return None

    def shape():
        return (rng.uniform(0, 0.12), rng.uniform(0, np.pi), rng.uniform(0, 0.07),
                rng.uniform(0, np.pi))

    parts: list[Particle] = []

    def add(**kw):
        parts.append(Particle(id=len(parts) + 1, **kw))
        return parts[-1]

    for k, (lo, hi) in enumerate([(0.15, 0.3), (0.35, 0.5), (0.55, 0.7)]):  # coalescences
        tc = int(rng.uniform(lo, hi) * F)
        ra, rb, u = rng.uniform(12, 17), rng.uniform(7, 10), 0.5
        d0 = ra + rb + 0.06 * tc + u * tc  # they touch near tc
        a = rng.uniform(0, 2 * np.pi)
        e = np.array([np.sin(a), np.cos(a)])
        at = place(d0 + rb + 3, tc, 150, S - 150)
        if at is None:
            continue
        add(y=at[0], x=at[1], r=ra, growth=0.04, shape=shape())
        add(y=at[0] + d0 * e[0], x=at[1] + d0 * e[1], r=rb, growth=0.02,
            velocity=tuple(-u * e), shape=shape())
    th = int(0.55 * F)  # the hopper: 16 px in one frame, more than twice its radius
    at = place(7 + 16, th, 120, S - 120)
    a = rng.uniform(0, 2 * np.pi)
    hopper = add(y=at[0], x=at[1], r=7.0, hop=(th, 16 * np.sin(a), 16 * np.cos(a)))
    for _ in range(2):  # nucleations
        tn = int(rng.uniform(0.2, 0.75) * F)
        at = place(2.7 + 0.2 * (F - tn), tn, 80, S - 80)
        if at is not None:
            add(y=at[0], x=at[1], r=2.7, growth=0.2, born=tn)
    for _ in range(2):  # dissolutions
        td, r0 = int(rng.uniform(0.3, 0.8) * F), rng.uniform(6, 8)
        at = place(r0, td, 80, S - 80)
        if at is not None:
            add(y=at[0], x=at[1], r=r0, growth=-(r0 - 2.0) / td, shape=shape())
    lo, hi = (-drift).min(0) - 30, (-drift).max(0) + S + 30  # what the field sweeps
    n_more = int(round(11 * np.prod(hi - lo) / S**2))
    for _ in range(n_more):  # the rest ripen: the large grow, the small shrink
        r0 = rng.uniform(5, 22)
        g = min(0.09 * (r0 - 12) / 10 + rng.normal(0, 0.02), (25 - r0) / F)
        reach = max(r0, r0 + g * F)
        for _try in range(200):
            y, x = rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1])
            if all(np.hypot(y - py, x - px) >= reach + pr + 12 for py, px, pr in keep_out):
                keep_out.append((y, x, reach))
                add(y=y, x=x, r=r0, growth=g, shape=shape())
                break
    for p in parts:
        p.root = p.id
    by_id = {p.id: p for p in parts}

    labels = np.zeros((F, S, S), np.int16)
    sample_px = np.zeros((F, len(parts) + 1), np.int64)
    merges = []
    for t in range(F):
        alive = [p for p in parts if p.born <= t and p.gone is None]
        if t:
            for p in sorted(alive, key=lambda p: p.root != p.id):  # roots first
                if p.root != p.id:  # sintering into its root: moves in, its area goes over
                    a = by_id[p.root]
                    dy, dx = a.y - p.y, a.x - p.x
                    d = max(np.hypot(dy, dx), 1e-9)
                    move = min(0.8, d)
                    p.y, p.x = p.y + move * dy / d, p.x + move * dx / d
                    r = max(p.r - 0.5, 0.0)
                    if r < 1 or d - move + r <= a.r:
                        r, p.gone = 0.0, t
                    a.r = float(np.sqrt(a.r**2 + p.r**2 - r**2))
                    p.r = r
                    continue
                if p.born < t:
                    p.r += p.growth
                p.y += p.velocity[0] + rng.normal(0, 0.35)
                p.x += p.velocity[1] + rng.normal(0, 0.35)
                if p.hop and p.hop[0] == t:
                    p.y, p.x = p.y + p.hop[1], p.x + p.hop[2]
                if p.r < 2.0:
                    p.gone = t  # dissolved
            alive = [p for p in alive if p.gone is None]
        canvas = np.zeros((S + 2 * MARGIN,) * 2, np.int32)
        for p in alive:
            _paint(canvas, p, drift[t] + MARGIN, p.root)
        while pairs := _contacts(canvas):  # coalescence: the smaller joins the larger
            a, b = pairs[0]
            na, nb = np.count_nonzero(canvas == a), np.count_nonzero(canvas == b)
            keep, lose = (a, b) if na >= nb else (b, a)
            for p in alive:
                if p.root == lose:
                    p.root = keep
            canvas[canvas == lose] = keep
            merges.append((t, keep, lose))
        labels[t] = canvas[MARGIN:-MARGIN, MARGIN:-MARGIN]
        sample_px[t] = np.bincount(canvas.ravel(), minlength=len(parts) + 1)
    return Movie(labels=labels, drift=drift, merges=merges, sample_px=sample_px,
                 born={p.id: p.born for p in parts}, hopper=(hopper.id, th))


# -- the masks --------------------------------------------------------------------------------

def degraded_masks(movie: Movie, rng: np.random.Generator):
    """Each frame's particles eroded, dilated (1 px, 3×3) or kept, a third each; specks."""
    F, S = movie.labels.shape[:3:2]
    square = np.ones((3, 3), bool)
    yy, xx = np.mgrid[:S, :S]
    out = {}
    for f in range(F):
        mask = movie.labels[f] > 0
        lab, n = ndimage.label(mask, square)
        choice = np.concatenate([[0], rng.integers(0, 3, n)])[lab]  # 0 keep, 1 erode, 2 dilate
        eroded = ndimage.binary_erosion(mask, square)
        new = mask & ~((choice == 1) & ~eroded)
        new |= ndimage.binary_dilation(mask & (choice == 2), square)
        for _ in range(rng.poisson(4)):
            cy, cx, r = rng.uniform(0, S), rng.uniform(0, S), rng.uniform(1.2, 2.8)
            new |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        out[f] = new
    return out


def thresholded_masks(movie: Movie, rng: np.random.Generator, *, contrast=1.0,
                      fringes=0.6, amorphous=0.15, noise=1.0, blur_px=2.0):
    """Masks segmented from rendered noisy images by a blur and a threshold."""
    from temseg.synthetic import lattice

    F, S = movie.labels.shape[:3:2]
    lattices = [lattice((S, S), spacing_px=5.0, angle_deg=a) for a in (0, 17, 38, 51)]
    out = {}
    for f in range(F):
        lab = movie.labels[f].astype(np.int64)
        bg = ndimage.gaussian_filter(rng.standard_normal((S, S)), 1.5)
        image = amorphous * bg / bg.std()
        fr = np.choose(lab % 4, lattices)
        image += np.where(lab > 0, fringes * fr - contrast, 0.0)
        image += noise * rng.standard_normal((S, S))
        out[f] = ndimage.gaussian_filter(image, blur_px) < -contrast / 2
    return out


# -- tracking and scoring ---------------------------------------------------------------------

def follow(masks: dict, frames: list[int], **options):
    """Run the tracker over ``frames``: it, per frame (labels, rows), and the events."""
    from temseg.analyze.particles import label_particles, particle_table
    from temseg.analyze.tracking import ParticleTracker

    tracker = ParticleTracker(**options)
    found, events = {}, []
    for f in frames:
        labels = label_particles(masks[f])
        rows = particle_table(masks[f])
        events += tracker.update(f, labels, rows)
        found[f] = (labels, rows)
    events += tracker.finish()  # those missing from the last frames (gap closing)
    return tracker, found, events


def timing(masks: list[np.ndarray], passes: int = 3) -> tuple[float, float]:
    """Median seconds per frame of labels + table, and of ``update``: each frame's best of
    ``passes`` passes over ``masks`` (the first warms up; other jobs on the cores slow some)."""
    from temseg.analyze.particles import label_particles, particle_table
    from temseg.analyze.tracking import ParticleTracker

    tables, seconds = np.full((2, len(masks)), np.inf)
    for _ in range(passes):
        tracker = ParticleTracker()
        for f, mask in enumerate(masks):
            t0 = time.perf_counter()
            labels, rows = label_particles(mask), particle_table(mask)
            t1 = time.perf_counter()
            tracker.update(f, labels, rows)
            t2 = time.perf_counter()
            tables[f], seconds[f] = min(tables[f], t1 - t0), min(seconds[f], t2 - t1)
    return float(np.median(tables)), float(np.median(seconds[1:]))


def score(movie: Movie, frames: list[int], found: dict, events: list[dict], tracker, *,
          verbose: bool = False) -> dict:
    """The counts of the module's notes."""
    n_ids = movie.counts.shape[1]
    pos = {f: k for k, f in enumerate(frames)}
    # true particles: runs of given frames with >= MIN_AREA px in the image
    unit_at, units, open_ = {}, [], {}
    for k, f in enumerate(frames):
        for i in np.flatnonzero(movie.counts[f] >= MIN_AREA):
            if i == 0:
                continue
            i = int(i)
            if k and (frames[k - 1], i) in unit_at:
                units[open_[i]][2] = f
            else:
                open_[i] = len(units)
                units.append([i, f, f])
            unit_at[(f, i)] = open_[i]
    absorbed = {lose: (t, keep) for t, keep, lose in movie.merges}
    true_events = []  # [kind, frame, unit, survivor unit, frames off when claimed]
    first_visit = {}
    for u, (i, f0, f1) in enumerate(units):
        first_visit.setdefault(i, u)
        if f0 != frames[0]:
            before = frames[pos[f0] - 1]
            kind = ("entry" if movie.sample_px[before, i] >= MIN_AREA else
                    "nucleation" if movie.born[i] > 0 and first_visit[i] == u else "other")
            true_events.append([kind, f0, u, None, None])
        if f1 != frames[-1]:
            nxt = frames[pos[f1] + 1]
            m = absorbed.get(i)
            if m and f1 < m[0] <= nxt:
                true_events.append(["merge", nxt, u, unit_at.get((nxt, m[1])), None])
            elif movie.sample_px[nxt, i] >= MIN_AREA:
                true_events.append(["exit", nxt, u, None, None])
            else:
                true_events.append(["dissolution", nxt, u, None, None])
    def near(f, i):
        """The true particle ``i`` is at ``frame``, or at the nearest frame (at most OFF off)
        where it has MIN_AREA px (found with fewer: dilated, or thresholded larger)."""
        for d in sorted(range(-OFF, OFF + 1), key=abs):
            k = pos[f] + d
            if 0 <= k < len(frames) and (frames[k], i) in unit_at:
                return unit_at[(frames[k], i)]
        return None

    # found particles -> true particles (majority overlap)
    det = {}  # (frame, label) -> (track, unit or None, shared px)
    for f in frames:
        lab, rows = found[f]
        truth = movie.labels[f]
        m = lab > 0
        codes = lab[m].astype(np.int64) * n_ids + truth[m]
        pairs, shared = np.unique(codes, return_counts=True)
        area = np.bincount(lab.ravel())
        best = {}
        for (lbl, i), c in zip(np.stack(np.divmod(pairs, n_ids), 1).tolist(), shared.tolist()):
            if i and c > best.get(lbl, (0, 0))[1]:
                best[lbl] = (i, c)
        for r in rows:
            i, c = best.get(r["label"], (0, 0))
            u = near(f, i) if 2 * c >= area[r["label"]] else None
            det[(f, r["label"])] = (r["track"], u, c)
    per_unit = {}  # unit -> {frame: (shared, track)} of the largest found for it
    per_track = {}  # track -> units
    for (f, _), (track, u, c) in det.items():
        per_track.setdefault(track, []).append(u)
        if u is not None and c > per_unit.setdefault(u, {}).get(f, (0, 0))[0]:
            per_unit[u][f] = (c, track)
    id_changes = fragmented = 0
    for runs in per_unit.values():
        seq = [runs[f][1] for f in sorted(runs)]
        id_changes += sum(a != b for a, b in zip(seq, seq[1:]))
        fragmented += len(set(seq)) > 1
    mixed = sum(len({u for u in us if u is not None}) > 1 for us in per_track.values())
    on_truth = {t for t, us in per_track.items() if any(u is not None for u in us)}

    def unit_of(track):
        """The true particle of ``track``: the one most of its found particles are."""
        us = [u for u in per_track.get(track, []) if u is not None]
        return max(set(us), key=us.count) if us else None

    def claim(kinds, u, frame, tol, survivor=None, involved=()):
        """Claim the first unclaimed true event that fits, ``tol`` frames off: its kind."""
        for ev in true_events:
            if (ev[0] in kinds and ev[4] is None and abs(ev[1] - frame) == tol
                    and (ev[2] == u if survivor is None else
                         ev[3] == survivor and ev[2] in involved)):
                ev[4] = frame - ev[1]
                return ev[0]
        return False

    matched = [False] * len(events)  # the kind of true event each claimed
    for tol in range(OFF + 1):  # the exact ones first, then one frame off, ...
        for k, e in enumerate(events):
            if matched[k]:
                continue
            f, track = e["frame"], e["track"]
            if e["event"] == "merged":
                others = [int(t) for t in e["other_tracks"].split(";")]
                involved = {unit_of(t) for t in [track, *others]}
                matched[k] = claim(("merge",), None, f, tol, survivor=unit_of(track),
                                   involved=involved)
            elif e["event"] == "appeared":
                matched[k] = claim(("nucleation", "entry", "other"), unit_of(track), f, tol)
            elif e["event"] == "vanished":
                matched[k] = claim(("dissolution", "exit"), unit_of(track), f, tol)
    kinds = ("merge", "nucleation", "entry", "dissolution", "exit", "other")
    n_true = {k: sum(ev[0] == k for ev in true_events) for k in kinds}
    n_found = {k: sum(ev[0] == k and ev[4] is not None and abs(ev[4]) <= 1
                      for ev in true_events) for k in kinds}
    offsets = {k: sorted(ev[4] for ev in true_events if ev[0] == k and ev[4] is not None
                         and abs(ev[4]) > 1) for k in kinds}
    merges_exact = sum(ev[0] == "merge" and ev[4] == 0 for ev in true_events)
    flagged = [bool(e["touches_border"]) == (kind in ("entry", "exit"))
               for e, kind in zip(events, matched)
               if kind in ("entry", "exit", "nucleation", "dissolution")]
    if verbose:
        for e, kind in zip(events, matched):
            if kind and kind != "merge" and bool(e["touches_border"]) != (kind in ("entry",
                                                                                "exit")):
                print(f"    {e['event']} at frame {e['frame']}, track {e['track']}, is the "
                      f"true {kind}, touches_border {e['touches_border']}")
    false, specks, late = {}, 0, 0
    for e, ok in zip(events, matched):
        if not ok:
            false[e["event"]] = false.get(e["event"], 0) + 1
            specks += e["track"] not in on_truth
    late = sum(len(v) for v in offsets.values())
    if verbose:
        for kind, frame, u, _, off in true_events:
            print(f"    true {kind} at frame {frame}, particle {units[u][0]}: "
                  + ("missed" if off is None else f"found {off:+d}"))
        for e, ok in zip(events, matched):
            if not ok and e["track"] in on_truth:
                print(f"    false {e['event']} at frame {e['frame']}, track {e['track']} "
                      f"(y {e['centroid_y_px']:.0f}, x {e['centroid_x_px']:.0f}, "
                      f"{e['area_px']} px)")
    drift_off = []
    for f, dy, dx in tracker.drifts:
        true = movie.drift[f] - movie.drift[frames[pos[f] - 1]]
        if np.hypot(dy - true[0], dx - true[1]) > 1.5:
            drift_off.append(f)
    if verbose and drift_off:
        print(f"    drift off by > 1.5 px at frames {drift_off}")
    return {"units": len(units), "tracks": len(per_track), "on_truth": len(on_truth),
            "missed": len(units) - len(per_unit), "id_changes": id_changes,
            "fragmented": fragmented, "mixed": mixed, "merges_exact": merges_exact,
            "true": n_true, "found": n_found, "offsets": offsets, "late": late, "false": false,
            "false_specks": specks, "drift_off": len(drift_off),
            "flag_right": sum(flagged), "flag_n": len(flagged), "drift_n": len(tracker.drifts)}


def report(s: dict) -> None:
    t, f, off = s["true"], s["found"], s["offsets"]

    def got(kind):
        late = f" (+{len(off[kind])} at {', '.join(f'{o:+d}' for o in off[kind])})"
        return f"{f[kind]}/{t[kind]}" + (late if off[kind] else "")

    false = sum(s["false"].values())
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(s["false"].items()))
    print(f"  true particles {s['units']}, tracks {s['tracks']} ({s['on_truth']} on a true "
          f"particle), never found {s['missed']}")
    print(f"  id changes {s['id_changes']}, fragmented {s['fragmented']}, mixed tracks "
          f"{s['mixed']}")
    print(f"  merges: at the frame {s['merges_exact']}, within 1 {got('merge')}")
    print(f"  appearances: nucleations {got('nucleation')}, entries {got('entry')}; "
          f"vanishings: dissolutions {got('dissolution')}, exits {got('exit')}"
          + (f"; other {got('other')}" if t["other"] else ""))
    print(f"  touches_border right (True at entries and exits, else False) for "
          f"{s['flag_right']} of these {s['flag_n']}")
    print(f"  false events {false}" + (f" ({kinds}; {s['false_specks']} on tracks of no "
                                      "true particle)" if false else ""))
    print(f"  drift off by > 1.5 px in {s['drift_off']} of {s['drift_n']} frames")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--big-frames", type=int, default=12,
                        help="frames timed at 4x the size (0: none)")
    parser.add_argument("--max-gap", type=int, default=None,
                        help="ParticleTracker's max_gap in (a)-(c) (default: its default)")
    parser.add_argument("--verbose", action="store_true",
                        help="list the true events and the false ones on true particles")
    args = parser.parse_args()
    t0 = time.perf_counter()
    movie = make_movie(n_frames=args.frames, size=args.size, seed=args.seed)
    steps = np.hypot(*np.diff(movie.drift, axis=0).T)
    hid, hf = movie.hopper
    print(f"movie: {args.frames} frames of {args.size}², seed {args.seed}, built in "
          f"{time.perf_counter() - t0:.1f} s; {int(movie.labels.max())} particles "
          f"({sum((movie.counts[:, 1:] >= MIN_AREA).any(0))} seen), "
          f"{len(movie.merges)} coalescences at frames {[m[0] for m in movie.merges]}; "
          f"drift per frame median {np.median(steps):.1f} px, largest "
          f"{', '.join(f'{s:.1f}' for s in sorted(steps)[-3:])} px; particle {hid} hops "
          f"16 px at frame {hf}")
    all_frames = list(range(args.frames))
    true_masks = {f: movie.labels[f] > 0 for f in all_frames}
    rng = np.random.default_rng(args.seed + 1)
    skipped = sorted(rng.choice(np.arange(1, args.frames), 3, replace=False).tolist())
    runs = [("(a) true masks", true_masks, all_frames, {}),
            ("(a') true masks, max_drift_px=10", true_masks, all_frames,
             {"max_drift_px": 10}),
            (f"(b) degraded masks, frames {skipped} blank and skipped",
             degraded_masks(movie, rng), [f for f in all_frames if f not in skipped], {}),
            ("(c) thresholded noisy images", thresholded_masks(movie, rng), all_frames, {})]
    for name, masks, frames, options in runs:
        if args.max_gap is not None:
            options = {**options, "max_gap": args.max_gap}
        print(f"\n{name}")
        tracker, found, events = follow(masks, frames, **options)
        report(score(movie, frames, found, events, tracker, verbose=args.verbose))
    print()
    big = min(args.big_frames, args.frames)
    scaled = [("", args.frames, 1)] + [("the true masks scaled 4x, ", big, 4)] * (big > 1)
    for what, n, k in scaled:
        masks = [np.repeat(np.repeat(true_masks[f], k, 0), k, 1) for f in range(n)]
        table_s, update_s = timing(masks)
        print(f"{k * args.size}² ({what}{n} frames): update {1e3 * update_s:.1f} ms per "
              f"frame (median of each frame's best of 3), labels and table {1e3 * table_s:.1f} ms")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
