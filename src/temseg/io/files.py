"""Writing files so that a failure never leaves a half-written one behind; telling a zarr
dataset folder from a folder of images; ordering file names as acquisition software numbers
them."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


#: errors of the disk, not of the data: a write that fails so names the file meant
_DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EFBIG}


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; move it into place only on success.

    Writers that take a filename (tifffile, imageio, matplotlib, safetensors)
    write to the yielded path; if the block raises (or is interrupted), the
    temporary file is removed and ``path`` is untouched. The file gets the
    permissions a plain ``open(path, "w")`` would give (``0o666 & ~umask``),
    not the private 0600 of the temporary file.

    Examples
    --------
    >>> with atomic_path("mask.png") as tmp:          # doctest: +SKIP
    ...     imageio.imwrite(tmp, mask, extension=".png")
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:  # a read-only disk, no permission: name the file meant, not a temp
        from temseg.errors import InputError

        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:  # full, read-only, quota
            from temseg.errors import InputError

            raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        raise


def _json_default(obj):
    """JSON for what ``json`` cannot write itself: NumPy scalars and arrays, paths."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def jsonable(data):
    """``data`` with NumPy scalars/arrays and paths turned into plain JSON values (for zarr
    attributes, which take only those)."""
    return json.loads(json.dumps(data, default=_json_default, allow_nan=True))


def json_kind(path: str | Path, *, max_bytes: int = 16 * 2**20) -> str | None:
    """The ``"kind"`` of a JSON object file of at most ``max_bytes`` (a temseg model file:
    ``"network"``, ``"baseline"``), or None for anything else: what an ``--overwrite`` may
    replace. Nothing larger is read (a checkpoint or an image given by mistake)."""
    path = Path(path)
    try:
        if not path.is_file() or path.stat().st_size > max_bytes:
            return None
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def write_json(path: str | Path, data) -> Path:
    """Write ``data`` as indented JSON, atomically. NumPy scalars/arrays are converted."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_json_default, allow_nan=True) + "\n")
    return path


def csv_value(value, *, digits: int = 6):
    """A table cell as people read it: ``None`` blank, a float to ``digits`` significant
    digits without binary noise (8.6931, not 8.693099999999999), anything else as is.

    >>> csv_value(9659 * 0.0009), csv_value(None), csv_value(3), csv_value(float("nan"))
    ('8.6931', '', 3, 'nan')
    """
    import math

    if value is None:
        return ""
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        value = float(value)
        return format(value, f".{digits}g") if math.isfinite(value) else str(value)
    return value


def write_csv(path: str | Path, rows, fields, *, digits: int = 6) -> Path:
    """Write dict ``rows`` as a CSV of columns ``fields`` (in that order; keys missing from a
    row blank), atomically, each cell through :func:`csv_value`."""
    import csv

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for row in rows:
            writer.writerow([csv_value(row.get(k), digits=digits) for k in fields])
    return path


def write_figure(fig, path: str | Path, *, dpi: float | None = None) -> Path:
    """Save a matplotlib ``Figure`` as PNG, atomically (no half-written plot on an error)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", **({"dpi": dpi} if dpi else {}))
    return path


def is_zarr_dataset(path: str | Path) -> bool:
    """Whether ``path`` is a zarr group folder (``.zarr`` or a ``zarr.json``/``.zgroup`` inside)."""
    path = Path(path)
    return path.is_dir() and (path.suffix == ".zarr" or (path / "zarr.json").exists()
                              or (path / ".zgroup").exists())


#: a number and what stands before it: its text (letters or _ right before) and its sign
_NUMBER = r"([^\W\d]*)([-+]?)(\d+)"


#: texts before a number that name a defocus: their ``-`` is a sign even where every file
#: has one (an all-underfocus series, ``df-100`` ... ``df-20``)
DEFOCUS_TEXTS = ("df", "defocus", "dz", "focus")


def sign_texts(names) -> tuple[frozenset, frozenset]:
    """Which ``-``/``+`` before the numbers of these file names are signs, text by text.

    Returns ``(signed, separators)``: the texts (letters or ``_`` right before a
    number) whose ``-``/``+`` is the number's sign — a ``+`` stands there, or the
    text has numbers both with and without one (``df-50`` beside ``df0``,
    ``df50``), or the text names a defocus (:data:`DEFOCUS_TEXTS`: ``df-100``,
    ``df-50``, ``df-20``, all underfocus) — and those whose ``-`` stands before
    every one of their numbers, read as a separator (``frame-1``, ``frame-2``,
    ``frame-10``) though it might be a sign: say so.

    >>> sign_texts(["s1_df-50.tif", "s1_df0.tif", "s1_df50.tif"])
    (frozenset({'_df'}), frozenset())
    >>> sign_texts(["frame-1", "frame-2"])
    (frozenset(), frozenset({'frame'}))
    >>> sign_texts(["Defocus-100.tif", "Defocus-20.tif"])
    (frozenset({'Defocus'}), frozenset())
    """
    import re

    seen: dict[str, set[str]] = {}
    for name in names:
        for text, sign, _ in re.findall(_NUMBER, Path(name).name):
            if text:
                seen.setdefault(text, set()).add(sign)
    signed = frozenset(t for t, signs in seen.items()
                       if "+" in signs or len(signs) > 1
                       or ("-" in signs and t.strip("_").lower().endswith(DEFOCUS_TEXTS)))
    separators = frozenset(t for t, signs in seen.items() if signs == {"-"} and t not in signed)
    return signed, separators


def signs_matter(names) -> frozenset:
    """The texts whose ``-``/``+`` are signs in these names (:func:`sign_texts`); empty
    (false) when no sign needs reading."""
    return sign_texts(names)[0]


def natural_key(path: str | Path, *, signed: bool | frozenset | set = False) -> tuple:
    """Sort key of a file name with its numbers compared as numbers: ``frame2.tif`` before
    ``frame10.tif``, as acquisition software numbers its exports.

    >>> sorted(["s10.tif", "s9.tif", "s1.tif"], key=natural_key)
    ['s1.tif', 's9.tif', 's10.tif']

    By default signs are not read (``img-10`` is a separator as often as a sign):
    ``df-50`` sorts after ``df50``. With ``signed`` a ``-`` or ``+`` right before
    digits and right after a letter or ``_`` is the number's sign — after any such
    text (``True``), or after the texts given (a set, as :func:`signs_matter`
    finds them for ``--series-files``):

    >>> sorted(["df50.tif", "df0.tif", "df-50.tif"], key=lambda p: natural_key(p, signed=True))
    ['df-50.tif', 'df0.tif', 'df50.tif']
    """
    import re

    name = Path(path).name
    parts: list = []
    pos = 0
    for match in re.finditer(_NUMBER, name):
        text, sign, digits = match.groups()
        reads = bool(sign and text and signed and (signed is True or text in signed))
        before = name[pos:match.start(2)] if reads else name[pos:match.start(3)]
        parts += [before, int(sign + digits) if reads else int(digits)]
        pos = match.end()
    parts.append(name[pos:])  # text, number, text, number, ..., text
    # numbers sit at the odd places; the name itself breaks ties (frame1, frame01)
    return tuple(parts), name
