import numpy as np
import pytest
import torch

from temseg.errors import ConfigError
from temseg.train.losses import cross_entropy, foreground_probability, make_loss, soft_dice_loss


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 2, 8, 8, generator=g)
    target = (torch.rand(2, 8, 8, generator=g) > 0.6).long()
    return logits, target


def test_ce_matches_the_formula():
    logits, target = _batch()
    logp = torch.log_softmax(logits, 1)
    manual = -logp.gather(1, target[:, None]).mean()
    assert float(cross_entropy(logits, target)) == pytest.approx(float(manual), rel=1e-6)


def test_sigmoid_and_softmax_heads_agree():
    # softmax over [0, z] is sigmoid(z): both heads give the same loss and probability
    logits, target = _batch(1)
    z = logits[:, 1:] - logits[:, :1]
    two = torch.cat([torch.zeros_like(z), z], 1)
    for name in ("ce", "dice", "ce+dice"):
        f = make_loss(name, class_weights=[1.0, 3.0])
        assert float(f(z, target)) == pytest.approx(float(f(two, target)), rel=1e-5)
    assert torch.allclose(foreground_probability(z), foreground_probability(two), atol=1e-6)


def test_class_weights_shift_the_loss_to_the_weighted_class():
    logits, target = _batch(2)
    bg_only = cross_entropy(logits, target, class_weights=[1.0, 0.0])
    logp = torch.log_softmax(logits, 1)[:, 0]
    assert float(bg_only) == pytest.approx(float(-logp[target == 0].mean()), rel=1e-6)


def test_dice_loss_perfect_and_wrong():
    target = torch.zeros(1, 16, 16, dtype=torch.long)
    target[:, 4:12, 4:12] = 1
    perfect = torch.where(target[:, None] == 1, 20.0, -20.0)
    assert float(soft_dice_loss(perfect, target)) < 1e-6
    assert float(soft_dice_loss(-perfect, target)) > 0.98


def test_unknown_loss():
    with pytest.raises(ConfigError, match="loss"):
        make_loss("focal")


def test_losses_have_gradients():
    logits, target = _batch(3)
    logits.requires_grad_(True)
    make_loss("ce+dice")(logits, target).backward()
    assert np.isfinite(logits.grad.numpy()).all() and logits.grad.abs().sum() > 0
