import numpy as np
import pytest
import torch

from temseg.errors import ConfigError
from temseg.train.losses import (cross_entropy, foreground_probability, lovasz_loss, make_loss,
                                 soft_dice_loss)


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
    for name in ("ce", "dice", "ce+dice", "lovasz", "ce+lovasz"):
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
    for name in ("ce+dice", "ce+lovasz"):
        logits.grad = None
        make_loss(name)(logits, target).backward()
        assert np.isfinite(logits.grad.numpy()).all() and logits.grad.abs().sum() > 0


def test_lovasz_of_a_hard_prediction_is_one_minus_jaccard():
    # the Lovász extension agrees with the set function on 0/1 predictions
    g = torch.Generator().manual_seed(4)
    target = (torch.rand(2, 12, 12, generator=g) > 0.6).long()
    pred = torch.rand(2, 12, 12, generator=g) > 0.5
    logits = torch.where(pred, 30.0, -30.0)[:, None]
    truth = target == 1
    jaccard = (pred & truth).sum() / (pred | truth).sum()
    assert float(lovasz_loss(logits, target)) == pytest.approx(1 - float(jaccard), abs=1e-6)
    assert float(lovasz_loss(torch.where(truth, 30.0, -30.0)[:, None], target)) < 1e-6


def test_lovasz_is_linear_along_a_uniform_error():
    # the same error e on every pixel costs e × (Jaccard loss with every pixel wrong = 1)
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[:, 2:6, 2:6] = 1
    for p_right in (0.5, 0.8):
        logit = torch.logit(torch.tensor(p_right))
        logits = torch.where(target == 1, logit, -logit)[:, None]
        assert float(lovasz_loss(logits, target)) == pytest.approx(1 - p_right, abs=1e-6)


def test_lovasz_without_foreground_is_zero_with_a_gradient():
    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    loss = lovasz_loss(logits, torch.zeros(1, 4, 4, dtype=torch.long))
    loss.backward()
    assert float(loss.detach()) == 0.0 and logits.grad is not None
