"""Exponential moving average of a model's weights during training (Polyak averaging).

The average starts from zero and is divided by ``1 - decay**steps`` when read
(the bias correction of Adam's moments), so the initial weights carry no
weight in it however short the run. Floating-point entries of the state dict
(weights and batch-norm running statistics) are averaged; integer entries
(batch-norm step counters) follow the live model.
"""

from __future__ import annotations

import contextlib

import torch


class WeightAverage:
    """Exponential moving average of ``model.state_dict()`` with ``decay`` per update.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model; its state dict fixes the entries averaged.
    decay : float
        In (0, 1): the weight of the old average at each :meth:`update`;
        about ``1 / (1 - decay)`` steps contribute.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.steps = 0
        self.sums = {k: torch.zeros_like(v) if v.is_floating_point() else v.detach().clone()
                     for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Fold the model's current state into the average (call after each optimizer step)."""
        self.steps += 1
        for key, value in model.state_dict().items():
            acc = self.sums[key]
            if acc.is_floating_point():
                acc.mul_(self.decay).add_(value.detach(), alpha=1.0 - self.decay)
            else:
                acc.copy_(value)

    def state(self) -> dict[str, torch.Tensor]:
        """The bias-corrected average, as a state dict (the live model's while ``steps`` is 0)."""
        if self.steps == 0:
            raise RuntimeError("no update yet: the average is empty")
        scale = 1.0 / (1.0 - self.decay ** self.steps)
        return {k: v * scale if v.is_floating_point() else v.clone()
                for k, v in self.sums.items()}

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """The raw running sums, for a checkpoint (with :attr:`steps` stored beside them)."""
        return {k: v.detach().to("cpu").contiguous() for k, v in self.sums.items()}

    def load_tensors(self, tensors: dict[str, torch.Tensor], steps: int) -> None:
        """Restore what :meth:`to_tensors` gave, after ``steps`` updates."""
        if set(tensors) != set(self.sums):
            raise ValueError("the saved average does not fit this model")
        for key, value in tensors.items():
            self.sums[key].copy_(value.to(self.sums[key].device))
        self.steps = int(steps)

    @contextlib.contextmanager
    def applied(self, model: torch.nn.Module):
        """Run the block with the averaged weights in ``model``, then put the live ones back."""
        live = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.state())
        try:
            yield model
        finally:
            model.load_state_dict(live)
