"""The models shipped inside the package: the default nanoparticle model (issue 7) and others.

An MSD-net trained on our own abTEM simulation of Au particles on CeO2
(002's recipe) by ``benchmarks/train_default_model.py``; its files live in
``temseg/data/models/`` (``NAME.safetensors`` + ``NAME.json`` +
``MODEL_CARD.md``) and are found through :mod:`importlib.resources`, so they
work from a wheel, an editable install or a source tree, offline. Other
shipped models (``graphene``: surface contamination on graphene, 004's data)
lie beside it and are named on the command line by their stem.
"""

from __future__ import annotations

import os
from pathlib import Path

from temseg.errors import ModelFileError

#: stem of the shipped model's files in ``temseg/data/models``
DEFAULT_MODEL_NAME = "au_ceo2"
#: environment variable that points temseg at another default model (stem or file)
ENV_VAR = "TEMSEG_DEFAULT_MODEL"


def models_folder() -> Path:
    """Folder of the models shipped with the package (``temseg/data/models``)."""
    from importlib.resources import files

    return Path(str(files("temseg").joinpath("data", "models")))


def default_model_path(*, check: bool = True) -> Path:
    """The JSON file of the default model.

    ``$TEMSEG_DEFAULT_MODEL`` (a model file or stem) replaces the shipped one.

    Parameters
    ----------
    check : bool
        Raise when the files are missing (else just return the path).

    Returns
    -------
    Path of ``NAME.json`` (its ``NAME.safetensors`` lies beside it).

    Raises
    ------
    ModelFileError
        The default model's JSON or weights are not there (a broken install).
    """
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override).expanduser()
        path = path.with_suffix(".json") if path.suffix in (".safetensors", ".json") else \
            path.with_name(path.name + ".json")
        where = f"${ENV_VAR}"
    else:
        path = models_folder() / f"{DEFAULT_MODEL_NAME}.json"
        where = "the installed package"
    if check:
        for p in (path, path.with_suffix(".safetensors")):
            if not p.is_file():
                raise ModelFileError(f"{p}: default model file missing from {where} "
                                     "(reinstall temseg or give a model with --model)")
    return path


def shipped_models() -> list[str]:
    """Names of the models shipped with the package (``NAME.json`` + ``NAME.safetensors``)."""
    folder = models_folder()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if p.with_suffix(".safetensors").is_file())


def shipped_model_path(name: str) -> Path | None:
    """The JSON file of the shipped model ``name`` (e.g. ``graphene``), or None."""
    if name not in shipped_models():
        return None
    return models_folder() / f"{name}.json"


def has_default_model() -> bool:
    """Whether the default model's files are present."""
    try:
        default_model_path()
    except ModelFileError:
        return False
    return True


def model_card_path() -> Path:
    """The shipped model card (Markdown)."""
    return models_folder() / "MODEL_CARD.md"
