"""U-Net, one implementation covering the two variants of the seed papers.

``variant="classic"`` (paper 004, Sadre et al., after Ronneberger et al.):
blocks of two padded 3×3 convolutions with ReLU, 2×2 max-pool down, 2×2
up-convolution (transposed, halving the features) up, concatenated skips,
final 1×1 convolution; ``depth`` pooling levels (depth 3 = the paper's seven
blocks) and 32 features in the first block.

``variant="supplement"`` (paper 002 supplement, Leth Larsen et al., after
Madsen et al.): 5×5 kernels, PReLU, five-convolution blocks with a short skip
from the first convolution's output to the fifth's input, max-pool down,
bilinear upsampling, concatenated long skips. The paper does not state its
depth and first-block width; the defaults (3, 32) are ours.

Every option can be set explicitly; the variant only supplies defaults.
"""

from __future__ import annotations

from torch import nn

from temseg.errors import ConfigError
from temseg.models.blocks import ConvBlock, EncoderDecoder

VARIANTS: dict[str, dict] = {
    "classic": {"kernel_size": 3, "convs_per_block": 2, "activation": "relu",
                "short_skip": False, "up": "transpose"},
    "supplement": {"kernel_size": 5, "convs_per_block": 5, "activation": "prelu",
                   "short_skip": True, "up": "bilinear"},
}


class UNet(EncoderDecoder):
    """U-Net; input (B, in_channels, H, W) → logits (B, classes, H, W).

    Parameters
    ----------
    in_channels, classes : int
    depth : int
        Number of 2×2 max-pool levels (blocks = 2·depth + 1).
    features : int
        Features of the first block, doubled at each level.
    variant : {"classic", "supplement"}
        Supplies the defaults of the options below (see module docstring).
    kernel_size, convs_per_block, activation, short_skip, up
        Block layout; ``up`` is ``"transpose"`` (2×2 up-convolution) or
        ``"bilinear"``.
    batch_norm : bool
        Batch normalisation after every convolution (neither paper uses it).

    Notes
    -----
    Sizes not divisible by 2**depth are padded and cropped back.
    """

    architecture = "unet"

    def __init__(self, *, in_channels: int = 1, classes: int = 2, depth: int = 3,
                 features: int = 32, variant: str = "classic", kernel_size: int | None = None,
                 convs_per_block: int | None = None, activation: str | None = None,
                 short_skip: bool | None = None, up: str | None = None,
                 batch_norm: bool = False) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"variant: {variant!r} is not one of {', '.join(VARIANTS)}")
        given = {"kernel_size": kernel_size, "convs_per_block": convs_per_block,
                 "activation": activation, "short_skip": short_skip, "up": up}
        opts = {**VARIANTS[variant], **{k: v for k, v in given.items() if v is not None}}
        if depth < 1:
            raise ConfigError(f"depth: must be >= 1, got {depth}")
        if features < 1 or in_channels < 1 or classes < 1:
            raise ConfigError("features, in_channels and classes must be >= 1")
        if opts["kernel_size"] % 2 == 0:
            raise ConfigError(f"kernel_size: must be odd, got {opts['kernel_size']}")
        if opts["up"] not in ("transpose", "bilinear"):
            raise ConfigError(f"up: {opts['up']!r} is not one of 'transpose', 'bilinear'")
        self.options = {"in_channels": in_channels, "classes": classes, "depth": depth,
                        "features": features, "variant": variant, **opts,
                        "batch_norm": batch_norm}
        self.factor = 2**depth
        block = dict(convs=opts["convs_per_block"], kernel_size=opts["kernel_size"],
                     activation_name=opts["activation"], short_skip=opts["short_skip"],
                     batch_norm=batch_norm)
        widths = [features * 2**i for i in range(depth + 1)]
        self.encoder = nn.ModuleList()
        cin = in_channels
        for i in range(depth):
            self.encoder.append(ConvBlock(cin, widths[i], **block))
            cin = widths[i]
        self.pools = nn.ModuleList(nn.MaxPool2d(2) for _ in range(depth))
        self.bottleneck = ConvBlock(cin, widths[depth], **block)
        self.ups = nn.ModuleList()
        self.decoder = nn.ModuleList()
        cin = widths[depth]
        for i in reversed(range(depth)):
            if opts["up"] == "transpose":
                self.ups.append(nn.ConvTranspose2d(cin, widths[i], 2, stride=2))
                cat = 2 * widths[i]
            else:
                self.ups.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
                cat = cin + widths[i]
            self.decoder.append(ConvBlock(cat, widths[i], **block))
            cin = widths[i]
        self.head = nn.Conv2d(cin, classes, 1)
