"""Classical baselines: Fourier band-pass filtering (paper 000) and Bragg filtering (paper 004).

No training, no GPU: a few parameters fitted on labelled images with k-fold
cross-validation (:mod:`temseg.baselines.fit`) and saved as a small JSON
"model" (:mod:`temseg.baselines.files`) that ``evaluate`` and ``segment``
accept like a network.
"""

from temseg.baselines.bragg import (BraggParams, bragg_difference, bragg_filter, bragg_peaks,
                                    bragg_score)
from temseg.baselines.files import BaselineModel, load_baseline, save_baseline
from temseg.baselines.fit import CVResult, FitResult, cross_validate, fit_baseline
from temseg.baselines.fourier import (FourierParams, NoLatticeWarning, find_band,
                                      fourier_filter, fourier_score, lattice_rings,
                                      strongest_ring)

__all__ = [
    "BaselineModel", "BraggParams", "CVResult", "FitResult", "FourierParams", "NoLatticeWarning",
    "bragg_difference", "bragg_filter", "bragg_peaks", "bragg_score", "cross_validate",
    "find_band", "fit_baseline", "fourier_filter", "fourier_score", "lattice_rings",
    "load_baseline", "save_baseline", "strongest_ring",
]
