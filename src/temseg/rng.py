"""Seeds: every random choice in temseg takes a seed or a ``numpy.random.Generator``."""

from __future__ import annotations

import numpy as np


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A ``Generator`` from an int seed, an existing generator (returned as is) or ``None``."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def seed_torch(seed: int) -> None:
    """Seed torch (CPU and CUDA) and ask for deterministic CPU kernels."""
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
