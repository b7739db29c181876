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
from temseg.train.config import LOSSES


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


def _lovasz_jaccard_gradient(truth_sorted: torch.Tensor) -> torch.Tensor:
    """Weights of the Lovász extension of 1 − Jaccard for pixels sorted by falling error.

    Entry ``i`` is the rise of the Jaccard loss when the ``i``-th worst pixel is
    counted wrong on top of the ``i − 1`` worse ones (Berman et al., CVPR 2018).
    """
    n_true = truth_sorted.sum()
    intersection = n_true - truth_sorted.cumsum(0)
    union = n_true + (1.0 - truth_sorted).cumsum(0)
    jaccard_loss = 1.0 - intersection / union
    return torch.cat([jaccard_loss[:1], jaccard_loss[1:] - jaccard_loss[:-1]])


def lovasz_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Lovász-softmax: a convex surrogate of 1 − Jaccard, pooled over the batch.

    The pixel errors ``|[target == c] − p_c|`` of each foreground class ``c``
    are sorted and weighted by the Jaccard loss they add, so the loss ranks
    pixels as the pooled Jaccard index (our benchmark metric) does. Averaged
    over the foreground classes present in the batch; 0 when there are none.
    """
    probs = class_probabilities(logits)
    losses = []
    for c in range(1, probs.shape[1]):
        truth = (target == c).reshape(-1).to(probs.dtype)
        if truth.sum() == 0:
            continue
        errors = (truth - probs[:, c].reshape(-1)).abs()
        errors_sorted, order = torch.sort(errors, descending=True, stable=True)
        losses.append(torch.dot(errors_sorted, _lovasz_jaccard_gradient(truth[order])))
    if not losses:
        return probs.sum() * 0.0
    return torch.stack(losses).mean()


def make_loss(name: str, *, class_weights: Sequence[float] | None = None
              ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss function ``f(logits, target) -> scalar`` named in :data:`LOSSES`."""
    def ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy(logits, target, class_weights=class_weights)

    if name == "ce":
        return ce
    if name == "dice":
        return soft_dice_loss
    if name == "ce+dice":
        return lambda logits, target: ce(logits, target) + soft_dice_loss(logits, target)
    if name == "lovasz":
        return lovasz_loss
    if name == "ce+lovasz":
        return lambda logits, target: ce(logits, target) + lovasz_loss(logits, target)
    raise ConfigError(f"loss: {name!r} is not one of {', '.join(map(repr, LOSSES))}")
