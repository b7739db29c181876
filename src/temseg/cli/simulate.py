"""CLI command: ``temseg simulate CONFIG --out DATASET.zarr``.

Thin: the YAML config (plus flag overrides) is validated in full before any
work, then :func:`temseg.simulate.dataset.simulate_dataset` writes the zarr
dataset with a progress bar.
"""

from __future__ import annotations

from pathlib import Path

import typer

from temseg.cli import _common


def load_simulate_config(config: Path, **overrides):
    """The :class:`SimulateConfig` of a YAML file with flag overrides (``None`` = keep).

    ``noise_model`` (--noise-model) sets ``detector.noise_model``: the same
    rule as the YAML key (:class:`~temseg.simulate.config.DetectorSettings`),
    so its c0, c3 and N0 replace the config's mtf, c0, c3 and N0 either way
    (``detector_warnings`` names those replaced); the dose range stays.
    """
    from temseg.config import from_dict, read_yaml
    from temseg.simulate.config import SimulateConfig

    data = read_yaml(config)
    noise_model = overrides.pop("noise_model", None)
    if noise_model is not None:
        data["detector"] = {**(data.get("detector") or {}), "noise_model": str(noise_model)}
    dose = overrides.pop("dose", None)
    if dose is not None:
        data["detector"] = {**(data.get("detector") or {}), "dose": parse_dose_range(dose)}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(SimulateConfig, data)


def parse_dose_range(text: str):
    """``--dose`` as ``detector.dose`` takes it: a preset name (``high``, ``low``, ``fitted``),
    one dose (``1000``: every image at it) or a range ``100,5000`` in e/Å².

    >>> parse_dose_range("fitted"), parse_dose_range("1000"), parse_dose_range("100, 5e3")
    ('fitted', [1000.0, 1000.0], [100.0, 5000.0])
    """
    from temseg.errors import ConfigError

    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        if len(parts) == 1:
            return parts[0]
        raise ConfigError(f"--dose: {text!r} is no dose range (give LOW,HIGH in e/Å², one "
                          "dose, or a preset: high, low, fitted)") from None
    if len(values) == 1:
        return values * 2
    if len(values) != 2:
        raise ConfigError(f"--dose: {text!r} holds {len(values)} numbers; give LOW,HIGH in e/Å²")
    return values


def lattice_warning(cfg) -> str | None:
    """Why the images of ``cfg`` would show no lattice (pixels too coarse), or None."""
    from temseg.simulate.structures import GRAPHENE_A, MOS2_COLUMN_SPACING, lattice_constant

    if cfg.structure.kind == "mos2":  # species labels need the Mo and S columns apart
        if cfg.sampling <= 0.5 * MOS2_COLUMN_SPACING:
            return None
        return (f"at {cfg.sampling:g} Å/px the MoS2 columns ({MOS2_COLUMN_SPACING:.2f} Å "
                "apart) lie beyond the Nyquist limit: the images cannot tell Mo from S columns")
    if cfg.structure.kind == "graphene":  # the {100} fringes tell the sheet from the dirt
        d100 = GRAPHENE_A * 3**0.5 / 2
        if cfg.sampling <= 0.5 * d100:
            return None
        return (f"at {cfg.sampling:g} Å/px the graphene {{100}} fringes ({d100:.2f} Å) lie "
                "beyond the Nyquist limit: the images will show no lattice")
    element = cfg.structure.element
    d111 = lattice_constant(element) / 3**0.5  # the particle's widest lattice fringes
    if cfg.sampling <= 0.5 * d111:
        return None
    return (f"at {cfg.sampling:g} Å/px the {element} {{111}} fringes ({d111:.2f} Å) lie beyond "
            "the Nyquist limit: the images will show no lattice")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""

    @app.command("simulate")
    def simulate(
        config: Path = typer.Argument(..., help="YAML config (see configs/simulate_*.yaml)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output zarr dataset folder."),
        seed: int | None = typer.Option(None, help="Master seed (overrides the config)."),
        mode: str | None = typer.Option(None, help="dataset or dose_series."),
        n_structures: int | None = typer.Option(None, help="Number of structures."),
        images_per_structure: int | None = typer.Option(
            None, help="Imaging conditions per structure (image epochs)."),
        frames: int | None = typer.Option(None, help="Frames of a dose series."),
        size: int | None = typer.Option(None, help="Image side in pixels."),
        sampling: float | None = typer.Option(None, help="Output pixel size in Å/px."),
        pixel_size_nm: float | None = typer.Option(
            None, help="Output pixel size in nm/px (instead of --sampling)."),
        dose: str | None = typer.Option(
            None, help="Dose range of the images in e/Å², replacing the config's "
                       "detector.dose: LOW,HIGH, one dose, or a preset (high, low; fitted: the "
                       "doses of the vacuum stack a --noise-model was fitted on)."),
        noise_model: Path | None = typer.Option(
            None, help="Detector model JSON from `temseg fit-noise`: its MTF (c0, c3) and "
                       "readout noise (N0) replace the config's mtf, c0, c3 and N0; the "
                       "config's dose range stays (detector.dose: fitted takes the vacuum "
                       "stack's). Warned if fitted at another pixel size."),
        scheduler: str = typer.Option("threads", help="Local Dask scheduler: threads, "
                                                      "processes or synchronous."),
        workers: int | None = typer.Option(None, help="Local workers (default: CPU cores)."),
        address: str | None = typer.Option(
            None, help="dask.distributed scheduler address, e.g. tcp://host:8786."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset."),
    ) -> None:
        """Simulate labelled HRTEM images (ASE + abTEM, as Leth Larsen et al.) into a zarr dataset.

        Every option but --out, --scheduler, --workers, --address and --overwrite
        replaces the config's value; unset, the config's value holds.

        The dataset holds images (counts per pixel; one channel per defocus with a
        focal_series), labels (projected convex hull; MoS2 species: 1 Mo, 2 S2,
        3 S1; or 1 under contamination on graphene), columns (atomic-column discs)
        only where labels.columns is true (the default), as in simulate_002.yaml and
        simulate_small.yaml; simulate_mos2.yaml, simulate_graphene.yaml and
        default_model_simulate.yaml write none; a parameters table with every drawn
        value, the config and seed, and the detector ranges drawn from (with a noise
        model, also its SHA-256 and detector block); the same config, noise model and
        seed give the same bytes, apart from the run record (record/: command, host, time).
        """
        from temseg.simulate.config import detector_warnings
        from temseg.simulate.dataset import clean_stale_stores, simulate_dataset
        from temseg.simulate.pipeline import geometry

        _common.check_output(out)
        sampling_a = _common.sampling_from_options(sampling, pixel_size_nm)
        cfg = load_simulate_config(
            config, seed=seed, mode=mode, n_structures=n_structures,
            images_per_structure=images_per_structure, frames=frames, size=size,
            sampling=sampling_a, noise_model=noise_model, dose=dose)
        geo = geometry(cfg)
        if frames is not None and cfg.mode != "dose_series":
            _common.warn(f"--frames {frames} is not used: frames belong to a dose series "
                         f"(--mode dose_series); this config makes a {cfg.mode}")
        given = [name for name, value in (("--n-structures", n_structures),
                                          ("--images-per-structure", images_per_structure))
                 if value is not None]
        if given and cfg.mode == "dose_series":
            _common.warn(f"{', '.join(given)}: not used by a dose series (one structure, one "
                         "imaging condition; --frames sets its length)")
        for message in [lattice_warning(cfg), *detector_warnings(cfg)]:
            if message:
                _common.warn(message)
        removed, kept = clean_stale_stores(out)
        if removed:
            _common.warn(f"removed {len(removed)} temporary store(s) that killed runs left: "
                         + ", ".join(p.name for p in removed))
        for store, why in kept:
            _common.warn(f"{store} looks like a temporary store of another simulate of {out.name} "
                         f"({why}); delete it if nothing is writing it")
        focal = "" if cfg.focal_series is None else f" × {cfg.channels} defoci"
        _common.err.print(
            f"{cfg.n_images} images{focal} of {cfg.size}² px at {cfg.sampling:g} Å/px "
            f"({cfg.field_of_view / 10:g} nm); exit waves {geo.wave_gpts}² at "
            f"{geo.wave_sampling:.4f} Å", highlight=False)
        with _common.progress() as bar:
            task = bar.add_task("simulating", total=cfg.n_images)
            path = simulate_dataset(
                cfg, out, scheduler=scheduler, workers=workers, address=address,
                overwrite=overwrite,
                callback=lambda done, total: bar.update(task, completed=done, total=total))
        _common.out.print(f"wrote {path} ({cfg.n_images} image{'s' if cfg.n_images != 1 else ''})",
                          highlight=False)
