"""The demo run (``temseg demo``): simulate a fresh micrograph, segment it, measure, score.

Everything is offline: the micrograph comes from our abTEM simulation with
the training recipe recorded in the model file (or the simulation defaults),
drawn with a seed that the training sets never used, so its label is known
and the model has never seen it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from temseg.errors import ConfigError

#: seeds 1000–1003 made the default model's training, validation, test and dose sets
DEMO_SEED = 2024
DEMO_DOSE = 1000.0  # e/Å², a moderate dose inside the training range


@dataclass
class DemoResult:
    """What :func:`run_demo` made.

    Attributes
    ----------
    image : (H, W) ndarray of float32 — the simulated micrograph (electron counts)
    label : (H, W) ndarray of uint8 — the known particle mask
    probability : (H, W) ndarray of float32 — the model's foreground probability
    mask : (H, W) ndarray of bool — probability ≥ the model's threshold
    sampling : float — Å per pixel
    scores : dict — :func:`temseg.metrics.scores` of the mask against the label
    particles : list of dict — :func:`temseg.analyze.particles.particle_table` rows
    parameters : dict — every drawn simulation value (dose, defocus, radius, ...)
    config : SimulateConfig — what made the micrograph
    files : dict of str to Path
    """

    image: np.ndarray
    label: np.ndarray
    probability: np.ndarray
    mask: np.ndarray
    sampling: float
    scores: dict
    particles: list[dict]
    parameters: dict
    config: object = None
    files: dict = field(default_factory=dict)


def demo_config(*, seed: int = DEMO_SEED, dose: float | None = DEMO_DOSE,
                base: dict | None = None, overrides: dict | None = None):
    """The :class:`~temseg.simulate.config.SimulateConfig` of one demo micrograph.

    Parameters
    ----------
    seed : int
        Simulation seed (the default model's sets used 1000–1003).
    dose : float or None
        Fixed dose in e/Å²; ``None`` draws from the base config's range.
    base : dict, optional
        A simulation config as a dict (e.g. the model's recorded training
        simulation); default: the simulation defaults (002's recipe).
    overrides : dict, optional
        Fields replacing the base's (nested mappings merge), e.g. ``{"size": 64}``.
    """
    from temseg.config import from_dict
    from temseg.simulate.config import SimulateConfig

    data = _merge(dict(base or {}), overrides or {})
    data.update(seed=int(seed), mode="dataset", n_structures=1, images_per_structure=1)
    detector = dict(data.get("detector") or {})
    if dose is not None:
        if not dose > 0:
            raise ConfigError(f"dose: must be a positive number of e/Å², got {dose}")
        detector.update(dose=[float(dose), float(dose)], enabled=True)
    data["detector"] = detector
    labels = dict(data.get("labels") or {})
    labels["columns"] = False
    data["labels"] = labels
    return from_dict(SimulateConfig, data)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def simulate_micrograph(config) -> tuple[np.ndarray, np.ndarray, dict]:
    """One labelled micrograph of ``config`` — the same as image 0 of
    ``simulate_dataset(config)`` (structure 0 draws from the first child of
    ``SeedSequence(config.seed)``).

    Returns
    -------
    image : (H, W) float32, label : (H, W) uint8, parameters : dict
    """
    from temseg.simulate.pipeline import simulate_structure

    seed = np.random.SeedSequence(config.seed).spawn(1)[0]
    result = simulate_structure(config, seed=seed, index=0)
    return result.images[0], result.labels[0], result.params[0]


def model_demo_config(segmenter, *, seed: int = DEMO_SEED, dose: float | None = DEMO_DOSE,
                      overrides: dict | None = None):
    """:func:`demo_config` on the simulation recorded in ``segmenter``'s model file (if any)."""
    base = (getattr(getattr(segmenter, "config", None), "training", None) or {}).get("simulation")
    return demo_config(seed=seed, dose=dose, base=base, overrides=overrides)


def run_demo(out: str | Path, *, segmenter=None, config=None, seed: int = DEMO_SEED,
             dose: float | None = DEMO_DOSE, overrides: dict | None = None,
             callback: Callable[[str], None] | None = None) -> DemoResult:
    """Simulate, segment, measure and score one micrograph; write everything to ``out``.

    Parameters
    ----------
    out : path
        Output folder: ``image.tif`` (float32 counts with the pixel size),
        ``label.png`` (known mask), ``mask.png``, ``probability.tif``,
        ``overlay.png``, ``particles.csv`` (count, area, equivalent diameter
        in nm, and the Fourier columns: lattice spacing in Å, peak ratio),
        ``scores.json``; the caller adds ``record.json``.
    segmenter : temseg.infer.Segmenter, optional
        Default: the shipped default model.
    config : SimulateConfig, optional
        The micrograph's simulation (default: :func:`model_demo_config`).
    seed, dose, overrides
        As :func:`demo_config` when ``config`` is not given; the simulation
        base is the one recorded in the model file when it has one.
    callback : callable(stage), optional
        Called with "simulate", "segment", "write" as each stage starts.

    Returns
    -------
    DemoResult
    """
    from temseg.analyze.particles import particle_table, write_particle_csv
    from temseg.io import write_mask, write_overlay, write_tiff
    from temseg.io.files import write_json
    from temseg.metrics import scores

    if segmenter is None:
        from temseg.infer import load_segmenter
        from temseg.models.default import default_model_path

        segmenter = load_segmenter(default_model_path())
    if config is None:
        config = model_demo_config(segmenter, seed=seed, dose=dose, overrides=overrides)
    step = callback or (lambda stage: None)
    step("simulate")
    image, label, params = simulate_micrograph(config)
    step("segment")
    prob = segmenter.predict(image, sampling=config.sampling)
    mask = prob >= segmenter.threshold
    rows = particle_table(mask, sampling=config.sampling, image=image)
    result = DemoResult(image, label, prob, mask, config.sampling,
                        scores(mask, label, prob=prob), rows, params, config)
    step("write")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result.files = {
        "image": write_tiff(out / "image.tif", image, sampling=config.sampling),
        "probability": write_tiff(out / "probability.tif", prob, sampling=config.sampling),
        "label": write_mask(out / "label.png", label > 0, sampling=config.sampling),
        "mask": write_mask(out / "mask.png", mask, sampling=config.sampling),
        "overlay": write_overlay(out / "overlay.png", image, mask, sampling=config.sampling),
        "particles": write_particle_csv(out / "particles.csv", rows),
    }
    result.files["scores"] = write_json(out / "scores.json", {
        "scores": result.scores, "n_particles": len(rows),
        "true_area_px": int(np.count_nonzero(label)), "predicted_area_px": int(mask.sum()),
        "sampling": config.sampling, "simulation": params})
    return result
