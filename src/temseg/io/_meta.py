"""Calibration units and metadata shared by the readers (private).

Everything here turns what a file says into temseg's conventions: lengths in
Å, metadata as a flat dict of JSON-safe values with dotted keys.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: Å per unit of length, keys lower-case and stripped
_LENGTH_UNITS = {
    "m": 1e10, "meter": 1e10, "meters": 1e10, "metre": 1e10,
    "cm": 1e8, "centimeter": 1e8,
    "mm": 1e7, "millimeter": 1e7,
    "um": 1e4, "µm": 1e4, "μm": 1e4, "micron": 1e4, "microns": 1e4, "micrometer": 1e4,
    "nm": 10.0, "nanometer": 10.0, "nanometers": 10.0,
    "å": 1.0, "a": 1.0, "ang": 1.0, "angstrom": 1.0, "angstroms": 1.0, "ångström": 1.0,
    "pm": 0.01, "picometer": 0.01,
    "inch": 2.54e8, "in": 2.54e8,
}

#: largest metadata string kept (characters) and most entries kept
_MAX_STR = 300
_MAX_ITEMS = 400
_MAX_LIST = 16


def angstrom_per_unit(unit: Any) -> float | None:
    """Å per ``unit`` ('nm', 'µm', 'micron', 'Å', 'm', ...), ``None`` if not a length unit.

    Handles the escaped forms ImageJ writes (``\\u00B5m``, ``\\u00C5``) and
    ``pint``-style names ('nanometer').
    """
    if unit is None:
        return None
    text = str(unit).strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ")
    text = text.replace("\\u00C5", "Å").replace("\\u00c5", "Å").replace("\u212b", "Å")
    return _LENGTH_UNITS.get(text.lower())


def to_angstrom(scale: Any, unit: Any) -> float | None:
    """A pixel size ``scale`` in ``unit`` as Å/px; ``None`` when uncalibrated or not a length."""
    return _scaled(scale, angstrom_per_unit(unit))


def _scaled(value: Any, factor: float | None) -> float | None:
    """``value × factor`` for a positive finite number ``value`` and a known ``factor`` (a
    unit's size); ``None`` otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if factor is None or not math.isfinite(number) or number <= 0:
        return None
    return number * factor


#: seconds per unit of time, keys lower-case and stripped
_TIME_UNITS = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 1e-3, "msec": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
    "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6,
    "ns": 1e-9, "nanosecond": 1e-9, "nanoseconds": 1e-9,
    "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
}


def to_seconds(value: Any, unit: Any) -> float | None:
    """A time step ``value`` in ``unit`` ('s', 'sec', 'ms', 'µs', 'min'...) in seconds;
    ``None`` when the unit is no time unit or the value no positive finite number.

    >>> to_seconds(40, "ms")
    0.04
    """
    text = str(unit).strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ").lower()
    return _scaled(value, _TIME_UNITS.get(text))


def _is_reciprocal_length(unit: Any) -> bool:
    """Whether ``unit`` is an inverse length: '1/nm', 'nm^-1', 'nm-1', 'nm⁻¹', '1/Å'..."""
    text = str(unit).strip().replace(" ", "")
    if text.startswith("1/"):
        return angstrom_per_unit(text[2:]) is not None
    for suffix in ("^-1", "**-1", "⁻¹", "-1"):
        if text.endswith(suffix):
            return angstrom_per_unit(text[: -len(suffix)]) is not None
    return False


def unit_ignored_note(what: str, unit: Any) -> str:
    """The metadata note (``sampling_ignored``) for a calibration in a unit that is not a length.

    ``what`` names the calibration: ``unit_ignored_note("ImageJ calibration", "1/nm")`` →
    ``"ImageJ calibration in 1/nm (reciprocal space) ignored"``; a unit such as 'pixel'
    gives ``"ImageJ calibration in 'pixel' (not a length) ignored"``.
    """
    if _is_reciprocal_length(unit):
        return f"{what} in {str(unit).strip()} (reciprocal space) ignored"
    return f"{what} in '{str(unit).strip()}' (not a length) ignored"


def not_square(sampling: float | None, sampling_y: float | None) -> bool:
    """Whether X and Y pixel sizes (Å/px, both known) differ by over 1%."""
    return bool(sampling and sampling_y and abs(sampling / sampling_y - 1) > 0.01)


def not_square_warning(path: Any, sampling: float | None, sampling_y: float | None) -> str | None:
    """The warning for pixels whose X and Y sizes (Å/px) differ by over 1%; None otherwise.

    Every reader uses the X size as ``sampling`` (and keeps the Y size in the
    metadata as ``sampling_y``) and says so in these words.
    """
    if not not_square(sampling, sampling_y):
        return None
    return (f"{path}: pixels are not square (X {sampling:.6g}, Y {sampling_y:.6g} Å/px); "
            f"the X pixel size, {sampling:.6g} Å/px, is used")


def _scalar(value: Any) -> Any:
    """A JSON-safe scalar, or ``_SKIP`` for values not worth keeping."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        value = value.replace("\x00", "").strip()
        return value if len(value) <= _MAX_STR else value[: _MAX_STR - 1] + "…"
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return _SKIP


_SKIP = object()


def flatten_metadata(tree: Any, *, prefix: str = "", out: dict | None = None) -> dict:
    """Nested mappings → ``{"a.b.c": value}`` with JSON-safe values.

    Strings are trimmed, short lists/arrays of scalars kept as lists, bytes,
    big arrays and other objects dropped; at most a few hundred entries.
    """
    out = {} if out is None else out
    if not isinstance(tree, Mapping) and hasattr(tree, "to_dict"):
        tree = tree.to_dict()
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            if len(out) >= _MAX_ITEMS:
                break
            name = f"{prefix}.{key}" if prefix else str(key)
            if str(key).startswith("_"):
                continue
            flatten_metadata(value, prefix=name, out=out)
        return out
    if isinstance(tree, (list, tuple, np.ndarray)):
        seq = np.asarray(tree, dtype=object).ravel() if isinstance(tree, np.ndarray) else tree
        if len(seq) <= _MAX_LIST:
            values = [_scalar(v) for v in seq]
            if all(v is not _SKIP for v in values):
                out[prefix] = values
        return out
    value = _scalar(tree)
    if value is not _SKIP and prefix:
        out[prefix] = value
    return out


def get_path(tree: Any, path: str) -> Any:
    """``tree["a"]["b"]`` for ``path="a.b"``; ``None`` when any level is missing."""
    node = tree
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node


def set_path(tree: dict, path: str, value: Any) -> None:
    """Set ``tree["a"]["b"] = value`` for ``path="a.b"``, creating levels."""
    parts = path.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return
    node[parts[-1]] = value


#: summary keys → candidate dotted keys in RosettaSciIO (HyperSpy-style) metadata
_SUMMARY = {
    "title": ("General.title",),
    "date": ("General.date",),
    "time": ("General.time",),
    "microscope": ("Acquisition_instrument.TEM.microscope",),
    "voltage_kV": ("Acquisition_instrument.TEM.beam_energy",),
    "magnification": ("Acquisition_instrument.TEM.magnification",),
    "mode": ("Acquisition_instrument.TEM.acquisition_mode",),
    "exposure_s": ("Acquisition_instrument.TEM.Detector.Camera.exposure",
                   "Acquisition_instrument.TEM.exposure"),
    "beam_current_nA": ("Acquisition_instrument.TEM.beam_current",),
    "detector": ("Acquisition_instrument.TEM.Detector.Camera.Name",
                 "Acquisition_instrument.TEM.detector"),
}


def summarize(flat: dict) -> dict:
    """The common keys (microscope, voltage_kV, exposure_s, dose...) found in flat metadata.

    ``dose`` is copied only where the file itself states a dose (any key whose
    last part contains "dose"); temseg never guesses it from beam current.
    """
    summary = {}
    for name, keys in _SUMMARY.items():
        for key in keys:
            if flat.get(key) not in (None, ""):
                summary[name] = flat[key]
                break
    for key, value in flat.items():
        if "dose" in key.rsplit(".", 1)[-1].lower() and isinstance(value, (int, float)):
            summary.setdefault("dose", value)
            summary.setdefault("dose_key", key)
    return summary
