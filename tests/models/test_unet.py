"""U-Net: paper 004's classic and paper 002's supplement variant from one implementation."""

import pytest
import torch
from torch import nn

from temseg.errors import ConfigError
from temseg.models import UNet, build_model, count_parameters


def test_classic_parameter_count_by_hand():
    model = UNet(depth=1, features=2)
    # enc 1→2→2, bottleneck 2→4→4, up-conv 4→2 (2×2), dec (2+2)→2→2, head 2→2
    expected = (9 * 1 * 2 + 2) + (9 * 2 * 2 + 2) + (9 * 2 * 4 + 4) + (9 * 4 * 4 + 4) \
        + (4 * 4 * 2 + 2) + (9 * 4 * 2 + 2) + (9 * 2 * 2 + 2) + (2 * 2 + 2)
    assert count_parameters(model) == expected == 434


def test_classic_defaults_are_paper_004():
    model = build_model("unet")
    assert model.options["depth"] == 3 and model.options["features"] == 32  # seven blocks
    assert len(model.encoder) + 1 + len(model.decoder) == 7
    assert all(isinstance(up, nn.ConvTranspose2d) for up in model.ups)
    assert {m.kernel_size for m in model.modules() if isinstance(m, nn.Conv2d)} == {(3, 3), (1, 1)}


def test_supplement_variant_layout():
    model = UNet(variant="supplement", depth=2, features=4)
    block = model.encoder[0]
    assert len(block.convs) == 5 and block.short_skip
    assert all(c.kernel_size == (5, 5) for c in block.convs)
    assert all(isinstance(a, nn.PReLU) for a in block.acts)
    assert all(isinstance(up, nn.Upsample) and up.mode == "bilinear" for up in model.ups)
    # bilinear keeps the channels: decoder input = bottleneck + skip
    assert model.decoder[0].convs[0].in_channels == 16 + 8


def test_short_skip_adds_first_output_to_last_input():
    torch.manual_seed(0)
    model = UNet(variant="supplement", depth=1, features=2)
    block = model.encoder[0]
    x = torch.randn(1, 1, 8, 8)
    with torch.no_grad():
        y1 = block.acts[0](block.convs[0](x))
        y = y1
        for conv, act in zip(block.convs[1:4], block.acts[1:4]):
            y = act(conv(y))
        expected = block.acts[4](block.convs[4](y + y1))
        torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize("variant", ["classic", "supplement"])
@pytest.mark.parametrize(("h", "w"), [(17, 23), (32, 32), (5, 9)])
def test_output_size_equals_input_size(variant, h, w):
    model = UNet(variant=variant, depth=2, features=4, classes=3).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, h, w))
    assert out.shape == (2, 3, h, w)


def test_explicit_options_override_the_variant():
    model = UNet(variant="classic", up="bilinear", activation="prelu", depth=1, features=2)
    assert isinstance(model.ups[0], nn.Upsample)
    assert model.options["activation"] == "prelu" and model.options["kernel_size"] == 3


def test_bad_options_name_the_field():
    with pytest.raises(ConfigError, match="variant"):
        UNet(variant="ronneberger")
    with pytest.raises(ConfigError, match="short_skip"):
        UNet(short_skip=True, convs_per_block=2)
    with pytest.raises(ConfigError, match="up"):
        UNet(up="pixelshuffle")
    with pytest.raises(ConfigError, match="activation"):
        UNet(activation="gelu")
