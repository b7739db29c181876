"""Receptive field and parameter count, read off the built network.

A network lists the leaf modules on its longest input → output path with
``rf_path()`` (the U-Nets: encoder convs, pools, bottleneck, upsamplings,
decoder convs, head; MSD-net: its 50 dilated convs, each of which sees all
earlier layers). :func:`receptive_field` walks that path and applies
paper 000's eq. (1),

    RF = 1 + Σ_ℓ (k_ℓ − 1) · Π_{j<ℓ} s_j ,

with a dilated kernel counted as α(k − 1) + 1 and an upsampling by s
dividing the running stride product by s (it adds no extent of its own when
it repeats pixels, one low-resolution pixel when it interpolates).

Eq. (1) is the field of an output pixel that sits centrally in its pooling
cells. An output pixel next to a pooling-cell edge can see a little further
through the upsampling; ``bound=True`` walks the path backwards from one
output pixel, taking the worst alignment at every layer, and returns a
strict bound on the width of the field of any output pixel.
"""

from __future__ import annotations

import math
from fractions import Fraction

from torch import nn

from temseg.errors import ConfigError


def _first(v) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def _layer(module: nn.Module) -> tuple[str, int, int]:
    """(kind, effective kernel, stride or scale) of one leaf module on the path."""
    if isinstance(module, nn.ConvTranspose2d):
        k = _first(module.dilation) * (_first(module.kernel_size) - 1) + 1
        return "up", k, _first(module.stride)
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        dilation = getattr(module, "dilation", 1)
        k = _first(dilation) * (_first(module.kernel_size) - 1) + 1
        stride = module.stride if module.stride is not None else module.kernel_size
        return "down", k, _first(stride)
    if isinstance(module, nn.Upsample):
        scale = module.scale_factor
        s = int(scale[0] if isinstance(scale, tuple) else scale)
        if s != (scale[0] if isinstance(scale, tuple) else scale):
            raise ConfigError(f"receptive field: non-integer upsampling {scale}")
        # nearest repeats s pixels (a transposed conv with kernel s); linear
        # modes interpolate between two neighbours (one kernel of 2s)
        return "up", (s if module.mode == "nearest" else 2 * s), s
    raise ConfigError(f"receptive field: cannot walk a {type(module).__name__}")


def rf_path(model: nn.Module) -> list[nn.Module]:
    """The leaf modules on the model's longest input → output path."""
    if not hasattr(model, "rf_path"):
        raise ConfigError(f"receptive field: {type(model).__name__} does not list its path "
                          "(rf_path)")
    return list(model.rf_path())


def receptive_field(model: nn.Module, *, bound: bool = False) -> int:
    """Receptive field of ``model`` in input pixels (one side of the square field).

    Parameters
    ----------
    model : torch.nn.Module
        A temseg network (any module with ``rf_path()``).
    bound : bool
        ``False``: paper 000 eq. (1) (44 px for the residual U-Net N=2, k=2;
        392 px for N=2, k=8). ``True``: a strict bound on the field of any
        output pixel, whatever its alignment with the pooling cells.

    Returns
    -------
    int
        Field width in pixels.
    """
    layers = [_layer(m) for m in rf_path(model)]
    if bound:
        r = 1  # field width in the units of the current layer, walking back
        for kind, k, s in reversed(layers):
            if kind == "down":
                r = (r - 1) * s + k
            else:  # transposed: output o sees input i when 0 <= o - i*s < k
                r = max(1, math.ceil((r - 1 + k - s) / s) + 1)
        return int(r)
    rf, jump = Fraction(1), Fraction(1)
    for kind, k, s in layers:
        if kind == "down":
            rf += (k - 1) * jump
            jump *= s
        else:
            jump /= s
            rf += (math.ceil(k / s) - 1) * jump * s
    return int(rf)


def count_parameters(model: nn.Module, *, trainable: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def rf_table(architecture: str, *, sampling: float | None = None,
             **options) -> list[dict]:
    """Receptive field and size of every combination of list-valued ``options``.

    Parameters
    ----------
    architecture : str
        Registry name ("resunet", "unet", "msdnet").
    sampling : float, optional
        Å per pixel; adds the field in nm.
    **options
        Architecture options; a list value (e.g. ``pool=[2, 4, 8]``) spans
        the table (paper 000, table S1 style), scalars are fixed.

    Returns
    -------
    list of dict
        One row per network: ``options`` (the varied ones), ``parameters``,
        ``rf_px`` (eq. 1), ``rf_bound_px`` (any pixel alignment) and
        ``rf_nm`` (None without a sampling).
    """
    import itertools

    from temseg.models.registry import build_model

    varied = {k: v for k, v in options.items() if isinstance(v, (list, tuple))}
    fixed = {k: v for k, v in options.items() if k not in varied}
    rows = []
    for combo in itertools.product(*varied.values()):
        chosen = dict(zip(varied, combo))
        model = build_model(architecture, **fixed, **chosen)
        rf = receptive_field(model)
        rows.append({"architecture": architecture, "options": chosen,
                     "parameters": count_parameters(model), "rf_px": rf,
                     "rf_bound_px": receptive_field(model, bound=True),
                     "rf_nm": rf * sampling / 10.0 if sampling else None})
    return rows
