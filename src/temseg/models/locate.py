"""Where a model is: a model file, a run folder, a training output's runs, a shipped name.

:func:`model_json` turns what a user gives as MODEL into the model's JSON file;
a training output of several runs (folds, seeds) is refused naming them
(:func:`run_folders`, :func:`ensemble_files`). A run folder without ``model.json`` (training
was interrupted) gives its best checkpoint with a warning saying so
(:func:`unfinished_note`); :func:`training_runs` lists the runs of an output, finished or not.
"""

from __future__ import annotations

import json
import warnings
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


def _not_checkpoint(folder: Path, run: Path) -> bool:
    """Whether ``run`` (below ``folder``) is a run, not a run's checkpoint folder."""
    return "checkpoints" not in run.relative_to(folder).parts


def run_folders(folder: Path) -> list[str]:
    """The runs of a training output (``fold_F``, ``seed_S``, ``fold_F/seed_S``) that hold a
    model: a ``model.json``, or (interrupted) ``checkpoints/best/model.json``; relative to
    ``folder``, in natural order (``fold_2`` before ``fold_10``)."""
    return [name for name in _run_names(folder)
            if (folder / name / "model.json").is_file()
            or (folder / name / "checkpoints" / "best" / "model.json").is_file()]


def _read_json(path: Path) -> dict:
    """A JSON object from ``path``; ``{}`` when missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _training_output(run: Path) -> tuple[Path | None, int | None]:
    """The training output holding ``run`` (the folder of its ``config.yaml``: the run, its
    fold or the output above) and the epochs its recipe plans; ``(None, None)`` if none."""
    for folder in (run, run.parent, run.parent.parent):
        recipe = folder / "config.yaml"
        if recipe.is_file():
            try:
                import yaml

                epochs = (yaml.safe_load(recipe.read_text()) or {}).get("epochs")
            except (OSError, UnicodeDecodeError, ValueError, AttributeError):
                epochs = None
            return folder, epochs if isinstance(epochs, int) else None
    return None, None


def training_output(run: str | Path) -> Path | None:
    """The folder of the training output ``run`` belongs to (the one holding its
    ``config.yaml``, where ``temseg train --resume -o`` continues it), or None."""
    return _training_output(Path(run))[0]


def _epoch(checkpoint: Path) -> int | None:
    """The epoch a checkpoint folder was saved at (its ``trainer.json``), or None."""
    epoch = _read_json(checkpoint / "trainer.json").get("epoch")
    return epoch if isinstance(epoch, int) else None


def run_state(run: str | Path) -> str:
    """The state of one training run: ``"finished"`` (it holds ``model.json``) or
    ``"unfinished: epoch L of N"`` (its last checkpoint), with ``", no best checkpoint"``
    where none was kept (no validation score yet)."""
    run = Path(run)
    if (run / "model.json").is_file():
        return "finished"
    _, planned = _training_output(run)
    last = _epoch(run / "checkpoints" / "last")
    text = "unfinished" if last is None else f"unfinished: epoch {last}" + (
        f" of {planned}" if planned is not None else "")
    if not (run / "checkpoints" / "best" / "model.json").is_file():
        text += ", no best checkpoint"
    return text


def training_runs(folder: str | Path) -> dict[str, str]:
    """Every run of a training output, finished or not, with its :func:`run_state`.

    A run is a folder ``fold_F``, ``seed_S`` or ``fold_F/seed_S`` below ``folder`` holding a
    ``model.json`` (finished) or a ``checkpoints`` folder (interrupted); keys are relative
    to ``folder``, in natural order. Empty for a single run or any other folder.
    """
    folder = Path(folder)
    return {name: run_state(folder / name) for name in _run_names(folder)}


def _run_names(folder: Path) -> list[str]:
    """The runs below ``folder``, finished or not (:func:`training_runs`), in natural order."""
    found = [q.parent for pattern in ("*/model.json", "*/*/model.json", "*/checkpoints",
                                      "*/*/checkpoints")
             for q in folder.glob(pattern)]
    return _relative_sorted(folder, {q for q in found
                                     if q.is_dir() and _not_checkpoint(folder, q)})


def unfinished_note(run: str | Path) -> str | None:
    """The one line that says a run folder without ``model.json`` is an unfinished training
    run whose best checkpoint stands in for its model: which epoch of how many, and how
    to finish it. None when ``run`` holds a ``model.json`` or is no training run (no
    ``checkpoints/best/trainer.json``)."""
    run = Path(run)
    best = run / "checkpoints" / "best"
    if (run / "model.json").is_file() or not (best / "trainer.json").is_file():
        return None
    output, planned = _training_output(run)
    epoch, last = _epoch(best), _epoch(run / "checkpoints" / "last")
    text = f"{run}: an unfinished training run (no model.json): using its best checkpoint"
    if epoch is not None:
        text += f", epoch {epoch}" + (f" of {planned}" if planned is not None else "")
        if last is not None and last != epoch:
            text += f" (trained to epoch {last})"
    if output is not None:
        text += f"; resume with temseg train --resume -o {output}"
    return text


#: unfinished runs already warned about in this process (run, note): once each, as
#: a command looks a model up more than once (segment checks its first path, then loads it)
_WARNED: set[tuple[str, str]] = set()


def _warn_unfinished(run: Path) -> None:
    note = unfinished_note(run)
    if note is None:
        return
    key = (str(run.resolve()), note)
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(note, UserWarning, stacklevel=3)


def model_json(path: str | Path) -> Path:
    """The JSON half of a model given as ``NAME.json``, ``NAME.safetensors``, the stem
    ``NAME``, a folder holding ``model.json`` (a checkpoint) or
    ``checkpoints/best/model.json`` (a training run), or the bare name of a
    model shipped with temseg (``graphene``, ``au_ceo2``) when no such file
    or folder exists here.

    A training run without ``model.json`` (interrupted) gives its best checkpoint and
    warns once (a ``UserWarning``, :func:`unfinished_note`): which epoch of how many.

    Raises
    ------
    ModelFileError
        Nothing there, or no model JSON beside/inside it.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        if (p / "model.json").is_file():
            return p / "model.json"
        best = p / "checkpoints" / "best" / "model.json"
        if best.is_file():
            _warn_unfinished(p)
            return best
        runs = run_folders(p)
        if runs:
            averaged = ensemble_files(p)
            also = f", or an average of seeds, e.g. {p / averaged[0]}" if averaged else ""
            shown = [r if (p / r / "model.json").is_file() else f"{r} unfinished"
                     for r in runs[:5]]
            raise ModelFileError(f"{p}: holds {len(runs)} trained run"
                                 f"{'s' if len(runs) != 1 else ''} ({', '.join(shown)}"
                                 f"{', ...' if len(runs) > 5 else ''}), not one model: give one "
                                 f"of them, e.g. {p / runs[0]}{also}")
        if (p / "checkpoints" / "last").is_dir():  # interrupted before any validation score
            output, _ = _training_output(p)
            resume = f" (resume with temseg train --resume -o {output})" if output else ""
            state = run_state(p).removeprefix("unfinished").removeprefix(": ")
            raise ModelFileError(f"{p}: an unfinished training run{f' ({state})' if state else ''}"
                                 f": no model yet{resume}")
        unfinished = list(training_runs(p))
        if unfinished:
            raise ModelFileError(f"{p}: holds {len(unfinished)} unfinished training runs ("
                                 f"{', '.join(unfinished[:5])}"
                                 f"{', ...' if len(unfinished) > 5 else ''}), none with a model "
                                 "yet (no validation score)")
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


def _read_kind(json_path: Path) -> tuple[str, dict]:
    """A model JSON's ``kind`` ("network" or "baseline") and the JSON itself."""
    try:
        data = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{json_path}: not a readable model JSON ({exc})") from None
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "detector":  # fit-noise's detector model, given where a model belongs
        raise ModelFileError(f"{json_path}: a detector model from `temseg fit-noise`, not a "
                             "segmentation model: its fit is drawn in detector.png beside it; "
                             "use it with `temseg simulate --noise-model`")
    if kind not in ("network", "baseline"):
        raise ModelFileError(f"{json_path}: not a temseg model (\"kind\" is {kind!r}; "
                             "expected 'network' or 'baseline')")
    return kind, data
