"""atomic_path: files end up with the permissions of a plain open(), not mkstemp's 0600."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from temseg.io import atomic_path, write_json, write_mask
from temseg.io.files import _umask


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring the old one afterwards."""
    old = os.umask(0o022)
    try:
        yield lambda value: os.umask(value)
    finally:
        os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert _umask() == mask
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
    write_json(tmp_path / "record.json", {"seed": 1})
    write_mask(tmp_path / "m.png", np.eye(4, dtype=bool))
    for name in ("a.txt", "record.json", "m.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert _umask() == mask  # reading it did not change it


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
