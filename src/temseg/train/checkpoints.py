"""Checkpoints that resume bit-exactly and never unpickle: safetensors + JSON only.

A checkpoint is a folder::

    model.safetensors, model.json   the model file (temseg.models.save_model)
    optimizer.safetensors           optimizer tensors (Adam moments, steps)
    rng.safetensors                 torch RNG states (CPU, and CUDA when used)
    trainer.json                    epoch, seed, history, early-stopping state,
                                    optimizer hyper-parameters, grad-scaler state
    average.safetensors             running sums of the weight average (``ema`` only)

It is written into a temporary folder and swapped into place, with Ctrl-C
held back while the swap happens, so a checkpoint on disk is always whole.

Importing this module imports no torch (each function that needs it does): finding a
checkpoint and holding Ctrl-C back stay safe while torch's own import is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temseg.errors import InputError, ModelFileError, Terminated
from temseg.io.files import write_json

if TYPE_CHECKING:
    import torch

_FILES = ("optimizer.safetensors", "rng.safetensors", "trainer.json")


@contextlib.contextmanager
def hold_interrupts():
    """Delay Ctrl-C (SIGINT) and SIGTERM until the block ends, then raise ``KeyboardInterrupt``
    (:class:`temseg.errors.Terminated` for SIGTERM), so a checkpoint is never half-written.

    Outside the main thread (where signals cannot be handled) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if signal.SIGTERM in caught:
        raise Terminated
    if caught:
        raise KeyboardInterrupt


def optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state dict into safetensors tensors and JSON-safe rest."""
    import torch

    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                           meta: dict, *, device) -> None:
    """Load what :func:`optimizer_to_tensors` split back into ``optimizer``."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        pid, key = name.split(".", 1)
        # Adam keeps `step` on the CPU unless capturable/fused; moments live with the params
        state.setdefault(int(pid), {})[key] = value if key == "step" else value.to(device)
    for pid, entry in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(entry)
    groups = meta["param_groups"]
    for group in groups:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def rng_tensors() -> dict[str, torch.Tensor]:
    """Current torch RNG states as tensors (CPU, plus every CUDA device in use)."""
    import torch

    out = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"cuda{i}"] = s
    return out


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    """Set the torch RNG states saved by :func:`rng_tensors`."""
    import torch

    torch.set_rng_state(tensors["cpu"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def _write_model(folder: Path, model: torch.nn.Module, model_config) -> None:
    if model_config is None:
        from safetensors.torch import save_file

        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))
    else:
        from temseg.models import save_model

        save_model(folder / "model", model, model_config)


def save_checkpoint(folder: str | Path, *, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, trainer: dict,
                    model_config=None, average: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a whole checkpoint folder atomically (replacing an older one).

    Parameters
    ----------
    folder : path
        Destination, e.g. ``run/checkpoints/last``.
    model, optimizer
        Their states are saved as safetensors.
    trainer : dict
        JSON-safe loop state (epoch, seed, history, early stopping...).
    model_config : temseg.models.ModelConfig, optional
        When given the weights go through :func:`temseg.models.save_model`
        (a loadable model file); otherwise a bare ``model.safetensors``.
    average : dict of tensors, optional
        Running sums of a weight average (:class:`temseg.train.average.WeightAverage`).
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with hold_interrupts():
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            _write_model(tmp, model, model_config)
            tensors, meta = optimizer_to_tensors(optimizer)
            save_file(tensors, str(tmp / "optimizer.safetensors"))
            save_file(rng_tensors(), str(tmp / "rng.safetensors"))
            if average is not None:
                save_file(average, str(tmp / "average.safetensors"))
            write_json(tmp / "trainer.json", {**trainer, "optimizer": meta})
            old = folder.with_name(f".{folder.name}.old")
            if old.exists():
                shutil.rmtree(old)
            if folder.exists():
                os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return folder


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder at ``path``: itself, ``path/checkpoints/last`` or ``path/last``.

    Raises
    ------
    InputError
        No checkpoint there.
    """
    path = Path(path)
    for candidate in (path, path / "last", path / "checkpoints" / "last"):
        if all((candidate / name).is_file() for name in _FILES):
            return candidate
        old = candidate.with_name(f".{candidate.name}.old")  # interrupted mid-swap
        if not candidate.exists() and all((old / n).is_file() for n in _FILES):
            return old
    raise InputError(f"{path}: no checkpoint here (expected {', '.join(_FILES)})")


def checkpoint_folders(out_dir: str | Path) -> list[Path]:
    """The ``checkpoints`` folders of the runs under ``out_dir`` (itself, folds, seeds)."""
    out_dir = Path(out_dir)
    return [p for p in (out_dir / "checkpoints", *out_dir.glob("*/checkpoints"),
                        *out_dir.glob("*/*/checkpoints")) if p.exists()]


def trained_epochs(out_dir: str | Path) -> int:
    """Whole epochs saved in the checkpoints under ``out_dir``, summed over its runs.

    0: nothing trained yet (at most the epoch-0 checkpoints of a run stopped
    before its first epoch), so nothing to resume; a fresh run there replaces
    them. A checkpoint that cannot be read counts as one epoch (kept, never
    overwritten).
    """
    import json

    total = 0
    for folder in checkpoint_folders(out_dir):
        try:
            total += int(json.loads((find_checkpoint(folder) / "trainer.json")
                                    .read_text())["epoch"])
        except (InputError, OSError, ValueError, KeyError, TypeError):
            total += 1
    return total


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _corrupt(file: Path, why: str) -> ModelFileError:
    return ModelFileError(f"{file}: corrupt checkpoint file ({why}); the checkpoint cannot be "
                          "resumed: restore the file, or start afresh in a new output folder")


def read_tensors(file: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of one checkpoint file (on the CPU).

    Raises
    ------
    ModelFileError
        The file cannot be read or is no safetensors file (truncated, overwritten...);
        the message names it and says the checkpoint cannot be resumed.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = Path(file)
    try:
        return load_file(str(file), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise _corrupt(file, _why(exc)) from None


def read_trainer(folder: str | Path) -> dict:
    """The loop state ``trainer.json`` of a checkpoint folder (a JSON object).

    Raises
    ------
    ModelFileError
        Unreadable, not JSON or not an object (named, as by :func:`read_tensors`).
    """
    import json

    file = Path(folder) / "trainer.json"
    try:
        trainer = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _corrupt(file, _why(exc)) from None
    if not isinstance(trainer, dict) or not isinstance(trainer.get("optimizer"), dict):
        raise _corrupt(file, "not a trainer state")
    return trainer


def load_checkpoint(path: str | Path, *, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, device) -> dict:
    """Load weights, optimizer and RNG states of a checkpoint; return the trainer state.

    Raises
    ------
    InputError
        No checkpoint at ``path``.
    ModelFileError
        A file of it is corrupt (named), or it does not fit ``model``/``optimizer``.
    """
    folder = find_checkpoint(path)
    # every file read (and checked) before anything is loaded into the model or optimizer
    weights = read_tensors(folder / "model.safetensors")
    trainer = read_trainer(folder)
    moments = read_tensors(folder / "optimizer.safetensors")
    rng = read_tensors(folder / "rng.safetensors")
    try:
        model.load_state_dict(weights, strict=True)
        optimizer_from_tensors(optimizer, moments, trainer.pop("optimizer"), device=device)
        restore_rng(rng)
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{folder}: checkpoint does not fit this model/optimizer "
                             f"({type(exc).__name__}: {_why(exc)})") from None
    return trainer


def load_average(path: str | Path) -> dict[str, torch.Tensor] | None:
    """Running sums of the weight average saved in a checkpoint, or ``None`` if it has none.

    Raises
    ------
    ModelFileError
        ``average.safetensors`` is there but corrupt (see :func:`read_tensors`).
    """
    file = find_checkpoint(path) / "average.safetensors"
    return read_tensors(file) if file.is_file() else None
