"""Residual U-Net of Sytwu et al. (paper 000, fig. 1) with receptive-field control.

N encoder residual blocks (filters 4, 8, 16, ... doubling), each followed by
a k×k max-pool of stride k; a bottleneck block; a mirrored decoder
(nearest-neighbour upsampling by k, concatenation with the skip, residual
block); a final 1×1 convolution to C classes. The pooling kernel k (2, 4 or
8 in the paper) and the per-block dilation α grow the receptive field
without adding parameters. With 1 input channel and 2 classes the network
has 8,074 / 32,730 / 130,682 trainable parameters for N = 2, 3, 4.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from temseg.errors import ConfigError
from temseg.models.blocks import EncoderDecoder, ResidualBlock


def _per_level(name: str, value: int | Sequence[int], n: int) -> list[int]:
    values = [int(value)] * n if isinstance(value, (int, float)) else [int(v) for v in value]
    if len(values) != n:
        raise ConfigError(f"{name}: expected one value or {n} values, got {len(values)}")
    if any(v < 1 for v in values):
        raise ConfigError(f"{name}: values must be >= 1, got {values}")
    return values


class ResUNet(EncoderDecoder):
    """Residual U-Net; input (B, in_channels, H, W) → logits (B, classes, H, W).

    Parameters
    ----------
    in_channels : int
        Image channels (1 for TEM micrographs).
    classes : int
        Output classes C (2: background, foreground).
    blocks : int
        N, the number of encoder residual blocks (= pooling levels).
    filters : int
        Filters of the first block; doubled at every level (4 in paper 000).
    pool : int or sequence of N ints
        Max-pool kernel = stride k per level, and the matching upsampling.
    dilation : int or sequence
        Dilation α of the residual blocks: one value, N + 1 values (encoder
        levels and bottleneck, mirrored in the decoder) or 2N + 1 values (every
        block, encoder → bottleneck → decoder).
    kernel_size : int
        Convolution kernel of the residual blocks (3).
    padding_mode : str
        Edge handling of the convolutions: ``"zeros"`` (paper 000) or
        ``"reflect"`` / ``"replicate"`` (the image mirrored or repeated beyond
        its edge instead of a dark frame).

    Notes
    -----
    Any H, W are accepted: the input is padded at the bottom/right to a
    multiple of the total pooling factor and the output cropped back.
    """

    architecture = "resunet"

    def __init__(self, *, in_channels: int = 1, classes: int = 2, blocks: int = 2,
                 filters: int = 4, pool: int | Sequence[int] = 2,
                 dilation: int | Sequence[int] = 1, kernel_size: int = 3,
                 padding_mode: str = "zeros") -> None:
        super().__init__()
        if blocks < 1:
            raise ConfigError(f"blocks: must be >= 1, got {blocks}")
        for name, v in (("in_channels", in_channels), ("classes", classes), ("filters", filters)):
            if v < 1:
                raise ConfigError(f"{name}: must be >= 1, got {v}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size: must be odd, got {kernel_size}")
        pools = _per_level("pool", pool, blocks)
        if isinstance(dilation, (int, float)):
            dil = [int(dilation)] * (2 * blocks + 1)
        else:
            dil = [int(v) for v in dilation]
            if len(dil) == blocks + 1:
                dil = dil + dil[-2::-1]
        dil = _per_level("dilation", dil, 2 * blocks + 1)
        self.options = {"in_channels": in_channels, "classes": classes, "blocks": blocks,
                        "filters": filters, "pool": pools if len(set(pools)) > 1 else pools[0],
                        "dilation": dil if len(set(dil)) > 1 else dil[0],
                        "kernel_size": kernel_size, "padding_mode": padding_mode}
        self.factor = 1
        for k in pools:
            self.factor *= k

        widths = [filters * 2**i for i in range(blocks + 1)]
        self.encoder = nn.ModuleList()
        self.pools = nn.ModuleList()
        cin = in_channels
        for i in range(blocks):
            self.encoder.append(ResidualBlock(cin, widths[i], kernel_size=kernel_size,
                                              dilation=dil[i], padding_mode=padding_mode))
            self.pools.append(nn.MaxPool2d(pools[i], stride=pools[i]))
            cin = widths[i]
        self.bottleneck = ResidualBlock(cin, widths[blocks], kernel_size=kernel_size,
                                        dilation=dil[blocks], padding_mode=padding_mode)
        self.ups = nn.ModuleList()
        self.decoder = nn.ModuleList()
        cin = widths[blocks]
        for j, i in enumerate(reversed(range(blocks))):
            self.ups.append(nn.Upsample(scale_factor=pools[i], mode="nearest"))
            self.decoder.append(ResidualBlock(cin + widths[i], widths[i],
                                              kernel_size=kernel_size,
                                              dilation=dil[blocks + 1 + j],
                                              padding_mode=padding_mode))
            cin = widths[i]
        self.head = nn.Conv2d(cin, classes, 1)
