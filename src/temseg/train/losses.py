"""Segmentation losses on network logits: cross-entropy (with class weights), soft dice, both.

Networks return logits of shape ``(N, C, H, W)``: ``C == 1`` is a binary
foreground logit (sigmoid), ``C ≥ 2`` are class logits (softmax).
Targets are class indices ``(N, H, W)`` of int64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from temseg.errors import ConfigError


def class_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` logits → ``(N, max(C, 2), H, W)`` class probabilities."""
    if logits.shape[1] == 1:
        fg = torch.sigmoid(logits)
        return torch.cat([1 - fg, fg], dim=1)
    return torch.softmax(logits, dim=1)


def foreground_probability(logits: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` logits → ``(N, H, W)`` probability of any foreground class (> 0)."""
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0])
    return 1.0 - torch.softmax(logits, dim=1)[:, 0]


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, *,
                  class_weights: Sequence[float] | None = None) -> torch.Tensor:
    """Mean pixel-wise cross-entropy; with ``class_weights`` a weighted mean (torch semantics).

    Parameters
    ----------
    logits : (N, C, H, W) tensor
    target : (N, H, W) int64 tensor of class indices in ``[0, max(C, 2))``
    class_weights : sequence of float, one per class (background first), optional
    """
    weight = None
    if class_weights is not None:
        weight = torch.as_tensor(class_weights, dtype=torch.float32, device=logits.device)
    if logits.shape[1] == 1:
        target_f = target.to(logits.dtype)
        pixel_w = None
        if weight is not None:
            pixel_w = weight[target]
            loss = F.binary_cross_entropy_with_logits(logits[:, 0], target_f, weight=pixel_w,
                                                      reduction="sum")
            return loss / pixel_w.sum().clamp_min(1e-12)
        return F.binary_cross_entropy_with_logits(logits[:, 0], target_f)
    return F.cross_entropy(logits, target, weight=weight)


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, *, eps: float = 1.0) -> torch.Tensor:
    """1 − soft dice, averaged over the foreground classes, pooled over the batch.

    ``eps`` (in pixels) smooths the ratio so that an empty prediction of an
    empty target costs nothing.
    """
    probs = class_probabilities(logits)
    n_classes = probs.shape[1]
    onehot = F.one_hot(target, n_classes).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    inter = (probs * onehot).sum(dims)
    total = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + eps) / (total + eps)
    return 1.0 - dice[1:].mean()


def make_loss(name: str, *, class_weights: Sequence[float] | None = None
              ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss function ``f(logits, target) -> scalar`` named ``"ce"``, ``"dice"`` or ``"ce+dice"``."""
    if name == "ce":
        return lambda logits, target: cross_entropy(logits, target, class_weights=class_weights)
    if name == "dice":
        return soft_dice_loss
    if name == "ce+dice":
        return lambda logits, target: (cross_entropy(logits, target, class_weights=class_weights)
                                       + soft_dice_loss(logits, target))
    raise ConfigError(f"loss: {name!r} is not one of 'ce', 'dice', 'ce+dice'")
