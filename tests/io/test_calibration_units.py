"""Calibrations that are no pixel size (print resolutions, 1/nm, 'pixel', no unit) are
ignored and said so; Berkeley EMD focal series; non-square pixels from any reader."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from temseg.io import read_image

IMAGE = np.arange(16 * 12, dtype=np.float32).reshape(16, 12)


def _imagej(path, *, resolution=None, unit=None):
    metadata = {} if unit is None else {"unit": unit}
    kwargs = {} if resolution is None else {"resolution": (resolution, resolution)}
    tifffile.imwrite(path, IMAGE, imagej=True, metadata=metadata, **kwargs)
    return path


# ------------------------------------------------------------ ImageJ print resolutions

@pytest.mark.parametrize(("per_unit", "unit"), [(72, "inch"), (300, "inch"), (28.35, "cm"),
                                                (0.5, "micron")])
def test_imagej_print_resolution_is_no_pixel_size(tmp_path, per_unit, unit):
    """What Fiji writes when it resaves an image that had a dpi: not 3.5e6 Å/px."""
    mg = read_image(_imagej(tmp_path / "dpi.tif", resolution=per_unit, unit=unit))
    assert mg.sampling is None and "sampling_source" not in mg.metadata
    assert mg.metadata["sampling_ignored"] == (f"ImageJ calibration of {per_unit:g} px/{unit} "
                                               "(a print resolution) ignored")


def test_imagej_length_calibrations_below_the_print_limit_are_kept(tmp_path):
    mg = read_image(_imagej(tmp_path / "nm.tif", resolution=20.0, unit="nm"))
    assert mg.sampling == pytest.approx(0.5)  # 0.05 nm/px
    assert mg.metadata["sampling_source"] == "ImageJ unit"
    assert "sampling_ignored" not in mg.metadata
    fine = read_image(_imagej(tmp_path / "cm.tif", resolution=1e7, unit="cm"))  # 1 nm in cm
    assert fine.sampling == pytest.approx(10.0)


# ------------------------------------------------------------ units that are not lengths

@pytest.mark.parametrize(("unit", "resolution", "note"), [
    ("1/nm", 100.0, "ImageJ calibration in 1/nm (reciprocal space) ignored"),
    ("nm^-1", 100.0, "ImageJ calibration in nm^-1 (reciprocal space) ignored"),
    ("pixel", 1.0, "ImageJ calibration in 'pixel' (not a length) ignored"),
    (None, 20.0, "TIFF resolution of 20 px per unit (no unit) ignored"),
])
def test_imagej_calibration_not_a_length_is_noted_not_claimed(tmp_path, unit, resolution,
                                                              note):
    mg = read_image(_imagej(tmp_path / "c.tif", resolution=resolution, unit=unit))
    assert mg.sampling is None
    assert "sampling_source" not in mg.metadata  # no source claimed for no pixel size
    assert mg.metadata["sampling_ignored"] == note


def test_uncalibrated_imagej_tiff_has_no_note(tmp_path):
    mg = read_image(_imagej(tmp_path / "plain.tif"))  # tifffile writes 1 px per (no) unit
    assert mg.sampling is None
    assert "sampling_source" not in mg.metadata and "sampling_ignored" not in mg.metadata


def test_tiff_non_square_pixels_keep_the_y_size(tmp_path):
    path = tmp_path / "aniso.tif"
    tifffile.imwrite(path, IMAGE, imagej=True, resolution=(2.0, 4.0), metadata={"unit": "nm"})
    messages = []
    mg = read_image(path, warn=messages.append)
    assert mg.sampling == pytest.approx(5.0) and mg.metadata["sampling_y"] == pytest.approx(2.5)
    assert messages == [f"{path}: pixels are not square (X 5, Y 2.5 Å/px); the X pixel size, "
                        "5 Å/px, is used"]
    assert "sampling_y" not in read_image(_imagej(tmp_path / "sq.tif", resolution=2.0,
                                                  unit="nm")).metadata


# ------------------------------------------------------------ EMD (RosettaSciIO)

def _axis(name, size, units, scale=0.05, navigate=False):
    return {"name": name, "size": size, "scale": scale, "offset": 0.0, "units": units,
            "navigate": navigate}


def _write_emd(path, data, axes):
    pytest.importorskip("h5py")
    from rsciio.emd import file_writer

    file_writer(str(path), {"data": data, "axes": axes,
                            "metadata": {"General": {"title": "t"}, "Signal": {"signal_type": ""}},
                            "original_metadata": {}})
    return path


def test_emd_focal_series_with_defocus_in_nm_is_a_stack(tmp_path):
    data = np.random.default_rng(0).random((5, 16, 12)).astype(np.float32)
    path = _write_emd(tmp_path / "focal.emd", data,
                      [_axis("defocus", 5, "nm", scale=2.0), _axis("y", 16, "nm"),
                       _axis("x", 12, "nm")])
    mg = read_image(path)
    assert mg.is_stack and mg.n_frames == 5 and mg.frame_shape == (16, 12)
    assert mg.sampling == pytest.approx(0.5)  # x: 0.05 nm/px, not the 2 nm defocus step
    np.testing.assert_allclose(mg.frame(3), data[3])


def test_emd_all_signal_axes_ending_in_a_non_length_is_still_refused(tmp_path):
    from temseg.errors import InputError

    path = _write_emd(tmp_path / "si.emd", np.zeros((4, 6, 10), np.float32),
                      [_axis("y", 4, "nm"), _axis("x", 6, "nm"), _axis("E", 10, "eV")])
    with pytest.raises(InputError, match="no 2-D image or image stack"):
        read_image(path)


def test_emd_in_reciprocal_space_is_noted_not_claimed(tmp_path):
    path = _write_emd(tmp_path / "fft.emd", IMAGE,
                      [_axis("y", 16, "1/nm"), _axis("x", 12, "1/nm")])
    mg = read_image(path)
    assert mg.sampling is None and "sampling_source" not in mg.metadata
    assert "reciprocal space" in mg.metadata["sampling_ignored"]
    assert mg.metadata["sampling_ignored"].startswith("x axis calibration in 1")


def test_emd_non_square_pixels_warn_like_tiff(tmp_path):
    from temseg.io._rsciio import read_rsciio

    path = _write_emd(tmp_path / "rect.emd", IMAGE,
                      [_axis("y", 16, "nm", scale=0.1), _axis("x", 12, "nm")])
    with pytest.warns(UserWarning, match=r"rect\.emd: pixels are not square \(X 0\.5, Y 1 "):
        mg = read_image(path)
    assert mg.sampling == pytest.approx(0.5) and mg.metadata["sampling_y"] == pytest.approx(1.0)
    messages = []
    read_rsciio(path, warn=messages.append)
    assert messages == [f"{path}: pixels are not square (X 0.5, Y 1 Å/px); the X pixel size, "
                        "0.5 Å/px, is used"]
    square = _write_emd(tmp_path / "sq.emd", IMAGE, [_axis("y", 16, "nm"), _axis("x", 12, "nm")])
    assert "sampling_y" not in read_image(square).metadata  # and no warning (errors here)
