"""MSD-net: the FFT single-buffer implementation equals the naive torch.cat reference."""

import pytest
import torch

from temseg.errors import ConfigError, InputError
from temseg.models import MSDNet, build_model, count_parameters, msd_dilations


def _run(model, x, target, implementation):
    model.implementation = implementation
    model.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    y = model(x)
    (y * target).mean().backward()
    return y.detach(), [x.grad] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize(("options", "shape"), [
    ({"depth": 6, "kernel_size": 9, "max_dilation": 4}, (2, 1, 37, 41)),
    ({"depth": 5, "kernel_size": 3, "width": 2, "in_channels": 2, "classes": 3}, (1, 2, 33, 30)),
    ({"depth": 4, "kernel_size": 5, "dilations": "repeat", "max_dilation": 3}, (3, 1, 24, 24)),
])
def test_fft_equals_naive_forward_and_gradients(options, shape):
    torch.manual_seed(0)
    model = MSDNet(seed=7, **options)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen)
    target = torch.randn(shape[0], model.options["classes"], *shape[2:], generator=gen)
    y_fast, g_fast = _run(model, x, target, "fft")
    y_ref, g_ref = _run(model, x, target, "naive")
    torch.testing.assert_close(y_fast, y_ref, atol=1e-5, rtol=0)
    for a, b in zip(g_fast, g_ref):
        assert float((a - b).abs().max() / b.abs().max()) < 1e-5


def test_fft_is_exact_in_float64():
    torch.manual_seed(0)
    model = MSDNet(depth=5, max_dilation=6, seed=2).double()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 1, 50, 47, generator=gen, dtype=torch.float64)
    target = torch.randn(2, 2, 50, 47, generator=gen, dtype=torch.float64)
    y_fast, g_fast = _run(model, x, target, "fft")
    y_ref, g_ref = _run(model, x, target, "naive")
    torch.testing.assert_close(y_fast, y_ref, atol=1e-12, rtol=0)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, atol=1e-12 * float(b.abs().max()), rtol=0)


def test_training_keeps_one_autograd_node_not_a_cat_per_layer():
    model = MSDNet(depth=8, kernel_size=3, max_dilation=3)
    y = model(torch.randn(1, 1, 16, 16, requires_grad=True))
    assert type(y.grad_fn).__name__ == "MSDFunctionBackward"
    model.implementation = "naive"
    node, cats = model(torch.randn(1, 1, 16, 16)).grad_fn, 0
    stack = [node]
    seen, alive = set(), []  # keep the nodes alive so that ids stay unique
    while stack:  # the reference builds one CatBackward per layer
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        alive.append(node)
        cats += type(node).__name__.startswith("Cat")
        stack.extend(n for n, _ in node.next_functions)
    assert cats == 8


def test_paper_002_defaults_and_parameter_count():
    model = build_model("msdnet")
    assert len(model.layers) == 50 and model.options["kernel_size"] == 9
    assert all(1 <= d <= 10 for d in model.dilations)
    # layer i: (1 + i)·81 weights + 1 bias; head: 51·2 + 2
    assert count_parameters(model) == sum((1 + i) * 81 + 1 for i in range(50)) + 51 * 2 + 2


def test_dilation_schemes():
    assert msd_dilations(12, scheme="repeat") == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2]
    a = msd_dilations(50, seed=5)
    assert a == msd_dilations(50, seed=5) and a != msd_dilations(50, seed=6)
    assert set(a) <= set(range(1, 11)) and len(set(a)) >= 8
    assert MSDNet(depth=3, dilations=[2, 1, 2]).dilations == [2, 1, 2]
    with pytest.raises(ConfigError, match="dilations"):
        MSDNet(depth=3, dilations=[1, 2])
    with pytest.raises(ConfigError, match="dilations"):
        MSDNet(depth=3, dilations="geometric")
    with pytest.raises(ConfigError, match="kernel_size"):
        MSDNet(kernel_size=4)


def test_too_small_input_is_refused_clearly():
    model = MSDNet(depth=3, kernel_size=9, dilations=[1, 10, 2])
    with pytest.raises(InputError, match="41 px"):
        model(torch.zeros(1, 1, 40, 64))
