"""Fine-tuning: a training run that starts from a trained network's weights (``init``).

A network pretrained on simulated images (002, 003) or on another microscope's
micrographs is trained on, with the same shape, on the labelled data at hand.
The init model fixes the network: its architecture and options, and the
preprocessing it learned with (fields the recipe gives replace its own). Of an
ensemble (the shipped ``graphene`` model) one member is chosen. A recipe that
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
        (of the chosen member, for an ensemble)
    state : dict of str to torch.Tensor — its weights (and batch-norm statistics)
    sha256 : str — SHA-256 of its weights file (recorded with every fine-tuned model)
    member : int or None — which member of an ensemble (1-based)
    """

    path: Path
    config: "ModelConfig"
    state: dict[str, Any]
    sha256: str
    member: int | None = None

    def record(self) -> dict:
        """What a fine-tuned model's training record says about where it started."""
        return {"model": str(self.path), "weights_sha256": self.sha256,
                **({"member": self.member} if self.member is not None else {}),
                "architecture": self.config.architecture, "sampling": self.config.sampling}


#: loaded init models by (JSON path, weights SHA-256, member): the CLI, the recipe check and
#: the run each resolve the recipe, and a model's weights are read and hashed once
_LOADED: dict[tuple, InitModel] = {}


def _describe(members: list) -> str:
    return "; ".join(f"{i}: {m.get('architecture')} "
                     + " ".join(f"{k} {v}" for k, v in (m.get("options") or {}).items()
                                if k in ("blocks", "filters", "depth", "padding_mode"))
                     for i, m in enumerate(members, 1))


def load_init(spec: str | Path, member: int | None = None) -> InitModel:
    """The network ``spec`` names: a model file, a training run folder or a shipped name;
    of an ensemble (several networks averaged, e.g. the shipped ``graphene``) its ``member``
    (1-based), which must be given.

    Raises
    ------
    ModelFileError
        Missing or damaged model files, or a fitted baseline (not a network).
    ConfigError
        An ensemble without ``member`` (or one it does not have), or ``member``
        for a single network.
    """
    from temseg.models.locate import model_json
    from temseg.models import load_model
    from temseg.models.files import read_model_json

    path = model_json(spec).resolve()
    data = read_model_json(path)
    key = (str(path), data.get("weights_sha256"), member)
    if key in _LOADED:
        return _LOADED[key]
    options = data["config"].get("options") if isinstance(data.get("config"), dict) else None
    members = (options or {}).get("members") if isinstance(options, dict) else None
    ensemble = isinstance(members, list)
    if ensemble and member is None:
        raise ConfigError(f"init: {spec} is an ensemble of {len(members)} networks "
                          f"({_describe(members)}); choose the one to fine-tune with "
                          "--init-member N")
    if not ensemble and member is not None:
        raise ConfigError(f"init_member: {spec} is a single network, not an ensemble")
    if ensemble and not 1 <= member <= len(members):
        raise ConfigError(f"init_member: {spec} has members 1 to {len(members)}, not {member}")
    model, config = load_model(path)
    if ensemble:
        model = model.members[member - 1]
        chosen = members[member - 1]
        # the member's own training record (its images), where the ensemble kept one per member
        records = config.training.get("members") if isinstance(config.training, dict) else None
        records = [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []
        training = config.training
        if len(records) == len(members):
            training = records[member - 1].get("training") or training
        elif records:  # nested ensembles: which file holds the member is lost; any member's
            seen = sorted({name for r in records
                           for name in (r.get("training") or {}).get("train_images") or []})
            training = {**training, "train_images": seen}
        config = dataclasses.replace(config, architecture=chosen["architecture"],
                                     options=dict(chosen.get("options") or {}),
                                     training=training)
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    init = InitModel(path=path, config=config, state=state, sha256=data["weights_sha256"],
                     member=member)
    _LOADED.clear()  # one at a time: a model's weights can be large
    _LOADED[key] = init
    return init


def resolve_init(config: "TrainConfig") -> tuple["TrainConfig", InitModel | None]:
    """``config`` with the network of its ``init`` model filled in, and that model.

    Without ``init``: ``(config, None)``. With it, ``architecture`` and
    ``model`` become the init model's (a recipe's own must agree: a
    fine-tuned network keeps its shape), and ``preprocessing`` the init
    model's with the recipe's own fields on top. Idempotent.

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
    init = load_init(config.init, config.init_member)
    theirs = init.config
    name = config.init + (f" member {init.member}" if init.member is not None else "")
    if config.architecture is not None and config.architecture != theirs.architecture:
        raise ConfigError(f"architecture: {config.architecture} asked for, but --init {name} "
                          f"is a {theirs.architecture} (a fine-tuned network keeps its shape)")
    options = to_dict({**model_defaults(theirs.architecture), **theirs.options})
    fixed = {"in_channels": theirs.in_channels, "classes": len(theirs.classes)}
    for key, value in to_dict(config.model).items():
        have = fixed.get(key, options.get(key, ...))
        if have is ...:
            raise ConfigError(f"model: {theirs.architecture} has no option {key!r} (--init "
                              f"{name})")
        if value != have:
            raise ConfigError(f"model.{key}: the recipe says {value!r}, --init {name} has "
                              f"{have!r} (a fine-tuned network keeps its shape: use a recipe "
                              "without model options, or one of the same shape)")
    preprocessing = {**theirs.preprocessing, **config.preprocessing}
    spec = config.init
    given = Path(spec).expanduser()
    if given.exists() or len(given.parts) > 1 or given.suffix:  # a file: its absolute JSON
        spec = str(init.path)  # path, so a resume works from any folder
    # (a bare name that is no file is a shipped model's, kept as a name)
    resolved = dataclasses.replace(config, init=spec, architecture=theirs.architecture,
                                   model=dict(theirs.options), preprocessing=preprocessing)
    return resolved, init


def check_init_fits(init: InitModel, data: "TrainingSet", n_classes: int,
                    held_out: set[str], preprocessing: dict | None = None) -> list[str]:
    """Refuse an init model whose channels or classes do not fit ``data``; return warnings.

    ``held_out``: names of the images a run scores on (its validation split, test
    folds or separate ``val_data`` folders);
    ``preprocessing``: the run's (resolved) preprocessing fields.
    Warns when the data's pixel size lies outside what the model learned (its
    pixel size, widened by its training's ``zoom``) or is unknown, when the
    model was trained on images named as held-out ones (their scores would be
    optimistic), and when the run preprocesses differently from the model.

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
    training = theirs.training if isinstance(theirs.training, dict) else {}
    zoom = float((training.get("recipe") or {}).get("zoom") or 0.0)
    if theirs.sampling:
        low, high = theirs.sampling / (1 + zoom) / 1.1, theirs.sampling * (1 + zoom) * 1.1
        learned = f"{theirs.sampling:.4g} Å/px" + (
            f" ({theirs.sampling / (1 + zoom):.2g}–{theirs.sampling * (1 + zoom):.2g} by zoom)"
            if zoom else "")
        if data.sampling is None:
            warnings.append(f"init: the data have no pixel size; {init.path} learned at "
                            f"{learned}: give --sampling to check they match")
        elif not low <= data.sampling <= high:
            warnings.append(f"init: {init.path} learned at {learned}, the data are at "
                            f"{data.sampling:.4g} Å/px: the features it learned sit at another "
                            "scale (resample the data, or train with zoom)")
    run = preprocessing or {}
    changed = [f"{k} {v!r} → {run[k]!r}" for k, v in theirs.preprocessing.items()
               if k in run and run[k] != v]
    if changed:
        warnings.append(f"init: the recipe preprocesses otherwise than {init.path} learned "
                        f"({'; '.join(changed)}): its features may not fit the images")
    seen = set(training.get("train_images") or []) & held_out
    if seen:
        warnings.append(f"init: {init.path} was trained on images named as {len(seen)} of the "
                        f"held-out ones (e.g. {sorted(seen)[0]}); if they are the same images, "
                        "their scores will be optimistic")
    return warnings
