"""Seeds: every random choice in temseg takes a seed or a ``numpy.random.Generator``."""

from __future__ import annotations

import functools

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


def keeps_torch_settings(function):
    """Decorate ``function`` to leave torch's process-wide settings as it found them: its
    thread count and deterministic-algorithms flags (training sets both; a notebook that
    trained once should not compute on one thread, deterministically, ever after)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        import torch

        threads = torch.get_num_threads()
        deterministic = torch.are_deterministic_algorithms_enabled()
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        try:
            return function(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)

    return wrapper
