"""Ensembles: several trained networks that vote by averaging their class probabilities.

An :class:`Ensemble` is a network like the others: its forward pass returns
``log(mean_i softmax(member_i(x)))``, so the softmax taken by every consumer
(tiled inference, evaluation, training metrics) gives exactly the mean of the
members' probabilities. It is saved and loaded as one model file (all the
members' weights in one safetensors file, their architectures and options in
the JSON), so ``segment``, ``evaluate`` and ``analyze`` take it unchanged.

:func:`combine_models` builds one from model files trained on the same kind
of data (same channels, classes, preprocessing and pixel size): paper 000
trains five runs of each network; averaging them is the cheapest gain there is.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from temseg.errors import ConfigError, InputError


class Ensemble(nn.Module):
    """Mean of the members' class probabilities; returns its log as logits.

    Parameters
    ----------
    in_channels : int
        Image channels (every member gets the same input).
    classes : int
        Output classes C of every member.
    members : sequence of dict
        ``{"architecture": name, "options": {...}}`` per member (the registry's
        architectures; ``in_channels``/``classes`` come from above). At least two.
    """

    architecture = "ensemble"

    def __init__(self, *, in_channels: int = 1, classes: int = 2,
                 members: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__()
        from temseg.models.registry import build_model

        if len(members) < 2:
            raise ConfigError(f"members: an ensemble needs at least two networks, got "
                              f"{len(members)}")
        if classes < 2:  # one sigmoid logit would average softmax(1 channel) = 1 everywhere
            raise ConfigError(f"classes: an ensemble averages class probabilities of at least "
                              f"two classes, got {classes}")
        built, resolved = [], []
        for i, member in enumerate(members):
            if not isinstance(member, dict) or "architecture" not in member:
                raise ConfigError(f"members[{i}]: expected {{architecture, options}}")
            if member["architecture"] == self.architecture:
                raise ConfigError(f"members[{i}]: an ensemble cannot hold an ensemble")
            options = {k: v for k, v in dict(member.get("options") or {}).items()
                       if k not in ("in_channels", "classes")}
            net = build_model(member["architecture"], in_channels=in_channels, classes=classes,
                              **options)
            built.append(net)
            kept = {k: v for k, v in net.options.items() if k not in ("in_channels", "classes")}
            resolved.append({"architecture": member["architecture"], "options": kept})
        self.members = nn.ModuleList(built)
        self.options = {"in_channels": in_channels, "classes": classes, "members": resolved}
        self.factor = math.lcm(*(int(getattr(m, "factor", 1)) for m in built))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = None
        for member in self.members:
            p = torch.softmax(member(x), dim=1)
            probs = p if probs is None else probs + p
        probs = probs / len(self.members)
        return torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny))

    def rf_path(self) -> list[nn.Module]:
        """The path of the member that sees farthest (the ensemble's receptive field)."""
        from temseg.models.receptive import receptive_field

        widest = max(self.members, key=receptive_field)
        return list(widest.rf_path())


def _digest(model: nn.Module) -> str:
    """SHA-256 of a network's weights (names, dtypes, shapes and values, in order)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _warn_duplicates(paths: Sequence[str | Path], models: Sequence[nn.Module]) -> None:
    """Warn, once per network, of a network that comes more than once (the same file twice,
    or a network also inside a given ensemble): it would count twice in the average."""
    seen: dict[str, list[str]] = {}
    for path, model in zip(paths, models):
        parts = model.members if isinstance(model, Ensemble) else [model]
        for i, member in enumerate(parts, 1):
            name = f"{path} (member {i})" if isinstance(model, Ensemble) else str(path)
            seen.setdefault(_digest(member), []).append(name)
    for digest, names in seen.items():
        if len(names) > 1:
            warnings.warn(f"ensemble: {' and '.join(names)} are the same network (weights "
                          f"SHA-256 {digest[:12]}…): it counts {len(names)}× in the average",
                          UserWarning, stacklevel=3)


def _check_output(output: str | Path, overwrite: bool) -> None:
    """Refuse an existing ``OUT.json``/``OUT.safetensors`` without ``overwrite``; with it, an
    ``OUT.json`` that is not a network model file (an unrelated file is never replaced)."""
    from temseg.io.files import json_kind
    from temseg.models.files import _stem

    stem = _stem(output)
    meta = stem.with_name(stem.name + ".json")
    weights = stem.with_name(stem.name + ".safetensors")
    existing = [p for p in (meta, weights) if p.exists()]
    if not existing:
        return
    if not overwrite:
        raise ConfigError(f"ensemble: the output {existing[0]} already exists (use "
                          "--overwrite to replace it)")
    if meta.exists() and json_kind(meta) != "network":
        raise ConfigError(f"ensemble: the output {meta} exists and is not a temseg network "
                          "model file; refusing to replace it")


def combine_models(paths: Sequence[str | Path], output: str | Path, *,
                   threshold: float | None = None, overwrite: bool = True
                   ) -> tuple[Path, Path]:
    """Write the ensemble of the model files ``paths`` as one model file ``output``.

    Parameters
    ----------
    paths : sequence of path
        Two or more model files (``NAME`` or ``NAME.json``) saved by temseg.
        They must agree on input channels (count and names), class names,
        preprocessing and sampling (Å/px): the ensemble sees one preprocessed image.
    output : path
        Stem of the ``.safetensors`` + ``.json`` pair to write.
    threshold : float, optional
        Decision threshold of the ensemble (default: the first member's).
    overwrite : bool
        Replace an existing network model file ``output`` (a training's ensemble
        written again on resume); False refuses an existing ``output`` (``temseg
        ensemble`` without ``--overwrite``). A member, or a file that is not a
        network model file, is never replaced.

    Returns
    -------
    (Path, Path)
        The weights and JSON files written.

    Raises
    ------
    InputError
        Fewer than two files, an output that would overwrite a member, or
        members that disagree on what they take.
    ConfigError
        ``output`` exists (its ``.json`` or ``.safetensors``) and ``overwrite`` is
        False, or its ``.json`` is not a network model file.

    Warns
    -----
    UserWarning
        The same network twice (equal weights, by SHA-256): it would count twice in the
        average. An ensemble among ``paths``: its networks join one by one, so every network
        weighs 1/n in the result (the ensemble as a whole k/n, not 1/len(paths)).
    """
    from temseg.models.files import ModelConfig, _stem, load_model, save_model

    if len(paths) < 2:
        raise InputError(f"ensemble: needs at least two model files, got {len(paths)}")
    for path in paths:
        if _stem(path).resolve() == _stem(output).resolve():
            raise InputError(f"ensemble: the output {output} would overwrite the member {path}")
    _check_output(output, overwrite)  # before loading any member
    models, configs = [], []
    for path in paths:
        model, config = load_model(path)
        models.append(model)
        configs.append(config)
    first = configs[0]
    for path, config in zip(paths[1:], configs[1:]):
        for name in ("in_channels", "channels", "classes", "preprocessing", "sampling"):
            a, b = getattr(first, name), getattr(config, name)
            if a != b:
                raise InputError(f"ensemble: {path} has {name} {b!r}, {paths[0]} has {a!r}; "
                                 "members must take the same images")
    flat = [m for model in models
            for m in (model.members if isinstance(model, Ensemble) else [model])]
    _warn_duplicates(paths, models)
    for path, model in zip(paths, models):
        if isinstance(model, Ensemble):
            k = len(model.members)
            warnings.warn(f"ensemble: {path} is an ensemble of {k} networks: they join one by "
                          f"one, so each of the {len(flat)} networks weighs 1/{len(flat)} ("
                          f"{path} as a whole {k}/{len(flat)}, not 1/{len(paths)})",
                          UserWarning, stacklevel=2)
    ensemble = Ensemble(in_channels=first.in_channels, classes=len(first.classes),
                        members=[{"architecture": m.architecture, "options": m.options}
                                 for m in flat])
    for target, source in zip(ensemble.members, flat):
        target.load_state_dict(source.state_dict(), strict=True)
    record = {"members": [{"file": str(p), "architecture": c.architecture,
                           "training": c.training} for p, c in zip(paths, configs)]}
    config = ModelConfig(architecture=Ensemble.architecture, options=ensemble.options,
                         in_channels=first.in_channels, classes=first.classes,
                         channels=first.channels, preprocessing=first.preprocessing,
                         sampling=first.sampling,
                         threshold=first.threshold if threshold is None else threshold,
                         training=record)
    return save_model(output, ensemble, config)
