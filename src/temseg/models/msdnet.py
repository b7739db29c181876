"""Mixed-scale dense network (Pelt & Sethian 2017; paper 002 supplement).

``depth`` layers of ``width`` channels each; layer i is a k×k convolution
with dilation d_i, reflection padding and ReLU over the input image and all
earlier layers; a final 1×1 convolution over every channel (input and all
layers) gives the C class logits. Paper 002: depth 50, width 1, 9×9 kernels,
dilations drawn uniformly from 1..10 with a seed (``dilations="random"``);
Pelt's original repeats 1..10 (``dilations="repeat"``).

Two implementations of the same function:

* ``"fft"`` (default): one feature buffer, convolutions in Fourier space
  and a hand-written reverse sweep for the gradients
  (:mod:`temseg.models.msd_fft`); memory linear in depth, several times
  faster than direct convolution on a CPU.
* ``"naive"``: the textbook repeated ``torch.cat`` with direct
  convolutions (:func:`msd_forward_naive`), kept as the reference for the
  tests and the benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from temseg.errors import ConfigError, InputError
from temseg.models.msd_fft import MSDFunction
from temseg.models.blocks import check_size
from temseg.rng import as_generator


def msd_dilations(depth: int, *, scheme: str | Sequence[int] = "random", max_dilation: int = 10,
                  seed: int | None = 0) -> list[int]:
    """The dilation of every layer.

    ``"random"``: drawn uniformly from 1..max_dilation with ``seed``;
    ``"repeat"``: 1, 2, ..., max_dilation, 1, 2, ...; or an explicit list.
    """
    if isinstance(scheme, str):
        if scheme == "random":
            rng = as_generator(seed)
            return [int(v) for v in rng.integers(1, max_dilation + 1, size=depth)]
        if scheme == "repeat":
            return [i % max_dilation + 1 for i in range(depth)]
        raise ConfigError(f"dilations: {scheme!r} is not 'random', 'repeat' or a list")
    values = [int(v) for v in scheme]
    if len(values) != depth:
        raise ConfigError(f"dilations: expected {depth} values (one per layer), got {len(values)}")
    if any(v < 1 for v in values):
        raise ConfigError(f"dilations: values must be >= 1, got {values}")
    return values


class MSDNet(nn.Module):
    """MSD-net; input (B, in_channels, H, W) → logits (B, classes, H, W).

    Parameters
    ----------
    in_channels, classes : int
    depth : int
        Number of layers (50).
    width : int
        Channels written per layer (1).
    kernel_size : int
        Odd kernel size (9 as paper 002; 3 as Pelt).
    dilations : "random", "repeat" or sequence of ``depth`` ints
    max_dilation : int
        Largest dilation for the "random"/"repeat" schemes (10).
    seed : int
        Seed of the "random" dilations (the drawn list is kept in ``options``).
    implementation : {"fft", "naive"}

    Notes
    -----
    Reflection padding needs H and W larger than (kernel_size // 2) ·
    max(dilations) (40 px for 9×9 kernels and dilations up to 10).
    """

    architecture = "msdnet"

    def __init__(self, *, in_channels: int = 1, classes: int = 2, depth: int = 50,
                 width: int = 1, kernel_size: int = 9,
                 dilations: str | Sequence[int] = "random", max_dilation: int = 10,
                 seed: int | None = 0, implementation: str = "fft") -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("classes", classes), ("depth", depth),
                        ("width", width), ("max_dilation", max_dilation)):
            if v < 1:
                raise ConfigError(f"{name}: must be >= 1, got {v}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size: must be odd, got {kernel_size}")
        if implementation not in ("fft", "naive"):
            raise ConfigError(f"implementation: {implementation!r} is not 'fft' or 'naive'")
        # every layer sees all earlier ones: the weights grow with depth², check before building
        n_weights = width * kernel_size**2 * (depth * in_channels + width * depth * (depth - 1) // 2)
        check_size(n_weights, f"msdnet depth {depth}, width {width}")
        dil = msd_dilations(depth, scheme=dilations, max_dilation=max_dilation, seed=seed)
        self.dilations = dil
        self.kernel_size, self.width, self.implementation = kernel_size, width, implementation
        self.options = {"in_channels": in_channels, "classes": classes, "depth": depth,
                        "width": width, "kernel_size": kernel_size, "dilations": dil,
                        "implementation": implementation}
        self.layers = nn.ModuleList()
        for i, d in enumerate(dil):
            cin = in_channels + i * width
            conv = nn.Conv2d(cin, width, kernel_size, dilation=d,
                             padding=d * (kernel_size // 2), padding_mode="reflect")
            # Pelt & Sethian: He-normal over the connections of the layer
            nn.init.normal_(conv.weight, std=math.sqrt(2.0 / (cin * kernel_size**2)))
            nn.init.zeros_(conv.bias)
            self.layers.append(conv)
        self.head = nn.Conv2d(in_channels + depth * width, classes, 1)

    @property
    def min_size(self) -> int:
        """Smallest accepted H and W (reflection padding must fit)."""
        return (self.kernel_size // 2) * max(self.dilations) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < self.min_size:
            raise InputError(f"MSD-net input {tuple(x.shape[-2:])} px is too small: reflection "
                             f"padding needs at least {self.min_size} px per side")
        if self.implementation == "naive":
            return msd_forward_naive(self, x)
        if x.dtype not in (torch.float32, torch.float64):  # e.g. half under autocast
            x = x.float()
        params = [m.weight for m in self.layers] + [m.bias for m in self.layers]
        meta = (tuple(self.dilations), self.kernel_size, self.width)
        return MSDFunction.apply(x, self.head.weight, self.head.bias, meta, *params)

    def rf_path(self) -> list[nn.Module]:
        """Every layer sees the previous one, so the longest path runs through all."""
        return [*self.layers, self.head]


def msd_forward_naive(model: MSDNet, x: torch.Tensor) -> torch.Tensor:
    """Reference MSD-net forward: direct convolutions and a growing ``torch.cat``.

    Memory and time grow quadratically with depth; used to check the fast
    implementation and in ``benchmarks/msdnet_speed.py``.
    """
    feats = x
    for conv in model.layers:
        feats = torch.cat([feats, F.relu(conv(feats))], dim=1)
    return model.head(feats)
