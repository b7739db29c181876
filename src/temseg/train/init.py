"""Fine-tuning: a training run that starts from a trained network's weights (``init``).

A network pretrained on simulated images (002, 003) or on another microscope's
micrographs is trained on, with the same shape, on the labelled data at hand.
The init model fixes the network: its architecture and options, and (unless
the recipe gives its own) the preprocessing it learned with. A recipe that
names another architecture or model option is refused before any work, as is
a model whose input channels or classes do not fit the data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temseg.config import to_dict
from temseg.errors import ConfigError

if TYPE_CHECKING:
    from temseg.models import ModelConfig
    from temseg.train.config import TrainConfig
    from temseg.train.data import TrainingSet


@dataclass
class InitModel:
    """The trained network a run starts from.

    Attributes
    ----------
    path : Path — its model JSON
    config : ModelConfig — its architecture, options, classes, preprocessing, pixel size
    state : dict of str to torch.Tensor — its weights (and batch-norm statistics)
    sha256 : str — SHA-256 of its weights file (recorded with every fine-tuned model)
    """

    path: Path
    config: "ModelConfig"
    state: dict[str, Any]
    sha256: str

    def record(self) -> dict:
        """What a fine-tuned model's training record says about where it started."""
        return {"model": str(self.path), "weights_sha256": self.sha256,
                "architecture": self.config.architecture, "sampling": self.config.sampling}


def load_init(spec: str | Path) -> InitModel:
    """The network ``spec`` names: a model file, a training run folder or a shipped name.

    Raises
    ------
    ModelFileError
        Missing or damaged model files, or a fitted baseline (not a network).
    ConfigError
        An ensemble (average of several networks: fine-tune one of its members instead).
    """
    from temseg.infer.segmenter import model_json
    from temseg.models import load_model
    from temseg.models.files import read_model_json

    path = model_json(spec)
    data = read_model_json(path)
    architecture = (data.get("config") or {}).get("architecture")
    if architecture == "ensemble":
        raise ConfigError(f"init: {spec} is an ensemble of several networks; fine-tune one of "
                          "its members (their files are listed in its JSON) instead")
    model, config = load_model(path)
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    return InitModel(path=path, config=config, state=state, sha256=data["weights_sha256"])


def resolve_init(config: "TrainConfig") -> tuple["TrainConfig", InitModel | None]:
    """``config`` with the network of its ``init`` model filled in, and that model.

    Without ``init``: ``(config, None)``. With it, ``architecture`` and
    ``model`` become the init model's (a recipe's own must agree: a
    fine-tuned network keeps its shape), ``preprocessing`` the init model's
    unless the recipe gives one. Idempotent.

    Raises
    ------
    ConfigError
        The recipe's architecture or a model option contradicts the init model's.
    ModelFileError
        The init model cannot be read.
    """
    from temseg.models import model_defaults

    if config.init is None:
        return config, None
    init = load_init(config.init)
    theirs = init.config
    name = config.init
    if config.architecture is not None and config.architecture != theirs.architecture:
        raise ConfigError(f"architecture: the recipe asks for {config.architecture}, --init "
                          f"{name} is a {theirs.architecture} (a fine-tuned network keeps its "
                          "shape; leave architecture out)")
    options = to_dict({**model_defaults(theirs.architecture), **theirs.options})
    fixed = {"in_channels": theirs.in_channels, "classes": len(theirs.classes)}
    for key, value in to_dict(config.model).items():
        have = fixed.get(key, options.get(key, ...))
        if have is ...:
            raise ConfigError(f"model: {theirs.architecture} has no option {key!r} (--init "
                              f"{name})")
        if value != have:
            raise ConfigError(f"model.{key}: the recipe says {value!r}, --init {name} has "
                              f"{have!r} (a fine-tuned network keeps its shape; leave model out)")
    preprocessing = config.preprocessing or dict(theirs.preprocessing)
    resolved = dataclasses.replace(config, architecture=theirs.architecture,
                                   model=dict(theirs.options), preprocessing=preprocessing)
    return resolved, init


def check_init_fits(init: InitModel, data: "TrainingSet", n_classes: int,
                    held_out: set[str]) -> list[str]:
    """Refuse an init model whose channels or classes do not fit ``data``; return warnings.

    ``held_out``: names of the images a run scores on (validation or test folds).
    Warns when the data's pixel size differs from the model's by over 10 %,
    and when the model was trained on held-out images (its scores would be
    optimistic).

    Raises
    ------
    InputError
        Other input channels or another number of classes than the data's.
    """
    from temseg.errors import InputError

    theirs = init.config
    if theirs.in_channels != data.channels:
        shown = f" ({', '.join(theirs.channels)})" if theirs.channels else ""
        raise InputError(f"init: {init.path} takes {theirs.in_channels} channel(s){shown}, the "
                         f"data have {data.channels} per image")
    if len(theirs.classes) != n_classes:
        raise InputError(f"init: {init.path} has {len(theirs.classes)} classes "
                         f"({', '.join(theirs.classes)}), the data have {n_classes}")
    warnings = []
    if theirs.sampling and data.sampling and abs(data.sampling / theirs.sampling - 1) > 0.1:
        warnings.append(f"init: {init.path} learned at {theirs.sampling:.4g} Å/px, the data are "
                        f"at {data.sampling:.4g} Å/px: the features it learned sit at another "
                        "scale (resample the data, or train with zoom)")
    seen = set(theirs.training.get("train_images") or []) & held_out
    if seen:
        warnings.append(f"init: {init.path} was trained on {len(seen)} of the held-out images "
                        f"(e.g. {sorted(seen)[0]}): their scores will be optimistic")
    return warnings
