"""Residual U-Net of paper 000: exact parameter counts, shapes for any size, options."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.errors import ConfigError
from temseg.models import ResUNet, build_model, count_parameters


@pytest.mark.parametrize(("blocks", "expected"), [(2, 8_074), (3, 32_730), (4, 130_682)])
def test_parameter_counts_match_paper_table_2(blocks, expected):
    assert count_parameters(build_model("resunet", blocks=blocks)) == expected


@pytest.mark.parametrize("options", [{"pool": 8}, {"pool": 4, "dilation": 3},
                                     {"pool": [2, 8]}, {"dilation": [1, 2, 4]}])
def test_pool_and_dilation_do_not_change_the_parameter_count(options):
    assert count_parameters(build_model("resunet", blocks=2, **options)) == 8_074


def test_channels_classes_and_filters_are_configurable():
    model = ResUNet(in_channels=3, classes=4, blocks=1, filters=2)
    # block(3→2) + bottleneck(2→4) + decoder(6→2) + head(2→4), 10·cin·c + 9c² + 7c each
    blocks = [(3, 2), (2, 4), (6, 2)]
    expected = sum(10 * i * c + 9 * c * c + 7 * c for i, c in blocks) + 2 * 4 + 4
    assert count_parameters(model) == expected
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 8, 8))
    assert out.shape == (1, 4, 8, 8)


@settings(max_examples=8, deadline=None)
@given(h=st.integers(3, 40), w=st.integers(3, 40), pool=st.sampled_from([2, 4, 8]),
       blocks=st.integers(1, 2))
def test_any_size_is_padded_and_cropped_back(h, w, pool, blocks):
    model = ResUNet(blocks=blocks, pool=pool).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, h, w, generator=torch.Generator().manual_seed(h * w)))
    assert out.shape == (2, 2, h, w)
    assert torch.isfinite(out).all()


def test_padding_does_not_change_the_divisible_part_far_from_the_edge():
    torch.manual_seed(0)
    model = ResUNet(blocks=2, pool=2).eval()
    x = torch.randn(1, 1, 72, 72)
    with torch.no_grad():
        full = model(x)
        cut = model(x[..., :69, :69])  # padded to 72 internally
    # pixels further than the receptive field (44 px) from the cut edge are unaffected
    torch.testing.assert_close(cut[..., :20, :20], full[..., :20, :20], atol=1e-6, rtol=0)
    assert not torch.allclose(cut[..., 60:69, 60:69], full[..., 60:69, 60:69], atol=1e-6)


def test_bad_options_name_the_field():
    with pytest.raises(ConfigError, match="dilation"):
        ResUNet(blocks=2, dilation=[1, 2])
    with pytest.raises(ConfigError, match="pool"):
        ResUNet(blocks=2, pool=0)
    with pytest.raises(ConfigError, match="blocks"):
        ResUNet(blocks=0)
    with pytest.raises(ConfigError, match="options"):
        build_model("resunet", filterz=4)
    with pytest.raises(ConfigError, match="architecture"):
        build_model("vgg")


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_edge_padding_keeps_a_uniform_image_uniform(mode):
    # with zero padding the edge pixels see a dark frame; mirrored or repeated
    # edges make every pixel of a constant image see the same thing
    torch.manual_seed(0)
    zeros = ResUNet(blocks=2, pool=2).eval()
    edged = ResUNet(blocks=2, pool=2, padding_mode=mode).eval()
    edged.load_state_dict(zeros.state_dict())  # same weights: padding adds none
    x = torch.full((1, 1, 32, 32), 1.5)
    with torch.no_grad():
        out_edge, out_zero = edged(x), zeros(x)
    assert (out_edge.amax(dim=(2, 3)) - out_edge.amin(dim=(2, 3))).max() < 1e-5
    assert (out_zero.amax(dim=(2, 3)) - out_zero.amin(dim=(2, 3))).max() > 1e-3


def test_edge_padding_changes_only_the_rim_and_survives_tiny_maps():
    torch.manual_seed(0)
    zeros = ResUNet(blocks=2, pool=2).eval()
    reflect = ResUNet(blocks=2, pool=2, padding_mode="reflect").eval()
    reflect.load_state_dict(zeros.state_dict())
    assert reflect.options["padding_mode"] == "reflect"
    x = torch.randn(1, 1, 96, 96)
    with torch.no_grad():
        a, b = zeros(x), reflect(x)
    # the receptive field is 44 px: pixels 22 px or more inside see no padding
    torch.testing.assert_close(a[..., 24:-24, 24:-24], b[..., 24:-24, 24:-24],
                               atol=1e-5, rtol=0)
    assert (a[..., :4, :] - b[..., :4, :]).abs().max() > 1e-3
    # a 1×1 bottleneck map cannot be mirrored: edge replication takes over
    tiny = ResUNet(blocks=3, pool=2, padding_mode="reflect").eval()
    with torch.no_grad():
        assert tiny(torch.randn(1, 1, 8, 8)).shape == (1, 2, 8, 8)
    with pytest.raises(ConfigError, match="padding_mode"):
        ResUNet(blocks=2, padding_mode="circularish")
    with pytest.raises(ConfigError, match="dilation: values must be >= 1"):
        ResUNet(blocks=2, dilation=0)


@pytest.mark.parametrize(("architecture", "options", "message"), [
    ("resunet", {"blocks": 12}, r"8\.5e\+09 parameters"),   # counted on the meta device
    ("resunet", {"blocks": 100}, "far too many parameters"),  # too large to describe
    ("unet", {"depth": 9}, "parameters"),
    ("msdnet", {"depth": 100_000}, r"4\.1e\+11 parameters"),  # counted before building
])
def test_a_network_too_large_for_memory_is_refused_before_it_is_built(architecture, options,
                                                                     message):
    """A typo such as ``blocks: 100`` used to exhaust the machine's memory (killed, rc 137)."""
    with pytest.raises(ConfigError, match=message):
        build_model(architecture, **options)
    # the largest sensible ones still build
    assert count_parameters(build_model("resunet", blocks=8)) == 33_226_042


def test_channels_last_speeds_layout_not_results():
    import torch

    from temseg.models import MSDNet, ResUNet, UNet
    from temseg.models.blocks import channels_last

    torch.manual_seed(0)
    nets = [ResUNet(blocks=2, filters=4), UNet(depth=1, features=4)]
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        before = [net.eval()(x) for net in nets]
        channels_last(torch.nn.ModuleList(nets))  # nested, as the members of an ensemble
        for net, want in zip(nets, before):
            conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
            assert conv.weight.is_contiguous(memory_format=torch.channels_last)
            torch.testing.assert_close(net(x), want, rtol=1e-5, atol=1e-6)
    msd = channels_last(MSDNet(depth=3, width=1))  # its FFT path keeps its own layout
    assert all(p.is_contiguous() for p in msd.parameters())
