"""Simulated datasets as zarr groups, generated in parallel through Dask, deterministic for a seed.

Layout (ARCHITECTURE.md): ``images (N, H, W) float32`` — ``(N, C, H, W)``
with a focal series (003), one channel per defocus offset — ``labels (N, H,
W) uint8`` (projected convex hull, species class indices, or contamination
patches on graphene), ``columns (N,
H, W) uint8`` (atomic-column discs, optional), group ``parameters/`` of 1-D
arrays (every drawn value, one entry per image, its unit in the group's
``units`` attr), attrs ``sampling`` (Å/px), ``seed``, ``config``,
``label_kind``, ``temseg_version``, the simulation grids, ``detector`` (the
ranges drawn from) and, with a noise model, ``noise_model`` (its path,
SHA-256, fit pixel size and detector block); species labels
add ``classes``, focal series ``channels`` and ``defocus_offsets`` (Å). One
chunk per image. The group ``record`` holds in its attrs how the dataset was made (the
command, versions, a time stamp; a group, not a loose ``record.json``, so that zarr
lists it without a warning); everything else is byte-identical for a config and seed, whatever
the scheduler or number of workers: structure ``i`` draws from the ``i``-th
child of ``SeedSequence(seed)`` and its images go to the fixed, chunk-aligned
slots ``i·K … (i+1)·K - 1`` (local tasks write them themselves, in any order;
with a ``dask.distributed`` cluster the results come back and are written here).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
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


def _store(arrays, index: int, result: Result) -> None:
    """Write one task's images at their fixed place (chunk-aligned: safe in parallel)."""
    k = len(result.images)
    sl = slice(index * k, (index + 1) * k)
    arrays["images"][sl] = result.images
    arrays["labels"][sl] = result.labels
    if "columns" in arrays:
        arrays["columns"][sl] = result.columns


def _task_and_store(config: SimulateConfig, folder: str, index: int,
                    seed: np.random.SeedSequence) -> list[dict]:
    """Run one task and write its images into the zarr group at ``folder``; return its rows."""
    import zarr

    root = zarr.open_group(folder, mode="r+")
    arrays = {name: root[name] for name in ("images", "labels", "columns") if name in root}
    result = _task(config, index, seed)
    _store(arrays, index, result)
    return result.params


def _create(root, config: SimulateConfig):
    n, size = config.n_images, config.size
    kwargs = {"shape": (n, size, size), "chunks": (1, size, size)}
    channels = () if config.focal_series is None else (config.channels,)
    arrays = {"images": root.create_array("images", dtype="float32",
                                          shape=(n, *channels, size, size),
                                          chunks=(1, *channels, size, size)),
              "labels": root.create_array("labels", dtype="uint8", **kwargs)}
    if config.labels.columns:
        arrays["columns"] = root.create_array("columns", dtype="uint8", **kwargs)
    return arrays


def _run_local(config, folder, seeds, *, scheduler, workers, progress) -> list[list[dict]]:
    """All tasks in one Dask graph on a local scheduler; each task writes its own chunks."""
    import dask
    from dask.callbacks import Callback

    tasks = [dask.delayed(_task_and_store, pure=False)(config, folder, i, seed,
                                                       dask_key_name=f"structure-{i}")
             for i, seed in enumerate(seeds)]

    def posttask(key, result, dsk, state, worker_id):
        if isinstance(key, str) and key.startswith("structure-"):
            progress(len(result))

    kwargs = {"scheduler": scheduler}
    pool = None
    if scheduler == "processes":
        import concurrent.futures
        import multiprocessing

        pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"))
        kwargs["pool"] = pool
    elif scheduler == "threads":
        kwargs["num_workers"] = workers
    try:
        with Callback(posttask=posttask):
            return list(dask.compute(*tasks, **kwargs))
    finally:
        if pool is not None:
            pool.shutdown()


#: how long a dask scheduler at --address may take to answer
CONNECT_TIMEOUT = "10s"


def _run_distributed(config, arrays, seeds, *, address, progress) -> list[list[dict]]:
    """Tasks on a ``dask.distributed`` cluster; results come back and are written here."""
    from dask.distributed import Client, as_completed

    rows: list = [None] * len(seeds)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except OSError as exc:  # nothing listening there, or a bad address
        raise InputError(f"--address {address}: cannot reach a dask scheduler "
                         f"({str(exc).splitlines()[0][:120]})") from None
    with client:
        futures = {client.submit(_task, config, i, seed, pure=False): i
                   for i, seed in enumerate(seeds)}
        for future in as_completed(futures):
            i = futures[future]
            result = future.result()
            _store(arrays, i, result)
            rows[i] = result.params
            progress(len(result.images))
            future.release()
    return rows


#: units of the drawn values in ``parameters/`` (also in the group's ``units`` attribute)
PARAMETER_UNITS = {
    "dose": "e/Å²", "dose_per_pixel": "e/px", "defocus": "Å", "cs": "Å", "focal_spread": "Å",
    "blur": "Å", "radius": "Å", "offset_x": "Å", "offset_y": "Å", "support_depth": "Å",
    "tilt": "°", "tilt_axis": "°", "rotation": "°", "truncation": "fraction of the radius",
    "c0": "q/q_Nyquist", "c3": "1", "C": "1", "N0": "e/px", "n_atoms": "count",
    "n_particle_atoms": "count",
    "structure": "index", "epoch": "index", "vacancy_probability": "probability per S atom",
    "n_mo_columns": "count", "n_s2_columns": "count", "n_s1_columns": "count",
    "n_empty_s_sites": "count", "coverage": "fraction of the cell", "patch_scale": "Å",
    "contamination_thickness": "Å", "n_graphene_atoms": "count",
    "n_contamination_atoms": "count", "illumination": "relative gain amplitude",
    "illumination_angle": "°", "illumination_radial": "fraction",
}


def channel_name(offset: float) -> str:
    """Name of a focal-series channel: its defocus offset, e.g. ``Δf -50 Å``.

    Offsets are relative to the image's drawn ``defocus`` (parameter of the
    same name), in abTEM's sign (positive = underfocus).
    """
    return f"Δf {offset:+g} Å"


def _write_parameters(root, rows: list[dict]) -> None:
    group = root.create_group("parameters")
    group.attrs["units"] = {key: PARAMETER_UNITS[key] for key in rows[0]
                            if key in PARAMETER_UNITS}
    for key in rows[0]:
        values = np.asarray([row[key] for row in rows])
        values = values.astype(np.int64 if values.dtype.kind in "iub" else np.float64)
        group.create_array(key, data=values, chunks=(len(values),))


def _label_kind(config: SimulateConfig) -> str:
    if config.labels.kind in ("species", "contamination"):
        return config.labels.kind
    return "hull_grown" if config.labels.grow_hull else "hull"


def _attrs(config: SimulateConfig) -> dict:
    from temseg import __version__
    from temseg.simulate.config import LABEL_CLASSES

    geo = geometry(config)
    extra = {}
    if config.labels.kind in LABEL_CLASSES:
        extra["classes"] = list(LABEL_CLASSES[config.labels.kind])
    if config.focal_series is not None:
        extra["channels"] = [channel_name(v) for v in config.focal_series]
        extra["defocus_offsets"] = list(config.focal_series)
    return {
        "sampling": config.sampling,
        "seed": config.seed,
        "config": to_dict(config),
        "label_kind": _label_kind(config),
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
        **_detector_attrs(config),
        **extra,
    }


def _detector_attrs(config: SimulateConfig) -> dict:
    """``detector``: the ranges actually drawn from (c0, c3, N0, dose, its distribution),
    whatever gave them; ``noise_model``: the model file used (path, SHA-256 of its bytes,
    the pixel size it was fitted at, its detector block), so that a refit is visible."""
    det = config.detector
    if not det.enabled:
        return {}
    out = {"detector": det.ranges().to_dict()}
    model = det.noise_model_file()
    if model is not None:
        out["noise_model"] = model.to_dict()
    return out


try:
    import fcntl
except ImportError:  # Windows: no flock; a store is judged by its process alone
    fcntl = None


def _host_tag() -> str:
    """This host in a temporary store's name: the first 12 hex digits of the SHA-256 of
    its full name (two nodes whose names differ only past some length stay apart)."""
    return hashlib.sha256(platform.node().encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (unknown counts as running)."""
    if os.name != "posix" or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):  # no such PID can exist: cannot tell, keep
        return True
    except OSError:  # PermissionError: another user's process
        return True
    return True


#: the file inside a temporary store that its writer holds an exclusive flock on
_LOCK_NAME = ".writer.lock"

#: what a temporary store may hold (a store holding anything else is never deleted)
_STORE_ENTRIES = {"zarr.json", "images", "labels", "columns", "parameters", "record",
                  "record.json", _LOCK_NAME}  # (record.json: in stores of older temseg)


def _hold_lock(store: Path) -> int | None:
    """Create ``store``'s lock file and hold an exclusive flock on it; returns its descriptor.

    None where flock is missing (no ``fcntl``) or the filesystem refuses it; then
    no lock file is left and :func:`clean_stale_stores` goes by the process alone.
    """
    if fcntl is None:
        return None
    lock = store / _LOCK_NAME
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        lock.unlink(missing_ok=True)
        return None
    return fd


def _release_lock(store: Path, fd: int | None) -> None:
    """Remove ``store``'s lock file while still holding it, then release it."""
    if fd is None:
        return
    try:
        (store / _LOCK_NAME).unlink(missing_ok=True)
    finally:
        os.close(fd)


def _take_lock(store: Path) -> tuple[int | None, str | None]:
    """Take the writer's lock of ``store`` without waiting.

    Returns ``(fd, None)`` when taken (close ``fd`` to release it), ``(None,
    None)`` when there is no lock to judge by (no lock file, or no ``fcntl``),
    and ``(None, why)`` when it cannot be taken (a writer holds it).
    """
    lock = store / _LOCK_NAME
    if fcntl is None:
        return None, None
    try:
        # (read-write: flock over NFS is emulated with a byte-range lock, which needs it)
        fd = os.open(lock, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"cannot open its lock file ({exc.strerror or exc})"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held, now = os.fstat(fd), os.stat(lock, follow_symlinks=False)
    except BlockingIOError:
        os.close(fd)
        return None, "its writer holds its lock and may still be writing it"
    except FileNotFoundError:  # the writer removed it after we opened it: it is finishing
        os.close(fd)
        return None, "its writer is moving it into place"
    except OSError as exc:
        os.close(fd)
        return None, f"cannot lock its lock file ({exc.strerror or exc})"
    if (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino):
        os.close(fd)
        return None, "its lock file was replaced while being checked"
    return fd, None


def clean_stale_stores(path: str | Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Remove the hidden temporary stores that killed runs writing ``path`` left beside it.

    :func:`simulate_dataset` writes into ``.NAME.HOST-PID.XXXXXXXX`` beside
    ``path`` (``HOST``: 12 hex digits of the SHA-256 of the host name),
    holding an exclusive ``flock`` on a lock file in it while it writes, and
    moves it into place at the end; a SIGKILL (or a power cut) leaves it
    behind. Such a store is removed only when it was made on this host, its
    process no longer runs here, its lock (if it has one and ``fcntl`` exists)
    can be taken without waiting, and it holds nothing but a dataset's files.
    The lock keeps a store that a process of the same host name writes from
    elsewhere (another node on a shared filesystem, another container) whose
    PID means nothing here. Stores that may still be written, made on another
    host, or made by an earlier temseg (``.NAME.XXXXXXXX``, no process
    recorded) are kept.

    Returns
    -------
    removed : list of Path
    kept : list of (Path, str)
        Each kept store with why it was kept, for the user to judge.
    """
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        return [], []
    name = re.escape(path.name)
    ours = re.compile(rf"\.{name}\.(?P<host>[A-Za-z0-9]*)-(?P<pid>[0-9]+)\.[a-z0-9_]+")
    older = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}")
    removed, kept = [], []
    for entry in sorted(parent.iterdir()):
        if not entry.name.startswith(f".{path.name}.") or entry.is_symlink() or not entry.is_dir():
            continue
        match = ours.fullmatch(entry.name)
        if match is None:
            if older.fullmatch(entry.name):
                kept.append((entry, "left by an earlier temseg; its process is not recorded"))
            continue
        pid, host = int(match["pid"]), match["host"]
        if host != _host_tag():
            kept.append((entry, f"made on another host ({host or 'unnamed'}) or by an older "
                                f"temseg, process {pid}"))
            continue
        if _pid_alive(pid):
            kept.append((entry, f"process {pid} is running (or cannot be checked) and may "
                                "still be writing it"))
            continue
        if not {e.name for e in entry.iterdir()} <= _STORE_ENTRIES:
            kept.append((entry, "holds files a dataset does not"))
            continue
        fd, why = _take_lock(entry)
        if why is not None:
            kept.append((entry, why))
            continue
        try:
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            if fd is not None:
                os.close(fd)
        removed.append(entry)
    return removed, kept


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
        beside it and moved into place on success: never half-written. Such
        folders that killed runs left are removed first (:func:`clean_stale_stores`).
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
    import zarr

    path = Path(path)
    if scheduler not in SCHEDULERS:
        raise ConfigError(f"scheduler: {scheduler!r} is not one of {', '.join(SCHEDULERS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers: must be >= 1, got {workers}")
    if path.exists() and not overwrite:
        raise ConfigError(f"{path}: already exists (use --overwrite to replace it)")
    if path.exists():  # --overwrite replaces an earlier dataset, never anything else
        try:
            open_dataset(path)
        except InputError:
            raise ConfigError(f"{path}: exists and is not a temseg simulated dataset; "
                              "refusing to replace it") from None
    config.detector.ranges() if config.detector.enabled else None  # a bad noise model fails now
    workers = workers or os.cpu_count() or 1
    n_tasks = 1 if config.mode == "dose_series" else config.n_structures
    seeds = np.random.SeedSequence(config.seed).spawn(n_tasks)

    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_stores(path)  # what a killed earlier run left
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{_host_tag()}-{os.getpid()}.",
                                dir=path.parent))
    lock, moved = None, False
    try:
        lock = _hold_lock(tmp)  # held from the start: no cleaner removes tmp while it is written
        root = zarr.open_group(str(tmp), mode="a", zarr_format=3)  # (new and empty but the lock)
        arrays = _create(root, config)
        done = 0

        def progress(n_done: int) -> None:
            nonlocal done
            done += n_done
            if callback is not None:
                callback(done, config.n_images)

        if callback is not None:
            callback(0, config.n_images)
        if address is not None:
            per_task = _run_distributed(config, arrays, seeds, address=address, progress=progress)
        else:
            per_task = _run_local(config, str(tmp), seeds, scheduler=scheduler, workers=workers,
                                  progress=progress)
        rows = [row for task_rows in per_task for row in task_rows]
        _write_parameters(root, rows)
        root.attrs.update(_attrs(config))
        from temseg.io.files import jsonable
        from temseg.record import run_record

        root.create_group("record", attributes=jsonable(run_record(
            seed=config.seed, config=to_dict(config), kind="simulated dataset",
            n_images=config.n_images, **_detector_attrs(config))))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)  # still locked: no moment without a lock before the move
        moved = True
        fd, lock = lock, None
        _release_lock(path, fd)  # the lock file goes: the dataset's bytes are the same
    except BaseException:
        if moved:  # interrupted after the move: the dataset is whole, but for the lock file
            (path / _LOCK_NAME).unlink(missing_ok=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        if lock is not None:
            os.close(lock)
        raise
    return path


def open_dataset(path: str | Path):
    """Open a simulated dataset read-only; returns the ``zarr.Group``.

    Raises
    ------
    InputError
        ``path`` is not a zarr group with ``images (N, H, W)`` or ``(N, C, H,
        W)`` and ``labels (N, H, W)``.
    """
    import zarr

    path = Path(path)
    try:
        root = zarr.open_group(str(path), mode="r")
        images, labels = root["images"], root["labels"]
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for a bad store
        raise InputError(f"{path}: not a temseg simulated dataset ({type(exc).__name__})") from None
    spatial = images.shape[:1] + images.shape[2:] if len(images.shape) == 4 else images.shape
    if spatial != labels.shape or len(labels.shape) != 3:
        raise InputError(f"{path}: images {images.shape} and labels {labels.shape} differ")
    return root


def read_parameters(path_or_group) -> dict[str, np.ndarray]:
    """The parameters table of a dataset: name → 1-D array (one entry per image)."""
    root = open_dataset(path_or_group) if isinstance(path_or_group, (str, Path)) else path_or_group
    group = root["parameters"]
    return {name: np.asarray(array[:]) for name, array in sorted(group.arrays())}
