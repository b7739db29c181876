"""Small torch networks with known receptive fields for the inference tests."""

import numpy as np
import pytest
import torch


def make_net(seed=0, classes=2, kernel=3, layers=2, in_channels=1):
    """A conv net with receptive field ``1 + layers·(kernel-1)`` px, zero padded, no pooling."""
    torch.manual_seed(seed)
    mods, cin = [], in_channels
    for i in range(layers):
        cout = classes if i == layers - 1 else 4
        mods.append(torch.nn.Conv2d(cin, cout, kernel, padding=kernel // 2))
        if i < layers - 1:
            mods.append(torch.nn.Tanh())
        cin = cout
    return torch.nn.Sequential(*mods)


def forward_proba(model, image):
    """Whole-image forward pass of an (H, W) or (C, H, W) image → (K, H, W) softmax
    probabilities."""
    image = np.asarray(image, np.float32)
    image = image[None] if image.ndim == 2 else image
    with torch.inference_mode():
        logits = model(torch.from_numpy(np.ascontiguousarray(image))[None])
    return logits.softmax(1)[0].numpy()


@pytest.fixture(scope="session")
def net_factory():
    return make_net


@pytest.fixture(scope="session")
def forward():
    return forward_proba
