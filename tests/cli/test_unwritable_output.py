"""An output that cannot be written is refused before the work, and named, not a temp file."""

import errno
import os

import numpy as np
import pytest

from temseg.cli.main import main
from temseg.errors import InputError
from temseg.io import write_tiff


def test_a_read_only_output_folder_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    """(A read-only mount: as root chmod 555 does not stop writes, so access() is faked.)"""
    image = write_tiff(tmp_path / "a.tif", np.random.default_rng(0).random((64, 64)))
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(ro)
                        else real(p, mode, **kw))
    assert main(["segment", str(image), "-o", str(ro / "out"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"--out: cannot write in {ro}" in " ".join(err.split())
    assert not list(ro.iterdir())


def test_a_write_that_fails_names_the_file_meant(tmp_path, monkeypatch):
    import tempfile

    from temseg.io.files import atomic_path

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(InputError, match=r"b\.tif: cannot write \(Read-only file system\)$"):
        with atomic_path(tmp_path / "b.tif"):
            pass


def test_a_full_disk_while_writing_names_the_file_meant_and_leaves_no_temporary(tmp_path):
    from temseg.io.files import atomic_path

    with pytest.raises(InputError, match=r"c\.tif: cannot write \(No space left on device\)$"):
        with atomic_path(tmp_path / "c.tif") as tmp:
            tmp.write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError):  # other errors pass unchanged
        with atomic_path(tmp_path / "d.tif"):
            raise ValueError("not a disk problem")
