"""The JSON record every output folder gets: command, versions, seed and config."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from temseg.io.files import write_json

_PACKAGES = ("temseg", "numpy", "scipy", "scikit-image", "torch", "abtem", "ase", "zarr", "dask")


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape temseg's results."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def source_commit() -> dict | None:
    """The git commit temseg runs from, when it runs from a git checkout (an editable
    install): ``{"commit": sha, "dirty": bool}`` (dirty: uncommitted changes to tracked
    files), else None. The version number alone does not tell two development states apart.
    """
    import subprocess

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        def git(*args: str) -> str:  # (no optional locks: a user's own git must not fail)
            return subprocess.run(["git", "--no-optional-locks", "-C", str(root), *args],
                                  capture_output=True, text=True, timeout=10,
                                  check=True).stdout.strip()

        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def run_record(*, seed: int | None = None, config: dict | None = None, **extra) -> dict:
    """A record of how an output was made (the command line, versions, time, seed, config)."""
    source = source_commit()
    return {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cwd": str(Path.cwd()),  # the command's relative paths start here
        "versions": versions(),
        **({"temseg_source": source} if source else {}),
        "seed": seed,
        "config": config,
        **extra,
    }


def write_record(folder: str | Path, name: str = "record.json", **kwargs) -> Path:
    """Write :func:`run_record` as ``folder/name`` and return its path."""
    return write_json(Path(folder) / name, run_record(**kwargs))
