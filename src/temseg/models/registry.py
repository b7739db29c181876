"""Registry of the networks: build any of them by name from plain options."""

from __future__ import annotations

import inspect
import numbers
from typing import Any

import torch
from torch import nn

from temseg.errors import ConfigError
from temseg.models.blocks import check_size
from temseg.models.ensemble import Ensemble
from temseg.models.msdnet import MSDNet
from temseg.models.resunet import ResUNet
from temseg.models.unet import UNet

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "resunet": ResUNet,
    "unet": UNet,
    "msdnet": MSDNet,
    "ensemble": Ensemble,
}


#: least value of an integer option (1 for any not named here)
_MINIMUM = {"seed": 0}


def _architecture(architecture: str) -> type[nn.Module]:
    try:
        return ARCHITECTURES[architecture]
    except (KeyError, TypeError):
        raise ConfigError(f"architecture: {architecture!r} is not one of "
                          f"{', '.join(ARCHITECTURES)}") from None


def check_options(architecture: str, options: dict[str, Any]) -> None:
    """Refuse options ``architecture`` does not have, and values of the wrong type.

    The types come from the architecture's signature: an ``int`` option (``blocks``,
    ``filters``, ``pool``, ``dilation``, ``kernel_size``, ``depth``, ``width``...) takes an
    integer ≥ 1 (``seed`` ≥ 0), or a list of them where it may be one per level; no
    ``"4"``, ``4.0`` or ``true``. ``bool`` options take true/false, ``str`` options text;
    ``None`` only where it is the default. Values themselves (odd kernels, known
    variants) are the architecture's to check.

    Raises
    ------
    ConfigError
        One line naming the option (and, for an unknown one, the options there are).

    Examples
    --------
    >>> check_options("resunet", {"blocks": "4"})
    Traceback (most recent call last):
    ...
    temseg.errors.ConfigError: blocks: must be an integer >= 1, got '4'
    """
    cls = _architecture(architecture)
    params = {name: p for name, p in inspect.signature(cls.__init__).parameters.items()
              if p.kind is p.KEYWORD_ONLY}
    unknown = [name for name in options if name not in params]
    if unknown:
        shown = [n for n in params if n not in ("in_channels", "classes")]
        raise ConfigError(f"{architecture} has no option {', '.join(map(repr, unknown))} "
                          f"(its options: {', '.join(shown)})")
    for name, value in options.items():
        kinds = str(params[name].annotation).replace(" ", "").split("|")
        if value is None:
            if "None" not in kinds and params[name].default is not None:
                raise ConfigError(f"{name}: must be given a value, got null")
            continue
        if "bool" in kinds:
            if not isinstance(value, bool):
                raise ConfigError(f"{name}: must be true or false, got {value!r}")
            continue
        listed = "Sequence[int]" in kinds and isinstance(value, (list, tuple))
        if "int" in kinds or listed:
            least = _MINIMUM.get(name, 1)
            for item in (value if listed else [value]):
                if isinstance(item, bool) or not isinstance(item, numbers.Integral) \
                        or item < least:
                    what = (f"an integer >= {least}" if "int" in kinds else "") + (
                        " or " if "int" in kinds and "Sequence[int]" in kinds else "") + (
                        f"a list of integers >= {least}" if "Sequence[int]" in kinds else "")
                    raise ConfigError(f"{name}: must be {what}, got {value!r}")
        elif kinds == ["str"] and not isinstance(value, str):
            raise ConfigError(f"{name}: must be text, got {value!r}")


def build_model(architecture: str, **options: Any) -> nn.Module:
    """Build the network ``architecture`` ("resunet", "unet", "msdnet", "ensemble").

    The options are the keyword arguments of :class:`ResUNet`, :class:`UNet`,
    :class:`MSDNet` or :class:`Ensemble`, checked by :func:`check_options` (unknown names,
    non-integer ``blocks``...: a ConfigError naming them). The built model's ``options``
    attribute holds the full, resolved options (e.g. MSD-net's drawn dilations), enough to
    rebuild it exactly.

    Examples
    --------
    >>> model = build_model("resunet", blocks=2, pool=8)
    >>> model.options["pool"]
    8
    """
    cls = _architecture(architecture)
    check_options(architecture, options)
    try:
        if cls in (ResUNet, UNet):  # count the weights on the meta device first: no memory
            what = ", ".join(f"{k} {v}" for k, v in options.items()
                             if k not in ("in_channels", "classes")) or architecture
            try:
                with torch.device("meta"):
                    probe = cls(**options)
            except RuntimeError:  # a tensor too large to even describe
                raise ConfigError(f"{what}: far too many parameters; choose a smaller "
                                  "network") from None
            check_size(sum(p.numel() for p in probe.parameters()), what)
        return cls(**options)
    except (TypeError, ValueError) as exc:  # e.g. a padding_mode torch does not know
        raise ConfigError(f"options: {architecture}: {exc}") from None


def model_defaults(architecture: str) -> dict[str, Any]:
    """The options of ``architecture`` a recipe may set, with their default values.

    ``in_channels`` and ``classes`` are left out (the data decides them).

    Examples
    --------
    >>> model_defaults("resunet")["pool"]
    2
    """
    cls = _architecture(architecture)
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.kind is p.KEYWORD_ONLY and name not in ("in_channels", "classes")
            and p.default is not p.empty}
