"""Particles followed through an in-situ movie: tracks, and their coalescence, splitting,
appearing and vanishing.

The particle table of a stack (:func:`temseg.analyze.particles.particle_table` per
frame) numbers the particles of each frame in raster order, so a ``label`` means a
different particle in every frame. :class:`ParticleTracker` is fed the frames one by one
(a stack is streamed, never held) and gives every particle a ``track`` that stays the same
from frame to frame, and the events between frames: ``appeared``, ``vanished``, ``merged``
(coalescence, sintering: two or more particles become one) and ``split``.
:meth:`ParticleTracker.tracks_table` sums each track up (when it was seen, its size first,
last and at most, where it came from and what became of it); :func:`write_tracks_csv`,
:func:`write_events_csv` and :func:`plot_tracks` write them.

How two frames are linked
-------------------------
1. The drift from the previous frame seen to this one, by phase correlation of the two
   foreground masks (:func:`temseg.analyze.columns.series_drift`), rounded to whole
   pixels. A drift over ``max_drift_px`` is not believed, and neither is one under which
   less foreground overlaps than without it: the frames are then compared unshifted.
2. The previous labels, shifted by the drift, are laid on the current labels and the
   pixels each pair of particles shares are counted. A pair is *linked* where it shares
   at least ``min_overlap`` of the smaller particle's area (the previous particle's area
   inside the frame after the shift).
3. Each track continues into at most one particle: links are taken greedily in order of
   shared pixels (most first; ties: the larger previous, the larger current particle,
   the lower track, the lower label), each joining a previous and a current particle that
   are both still free. In a merge the largest previous particle lies wholly inside the
   merged one and so shares the most: the merged particle continues its track. In a split
   the largest fragment shares the most with the parent and keeps its track.
4. What is left: a previous particle linked only to particles taken by other tracks ends,
   ``merged into T`` (T: the track of the particle it shares most with); one linked to
   nothing ``vanished``. A current particle linked only to previous particles that went
   on elsewhere starts a track with origin ``split from T`` (T: the previous particle it
   shares most with); one linked to nothing ``appeared``. Many-to-many groups (a merge
   and a split at once) resolve by the same rules, deterministically; a link between two
   particles that both went on in their own tracks is no event.

Gap closing
-----------
With ``max_gap`` > 0 a previous particle linked to nothing is not ended at once but kept
*pending* (its pixels in the frame it was last seen, the drift summed since) for up to
``max_gap`` frames given. A current particle that would otherwise have ``appeared`` (linked
to no previous particle at all) and overlaps a pending one, laid on it by the summed drift,
by the same ``min_overlap`` rule, continues the pending track: no ``vanished`` and no
``appeared`` event, and the track's ``gaps`` (in the tracks table) counts one more. Links to
pending particles are taken greedily as in 3., after those of step 3. A pending particle not
found within ``max_gap`` frames is reported ``vanished`` with the frame it was first missing
from (and its place and size where it was last seen), but in the events of the frame where
that was decided: up to ``max_gap`` frames late. :meth:`ParticleTracker.finish` gives the
events of those still pending at the end of the movie; the tracks table counts them as
``vanished`` already. Gaps are counted in frames given: a skipped (blank) frame is no gap.

A particle that moves more than about its radius between two frames *against* the drift of
the whole field (or drifts in or out across the image border) is seen as one vanishing and
another appearing; events carry ``touches_border`` to tell the latter apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from temseg.analyze.particles import TIMING
from temseg.errors import InputError
from temseg.io.files import write_csv, write_figure

#: the default least overlap of a link, as a fraction of the smaller particle's area
MIN_OVERLAP = 0.2

#: the columns of the tracks table (:meth:`ParticleTracker.tracks_table`)
TRACK_COLUMNS = ("track", "first_frame", "last_frame", "n_frames",
                 "first_area_px", "last_area_px", "first_area_nm2", "last_area_nm2",
                 "first_diameter_px", "last_diameter_px", "max_diameter_px",
                 "first_diameter_nm", "last_diameter_nm", "max_diameter_nm",
                 "origin", "fate", "gaps", "touches_border")

#: the columns of an event (:meth:`ParticleTracker.update`)
EVENT_COLUMNS = ("frame", "event", "track", "other_tracks", "centroid_y_px", "centroid_x_px",
                 "centroid_y_nm", "centroid_x_nm", "area_px", "area_nm2", "touches_border")

#: the default number of frames a particle may be missing from and keep its track
MAX_GAP = 0

#: the events in the order a frame's events are listed for one track
EVENTS = ("merged", "split", "appeared", "vanished")


def _diameter(area_px: float) -> float:
    """The diameter (px) of the disc of ``area_px`` pixels."""
    return float(2.0 * np.sqrt(area_px / np.pi))


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved by ``(dy, dx)`` whole pixels, zeros where nothing moved in."""
    out = np.zeros_like(image)
    h, w = image.shape
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


class ParticleTracker:
    """Follow the particles of a movie frame by frame: a stable ``track`` for each, and the
    events between frames (see the module's notes for the rules).

    Parameters
    ----------
    sampling : float, optional
        Å per pixel; without it the nm and nm² values are ``None``.
    min_overlap : float
        Least fraction (0–1] of the smaller particle's area that a previous and a current
        particle share, once drift is undone, to be linked.
    drift : bool
        Undo the drift between frames (phase correlation of the masks); without it the
        frames are compared as they lie.
    max_drift_px : float, optional
        Largest believable drift (px) from one frame seen to the next; default a quarter
        of the frame's smaller side. A larger estimate (a lattice of particles repeats)
        is ignored.
    max_gap : int
        Most frames given in a row that a particle may be missing from and keep its track
        (gap closing, see the module's notes); 0: a particle missed once ends its track.

    Attributes
    ----------
    drifts : list of (int, float, float)
        ``(frame, dy, dx)``: the shift (px, whole pixels) applied to the previous frame
        seen to lay it on ``frame``, for every frame after the first.

    Examples
    --------
    >>> from temseg.analyze.particles import label_particles, particle_table
    >>> yy, xx = np.mgrid[:40, :40]
    >>> tracker = ParticleTracker(sampling=2.0)
    >>> for frame, radius in enumerate([4, 11]):  # the right disc grows into the left one
    ...     mask = ((yy - 20) ** 2 + (xx - 10) ** 2 <= 36) | (
    ...         (yy - 20) ** 2 + (xx - 26) ** 2 <= radius**2)
    ...     rows = particle_table(mask, sampling=2.0)
    ...     events = tracker.update(frame, label_particles(mask), rows)
    >>> [(e["event"], e["track"], e["other_tracks"]) for e in events]
    [('merged', 1, '2')]
    >>> [(t["track"], t["fate"]) for t in tracker.tracks_table()]  # the larger before goes on
    [(1, 'in last frame'), (2, 'merged into 1')]
    """

    def __init__(self, *, sampling: float | None = None, min_overlap: float = MIN_OVERLAP,
                 drift: bool = True, max_drift_px: float | None = None,
                 max_gap: int = MAX_GAP):
        if not 0 < min_overlap <= 1:
            raise InputError(f"min_overlap: expected a fraction in (0, 1], got {min_overlap!r}")
        if sampling is not None and not sampling > 0:
            raise InputError(f"sampling: must be positive, got {sampling!r}")
        if max_drift_px is not None and not max_drift_px >= 0:
            raise InputError(f"max_drift_px: must be zero or more, got {max_drift_px!r}")
        if isinstance(max_gap, bool) or int(max_gap) != max_gap or max_gap < 0:
            raise InputError(f"max_gap: expected a whole number of frames >= 0, got {max_gap!r}")
        self.sampling = sampling
        self.max_gap = int(max_gap)
        self.min_overlap = float(min_overlap)
        self.drift = bool(drift)
        self.max_drift_px = max_drift_px
        self.drifts: list[tuple[int, float, float]] = []
        self._frame: int | None = None       # the last frame seen
        self._index: np.ndarray | None = None  # its particles as 1..n (0: none), int32
        self._tracks = np.zeros(0, np.int64)   # their tracks, in rows order
        self._rows: list[dict] = []           # their areas, centroids, touches_border
        self._summary: dict[int, dict] = {}  # track -> first/last frame, areas, origin, fate
        self._next = 1
        # the pending particles (gap closing), k = 0..: their pixels (y, x, k) in the frame
        # they were last seen, and per k: track, (dy, dx) summed since, frames missed, the
        # vanished event to give if not found
        self._gone_px = np.zeros((3, 0), np.int32)
        self._gone: list[dict] = []

    # -- one frame ---------------------------------------------------------------------------

    def update(self, frame: int, labels: np.ndarray, rows: list[dict]) -> list[dict]:
        """Link one frame to the last frame seen: set ``row["track"]`` on each row (in place)
        and return the events between the two.

        Parameters
        ----------
        frame : int
            The frame's index; larger than the last one given (skipped frames, e.g.
            blank ones, are simply not given).
        labels : (H, W) ndarray of int
            The frame's particles as :func:`temseg.analyze.particles.label_particles`
            numbers them (0: background), the same size in every frame.
        rows : list of dict
            The frame's particle rows (:func:`~temseg.analyze.particles.particle_table`),
            whose ``label`` numbers ``labels``; ``area_px``, ``centroid_y_px``,
            ``centroid_x_px`` and ``touches_border`` are used. Label pixels without a
            row are ignored.

        Returns
        -------
        list of dict
            The events with the keys of :data:`EVENT_COLUMNS`, sorted by track (none for
            the first frame given): at ``frame`` (with gap closing, ``vanished`` ones
            at an earlier frame are given late, see the notes), sorted by frame, then
            track; the place (centroid, px and nm) and size
            (area, px and nm²) are those of the particle in ``frame`` (for ``merged``: the
            merged particle; for ``split``: the fragment that kept the track;
            ``appeared``: the new one) or for ``vanished`` in the previous frame seen.
            ``other_tracks``: the tracks that merged in or split off, as ``"3;7"``.
            ``touches_border``: the particle touches the image border, or the drift between
            the two frames carries part of it across the border (a particle that appears or
            vanishes there may have drifted in or out rather than nucleated or dissolved).
        """
        labels = np.asarray(labels)
        if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"labels: expected a 2-D integer array, got {labels.dtype} "
                             f"of shape {labels.shape}")
        frame = int(frame)
        if self._frame is not None and frame <= self._frame:
            raise InputError(f"frame: expected one after frame {self._frame}, got {frame}")
        if self._index is not None and labels.shape != self._index.shape:
            raise InputError(f"labels: shape {labels.shape} differs from the previous "
                             f"frame's {self._index.shape}")
        index = self._index_image(labels, rows)
        n = len(rows)
        if self._index is None:
            tracks = np.arange(self._next, self._next + n, dtype=np.int64)
            self._next += n
            for row, track in zip(rows, tracks):
                self._start(int(track), frame, row, "present at start")
            events: list[dict] = []
        else:
            tracks, events = self._link(frame, index, rows)
        for row, track in zip(rows, tracks):
            row["track"] = int(track)
            self._extend(int(track), frame, row)
        self._frame, self._index, self._tracks = frame, index, tracks
        self._rows = [{k: row[k] for k in ("area_px", "centroid_y_px", "centroid_x_px",
                                           "touches_border")} for row in rows]
        return sorted(events, key=lambda e: (e["frame"], e["track"],
                                             EVENTS.index(e["event"])))

    def finish(self) -> list[dict]:
        """The ``vanished`` events of the particles still pending (gap closing) after the
        last frame: each at the frame it was first missing from. Call it once the movie is
        done (with ``max_gap=0``: always none); the tracks table counts them as vanished
        before. The pending particles are dropped.

        Returns
        -------
        list of dict
            Events as :meth:`update` gives them, sorted by frame, then track.
        """
        events = [g["event"] for g in self._gone]
        self._gone, self._gone_px = [], np.zeros((3, 0), np.int32)
        return sorted(events, key=lambda e: (e["frame"], e["track"]))

    @staticmethod
    def _index_image(labels: np.ndarray, rows: list[dict]) -> np.ndarray:
        """``labels`` renumbered 1..n in the order of ``rows`` (0: background, no row)."""
        ids = np.array([int(r["label"]) for r in rows], np.int64)
        top = int(max(labels.max(initial=0), ids.max(initial=0)))
        if ids.size and ids.min() < 1:
            raise InputError(f"rows: labels must be 1 or more, got {int(ids.min())}")
        lut = np.zeros(top + 1, np.int32)
        lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
        return lut[np.clip(labels, 0, None)]

    def _offset(self, index: np.ndarray) -> tuple[int, int]:
        """The whole-pixel shift that lays the previous frame on ``index`` (see the notes)."""
        from temseg.analyze.columns import series_drift

        if not self.drift:
            return 0, 0
        before, after = self._index > 0, index > 0
        dy, dx = series_drift(before, after, upsample=1)  # whole pixels are enough
        dy, dx = int(round(dy)), int(round(dx))
        limit = self.max_drift_px
        if limit is None:
            limit = min(index.shape) / 4
        if (dy, dx) == (0, 0) or np.hypot(dy, dx) > limit:
            return 0, 0
        if np.count_nonzero(_shifted(before, dy, dx) & after) < np.count_nonzero(before & after):
            return 0, 0
        return dy, dx

    def _link(self, frame: int, index: np.ndarray, rows: list[dict]):
        """The tracks of this frame's particles (in rows order) and the events."""
        dy, dx = self._offset(index)
        self.drifts.append((frame, float(dy), float(dx)))
        before = _shifted(self._index, dy, dx)
        n_prev, n_cur = len(self._tracks), len(rows)
        both = (before > 0) & (index > 0)
        codes = before[both].astype(np.int64) * (n_cur + 1) + index[both]
        pairs, shared = np.unique(codes, return_counts=True)
        i, j = np.divmod(pairs, n_cur + 1)
        i, j = i - 1, j - 1  # rows of the previous and the current frame
        prev_area = np.bincount(before.ravel(), minlength=n_prev + 1)[1:]  # inside the frame
        cur_area = np.bincount(index.ravel(), minlength=n_cur + 1)[1:]
        linked = shared >= self.min_overlap * np.minimum(prev_area[i], cur_area[j])
        i, j, shared = i[linked], j[linked], shared[linked]
        order = np.lexsort((j, self._tracks[i], -cur_area[j], -prev_area[i], -shared))
        i, j = i[order], j[order]  # links, strongest first
        went_on = np.full(n_prev, -1)   # the current particle each previous one became
        came_from = np.full(n_cur, -1)  # the previous particle each current one continues
        for a, b in zip(i.tolist(), j.tolist()):
            if went_on[a] < 0 and came_from[b] < 0:
                went_on[a], came_from[b] = b, a
        cut: dict[str, np.ndarray] = {}

        def carried(way: str) -> np.ndarray:
            """Per previous (``"out"``) or current (``"in"``) particle: whether the drift
            carries part of it across the image border (counted when first asked)."""
            if way not in cut:
                image, y, x, n = ((self._index, dy, dx, n_prev) if way == "out" else
                                  (index, -dy, -dx, n_cur))
                whole = np.bincount(image.ravel(), minlength=n + 1)[1:]
                cut[way] = (np.zeros(n, bool) if (y, x) == (0, 0) else
                            np.bincount(_shifted(image, y, x).ravel(), minlength=n + 1)[1:]
                            < whole)
            return cut[way]

        pending: list[int] = []  # previous particles linked to nothing, kept (max_gap)
        tracks = np.zeros(n_cur, np.int64)
        tracks[came_from >= 0] = self._tracks[came_from[came_from >= 0]]
        free = came_from < 0
        free[j] = False  # linked to a previous particle that went on elsewhere: a split
        resumed, events = self._resume(index, dy, dx, free, cur_area)
        tracks[resumed > 0] = resumed[resumed > 0]
        merged, split = {}, {}
        for b in range(n_cur):  # rows order: new tracks numbered in raster order
            if came_from[b] >= 0 or resumed[b] > 0:
                continue
            tracks[b] = self._next
            self._next += 1
            parents = i[j == b]  # strongest first
            if parents.size:
                parent = int(self._tracks[parents[0]])
                split.setdefault(parent, []).append(int(tracks[b]))
                self._start(int(tracks[b]), frame, rows[b], f"split from {parent}")
            else:
                self._start(int(tracks[b]), frame, rows[b], "appeared")
                events.append(self._event(frame, "appeared", int(tracks[b]), [], rows[b],
                                          across=bool(carried("in")[b])))
        for a in range(n_prev):
            if went_on[a] >= 0:
                continue
            track = int(self._tracks[a])
            into = j[i == a]
            if into.size:
                survivor = int(tracks[into[0]])
                self._summary[track]["fate"] = f"merged into {survivor}"
                merged.setdefault(survivor, []).append(track)
            else:
                self._summary[track]["fate"] = "vanished"
                event = self._event(frame, "vanished", track, [], self._rows[a],
                                    across=bool(carried("out")[a]))
                if self.max_gap:
                    pending.append(a)
                    self._gone.append({"track": track, "dy": dy, "dx": dx, "missed": 1,
                                       "event": event})
                else:
                    events.append(event)
        if pending:  # their pixels, numbered on from those pending before
            first = len(self._gone) - len(pending)
            lut = np.zeros(n_prev + 1, np.int32)
            lut[np.array(pending) + 1] = np.arange(first + 1, len(self._gone) + 1)
            mark = lut[self._index]
            ys, xs = np.nonzero(mark)
            new_px = np.stack([ys, xs, mark[ys, xs] - 1]).astype(np.int32)
            self._gone_px = np.concatenate([self._gone_px, new_px], axis=1)
        where = {int(t): b for b, t in enumerate(tracks)}
        for survivor, others in merged.items():
            events.append(self._event(frame, "merged", survivor, others, rows[where[survivor]]))
        for parent, others in split.items():
            events.append(self._event(frame, "split", parent, others, rows[where[parent]]))
        return tracks, events

    def _resume(self, index: np.ndarray, dy: int, dx: int, free: np.ndarray,
                cur_area: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        """Gap closing: the pending particles, moved by this frame's drift ``(dy, dx)``,
        laid on this frame's particles that are ``free`` (linked to no previous one). Per
        current particle the pending track it continues (0: none), and the ``vanished``
        events of those now missing from more than ``max_gap`` frames; the rest wait."""
        n_cur, n_gone = len(free), len(self._gone)
        resumed = np.zeros(n_cur, np.int64)
        if not n_gone:
            return resumed, []
        for g in self._gone:
            g["dy"] += dy
            g["dx"] += dx
        y, x, k = self._gone_px
        off = np.array([(g["dy"], g["dx"]) for g in self._gone], np.int64)
        y, x = y + off[k, 0], x + off[k, 1]
        h, w = index.shape
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        k, cur = k[inside], index[y[inside], x[inside]]
        gone_area = np.bincount(k, minlength=n_gone)  # inside the frame after the shift
        keep = cur > 0
        keep[keep] = free[cur[keep] - 1]
        codes = k[keep].astype(np.int64) * (n_cur + 1) + cur[keep]
        pairs, shared = np.unique(codes, return_counts=True)
        a, b = np.divmod(pairs, n_cur + 1)
        b = b - 1
        linked = shared >= self.min_overlap * np.minimum(gone_area[a], cur_area[b])
        a, b, shared = a[linked], b[linked], shared[linked]
        gone_tracks = np.array([g["track"] for g in self._gone], np.int64)
        order = np.lexsort((b, gone_tracks[a], -cur_area[b], -gone_area[a], -shared))
        found = np.zeros(n_gone, bool)
        for s, t in zip(a[order].tolist(), b[order].tolist()):
            if not found[s] and not resumed[t]:
                found[s], resumed[t] = True, gone_tracks[s]
        late, stay = [], np.zeros(n_gone, bool)
        for s, g in enumerate(self._gone):
            summary = self._summary[g["track"]]
            if found[s]:
                summary["fate"] = None
                summary["gaps"] += 1
                continue
            g["missed"] += 1
            if g["missed"] > self.max_gap:
                late.append(g["event"])
            else:
                stay[s] = True
        self._gone = [g for g, kept in zip(self._gone, stay) if kept]
        renumber = np.cumsum(stay, dtype=np.int32) - 1
        px = self._gone_px[:, stay[self._gone_px[2]]]
        px[2] = renumber[px[2]]
        self._gone_px = px
        return resumed, late

    def _event(self, frame: int, event: str, track: int, others: list[int],
               row: dict, *, across: bool = False) -> dict:
        """One event dict at ``row``'s particle; ``across``: the drift carried it (partly)
        across the image border."""
        nm = None if self.sampling is None else self.sampling / 10.0
        y, x, area = row["centroid_y_px"], row["centroid_x_px"], int(row["area_px"])
        return {"frame": frame, "event": event, "track": track,
                "other_tracks": ";".join(str(t) for t in sorted(others)),
                "centroid_y_px": float(y), "centroid_x_px": float(x),
                "centroid_y_nm": None if nm is None else float(y) * nm,
                "centroid_x_nm": None if nm is None else float(x) * nm,
                "area_px": area, "area_nm2": None if nm is None else area * nm * nm,
                "touches_border": bool(row["touches_border"]) or across}

    # -- the tracks --------------------------------------------------------------------------

    def _start(self, track: int, frame: int, row: dict, origin: str) -> None:
        self._summary[track] = {"first_frame": frame, "n_frames": 0,
                                "first_area_px": int(row["area_px"]), "max_area_px": 0,
                                "origin": origin, "fate": None, "gaps": 0,
                                "touches_border": False}

    def _extend(self, track: int, frame: int, row: dict) -> None:
        s = self._summary[track]
        s["last_frame"], s["last_area_px"] = frame, int(row["area_px"])
        s["n_frames"] += 1
        s["max_area_px"] = max(s["max_area_px"], int(row["area_px"]))
        s["touches_border"] |= bool(row["touches_border"])

    def tracks_table(self) -> list[dict]:
        """One row per track so far, by track, with the keys of :data:`TRACK_COLUMNS`.

        Returns
        -------
        list of dict
            ``track``; ``first_frame``, ``last_frame`` (the frames it was first and last
            seen in) and ``n_frames`` (how many it was seen in); its area (px, nm²) at its
            first and last frame and equivalent diameter (px, nm; of the disc of equal
            area) first, last and at most (the nm and nm² values ``None`` without
            sampling); ``origin`` (``present at start``: in the first frame given;
            ``appeared``; ``split from T``); ``fate`` (``vanished``, ``merged into T``, or
            ``in last frame``: seen in the last frame given; a particle missing from the
            last frames, pending under gap closing, is ``vanished``); ``gaps``: how many
            times it was missing from up to ``max_gap`` frames and found again (its
            ``n_frames`` counts only those it was seen in); ``touches_border``: in any
            frame (its size there is cut).
        """
        nm = None if self.sampling is None else self.sampling / 10.0
        out = []
        for track in sorted(self._summary):
            s = self._summary[track]
            row = {"track": track, "first_frame": s["first_frame"],
                   "last_frame": s["last_frame"], "n_frames": s["n_frames"],
                   "first_area_px": s["first_area_px"], "last_area_px": s["last_area_px"]}
            for key in ("first", "last"):
                row[f"{key}_area_nm2"] = None if nm is None else row[f"{key}_area_px"] * nm**2
            diameters = {"first": _diameter(s["first_area_px"]),
                         "last": _diameter(s["last_area_px"]), "max": _diameter(s["max_area_px"])}
            for key, d in diameters.items():
                row[f"{key}_diameter_px"] = d
            for key, d in diameters.items():
                row[f"{key}_diameter_nm"] = None if nm is None else d * nm
            row.update(origin=s["origin"], fate=s["fate"] or "in last frame",
                       gaps=s["gaps"], touches_border=s["touches_border"])
            out.append({k: row[k] for k in TRACK_COLUMNS})
        return out


# -- files ------------------------------------------------------------------------------------

def _with(columns: tuple[str, ...], after: str, extra: tuple[str, ...], rows: list[dict],
          given: tuple[str, ...] | None):
    """``columns`` with ``given`` (default: those of ``extra`` that the first row has)
    inserted after ``after``."""
    have = given if given is not None else tuple(k for k in extra if rows and k in rows[0])
    i = columns.index(after) + 1
    return (*columns[:i], *have, *columns[i:])


def write_tracks_csv(path: str | Path, rows: list[dict], *,
                     timing: tuple[str, ...] | None = None) -> Path:
    """Write :meth:`ParticleTracker.tracks_table` rows as CSV (atomically), the columns of
    :data:`TRACK_COLUMNS` with ``timing`` after the frames (default: ``first_time_s``,
    ``last_time_s`` where the rows have them); floats to 6 significant digits, empty nm
    columns without sampling."""
    return write_csv(path, rows, _with(TRACK_COLUMNS, "n_frames",
                                       ("first_time_s", "last_time_s"), rows, timing))


def write_events_csv(path: str | Path, events: list[dict], *,
                     timing: tuple[str, ...] | None = None) -> Path:
    """Write the events of :meth:`ParticleTracker.update` as CSV (atomically), the columns
    of :data:`EVENT_COLUMNS` with ``timing`` after the frame (default: ``time_s``,
    ``dose_e_per_A2`` where the events have them; an empty table of a timed movie keeps
    them by naming them); floats to 6 significant digits, empty nm columns without
    sampling."""
    return write_csv(path, events, _with(EVENT_COLUMNS, "frame", TIMING,
                                         events, timing))


# -- the figure -------------------------------------------------------------------------------

#: the colours of the longest tracks (tab10 without its grey, then three more)
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
            "tab:pink", "tab:olive", "tab:cyan", "black", "navy", "darkgoldenrod")


def plot_tracks(path: str | Path, particle_rows: list[dict], tracks: list[dict], *,
                n_frames: int, title: str | None = None, sampling: float | None = None,
                blank_frames=(), interval_s: float | None = None) -> Path:
    """PNG of the particles' sizes over a movie: equivalent diameter against frame, a line
    per track.

    The longest tracks (most frames; ties: the largest) are drawn in colour and named in
    the legend, the others as thin grey lines. A merge is a dashed line from the merged
    track's last point to the track it joined, with a ▼ there; a split a dashed line from
    the parent to the new track's first point, with a ▲; a red × is the last point of a
    track that vanished. Open circles are sizes of particles that touch the image border
    (cut). Blank frames are shaded.

    Parameters
    ----------
    path : str or Path
        The PNG to write.
    particle_rows : list of dict
        The particle rows of all frames, each with ``frame``, ``track`` (set by
        :meth:`ParticleTracker.update`), ``area_px`` and ``touches_border``.
    tracks : list of dict
        :meth:`ParticleTracker.tracks_table`.
    n_frames : int
        Frames in the movie (the x axis).
    title : str, optional
        A first line of the heading.
    sampling : float, optional
        Å per pixel: diameters in nm; else read from the rows' nm² areas, else px.
    blank_frames : sequence of int
        Frames not segmented, shaded.
    interval_s : float, optional
        Seconds from one frame to the next: a time axis above the plot.

    Returns
    -------
    Path
        ``path``.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    from temseg.analyze.particles import row_sampling, time_axis

    sampling = sampling if sampling is not None else row_sampling(particle_rows)
    scale, unit = (sampling / 10.0, "nm") if sampling else (1.0, "px")
    points: dict[int, list[tuple[int, float, bool]]] = {}
    for r in particle_rows:
        points.setdefault(int(r["track"]), []).append(
            (int(r["frame"]), _diameter(r["area_px"]) * scale, bool(r["touches_border"])))
    for p in points.values():
        p.sort()
    at = {t: {f: d for f, d, _ in p} for t, p in points.items()}
    ranked = sorted(points, key=lambda t: (-len(points[t]), -max(d for _, d, _ in points[t]), t))
    coloured = ranked[:len(_COLOURS)]
    fig = Figure(figsize=(7.6, 4.6), dpi=120)
    ax = fig.subplots()
    grey = [np.array([(f, d) for f, d, _ in points[t]]) for t in ranked[len(coloured):]]
    if grey:
        ax.add_collection(LineCollection([g for g in grey if len(g) > 1], colors="0.6",
                                         linewidths=0.7, zorder=1))
        lone = np.array([g[0] for g in grey if len(g) == 1]).reshape(-1, 2)
        ax.plot(lone[:, 0], lone[:, 1], ".", ms=3, color="0.6", zorder=1)
    colour_of = {t: c for c, t in zip(_COLOURS, sorted(coloured))}
    handles = []
    for t in sorted(coloured):
        f, d, _ = (np.array(v) for v in zip(*points[t]))
        handles += ax.plot(f, d, ".-", ms=4, lw=1.4, color=colour_of[t], label=f"track {t}",
                           zorder=3)
    cut = np.array([(f, d, t in colour_of) for t, p in points.items() for f, d, c in p if c])
    for big in (False, True):  # the sizes cut by the border, grey then coloured
        sel = cut[cut[:, 2] == big] if len(cut) else cut
        if len(sel):
            ax.plot(sel[:, 0], sel[:, 1], "o", ms=6 if big else 4, mfc="white",
                    mec="0.2" if big else "0.6", mew=1.0, zorder=4 if big else 1.5)
    gone = np.array([(int(r["last_frame"]), at[int(r["track"])][int(r["last_frame"])])
                     for r in tracks if r["fate"] == "vanished" and int(r["track"]) in at])
    if len(gone):
        ax.plot(gone[:, 0], gone[:, 1], "x", ms=6, mew=1.5, color="tab:red", zorder=5)
    n_merge = n_split = 0
    for row in tracks:  # the events, from the tracks' origins and fates
        t, fate, origin = int(row["track"]), str(row["fate"]), str(row["origin"])
        if fate.startswith("merged into ") and t in at:
            into, last = int(fate.split()[-1]), int(row["last_frame"])
            later = [f for f in at.get(into, {}) if f > last]
            if later:
                n_merge += 1
                ax.plot([last, min(later)], [at[t][last], at[into][min(later)]], "--",
                        color="0.3", lw=0.8, zorder=2)
                ax.plot(min(later), at[into][min(later)], "v", ms=7, color="0.1", zorder=5)
        if origin.startswith("split from ") and t in at:
            parent, first = int(origin.split()[-1]), int(row["first_frame"])
            earlier = [f for f in at.get(parent, {}) if f < first]
            if earlier:
                n_split += 1
                ax.plot([max(earlier), first], [at[parent][max(earlier)], at[t][first]], "--",
                        color="0.3", lw=0.8, zorder=2)
                ax.plot(first, at[t][first], "^", ms=7, color="0.1", zorder=5)
    for b in sorted(blank_frames):
        ax.axvspan(b - 0.5, b + 0.5, color="0.88", lw=0, zorder=0)
    extra = []
    if len(ranked) > len(coloured):
        extra.append(Line2D([], [], color="0.6", lw=0.7,
                            label=f"{len(ranked) - len(coloured)} other tracks"))
    if n_merge:
        extra.append(Line2D([], [], marker="v", ls="--", lw=0.8, color="0.1", label="merge"))
    if n_split:
        extra.append(Line2D([], [], marker="^", ls="--", lw=0.8, color="0.1", label="split"))
    if len(gone):
        extra.append(Line2D([], [], marker="x", ls="", mew=1.5, color="tab:red",
                            label="vanished"))
    if len(cut):
        extra.append(Line2D([], [], marker="o", ls="", mfc="white", mec="0.2",
                            label="touches border"))
    if len(blank_frames):
        extra.append(Patch(color="0.88", label="blank frame"))
    if handles or extra:
        ax.legend(handles=handles + extra, fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    if not points:
        ax.text(0.5, 0.5, "no particles", ha="center", transform=ax.transAxes)
    ax.autoscale_view()
    ax.set_xlim(-0.5, n_frames - 0.5)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("frame")
    ax.set_ylabel(f"equivalent diameter ({unit})")
    words = [f"{len(tracks)} track{'' if len(tracks) == 1 else 's'}"]
    words += [f"{n} {w}{'' if n == 1 else 's'}" for n, w in ((n_merge, "merge"),
                                                             (n_split, "split")) if n]
    if len(gone):
        words.append(f"{len(gone)} vanished")
    if interval_s:
        time_axis(ax, interval_s)
    ax.set_title((f"{title}\n" if title else "") + ", ".join(words), fontsize=10)
    fig.tight_layout()
    return write_figure(fig, path)
