"""Registry of the networks: build any of them by name from plain options."""

from __future__ import annotations

import inspect
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


def build_model(architecture: str, **options: Any) -> nn.Module:
    """Build the network ``architecture`` ("resunet", "unet", "msdnet", "ensemble").

    The options are the keyword arguments of :class:`ResUNet`, :class:`UNet`,
    :class:`MSDNet` or :class:`Ensemble`; unknown names raise a ConfigError naming them. The
    built model's ``options`` attribute holds the full, resolved options
    (e.g. MSD-net's drawn dilations), enough to rebuild it exactly.

    Examples
    --------
    >>> model = build_model("resunet", blocks=2, pool=8)
    >>> model.options["pool"]
    8
    """
    try:
        cls = ARCHITECTURES[architecture]
    except KeyError:
        raise ConfigError(f"architecture: {architecture!r} is not one of "
                          f"{', '.join(ARCHITECTURES)}") from None
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
    except TypeError as exc:
        raise ConfigError(f"options: {architecture}: {exc}") from None


def model_defaults(architecture: str) -> dict[str, Any]:
    """The options of ``architecture`` a recipe may set, with their default values.

    ``in_channels`` and ``classes`` are left out (the data decides them).

    Examples
    --------
    >>> model_defaults("resunet")["pool"]
    2
    """
    try:
        cls = ARCHITECTURES[architecture]
    except KeyError:
        raise ConfigError(f"architecture: {architecture!r} is not one of "
                          f"{', '.join(ARCHITECTURES)}") from None
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.kind is p.KEYWORD_ONLY and name not in ("in_channels", "classes")
            and p.default is not p.empty}
