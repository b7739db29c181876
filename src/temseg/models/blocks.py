"""Building blocks shared by the networks: residual block, conv block, pad-and-crop.

Every block exposes ``rf_path()``: the leaf modules an input pixel passes
through on the block's longest path, in order. :func:`temseg.models.receptive.
receptive_field` walks these to compute a network's receptive field.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from temseg.errors import ConfigError


def activation(name: str, channels: int) -> nn.Module:
    """``"relu"`` or ``"prelu"`` (one learned slope per channel)."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "prelu":
        return nn.PReLU(channels)
    raise ConfigError(f"activation: {name!r} is not one of 'relu', 'prelu'")


#: edge handling of the residual blocks' convolutions
PADDING_MODES = ("zeros", "reflect", "replicate")

#: networks above this many weights are refused before they are built: 4 GB of float32
#: weights, 16 GB with Adam's state (a typo such as ``blocks: 100`` would exhaust memory)
MAX_PARAMETERS = 1_000_000_000


def check_size(n_parameters: int, what: str) -> None:
    """Raise a ConfigError when a network would have more than :data:`MAX_PARAMETERS`."""
    if n_parameters > MAX_PARAMETERS:
        raise ConfigError(f"{what}: {n_parameters:.2g} parameters, more than the "
                          f"{MAX_PARAMETERS:.0e} a network may have here; choose a smaller one")


class ResidualBlock(nn.Module):
    """conv–BN–ReLU–conv–BN, plus a 1×1 conv of the input, then ReLU (paper 000, fig. 1).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Odd kernel size of both convolutions (3 in paper 000).
    dilation : int
        Dilation α of both convolutions; the padding keeps the size.
    padding_mode : str
        What the convolutions see beyond the image edge: ``"zeros"`` (paper
        000), ``"reflect"`` (the mirrored image, so an object cut by the edge
        looks like one inside it) or ``"replicate"``. A map too small to
        reflect (side ≤ padding) is edge-replicated instead.
    """

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int = 3,
                 dilation: int = 1, padding_mode: str = "zeros") -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ConfigError(f"padding_mode: {padding_mode!r} is not one of "
                              f"{', '.join(map(repr, PADDING_MODES))}")
        self.pad = dilation * (kernel_size // 2)
        self.padding_mode = padding_mode
        conv_pad = self.pad if padding_mode == "zeros" else 0
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size, padding=conv_pad,
                               dilation=dilation)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size, padding=conv_pad,
                               dilation=dilation)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def _edge(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding_mode == "zeros" or not self.pad:
            return x
        return edge_pad(x, (self.pad,) * 4, mode=self.padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(self._edge(x))))
        y = self.bn2(self.conv2(self._edge(y)))
        return F.relu(y + self.shortcut(x))

    def rf_path(self) -> list[nn.Module]:
        return [self.conv1, self.conv2]


class ConvBlock(nn.Module):
    """``convs`` padded convolutions, each followed by an activation (U-Net block).

    With ``short_skip`` the output of the first convolution is added to the
    input of the last one (paper 002 supplement: 5 convs, skip 1 → 5).
    """

    def __init__(self, in_channels: int, out_channels: int, *, convs: int = 2,
                 kernel_size: int = 3, activation_name: str = "relu",
                 short_skip: bool = False, batch_norm: bool = False) -> None:
        super().__init__()
        if convs < 1:
            raise ConfigError(f"convs_per_block: must be at least 1, got {convs}")
        if short_skip and convs < 3:
            raise ConfigError("short_skip: needs convs_per_block >= 3")
        self.short_skip = short_skip
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.acts = nn.ModuleList()
        for i in range(convs):
            self.convs.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels,
                                        kernel_size, padding=kernel_size // 2))
            self.norms.append(nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity())
            self.acts.append(activation(activation_name, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = None
        last = len(self.convs) - 1
        for i, (conv, norm, act) in enumerate(zip(self.convs, self.norms, self.acts)):
            if i == last and first is not None:
                x = x + first
            x = act(norm(conv(x)))
            if i == 0 and self.short_skip:
                first = x
        return x

    def rf_path(self) -> list[nn.Module]:
        return list(self.convs)


def pad_to_multiple(x: torch.Tensor, factor: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad the bottom/right of ``x`` (B, C, H, W) so H and W are multiples of ``factor``.

    Reflection where the image is large enough, else edge replication.
    Returns the padded tensor and the original (H, W) to crop back to.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % factor, (-w) % factor
    if ph or pw:
        x = edge_pad(x, (0, pw, 0, ph))
    return x, (h, w)


def edge_pad(x: torch.Tensor, pads: tuple[int, int, int, int], *,
             mode: str = "reflect") -> torch.Tensor:
    """``F.pad`` of (B, C, H, W) by ``pads`` = (left, right, top, bottom).

    A reflection needs every pad shorter than its side; where one is not,
    the edge is replicated instead.
    """
    h, w = x.shape[-2:]
    if mode == "reflect" and (max(pads[:2]) >= w or max(pads[2:]) >= h):
        mode = "replicate"
    return F.pad(x, pads, mode=mode)


class EncoderDecoder(nn.Module):
    """The U-shaped forward pass shared by :class:`ResUNet` and :class:`UNet`.

    Subclasses build ``encoder``, ``pools`` (one pooling module per level),
    ``bottleneck``, ``ups``, ``decoder`` (deepest level first), ``head`` and
    ``factor`` (the total pooling factor). Inputs are padded to a multiple of
    ``factor`` and the output is cropped back, so any size works.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, (h, w) = pad_to_multiple(x, self.factor)
        skips = []
        for block, pool in zip(self.encoder, self.pools):
            x = block(x)
            skips.append(x)
            x = pool(x)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.ups, self.decoder, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)[..., :h, :w]

    def rf_path(self) -> list[nn.Module]:
        """Leaf modules on the deepest input → output path, in order."""
        path: list[nn.Module] = []
        for block, pool in zip(self.encoder, self.pools):
            path += block.rf_path() + [pool]
        path += self.bottleneck.rf_path()
        for up, block in zip(self.ups, self.decoder):
            path += [up] + block.rf_path()
        return path + [self.head]


def channels_last(model: nn.Module) -> nn.Module:
    """``model`` with its encoder-decoders (residual U-Net, U-Net; also inside an ensemble)
    in channels-last memory layout, in place: their convolutions run about 20 % faster on a
    CPU, training and inference alike (``benchmarks``, BENCHMARKS.md). The numbers differ
    from the default layout's only by float rounding; the same layout every run keeps
    training reproducible. Other networks (MSD-net's FFT path) are left as they are."""
    for module in model.modules():
        if isinstance(module, EncoderDecoder):
            module.to(memory_format=torch.channels_last)
    return model
