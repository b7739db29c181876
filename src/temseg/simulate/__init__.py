"""Simulated training data (paper 002; 003's focal series): ASE structures, abTEM exit waves,
CTF imaging, the detector (MTF, shot and readout noise), pixel-exact labels and zarr datasets.

Pipeline: :mod:`~temseg.simulate.structures` (Au [110] on (111) CeO2, or a MoS2
monolayer with S vacancies) → :mod:`~temseg.simulate.waves` (multislice exit wave,
once per structure) → :mod:`~temseg.simulate.imaging` (CTF per image, or per
defocus of a focal series) → :mod:`~temseg.simulate.detector` (002 eq. 1–3) →
:mod:`~temseg.simulate.labels` (hull, columns, or species); :mod:`~temseg.simulate.dataset`
runs it in parallel through Dask into a zarr group, :mod:`~temseg.simulate.dose_series`
makes dose series. Configuration: :class:`~temseg.simulate.config.SimulateConfig`.

Names are imported lazily so that ``import temseg.simulate`` does not load abTEM.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SimulateConfig": "config", "StructureConfig": "config", "ImagingConfig": "config",
    "DetectorSettings": "config", "LabelConfig": "config",
    "build_structure": "structures", "exit_wave": "waves", "hrtem_image": "imaging",
    "build_mos2": "structures", "hull_mask": "labels", "column_mask": "labels",
    "species_mask": "labels", "simulate_structure": "pipeline",
    "simulate_dose_series": "dose_series", "simulate_dataset": "dataset",
    "open_dataset": "dataset", "read_parameters": "dataset",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"temseg.simulate.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'temseg.simulate' has no attribute {name!r}")
