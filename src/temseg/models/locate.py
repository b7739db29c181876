"""Where a model is: a model file, a run folder, a training output's runs, a shipped name.

:func:`model_json` turns what a user gives as MODEL into the model's JSON file;
a training output of several runs (folds, seeds) is refused naming them
(:func:`run_folders`, :func:`ensemble_files`).
"""

from __future__ import annotations

import json
from pathlib import Path

from temseg.errors import ModelFileError


def _relative_sorted(folder: Path, found) -> list[str]:
    """``found`` paths relative to ``folder``, in natural order part by part (``fold_2/seed_3``
    before ``fold_10/seed_1``)."""
    from temseg.io.files import natural_key

    relative = (q.relative_to(folder) for q in found)
    return [q.as_posix() for q in sorted(relative,
                                         key=lambda q: tuple(map(natural_key, q.parts)))]


def ensemble_files(folder: Path) -> list[str]:
    """The seed-averaged ensembles of a training output (``ensemble.json``,
    ``fold_F/ensemble.json``), relative to ``folder``, in natural order."""
    return _relative_sorted(folder, [*folder.glob("ensemble.json"),
                                     *folder.glob("*/ensemble.json")])


def run_folders(folder: Path) -> list[str]:
    """The runs of a training output (``fold_F``, ``seed_S``, ``fold_F/seed_S``) that hold a
    ``model.json``, relative to ``folder``, in natural order (``fold_2`` before ``fold_10``)."""
    return _relative_sorted(folder, [q.parent for q in [*folder.glob("*/model.json"),
                                                        *folder.glob("*/*/model.json")]])


def model_json(path: str | Path) -> Path:
    """The JSON half of a model given as ``NAME.json``, ``NAME.safetensors``, the stem
    ``NAME``, a folder holding ``model.json`` (a checkpoint) or
    ``checkpoints/best/model.json`` (a training run), or the bare name of a
    model shipped with temseg (``graphene``, ``au_ceo2``) when no such file
    or folder exists here.

    Raises
    ------
    ModelFileError
        Nothing there, or no model JSON beside/inside it.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        for candidate in (p / "model.json", p / "checkpoints" / "best" / "model.json"):
            if candidate.is_file():
                return candidate
        runs = run_folders(p)
        if runs:
            averaged = ensemble_files(p)
            also = f", or an average of seeds, e.g. {p / averaged[0]}" if averaged else ""
            raise ModelFileError(f"{p}: holds {len(runs)} trained runs ({', '.join(runs[:5])}"
                                 f"{', ...' if len(runs) > 5 else ''}), not one model: give one "
                                 f"of them, e.g. {p / runs[0]}{also}")
        raise ModelFileError(f"{p}: folder holds no model.json (nor checkpoints/best/model.json)")
    suffix = p.suffix.lower()
    if suffix == ".json":
        candidate = p
    elif suffix == ".safetensors":
        candidate = p.with_suffix(".json")
    else:
        candidate = p.with_name(p.name + ".json")
    if not candidate.is_file():
        if not p.exists() and len(p.parts) == 1 and not suffix:  # a bare name: shipped?
            from temseg.models.default import shipped_model_path, shipped_models

            shipped = shipped_model_path(p.name)
            if shipped is not None:
                return shipped
            names = ", ".join(shipped_models())
            raise ModelFileError(f"{p}: no such model file, nor a shipped model"
                                 f"{f' (shipped: {names})' if names else ''}")
        if not p.exists():
            raise ModelFileError(f"{p}: no such model file")
        raise ModelFileError(f"{p}: not a temseg model file (no {candidate.name} beside it)")
    return candidate


def _read_kind(json_path: Path) -> str:
    try:
        data = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{json_path}: not a readable model JSON ({exc})") from None
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in ("network", "baseline"):
        raise ModelFileError(f"{json_path}: not a temseg model (\"kind\" is {kind!r}; "
                             "expected 'network' or 'baseline')")
    return kind
