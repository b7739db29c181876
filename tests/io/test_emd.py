"""EMD (Berkeley/NCEM flavour) read for real: files written by RosettaSciIO's own EMD writer."""

import numpy as np
import pytest

from temseg.io import read_image

pytest.importorskip("h5py")


def _write_emd(path, data, *, pixel_nm, frame=(1.0, "")):
    from rsciio.emd import file_writer

    names = ["frame", "y", "x"][-data.ndim:]
    axes = [{"name": n, "size": s, "scale": pixel_nm if n in "xy" else frame[0], "offset": 0.0,
             "units": "nm" if n in "xy" else frame[1], "navigate": n == "frame"}
            for n, s in zip(names, data.shape)]
    file_writer(str(path), {"data": data, "axes": axes,
                            "metadata": {"General": {"title": "micrograph"}, "Signal": {}},
                            "original_metadata": {}})


def test_emd_image_with_sampling(tmp_path):
    data = np.random.default_rng(0).random((32, 48)).astype(np.float32)
    path = tmp_path / "image.emd"
    _write_emd(path, data, pixel_nm=0.05)
    micrograph = read_image(path)
    assert not micrograph.is_stack
    np.testing.assert_allclose(np.asarray(micrograph.data), data)
    assert micrograph.sampling == pytest.approx(0.5)   # 0.05 nm/px = 0.5 Å/px


def test_emd_stack_is_lazy(tmp_path):
    data = np.random.default_rng(1).random((4, 16, 24)).astype(np.float32)
    path = tmp_path / "stack.emd"
    _write_emd(path, data, pixel_nm=0.1)
    micrograph = read_image(path)
    assert micrograph.is_stack and micrograph.n_frames == 4
    frames = list(micrograph.frames())
    np.testing.assert_allclose(frames[2], data[2])
    assert micrograph.sampling == pytest.approx(1.0)


def test_emd_time_axis_gives_the_frame_interval(tmp_path):
    data = np.random.default_rng(2).random((3, 16, 16)).astype(np.float32)
    _write_emd(tmp_path / "movie.emd", data, pixel_nm=0.1, frame=(250.0, "ms"))
    movie = read_image(tmp_path / "movie.emd")
    assert movie.frame_interval_s == pytest.approx(0.25)
    assert movie.metadata["frame_interval_source"] == "frame axis (ms)"
    _write_emd(tmp_path / "numbered.emd", data, pixel_nm=0.1)  # frames counted, not timed
    assert read_image(tmp_path / "numbered.emd").frame_interval_s is None
