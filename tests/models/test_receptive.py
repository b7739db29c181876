"""Receptive field from the built network: paper 000 eq. (1) and the gradient check."""

import pytest
import torch

from temseg.models import build_model, count_parameters, receptive_field
from temseg.models.receptive import rf_table


@pytest.mark.parametrize(("pool", "rf", "nm_hr", "nm_lr"),
                         [(2, 44, 0.95, 5.5), (8, 392, 8.4, 48.7)])
def test_paper_000_values(pool, rf, nm_hr, nm_lr):
    model = build_model("resunet", blocks=2, pool=pool)
    assert receptive_field(model) == rf
    # 0.02152 nm/px (high resolution) and 0.1243 nm/px (low resolution), as in 000
    assert rf * 0.02152 == pytest.approx(nm_hr, abs=0.05)
    assert rf * 0.1243 == pytest.approx(nm_lr, abs=0.05)


def test_eq1_by_hand_with_dilation():
    # N=2, k=2: convs at strides 1, 2, 4 (encoder, bottleneck), 2, 1 (decoder), two per
    # block, pools of 2 at strides 1 and 2; a dilated 3×3 kernel spans α(3−1)+1 px
    for alpha in (1, 2, 3):
        span = alpha * 2 + 1
        convs = 2 * (span - 1) * (1 + 2 + 4 + 2 + 1)
        pools = (2 - 1) * 1 + (2 - 1) * 2
        model = build_model("resunet", blocks=2, pool=2, dilation=alpha)
        assert receptive_field(model) == 1 + convs + pools


def test_unet_and_msdnet_by_hand():
    # classic U-Net depth 3: 3×3 convs at strides 1,2,4,8,4,2,1 (two each), pools at 1,2,4
    assert receptive_field(build_model("unet")) == 1 + 2 * 2 * (1 + 2 + 4 + 8 + 4 + 2 + 1) + 7
    model = build_model("msdnet", depth=12, kernel_size=9, seed=3)
    assert receptive_field(model) == 1 + 8 * sum(model.dilations)
    model = build_model("msdnet", depth=5, kernel_size=3, dilations=[1, 2, 3, 4, 5])
    assert receptive_field(model) == 1 + 2 * 15


def _gradient_extent(model, size, pixels, seed=0, dtype=torch.float32, floor=0.0):
    """Width of the input region with non-zero gradient of each output pixel (None if dead).

    "Non-zero" is above ``floor`` times the largest value: the FFT MSD-net
    leaves round-off (~1e-16 relative in float64) where direct convolution
    leaves exact zeros.
    """
    x = torch.randn(1, model.options["in_channels"], size, size, dtype=dtype,
                    generator=torch.Generator().manual_seed(seed), requires_grad=True)
    y = model(x)
    widths = []
    for py, px in pixels:
        (g,) = torch.autograd.grad(y[0, :, py, px].sum(), x, retain_graph=True)
        g = g[0].abs().sum(0)
        nz = (g > floor * g.max()).nonzero()
        if len(nz) == 0:
            widths.append(None)
            continue
        widths.append(max(int(nz[:, 0].max() - nz[:, 0].min()) + 1,
                          int(nz[:, 1].max() - nz[:, 1].min()) + 1))
    return widths


def test_gradient_stays_inside_the_field_k2():
    torch.manual_seed(0)
    model = build_model("resunet", blocks=2, pool=2).eval()
    rf = receptive_field(model)
    widths = _gradient_extent(model, 96, [(48 + o, 47 + o) for o in range(4)])
    assert [w for w in widths if w is not None] == [rf] * 4


def test_gradient_stays_inside_the_bound_and_reaches_it_k4():
    torch.manual_seed(0)
    model = build_model("resunet", blocks=2, pool=4).eval()
    rf, bound = receptive_field(model), receptive_field(model, bound=True)
    assert (rf, bound) == (120, 132)
    widths = [w for w in _gradient_extent(model, 224, [(112 + o, 112 + o) for o in
                                                        (0, 2, 3, 7, 9, 14)]) if w is not None]
    assert len(widths) >= 4
    assert max(widths) == bound  # a pixel at a pooling-cell edge sees the whole bound
    assert min(widths) < rf      # a central one sees less than eq. (1)


def test_gradient_of_msdnet_fills_its_field():
    torch.manual_seed(0)
    model = build_model("msdnet", depth=4, width=2, kernel_size=3, dilations=[1, 3, 2, 1])
    model = model.double()
    rf = receptive_field(model)
    assert rf == 15
    pixels = [(20 + dy, 20 + dx) for dy in (-2, 0, 3) for dx in (-1, 2)]
    found = {}
    for implementation, floor in (("naive", 0.0), ("fft", 1e-12)):
        model.implementation = implementation
        found[implementation] = _gradient_extent(model, 40, pixels, dtype=torch.float64,
                                                 floor=floor)
        assert max(w or 0 for w in found[implementation]) == rf, implementation
    assert found["naive"] == found["fft"]


def test_gradient_of_unet_variants_within_bound():
    torch.manual_seed(0)
    for variant in ("classic", "supplement"):
        model = build_model("unet", variant=variant, depth=1, features=2).eval()
        bound = receptive_field(model, bound=True)
        widths = [w for w in _gradient_extent(model, 64, [(32, 32), (33, 30)]) if w]
        assert widths and max(widths) <= bound


def test_rf_table_spans_lists():
    rows = rf_table("resunet", blocks=[2, 3], pool=[2, 8], sampling=0.2152)
    assert [(r["options"]["blocks"], r["options"]["pool"], r["rf_px"]) for r in rows] == \
        [(2, 2, 44), (2, 8, 392), (3, 2, 96), (3, 8, 3144)]
    assert rows[1]["rf_nm"] == pytest.approx(8.436, abs=1e-3)
    assert rows[2]["parameters"] == count_parameters(build_model("resunet", blocks=3))
