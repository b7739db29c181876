"""Particle tracks through a movie: stable ids under drift, and merge, split, appear, vanish."""

import csv

import numpy as np
import pytest

from temseg.analyze import tracking
from temseg.analyze.particles import label_particles, particle_table
from temseg.analyze.tracking import (EVENT_COLUMNS, TRACK_COLUMNS, ParticleTracker, plot_tracks,
                                     write_events_csv, write_tracks_csv)
from temseg.errors import InputError

SHAPE = (96, 96)


def discs(centres, radii, shape=SHAPE):
    """A mask with a disc of radius ``radii[k]`` (px) at each ``centres[k]`` = (y, x)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, bool)
    for (cy, cx), r in zip(centres, np.broadcast_to(radii, len(centres))):
        mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    return mask


def follow(masks, *, frames=None, sampling=None, **options):
    """Feed ``masks`` (at ``frames``, default 0, 1, ...) to a tracker: it, the rows of all
    frames (with ``frame`` and ``track``), and the events."""
    tracker = ParticleTracker(sampling=sampling, **options)
    rows, events = [], []
    for frame, mask in zip(range(len(masks)) if frames is None else frames, masks):
        found = particle_table(mask, sampling=sampling)
        events += tracker.update(frame, label_particles(mask), found)
        rows += [{"frame": frame, **r} for r in found]
    return tracker, rows, events


def track_at(rows, frame, y, x, tol=2.0):
    """The track of the particle of ``frame`` whose centroid is within ``tol`` px of (y, x)."""
    near = [r["track"] for r in rows if r["frame"] == frame
            and abs(r["centroid_y_px"] - y) < tol and abs(r["centroid_x_px"] - x) < tol]
    assert len(near) == 1, f"frame {frame}: {len(near)} particles near ({y}, {x})"
    return near[0]


def test_two_drifting_discs_keep_their_tracks():
    start = [(30, 25), (60, 50)]
    masks = [discs([(y + 2 * f, x + 3 * f) for y, x in start], [8, 6]) for f in range(5)]
    tracker, rows, events = follow(masks, sampling=0.5)
    for f in range(5):
        assert track_at(rows, f, 30 + 2 * f, 25 + 3 * f) == 1
        assert track_at(rows, f, 60 + 2 * f, 50 + 3 * f) == 2
    assert events == []
    assert [d[1:] for d in tracker.drifts] == [(2.0, 3.0)] * 4
    table = tracker.tracks_table()
    assert [(t["track"], t["n_frames"], t["origin"], t["fate"]) for t in table] == [
        (1, 5, "present at start", "in last frame"), (2, 5, "present at start", "in last frame")]


def test_a_vanishing_disc_ends_its_track_at_the_right_frame():
    centres = [(20, 20), (20, 70), (70, 45)]
    masks = [discs(centres, 6), discs(centres, 6), discs(centres[::2], 6), discs(centres[::2], 6)]
    tracker, rows, events = follow(masks)
    gone = track_at(rows, 1, 20, 70)
    assert [(e["frame"], e["event"], e["track"]) for e in events] == [(2, "vanished", gone)]
    assert events[0]["centroid_x_px"] == pytest.approx(70) and events[0]["area_px"] > 100
    row = next(t for t in tracker.tracks_table() if t["track"] == gone)
    assert (row["last_frame"], row["n_frames"], row["fate"]) == (1, 2, "vanished")


def test_two_discs_growing_into_one_merge_into_the_larger_track():
    left, right = (48, 30), (48, 62)
    masks = [discs([left, right], [r + 4, r]) for r in (8, 11, 14)]  # touch in frame 2
    tracker, rows, events = follow(masks, sampling=1.0)
    big, small = track_at(rows, 0, *left), track_at(rows, 0, *right)
    assert [(e["frame"], e["event"], e["track"], e["other_tracks"]) for e in events] == [
        (2, "merged", big, str(small))]
    assert [r["track"] for r in rows if r["frame"] == 2] == [big]
    fates = {t["track"]: t["fate"] for t in tracker.tracks_table()}
    assert fates == {big: "in last frame", small: f"merged into {big}"}
    assert events[0]["area_px"] == next(r["area_px"] for r in rows if r["frame"] == 2)


def test_one_particle_splitting_in_two_keeps_its_track_on_the_larger_part():
    whole = discs([(48, 36), (48, 56)], [12, 9])  # two overlapping discs: one particle
    parts = discs([(48, 33), (48, 62)], [12, 9])  # pulled apart
    tracker, rows, events = follow([whole, whole, parts])
    parent = rows[0]["track"]
    assert track_at(rows, 2, 48, 33) == parent
    new = track_at(rows, 2, 48, 62)
    assert new != parent
    assert [(e["frame"], e["event"], e["track"], e["other_tracks"]) for e in events] == [
        (2, "split", parent, str(new))]
    origins = {t["track"]: t["origin"] for t in tracker.tracks_table()}
    assert origins == {parent: "present at start", new: f"split from {parent}"}


def test_an_appearing_disc_starts_a_new_track():
    centres = [(25, 25), (70, 70)]
    masks = [discs(centres, 7), discs(centres + [(25, 70)], 7)]
    tracker, rows, events = follow(masks)
    new = track_at(rows, 1, 25, 70)
    assert new == 3 and {track_at(rows, 1, 25, 25), track_at(rows, 1, 70, 70)} == {1, 2}
    assert [(e["frame"], e["event"], e["track"], e["other_tracks"]) for e in events] == [
        (1, "appeared", 3, "")]
    assert [t["origin"] for t in tracker.tracks_table()] == [
        "present at start", "present at start", "appeared"]


def test_a_skipped_frame_still_links_to_the_last_frame_seen():
    masks = [discs([(30, 20 + 4 * f), (65, 60 + 4 * f)], 7) for f in (0, 1, 3)]
    tracker, rows, events = follow(masks, frames=[0, 1, 3])
    assert events == []
    assert (track_at(rows, 3, 30, 32), track_at(rows, 3, 65, 72)) == (1, 2)
    assert tracker.drifts[-1] == (3, 0.0, 8.0)
    assert [(t["first_frame"], t["last_frame"], t["n_frames"]) for t in
            tracker.tracks_table()] == [(0, 3, 3)] * 2
    with pytest.raises(InputError, match="after frame 3"):
        tracker.update(3, label_particles(masks[0]), particle_table(masks[0]))


def test_particles_the_drift_carries_across_the_border_are_marked_touching_it():
    # the field jumps 10 px right: a disc 3 px from the right edge leaves it whole, one
    # wholly outside on the left comes in whole; neither touches the border in a frame
    anchors, radii = [(30, 30), (62, 50), (75, 20)], [8, 6, 7]
    masks = [discs([(y, x + 10 * f) for y, x in anchors] + [(48, 88 + 10 * f),
                                                            (20, -5 + 10 * f)], radii + [4, 4])
             for f in range(2)]
    tracker, rows, events = follow(masks)
    assert tracker.drifts == [(1, 0.0, 10.0)]
    assert not any(r["touches_border"] for r in rows)
    assert [(e["event"], round(e["centroid_x_px"]), e["touches_border"]) for e in events] == [
        ("vanished", 88, True), ("appeared", 5, True)]
    inside = [discs(anchors + [(48, 60)], radii + [4]),  # one vanishing inside the field
              discs([(y, x + 10) for y, x in anchors], radii)]
    _, _, events = follow(inside)
    assert [(e["event"], e["touches_border"]) for e in events] == [("vanished", False)]


def test_a_drift_beyond_half_the_spacing_is_undone_and_tracks_do_not_swap():
    sites = [(y, x) for y in range(24, 73, 16) for x in range(20, 69, 16)]  # 4 x 4, 16 px
    masks = [discs([(y, x + 10 * f) for y, x in sites], 5) for f in range(2)]
    for drift, kept in ((True, True), (False, False)):  # without drift: the left neighbour
        _, rows, _ = follow(masks, drift=drift)
        same = [track_at(rows, 0, y, x) == track_at(rows, 1, y, x + 10) for y, x in sites]
        assert all(same) is kept


def test_a_merge_and_a_split_at_once_follow_the_rules():
    before = np.zeros(SHAPE, bool)
    before[20:41, 10:51] = True   # A: 21 x 41 px
    before |= discs([(30, 75)], 5)  # B, clear of A
    after = np.zeros(SHAPE, bool)
    after[20:41, 10:21] = True    # X: A's left end
    after[20:41, 24:86] = True    # Y: the rest of A, and B
    tracker, rows, events = follow([before, after], drift=False)
    a, b = track_at(rows, 0, 30, 30), track_at(rows, 0, 30, 75)
    x = track_at(rows, 1, 30, 15)
    assert track_at(rows, 1, 30, 54.8, tol=1) == a  # A shares the most with Y
    assert [(e["event"], e["track"], e["other_tracks"]) for e in events] == [
        ("merged", a, str(b)), ("split", a, str(x))]
    fates = {t["track"]: (t["origin"], t["fate"]) for t in tracker.tracks_table()}
    assert fates[b] == ("present at start", f"merged into {a}")
    assert fates[x] == (f"split from {a}", "in last frame")


def test_nm_values_follow_the_sampling_and_are_empty_without(tmp_path):
    masks = [discs([(30, 30), (60, 60)], 7), discs([(30, 30)], 7)]
    _, _, px_only = follow(masks)
    tracker, _, events = follow(masks, sampling=0.3)
    assert px_only[0]["centroid_y_nm"] is None and px_only[0]["area_nm2"] is None
    assert events[0]["area_nm2"] == pytest.approx(events[0]["area_px"] * 0.03**2)
    assert events[0]["centroid_x_nm"] == pytest.approx(60 * 0.03)
    row = tracker.tracks_table()[0]
    assert row["first_diameter_nm"] == pytest.approx(row["first_diameter_px"] * 0.03)
    assert row["first_diameter_px"] == pytest.approx(2 * np.sqrt(row["first_area_px"] / np.pi))
    plain = follow(masks)[0].tracks_table()[0]
    assert plain["first_diameter_nm"] is None and plain["max_diameter_px"] > 13


def test_csvs_round_trip_without_float_noise(tmp_path):
    masks = [discs([(30, 30), (60, 60)], 7), discs([(30, 30)], 7)]
    tracker, _, events = follow(masks, sampling=0.3)
    tracks_csv = write_tracks_csv(tmp_path / "tracks.csv", tracker.tracks_table())
    events_csv = write_events_csv(tmp_path / "events.csv", events)
    with open(tracks_csv, newline="") as fh:
        back = list(csv.DictReader(fh))
    assert tuple(back[0]) == TRACK_COLUMNS and len(back) == 2
    assert [(r["track"], r["fate"]) for r in back] == [("1", "in last frame"), ("2", "vanished")]
    assert float(back[0]["first_area_nm2"]) == pytest.approx(
        tracker.tracks_table()[0]["first_area_nm2"], rel=1e-6)
    with open(events_csv, newline="") as fh:
        back = list(csv.DictReader(fh))
    assert tuple(back[0]) == EVENT_COLUMNS
    assert (back[0]["event"], back[0]["frame"], back[0]["touches_border"]) == (
        "vanished", "1", "False")
    assert float(back[0]["area_nm2"]) == pytest.approx(events[0]["area_nm2"], rel=1e-6)
    for path in (tracks_csv, events_csv):
        for cell in path.read_text().replace("\n", ",").split(","):
            digits = cell.replace(".", "").replace("-", "").lstrip("0")
            if digits.isdigit():  # 6 significant digits, and a trailing 0 of "9.0"
                assert len(digits) <= 7, f"{path.name}: {cell!r}"
    _, _, plain = follow(masks)
    write_events_csv(tmp_path / "plain.csv", plain)
    with open(tmp_path / "plain.csv", newline="") as fh:
        assert next(csv.DictReader(fh))["area_nm2"] == ""


def test_bad_input_is_named():
    with pytest.raises(InputError, match="min_overlap"):
        ParticleTracker(min_overlap=0)
    tracker = ParticleTracker()
    mask = discs([(30, 30)], 6)
    with pytest.raises(InputError, match="integer"):
        tracker.update(0, mask.astype(float), particle_table(mask))
    tracker.update(0, label_particles(mask), particle_table(mask))
    small = mask[:64, :64]
    with pytest.raises(InputError, match="shape"):
        tracker.update(1, label_particles(small), particle_table(small))


def test_the_plot_names_the_longest_tracks_and_marks_events(tmp_path, monkeypatch):
    figures = []
    real = tracking.write_figure
    monkeypatch.setattr(tracking, "write_figure",
                        lambda fig, path: figures.append(fig) or real(fig, path))
    rng = np.random.default_rng(0)
    sites = [(y, x) for y in range(12, 90, 18) for x in range(12, 90, 18)]  # 25 small discs
    masks = []
    for f in range(7):
        keep = [s for k, s in enumerate(sites) if k % 7 or f < 3]  # 4 vanish at frame 3
        mask = discs(keep + [(95, 40)], list(4 + rng.integers(0, 3, len(keep))) + [6])
        if f >= 4:
            mask[10:15, 30:49] = True  # sites 1 and 2 merge at frame 4
        if f < 2:
            mask[64:69, 48:67] = True  # sites 17 and 18 split at frame 2
        masks.append(mask)
    tracker, rows, _ = follow(masks, sampling=0.5)
    out = plot_tracks(tmp_path / "tracks.png", rows, tracker.tracks_table(), n_frames=9,
                      title="movie.tif", blank_frames=[7])
    assert out.is_file() and out.stat().st_size > 10_000
    ax = figures[0].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "track 2" and all(t.startswith("track ") for t in labels[:12])
    assert labels[12:] == ["14 other tracks", "merge", "split", "vanished", "touches border",
                           "blank frame"]
    assert ax.get_ylabel() == "equivalent diameter (nm)"
    assert ax.get_title() == "movie.tif\n26 tracks, 1 merge, 1 split, 4 vanished"


def test_a_disc_missing_in_one_frame_keeps_its_track_with_gap_closing():
    centres = [(25, 25), (70, 70), (85, 25)]
    masks = [discs(centres, 7), discs(centres[:2], 7), discs(centres, 7), discs(centres, 7)]
    tracker, rows, events = follow(masks, max_gap=1)
    assert events == [] and tracker.finish() == []
    assert {track_at(rows, f, 85, 25) for f in (0, 2, 3)} == {3}
    table = tracker.tracks_table()
    assert [(t["track"], t["n_frames"], t["gaps"], t["fate"]) for t in table] == [
        (1, 4, 0, "in last frame"), (2, 4, 0, "in last frame"), (3, 3, 1, "in last frame")]
    tracker, rows, events = follow(masks, max_gap=0)  # as before gap closing: a new track
    assert track_at(rows, 2, 85, 25) == 4
    assert [(e["frame"], e["event"], e["track"]) for e in events] == [
        (1, "vanished", 3), (2, "appeared", 4)]
    assert [t["gaps"] for t in tracker.tracks_table()] == [0] * 4


def test_gap_closing_follows_the_drift_summed_over_the_gap():
    # the field moves 5 px right per frame: over the gap the lost disc is 10 px (> its
    # radius) from where it was last seen
    anchors = [(25, 20), (48, 30), (70, 40)]
    masks = [discs([(y, x + 5 * f) for y, x in anchors[:2 if f == 2 else 3]], 6)
             for f in range(4)]
    tracker, rows, events = follow(masks, max_gap=1)
    assert events == [] and [d[1:] for d in tracker.drifts] == [(0.0, 5.0)] * 3
    assert track_at(rows, 3, 70, 55) == track_at(rows, 1, 70, 45) == 3
    assert tracker.tracks_table()[2]["gaps"] == 1


def test_a_disc_gone_for_good_vanishes_at_the_first_frame_it_is_missing():
    centres = [(20, 20), (20, 70), (70, 45)]
    masks = [discs(centres, 6)] * 2 + [discs(centres[::2], 6)] * 3
    tracker, rows, events = follow(masks, max_gap=2)
    gone = track_at(rows, 1, 20, 70)
    assert [(e["frame"], e["event"], e["track"]) for e in events] == [(2, "vanished", gone)]
    assert events[0]["centroid_x_px"] == pytest.approx(70) and events[0]["area_px"] > 100
    row = next(t for t in tracker.tracks_table() if t["track"] == gone)
    assert (row["last_frame"], row["n_frames"], row["gaps"], row["fate"]) == (
        1, 2, 0, "vanished")
    # given late: in the events of frame 4, when it was missing from more than 2 frames
    tracker = ParticleTracker(max_gap=2)
    late = [tracker.update(f, label_particles(m), particle_table(m))
            for f, m in enumerate(masks)]
    assert [len(e) for e in late] == [0, 0, 0, 0, 1] and late[4][0]["frame"] == 2
    # missing in the last frames: vanished in the tracks table, the event from finish()
    tracker, _, events = follow(masks[:3], max_gap=1)
    assert events == [] and tracker.tracks_table()[1]["fate"] == "vanished"
    assert [(e["frame"], e["event"], e["track"]) for e in tracker.finish()] == [
        (2, "vanished", gone)]
    assert tracker.finish() == []


def test_a_gap_longer_than_max_gap_gives_a_new_track():
    centres = [(25, 25), (70, 70), (85, 25)]
    masks = [discs(centres, 7)] + [discs(centres[:2], 7)] * 2 + [discs(centres, 7)]
    tracker, rows, events = follow(masks, max_gap=1)
    assert track_at(rows, 3, 85, 25) == 4
    assert [(e["frame"], e["event"], e["track"]) for e in events] == [
        (1, "vanished", 3), (3, "appeared", 4)]
    _, rows, events = follow(masks, max_gap=2)
    assert track_at(rows, 3, 85, 25) == 3 and events == []
    with pytest.raises(InputError, match="max_gap"):
        ParticleTracker(max_gap=-1)
    with pytest.raises(InputError, match="max_gap"):
        ParticleTracker(max_gap=1.5)
