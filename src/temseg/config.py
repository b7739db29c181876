"""Typed configuration: dataclasses validated in one place, YAML mapped one to one.

A config class is a ``@dataclass`` whose ``__post_init__`` validates its
fields and raises :class:`~temseg.errors.ConfigError` naming the field.
:func:`load_config` builds one from a YAML file or dict, refusing unknown
keys, and applies CLI overrides on top (``None`` overrides are ignored).
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, TypeVar

from temseg.errors import ConfigError

T = TypeVar("T")


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping (UTF-8 text); a clear error for a missing, binary or malformed file."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    except UnicodeDecodeError:  # an image or other binary file given as the config
        raise ConfigError(f"{path}: not a text YAML file") from None
    if "\x00" in text:  # binary that happens to decode as UTF-8
        raise ConfigError(f"{path}: not a text YAML file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of field: value")
    return data


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Coerce YAML scalars/lists into the annotated type where unambiguous."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or value is None:
        return value
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_dict(hint, value, prefix=f"{name}.")
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, value, arg)
            except ConfigError:
                continue
        raise ConfigError(f"{name}: {value!r} does not fit {hint}")
    if origin in (tuple, list) and isinstance(value, (list, tuple)):
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{name}: expected {len(args)} values, got {len(value)}")
            return tuple(_coerce(name, v, a) for v, a in zip(value, args))
        inner = args[0] if args else Any
        return origin(_coerce(name, v, inner) for v in value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        # YAML 1.1 reads "1e-4" (no dot) as a string; accept any numeric text
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{name}: {value!r} is not a valid float") from None
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is Path and isinstance(value, (str, Path)):
        return Path(value)
    if origin is dict and isinstance(value, dict):
        return dict(value)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(map(repr, args))}")
    if isinstance(hint, type) and isinstance(value, hint) and (
            hint is bool or not isinstance(value, bool)):  # `epochs: true` is not 1 epoch
        return value
    raise ConfigError(f"{name}: {value!r} is not a valid {getattr(hint, '__name__', hint)}")


def from_dict(cls: type[T], data: dict, *, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and bad types name the field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}: unknown field (known: {', '.join(sorted(fields))})"
        )
    kwargs = {k: _coerce(prefix + k, v, hints[k]) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{prefix or cls.__name__}: {exc}") from None


def load_config(cls: type[T], source: str | Path | dict | None = None, **overrides: Any) -> T:
    """Config from a YAML path or dict, with non-``None`` ``overrides`` applied last."""
    data: dict = {}
    if isinstance(source, (str, Path)):
        data = read_yaml(source)
    elif isinstance(source, dict):
        data = dict(source)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(cls, data)


def to_dict(config: Any) -> dict:
    """Dataclass → plain dict of JSON/YAML-safe values (paths as strings, tuples as lists)."""

    def clean(value):
        if dataclasses.is_dataclass(value):
            return {f.name: clean(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, Path):
            return str(value)
        return value

    return clean(config)
