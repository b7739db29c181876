"""Microscope formats through RosettaSciIO (private): DM3/DM4, EMD, SER, MRC.

RosettaSciIO returns a list of signal dicts (``data``, ``axes``,
``metadata``, ``original_metadata``, ``mapping``). We read lazily, pick the
first image-like signal, take the pixel size from its last (x) axis, apply
the reader's metadata mapping (which HyperSpy would otherwise do) and keep
the result flattened.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from temseg.errors import InputError
from temseg.io._meta import (angstrom_per_unit, flatten_metadata, get_path, not_square_warning,
                             set_path, summarize, to_angstrom, to_seconds, unit_ignored_note)

#: suffix → (RosettaSciIO module, format name)
PLUGINS = {
    ".dm3": ("rsciio.digitalmicrograph", "DM3"),
    ".dm4": ("rsciio.digitalmicrograph", "DM4"),
    ".emd": ("rsciio.emd", "EMD"),
    ".ser": ("rsciio.tia", "SER"),
    ".mrc": ("rsciio.mrc", "MRC"),
}


def _reader(path: Path):
    module_name, _ = PLUGINS[path.suffix.lower()]
    try:
        return importlib.import_module(module_name).file_reader
    except ImportError as exc:  # EMD needs h5py, which RosettaSciIO does not require
        raise InputError(
            f"{path}: reading {path.suffix} files needs the package '{exc.name}' "
            f"(pip install {exc.name})") from None


def _is_image(signal: dict) -> bool:
    """True for 2-D images and stacks of them.

    A stack has one navigation axis and two signal axes; formats without
    navigation flags (Berkeley EMD marks every axis as signal) count as a
    stack when the last two axes carry a length unit, whatever the first
    (time, frame index, or a length: the defocus of a focal series, z).
    """
    axes = signal.get("axes") or []
    n_signal = sum(not ax.get("navigate", False) for ax in axes)
    if len(axes) == 2 and n_signal == 2:
        return True
    if len(axes) != 3:
        return False
    if n_signal == 2:
        return True
    is_length = [angstrom_per_unit(ax.get("units")) is not None for ax in axes]
    return n_signal == 3 and is_length[1:] == [True, True]


def _apply_mapping(signal: dict) -> dict:
    """The HyperSpy-style metadata with the reader's ``mapping`` applied."""
    metadata = dict(signal.get("metadata") or {})
    original = signal.get("original_metadata") or {}
    for source, (target, function) in (signal.get("mapping") or {}).items():
        value = get_path(original, source)
        if value is None:
            continue
        try:
            value = function(value) if function is not None else value
        except Exception:  # a malformed tag: skip it, never fail a read for metadata
            continue
        set_path(metadata, target, value)
    return metadata


def _mrc_uncalibrated(signal: dict) -> bool:
    """MRC headers with cell length 0 or grid 0 carry no pixel size (RosettaSciIO reports 1 nm)."""
    header = (signal.get("original_metadata") or {}).get("std_header") or {}
    try:
        return not (float(header["Xlen"]) > 0 and float(header["MX"]) > 0)
    except (KeyError, TypeError, ValueError):
        return False


_MRC_BYTES = {0: 1, 1: 2, 2: 4, 4: 8, 6: 2, 12: 2}


def _check_mrc(path: Path) -> None:
    """Header sanity and file size of an MRC file, before RosettaSciIO maps it."""
    header = np.fromfile(path, dtype="<i4", count=256)
    if header.size < 256:
        raise InputError(f"{path}: truncated MRC file (header shorter than 1024 bytes)")
    nx, ny, nz, mode = (int(v) for v in header[:4])
    n_ext = int(header[23])
    if mode not in _MRC_BYTES or min(nx, ny, nz) < 1 or n_ext < 0:
        raise InputError(f"{path}: corrupt MRC header (size {nx}×{ny}×{nz}, mode {mode})")
    expected = 1024 + n_ext + nx * ny * nz * _MRC_BYTES[mode]
    actual = path.stat().st_size
    if actual < expected:
        raise InputError(f"{path}: truncated MRC file ({actual} bytes, header needs {expected})")


def _units_note(axis: dict) -> str | None:
    """The ``sampling_ignored`` note for an axis calibrated in a unit that is not a length
    (1/nm of a diffractogram...); None for a length or no unit at all."""
    units = axis.get("units")
    text = str(units).strip() if units is not None else ""
    if not text or text.lower() in ("<undefined>", "undefined") \
            or angstrom_per_unit(text) is not None:
        return None
    return unit_ignored_note(f"{axis.get('name') or 'x'} axis calibration", text)


def read_rsciio(path: Path, *, warn: Callable[[str], None] | None = None):
    """``(data, sampling, metadata)`` of a DM/EMD/SER/MRC file; data numpy (2-D) or dask (stack).

    ``warn(message)`` hears of non-square pixels (default
    :func:`temseg.io.micrograph.default_warn`); their Y size goes in ``sampling_y``.
    """
    if warn is None:
        from temseg.io.micrograph import default_warn as warn
    reader = _reader(path)
    logging.getLogger("rsciio").setLevel(logging.ERROR)
    if path.suffix.lower() == ".mrc":
        _check_mrc(path)
    problem = None
    # RosettaSciIO's MRC reader never closes its file handle; silence that warning here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            signals = reader(str(path), lazy=True)
        except Exception as exc:  # RosettaSciIO raises anything from struct.error to KeyError
            problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        raise InputError(f"{path}: corrupt or unsupported {path.suffix} file ({problem})")
    images = [s for s in signals if _is_image(s)]
    if not images:
        shapes = ", ".join(str(tuple(s["data"].shape)) for s in signals) or "none"
        raise InputError(f"{path}: no 2-D image or image stack in the file "
                         f"(signals of shape {shapes})")
    signal = images[0]
    data = signal["data"]
    y_axis, x_axis = signal["axes"][-2:]
    sampling = to_angstrom(x_axis.get("scale"), x_axis.get("units"))
    sampling_y = to_angstrom(y_axis.get("scale"), y_axis.get("units"))
    if path.suffix.lower() == ".mrc" and _mrc_uncalibrated(signal):
        sampling = None
    flat = flatten_metadata(_apply_mapping(signal))
    meta = {**summarize(flat), **flat}
    if len(signals) > 1:
        meta["signals_in_file"] = len(signals)
    if sampling is not None:
        meta["sampling_source"] = f"{x_axis.get('name') or 'x'} axis ({x_axis.get('units')})"
        message = not_square_warning(path, sampling, sampling_y)
        if message:
            meta["sampling_y"] = sampling_y
            warn(message)
    elif _units_note(x_axis) is not None:  # 1/nm of a diffractogram...: say why there is none
        meta["sampling_ignored"] = _units_note(x_axis)
    if data.ndim == 3 and data.shape[0] > 1:  # a time series: its step, where in seconds
        t_axis = signal["axes"][0]
        seconds = to_seconds(t_axis.get("scale"), t_axis.get("units"))
        if seconds is not None:
            meta["frame_interval_s"] = seconds
            meta["frame_interval_source"] = (f"{t_axis.get('name') or 'frame'} axis "
                                             f"({t_axis.get('units')})")
    if data.ndim == 2 or (data.ndim == 3 and data.shape[0] == 1):
        try:
            data = np.asarray(data.compute() if hasattr(data, "compute") else data)
        except Exception as exc:
            raise InputError(f"{path}: corrupt or truncated data ({exc})") from None
        data = data.reshape(data.shape[-2:])
    return data, sampling, meta
