"""The registry's option checks: names and integer types, one line naming the option."""

import numpy as np
import pytest

from temseg.errors import ConfigError
from temseg.models import build_model
from temseg.models.registry import check_options


@pytest.mark.parametrize(("architecture", "options", "message"), [
    ("resunet", {"blocks": "4"}, "blocks: must be an integer >= 1, got '4'"),
    ("resunet", {"blocks": 0}, "blocks: must be an integer >= 1, got 0"),
    ("resunet", {"filters": 2.5}, "filters: must be an integer >= 1, got 2.5"),
    ("resunet", {"pool": 4.0}, "pool: must be an integer >= 1 or a list of integers >= 1, "
                               "got 4.0"),
    ("resunet", {"pool": [2, "4"]}, "pool: must be an integer >= 1 or a list of integers"),
    ("resunet", {"dilation": True}, "dilation: must be an integer >= 1"),
    ("resunet", {"kernel_size": "3"}, "kernel_size: must be an integer >= 1, got '3'"),
    ("resunet", {"padding_mode": 0}, "padding_mode: must be text, got 0"),
    ("unet", {"depth": "3"}, "depth: must be an integer >= 1, got '3'"),
    ("unet", {"features": 0}, "features: must be an integer >= 1, got 0"),
    ("unet", {"batch_norm": 1}, "batch_norm: must be true or false, got 1"),
    ("msdnet", {"width": 1.0}, "width: must be an integer >= 1, got 1.0"),
    ("msdnet", {"max_dilation": 0}, "max_dilation: must be an integer >= 1, got 0"),
    ("msdnet", {"seed": -1}, "seed: must be an integer >= 0, got -1"),
    ("msdnet", {"depth": 2, "dilations": [1, 2.5]}, "dilations: must be a list of integers"),
    ("msdnet", {"blocks": 3}, "msdnet has no option 'blocks' (its options: depth, width, "
                              "kernel_size, dilations, max_dilation, seed, implementation)"),
])
def test_bad_options_are_one_line_naming_the_option(architecture, options, message):
    with pytest.raises(ConfigError) as info:
        build_model(architecture, **options)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_good_options_pass_and_build():
    check_options("resunet", {"blocks": np.int64(2), "pool": [2, 4], "dilation": [1, 2, 3],
                              "padding_mode": "reflect"})
    check_options("unet", {"kernel_size": None, "short_skip": None, "batch_norm": False})
    check_options("msdnet", {"seed": None, "dilations": "repeat"})
    assert build_model("resunet", blocks=3, pool=[2, 4, 2]).options["blocks"] == 3
    assert build_model("msdnet", depth=2, dilations=[1, 2], seed=0).dilations == [1, 2]


def test_one_class_is_a_sigmoid_network():
    """classes 1 is legitimate: one foreground logit (the losses and tiled prediction take it)."""
    import torch

    model = build_model("resunet", blocks=1, classes=1)
    assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 1, 8, 8)
