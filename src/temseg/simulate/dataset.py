"""Simulated datasets as zarr groups, generated in parallel through Dask, deterministic for a seed.

Layout (ARCHITECTURE.md): ``images (N, H, W) float32``, ``labels (N, H, W)
uint8`` (projected convex hull), ``columns (N, H, W) uint8`` (atomic-column
discs, optional), group ``parameters/`` of 1-D arrays (every drawn value,
one entry per image), attrs ``sampling`` (Å/px), ``seed``, ``config``,
``label_kind``, ``temseg_version`` and the simulation grids. One chunk per
image. The folder also holds ``record.json`` (how it was made, with a time
stamp); everything else is byte-identical for a config and seed, whatever
the scheduler or number of workers: structure ``i`` draws from the ``i``-th
child of ``SeedSequence(seed)`` and results are written in index order.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from temseg.config import to_dict
from temseg.errors import ConfigError, InputError
from temseg.simulate.config import SimulateConfig
from temseg.simulate.pipeline import Result, geometry, simulate_structure

SCHEDULERS = ("threads", "processes", "synchronous")


def _task(config: SimulateConfig, index: int, seed: np.random.SeedSequence) -> Result:
    if config.mode == "dose_series":
        from temseg.simulate.dose_series import simulate_dose_series

        return simulate_dose_series(config, seed=seed)
    return simulate_structure(config, seed=seed, index=index)


def _create(root, config: SimulateConfig):
    n, size = config.n_images, config.size
    kwargs = {"shape": (n, size, size), "chunks": (1, size, size)}
    arrays = {"images": root.create_array("images", dtype="float32", **kwargs),
              "labels": root.create_array("labels", dtype="uint8", **kwargs)}
    if config.labels.columns:
        arrays["columns"] = root.create_array("columns", dtype="uint8", **kwargs)
    return arrays


def _write_parameters(root, rows: list[dict]) -> None:
    group = root.create_group("parameters")
    for key in rows[0]:
        values = np.asarray([row[key] for row in rows])
        values = values.astype(np.int64 if values.dtype.kind in "iub" else np.float64)
        group.create_array(key, data=values, chunks=(len(values),))


def _attrs(config: SimulateConfig) -> dict:
    from temseg import __version__

    geo = geometry(config)
    return {
        "sampling": config.sampling,
        "seed": config.seed,
        "config": to_dict(config),
        "label_kind": "hull_grown" if config.labels.grow_hull else "hull",
        "column_kind": "discs" if config.labels.columns else None,
        "mode": config.mode,
        "units": "images: electron counts per pixel" if config.detector.enabled
                 else "images: intensity, vacuum = 1",
        "axes": "axis 1 along x, axis 2 along y of the structure (abTEM order)",
        "cell": geo.cell,
        "padding_px": geo.pad,
        "wave_sampling": geo.wave_sampling,
        "wave_gpts": geo.wave_gpts,
        "energy": config.imaging.energy,
        "temseg_version": __version__,
    }


def simulate_dataset(config: SimulateConfig, path: str | Path, *, scheduler: str = "threads",
                     workers: int | None = None, address: str | None = None,
                     overwrite: bool = False,
                     callback: Callable[[int, int], None] | None = None) -> Path:
    """Generate the dataset of ``config`` as a zarr group at ``path``.

    Parameters
    ----------
    config : SimulateConfig
        Validated config (``mode`` ``"dataset"`` or ``"dose_series"``).
    path : path
        Output folder (``.zarr`` by convention). Written to a temporary folder
        beside it and moved into place on success: never half-written.
    scheduler : {"threads", "processes", "synchronous"}
        Dask's local scheduler; ignored when ``address`` is given.
    workers : int, optional
        Local workers (default: the number of CPU cores).
    address : str, optional
        Address of a ``dask.distributed`` scheduler (``"tcp://host:8786"``).
    overwrite : bool
        Replace an existing ``path``.
    callback : callable(done, total), optional
        Called with the number of images written so far (for a progress bar).

    Returns
    -------
    Path of the dataset.

    Raises
    ------
    ConfigError
        Unknown scheduler or ``path`` exists without ``overwrite``.
    """
    import dask
    import zarr

    path = Path(path)
    if scheduler not in SCHEDULERS:
        raise ConfigError(f"scheduler: {scheduler!r} is not one of {', '.join(SCHEDULERS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers: must be >= 1, got {workers}")
    if path.exists() and not overwrite:
        raise ConfigError(f"{path}: already exists (use --overwrite to replace it)")
    config.detector.ranges() if config.detector.enabled else None  # a bad noise model fails now
    workers = workers or os.cpu_count() or 1
    n_tasks = 1 if config.mode == "dose_series" else config.n_structures
    seeds = np.random.SeedSequence(config.seed).spawn(n_tasks)
    per_task = config.n_images // n_tasks

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    client = pool = None
    try:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        arrays = _create(root, config)
        rows: list[dict] = []
        if address is not None:
            from dask.distributed import Client

            client = Client(address)
            get = {"scheduler": client}
        elif scheduler == "processes":
            import concurrent.futures
            import multiprocessing

            pool = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"))
            get = {"scheduler": "processes", "pool": pool}
        else:
            get = {"scheduler": scheduler, "num_workers": workers}
        batch = max(1, 2 * workers) if scheduler != "synchronous" or address else 1
        done = 0
        if callback is not None:
            callback(0, config.n_images)
        for start in range(0, n_tasks, batch):
            indices = range(start, min(start + batch, n_tasks))
            tasks = [dask.delayed(_task)(config, i, seeds[i]) for i in indices]
            results = dask.compute(*tasks, **get)
            for i, result in zip(indices, results):
                sl = slice(i * per_task, (i + 1) * per_task)
                arrays["images"][sl] = result.images
                arrays["labels"][sl] = result.labels
                if "columns" in arrays:
                    arrays["columns"][sl] = result.columns
                rows.extend(result.params)
                done += len(result.images)
                if callback is not None:
                    callback(done, config.n_images)
        _write_parameters(root, rows)
        root.attrs.update(_attrs(config))
        from temseg.record import write_record

        write_record(tmp, seed=config.seed, config=to_dict(config), kind="simulated dataset",
                     n_images=config.n_images)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if pool is not None:
            pool.shutdown()
        if client is not None:
            client.close()
    return path


def open_dataset(path: str | Path):
    """Open a simulated dataset read-only; returns the ``zarr.Group``.

    Raises
    ------
    InputError
        ``path`` is not a zarr group with ``images`` and ``labels``.
    """
    import zarr

    path = Path(path)
    try:
        root = zarr.open_group(str(path), mode="r")
        images, labels = root["images"], root["labels"]
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for a bad store
        raise InputError(f"{path}: not a temseg simulated dataset ({type(exc).__name__})") from None
    if images.shape != labels.shape or len(images.shape) != 3:
        raise InputError(f"{path}: images {images.shape} and labels {labels.shape} differ")
    return root


def read_parameters(path_or_group) -> dict[str, np.ndarray]:
    """The parameters table of a dataset: name → 1-D array (one entry per image)."""
    root = open_dataset(path_or_group) if isinstance(path_or_group, (str, Path)) else path_or_group
    group = root["parameters"]
    return {name: np.asarray(array[:]) for name, array in sorted(group.arrays())}
