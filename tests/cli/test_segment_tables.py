"""What segment writes beside its masks, tested without a network: the particle measurer."""

import numpy as np
import pytest

from temseg.analyze.tracking import ParticleTracker
from temseg.cli._segment_tables import _particle_measurer


def _disc(shape, centre, radius):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_events_are_timed_by_their_own_frame_and_the_end_closes_the_movie():
    a, b = _disc((64, 64), (20, 20), 6), _disc((64, 64), (44, 44), 6)
    masks = [a | b, a | b, b, a | b, b]  # a missed in frame 2 (a gap), gone from frame 4
    rows, events = [], []
    measure = _particle_measurer(rows, 1.0, 4, False, {}, frame_interval_s=0.5, dose_rate=10.0,
                                 tracker=ParticleTracker(sampling=1.0, max_gap=1),
                                 events=events)
    for i, mask in enumerate(masks):
        measure(i, mask, mask.astype(np.float32))
    measure.finish()
    assert len({r["track"] for r in rows}) == 2  # the one-frame gap kept a's track
    (vanished,) = events  # a, missing from frame 4 to the end: decided by finish()
    assert vanished["event"] == "vanished" and vanished["frame"] == 4
    assert vanished["time_s"] == pytest.approx(2.0)  # its own frame's start, not the last's
    assert vanished["dose_e_per_A2"] == pytest.approx(10.0 * 0.5 * 5)
