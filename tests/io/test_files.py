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


def test_natural_key_reads_signs_only_when_asked_and_only_after_a_letter():
    from temseg.io.files import natural_key

    def signed(name):
        return natural_key(name, signed=True)

    names = [f"s{s}_df{d}.tif" for s in (1, 0) for d in (50, 0, -50)]
    assert sorted(names, key=signed) == ["s0_df-50.tif", "s0_df0.tif", "s0_df50.tif",
                                         "s1_df-50.tif", "s1_df0.tif", "s1_df50.tif"]
    # by default a '-' is text, as before: df-50 after df50
    assert sorted(["df-50.tif", "df0.tif", "df50.tif"], key=natural_key) == [
        "df0.tif", "df50.tif", "df-50.tif"]
    assert sorted(["df+100.tif", "df-100.tif", "df20.tif", "df_-5.tif"], key=signed) == [
        "df-100.tif", "df20.tif", "df+100.tif", "df_-5.tif"]
    assert signed("img-10.tif")[0] == ("img", -10, ".tif")
    assert signed("a_-5.tif")[0] == ("a_", -5, ".tif")
    # after a digit or another sign, or at the start, it is a separator
    for name in ("2024-05.tif", "-5.tif", "x--5.tif", "frame 3.tif"):
        assert signed(name) == natural_key(name), name
    # a signed and an unsigned number never tie: the name decides
    assert signed("df+50.tif") != signed("df50.tif")
