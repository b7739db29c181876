"""Shared pieces of the CLI: consoles, progress bars, unit conversion at the edge."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from temseg.errors import ConfigError

T = TypeVar("T")

#: results go to stdout, messages and progress to stderr
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

#: set by a command that has said itself why it stops on Ctrl-C or SIGTERM (train: what is
#: saved, how to resume), so that ``main`` does not add its plain "interrupted"
STOP_SAID: list[bool] = []


def show(table) -> None:
    """Print a rich table on stdout, whole: into a file or pipe at its natural width.

    Rich fits tables to 80 columns when stdout is not a terminal, cutting
    numbers short (``0.93…``); a log file should keep every digit.
    """
    if out.is_terminal:
        out.print(table)
        return
    width = max(out.width, out.measure(table, options=out.options.update_width(10_000)).maximum)
    Console(file=out.file, width=width, soft_wrap=True, no_color=out.no_color).print(table)


def progress(*, transient: bool = False) -> Progress:
    """A rich progress display on stderr (use as a context manager); a ``transient`` one
    leaves no line behind (a short check before the work, or before its one-line error)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
        disable=transient and not err.is_terminal,  # a pipe would keep an empty line
    )


def track(items: Iterable[T], description: str, total: int | None = None, *,
          transient: bool = False) -> Iterator[T]:
    """Iterate with a progress bar (``transient``: gone when done)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(transient=transient) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


def sampling_from_options(sampling: float | None, pixel_size_nm: float | None) -> float | None:
    """Å/pixel from ``--sampling`` (Å/px) or ``--pixel-size-nm`` (nm/px); at most one may be
    given."""
    if sampling is not None and pixel_size_nm is not None:
        raise ConfigError("give either --sampling (Å/px) or --pixel-size-nm, not both")
    value = sampling if sampling is not None else (
        pixel_size_nm * 10.0 if pixel_size_nm is not None else None)
    if value is not None and not value > 0:
        given = (f"--sampling {sampling:g} Å/px" if sampling is not None
                 else f"--pixel-size-nm {pixel_size_nm:g} nm/px")
        raise ConfigError(f"{given}: the pixel size must be positive")
    return value


def check_column_options(column_distance: float, min_column_px: int | None) -> None:
    """``--column-distance`` (Å) and ``--min-column-px`` of segment and evaluate, checked."""
    if not 0 < column_distance < float("inf"):
        raise ConfigError(f"--column-distance: must be a positive distance in Å (0.9: half the "
                          f"Mo-S spacing of MoS2), got {column_distance:g}")
    if min_column_px is not None and min_column_px < 1:
        raise ConfigError(f"--min-column-px: must be >= 1, got {min_column_px}")


def dose_text(dose: float) -> str:
    """A dose in e/Å² as people write it: ``1,200``, ``3,162`` or ``0.5`` (the plots' too)."""
    from temseg.analyze.dose import plain_dose

    return plain_dose(dose)


def series_dose_note(channels: int) -> str:
    """What a simulated dose means for a focal series of ``channels`` images ("" for one)."""
    return "" if channels == 1 else f"each image of a series, {channels}× in all"


#: help of the --threads option of the commands that run a network
THREADS_HELP = ("CPU threads for torch (default: torch's own choice, OMP_NUM_THREADS or "
                "the cores).")


def check_threads(threads: int | None) -> None:
    """``--threads`` must be at least 1 (None: torch's own choice)."""
    if threads is not None and threads < 1:
        from temseg.errors import ConfigError

        raise ConfigError(f"--threads: must be >= 1, got {threads}")


def set_threads(threads: int | None) -> None:
    """``--threads``: how many CPU threads torch may use (None: its own choice)."""
    check_threads(threads)
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", highlight=False)


def check_threshold(threshold: float | None) -> None:
    """``--threshold`` must lie strictly between 0 and 1, as a model file's does."""
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise ConfigError(f"--threshold: must be in (0, 1), got {threshold}")


def check_output(path: Path, *, option: str = "--out", kind: str = "folder") -> Path:
    """Fail before any work when ``path`` cannot be written as a ``kind`` ("folder" or "file").

    Catches what would otherwise end a long run in an internal error: an
    output folder that is a file, an output file that is a folder, or a path
    below an existing file.
    """
    path = Path(path)
    if kind == "folder" and path.exists() and not path.is_dir():
        raise ConfigError(f"{option}: {path} exists and is not a folder")
    if kind == "file" and path.is_dir():
        raise ConfigError(f"{option}: {path} is a folder; give a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option}: {path} lies below {parent}, which is a file")
            break
    import os

    folder = path if path.is_dir() else next((p for p in path.parents if p.exists()), None)
    if folder is not None and not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{option}: cannot write in {folder} (a read-only disk, or no "
                          "permission)")
    return path


@contextlib.contextmanager
def no_empty_folder_left(folder: Path) -> Iterator[Path]:
    """Remove ``folder`` again if this block created it and fails before writing into it."""
    folder = Path(folder)
    created = not folder.exists()
    try:
        yield folder
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise
