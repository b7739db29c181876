"""Model files: safetensors weights + a JSON config, loaded without unpickling anything.

``NAME.safetensors`` holds the state dict; ``NAME.json`` holds::

    {"kind": "network", "format_version": 1, "temseg_version": "...",
     "weights": "NAME.safetensors", "weights_sha256": "<hex>",
     "config": {architecture, options, in_channels, classes, preprocessing,
                sampling, threshold, training}}

The SHA-256 ties the two files together: an edited, swapped or truncated
weights file is refused with a :class:`~temseg.errors.ModelFileError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temseg.config import from_dict, to_dict
from temseg.errors import ConfigError, ModelFileError
from temseg.io.files import atomic_path, write_json

FORMAT_VERSION = 1
_SUFFIXES = (".safetensors", ".json")


@dataclass
class ModelConfig:
    """Everything needed to rebuild and use a trained network.

    Attributes
    ----------
    architecture : str
        Registry name: "resunet", "unet", "msdnet" or "ensemble".
    options : dict
        Keyword options of the architecture (``in_channels``/``classes`` come
        from the fields below).
    in_channels : int
        Image channels the network takes.
    classes : list of str
        Class names, index = output channel (at least two).
    channels : list of str or None
        Names of the input channels, in order (a focal series: one per
        defocus, 003); None for one plain image channel.
    preprocessing : dict
        The preprocessing the network expects (``temseg.preprocess.
        Preprocessing`` as a dict).
    sampling : float or None
        Å per pixel of the training images (None: unknown).
    threshold : float
        Decision threshold on the foreground probability, in (0, 1).
    training : dict
        Record of the training run (data, epochs, scores, seed...).
    """

    architecture: str = "resunet"
    options: dict[str, Any] = field(default_factory=dict)
    in_channels: int = 1
    classes: list[str] = field(default_factory=lambda: ["background", "foreground"])
    channels: list[str] | None = None
    preprocessing: dict[str, Any] = field(default_factory=dict)
    sampling: float | None = None
    threshold: float = 0.5
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from temseg.models.registry import ARCHITECTURES

        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture: {self.architecture!r} is not one of "
                              f"{', '.join(ARCHITECTURES)}")
        if not isinstance(self.options, dict):
            raise ConfigError("options: must be a mapping of option: value")
        if self.in_channels < 1:
            raise ConfigError(f"in_channels: must be >= 1, got {self.in_channels}")
        self.classes = [str(c) for c in self.classes]
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ConfigError(f"classes: need at least two distinct names, got {self.classes}")
        if self.channels is not None:
            self.channels = [str(c) for c in self.channels]
            if len(self.channels) != self.in_channels:
                raise ConfigError(f"channels: {len(self.channels)} names for in_channels "
                                  f"{self.in_channels}")
        if self.sampling is not None and not self.sampling > 0:
            raise ConfigError(f"sampling: must be positive (Å/px), got {self.sampling}")
        if (not isinstance(self.threshold, (int, float)) or isinstance(self.threshold, bool)
                or not 0.0 < self.threshold < 1.0):
            raise ConfigError(f"threshold: must lie in (0, 1), got {self.threshold}")
        for name in ("in_channels", "classes"):
            if name in self.options:
                want = self.in_channels if name == "in_channels" else len(self.classes)
                if self.options[name] != want:
                    raise ConfigError(f"options.{name}: {self.options[name]} contradicts "
                                      f"{name} ({want})")

    def build(self):
        """The (untrained) network this config describes."""
        from temseg.models.registry import build_model

        opts = {**self.options, "in_channels": self.in_channels, "classes": len(self.classes)}
        return build_model(self.architecture, **opts)


def _stem(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in _SUFFIXES else path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(path: str | Path, model, config: ModelConfig) -> tuple[Path, Path]:
    """Write ``NAME.safetensors`` and ``NAME.json`` atomically; return both paths.

    ``path`` may be the stem or either file. The architecture and options
    stored are the model's own resolved ones (``model.options``), so the file
    rebuilds exactly this network (MSD-net's drawn dilations included).
    """
    from safetensors.torch import save_file

    from temseg import __version__

    stem = _stem(path)
    options = dict(getattr(model, "options", config.options))
    architecture = getattr(model, "architecture", config.architecture)
    for name, want in (("in_channels", config.in_channels), ("classes", len(config.classes))):
        if options.get(name, want) != want:
            raise ConfigError(f"{name}: the config says {want}, the model has {options[name]}")
    options.pop("in_channels", None)
    options.pop("classes", None)
    config = dataclasses.replace(config, architecture=architecture, options=options)
    weights = stem.with_name(stem.name + ".safetensors")
    meta = stem.with_name(stem.name + ".json")
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", "kind": "temseg-network"})
    write_json(meta, {"kind": "network", "format_version": FORMAT_VERSION,
                      "temseg_version": __version__, "weights": weights.name,
                      "weights_sha256": _sha256(weights), "config": to_dict(config)})
    return weights, meta


def read_model_json(path: str | Path) -> dict:
    """The parsed JSON of a network file (checked kind and version), without the weights."""
    stem = _stem(path)
    meta = stem.with_name(stem.name + ".json")
    try:
        data = json.loads(meta.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{meta}: model file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{meta}: not a readable model JSON ({exc.__class__.__name__})") \
            from None
    if not isinstance(data, dict) or data.get("kind") != "network":
        kind = data.get("kind") if isinstance(data, dict) else None
        raise ModelFileError(f"{meta}: not a network model file (kind {kind!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{meta}: format_version {data.get('format_version')!r} is not "
                             f"supported (this temseg reads {FORMAT_VERSION})")
    return data


def load_model(path: str | Path, *, device=None):
    """Load a network saved by :func:`save_model`; never unpickles.

    Parameters
    ----------
    path : str or Path
        ``NAME``, ``NAME.json`` or ``NAME.safetensors``; where no such file exists, a
        training run folder or the name of a shipped model (``graphene``), as
        :func:`temseg.models.locate.model_json` finds them.
    device : torch.device, optional
        Where to put the model (default CPU).

    Returns
    -------
    (torch.nn.Module, ModelConfig)
        The model in eval mode and its config.

    Raises
    ------
    ModelFileError
        Missing, corrupt or tampered files, or weights that do not fit the config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    stem = _stem(path)
    if not stem.with_name(stem.name + ".json").is_file():
        from temseg.models.locate import model_json  # (a run folder, a shipped name)

        stem = _stem(model_json(path))
    meta = stem.with_name(stem.name + ".json")
    data = read_model_json(stem)
    try:
        config = from_dict(ModelConfig, data.get("config"), prefix="config.")
    except ConfigError as exc:
        raise ModelFileError(f"{meta}: {exc}") from None
    name = data.get("weights")
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".safetensors"):
        raise ModelFileError(f"{meta}: 'weights' must name a .safetensors file beside it")
    weights = meta.with_name(name)
    if not weights.is_file():
        raise ModelFileError(f"{weights}: weights file not found")
    recorded = data.get("weights_sha256")
    if not isinstance(recorded, str) or not recorded:
        raise ModelFileError(f"{meta}: no 'weights_sha256' (the hash that ties {name} to it); "
                             "a file written by temseg always has one")
    if _sha256(weights) != recorded:
        raise ModelFileError(f"{weights}: SHA-256 does not match {meta.name} "
                             "(weights changed or swapped since saving)")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{weights}: not a valid safetensors file ({exc})") from None
    try:
        model = config.build()
    except ConfigError as exc:
        raise ModelFileError(f"{meta}: {exc}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise ModelFileError(f"{weights}: weights do not fit the {config.architecture} in "
                             f"{meta.name} ({detail})") from None
    if device is not None:
        model = model.to(device)
    model.eval()
    return model, config
