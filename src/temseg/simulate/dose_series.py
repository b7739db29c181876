"""Dose series (002 §3): one particle, one imaging condition, N frames at increasing dose.

For dose-limit studies: the frames share the structure, the noise-free image
and the detector's c0, c3 and N0; only the dose (log-spaced across the
detector's dose range) and the noise draws change.
"""

from __future__ import annotations

import numpy as np

from temseg.simulate.config import SimulateConfig
from temseg.simulate.pipeline import Result, draw_imaging, prepare_structure


def dose_schedule(config: SimulateConfig) -> np.ndarray:
    """``frames`` doses in e/Å², log-spaced from the low to the high end of the dose range."""
    lo, hi = config.detector.ranges().dose
    return np.geomspace(lo, hi, config.frames)


def simulate_dose_series(config: SimulateConfig, *, seed) -> Result:
    """The frames of a dose series (``config.mode == "dose_series"``).

    Parameters
    ----------
    config : SimulateConfig
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    Result
        ``images (frames, size, size) float32`` counts per pixel at increasing
        dose, identical labels per frame, one parameter row per frame.
    """
    gen, structure, renderer, hull, cols = prepare_structure(config, seed=seed)
    imaging = draw_imaging(config.imaging, gen)
    clean = renderer.clean(imaging)
    shared = renderer.draw_detector(gen)
    images = np.empty((config.frames, config.size, config.size), np.float32)
    rows = []
    for frame, dose in enumerate(dose_schedule(config)):
        drawn = renderer.detector_values(c0=shared["c0"], c3=shared["c3"], N0=shared["N0"],
                                         dose=dose)
        images[frame] = renderer.detect(clean, drawn, gen)
        rows.append({"structure": 0, "epoch": frame, **structure.params, **imaging, **drawn})
    labels = np.broadcast_to(hull, images.shape).copy()
    columns = None if cols is None else np.broadcast_to(cols, images.shape).copy()
    return Result(images=images, labels=labels, columns=columns, params=rows)
