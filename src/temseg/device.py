"""The one place that picks the torch device.

Public functions of temseg take and return NumPy arrays; tensors live in
``models``, ``train`` and ``infer``, which ask this module for the device.
"""

from __future__ import annotations

from temseg.errors import ConfigError


def pick_device(name: str = "auto"):
    """Return a ``torch.device`` from ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    ``"auto"`` takes CUDA when available, else the CPU.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {name!r} asked for but no CUDA device is available")
        return torch.device(name)
    raise ConfigError(f"device: unknown device {name!r} (use auto, cpu, cuda or cuda:N)")


def to_device(array, device, dtype=None):
    """NumPy array → torch tensor on ``device`` (float32 unless ``dtype`` given)."""
    import numpy as np
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor.to(device=device, dtype=dtype or torch.float32)


def from_device(tensor):
    """Torch tensor → NumPy array on the host (detached)."""
    return tensor.detach().to("cpu").numpy()
