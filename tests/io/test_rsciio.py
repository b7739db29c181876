"""Formats read through RosettaSciIO: MRC written by hand (the ``write_mrc`` fixture); DM/SER/EMD error paths.

RosettaSciIO writes none of DM3/DM4, SER or MRC, and EMD needs h5py (not a
dependency), so MRC is the format built byte by byte in these tests.
"""

from __future__ import annotations

import importlib.util

import dask.array as da
import numpy as np
import pytest

from temseg.errors import InputError
from temseg.io import read_image

@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.float32])
def test_mrc_image_with_sampling(tmp_path, rng, dtype, write_mrc):
    image = (rng.random((12, 20)) * 100).astype(dtype)
    write_mrc(tmp_path / "a.mrc", image, sampling=1.5)
    mg = read_image(tmp_path / "a.mrc")
    assert mg.data.shape == (12, 20) and isinstance(mg.data, np.ndarray)
    np.testing.assert_array_equal(mg.data, image.astype(np.float32))
    assert mg.sampling == pytest.approx(1.5, rel=1e-6)
    assert mg.metadata["format"] == "MRC"


def test_mrc_without_cell_is_uncalibrated(tmp_path, rng, write_mrc):
    write_mrc(tmp_path / "a.mrc", rng.random((8, 8)).astype(np.float32))
    assert read_image(tmp_path / "a.mrc").sampling is None


def test_mrc_stack_is_lazy(tmp_path, rng, write_mrc):
    stack = rng.random((5, 8, 9)).astype(np.float32)
    write_mrc(tmp_path / "s.mrc", stack, sampling=0.8)
    mg = read_image(tmp_path / "s.mrc")
    assert mg.is_stack and isinstance(mg.data, da.Array) and mg.n_frames == 5
    assert mg.sampling == pytest.approx(0.8, rel=1e-6)
    np.testing.assert_array_equal(np.stack(list(mg.frames())), stack)


def test_truncated_mrc(tmp_path, rng, write_mrc):
    write_mrc(tmp_path / "t.mrc", rng.random((16, 16)).astype(np.float32))
    data = (tmp_path / "t.mrc").read_bytes()
    (tmp_path / "t.mrc").write_bytes(data[:-100])
    with pytest.raises(InputError, match=r"t\.mrc: truncated MRC file"):
        read_image(tmp_path / "t.mrc")
    (tmp_path / "h.mrc").write_bytes(data[:500])
    with pytest.raises(InputError, match=r"h\.mrc: truncated MRC file \(header"):
        read_image(tmp_path / "h.mrc")


@pytest.mark.parametrize("suffix", [".dm3", ".dm4", ".ser"])
def test_truncated_microscope_formats(tmp_path, suffix):
    (tmp_path / f"t{suffix}").write_bytes(b"\x00\x00\x00\x03" + b"\x01" * 20)
    with pytest.raises(InputError, match=rf"t\{suffix}: corrupt or unsupported"):
        read_image(tmp_path / f"t{suffix}")


@pytest.mark.skipif(importlib.util.find_spec("h5py") is not None, reason="h5py installed")
def test_emd_without_h5py_names_the_missing_package(tmp_path):
    (tmp_path / "a.emd").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(InputError, match=r"a\.emd: reading \.emd files needs the package 'h5py'"):
        read_image(tmp_path / "a.emd")


def test_spectrum_image_is_not_an_image(tmp_path, monkeypatch):
    """A (y, x, energy) signal has one signal axis: refused, not read as a stack."""
    from temseg.io import _rsciio

    def reader(filename, lazy):
        axes = [{"name": "y", "navigate": True, "scale": 1, "units": "nm"},
                {"name": "x", "navigate": True, "scale": 1, "units": "nm"},
                {"name": "E", "navigate": False, "scale": 1, "units": "eV"}]
        return [{"data": np.zeros((4, 4, 50)), "axes": axes, "metadata": {}}]

    monkeypatch.setattr(_rsciio, "_reader", lambda path: reader)
    (tmp_path / "si.dm4").write_bytes(b"x")
    with pytest.raises(InputError, match=r"si\.dm4: no 2-D image .* \(4, 4, 50\)"):
        read_image(tmp_path / "si.dm4")


def test_dm_metadata_mapping_and_calibration(tmp_path, monkeypatch):
    """What a DM reader returns is turned into Å/px and summary metadata (mapping applied)."""
    from temseg.io import _rsciio

    original = {"ImageList": {"TagGroup0": {"ImageTags": {"Microscope Info": {
        "Voltage": 300000.0, "Name": "Titan"}}}}}
    mapping = {"ImageList.TagGroup0.ImageTags.Microscope Info.Voltage":
               ("Acquisition_instrument.TEM.beam_energy", lambda v: v / 1e3),
               "ImageList.TagGroup0.ImageTags.Microscope Info.Name":
               ("Acquisition_instrument.TEM.microscope", None)}

    def reader(filename, lazy):
        axes = [{"name": "y", "navigate": False, "scale": 0.02, "units": "µm"},
                {"name": "x", "navigate": False, "scale": 0.02, "units": "µm"}]
        return [{"data": da.ones((6, 7), chunks=3), "axes": axes,
                 "metadata": {"General": {"title": "particles"}},
                 "original_metadata": original, "mapping": mapping}]

    monkeypatch.setattr(_rsciio, "_reader", lambda path: reader)
    (tmp_path / "a.dm4").write_bytes(b"x")
    mg = read_image(tmp_path / "a.dm4")
    assert mg.sampling == pytest.approx(200.0)  # 0.02 µm = 200 Å
    assert isinstance(mg.data, np.ndarray) and mg.data.shape == (6, 7)
    assert mg.metadata["voltage_kV"] == 300.0 and mg.metadata["microscope"] == "Titan"
    assert mg.metadata["title"] == "particles" and mg.metadata["format"] == "DM4"
