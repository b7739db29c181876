"""Inputs that used to be read silently wrong: frames stored as colour samples, values beyond
float32, tifffile's own log lines on damaged files."""

from __future__ import annotations

import logging
import warnings

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from temseg.errors import InputError
from temseg.io import read_image

# ---------------------------------------------------------------- colour samples → grey


@pytest.mark.parametrize(("n", "kind"), [(3, "RGB"), (4, "RGBA")])
def test_float_frames_saved_as_planar_colour_warn(tmp_path, rng, n, kind):
    frames = rng.normal(100, 10, (n, 12, 10)).astype(np.float32)
    # what tifffile.imwrite(f, frames) did by default (it now warns that it does)
    tifffile.imwrite(tmp_path / "f.tif", frames, photometric="rgb", planarconfig="separate",
                     **({"extrasamples": ["unassalpha"]} if n == 4 else {}))
    messages: list[str] = []
    mg = read_image(tmp_path / "f.tif", warn=messages.append)
    alpha = ", the last dropped as alpha" if n == 4 else ""
    assert messages == [f"{tmp_path / 'f.tif'}: {n} samples/pixel ({kind}) converted to grey"
                        f"{alpha}; if these are frames, save them with photometric='minisblack'"]
    assert mg.data.shape == (12, 10)  # the data are still folded, as before: the warning tells
    with pytest.warns(UserWarning, match=r"f\.tif: .* samples/pixel") as caught:
        read_image(tmp_path / "f.tif")
    assert len(caught) == 1 and caught[0].filename == __file__  # points at the caller


def test_frames_saved_as_minisblack_are_a_stack_without_warning(tmp_path, rng):
    frames = rng.normal(100, 10, (3, 12, 10)).astype(np.float32)
    tifffile.imwrite(tmp_path / "f.tif", frames, photometric="minisblack")
    messages: list[str] = []
    mg = read_image(tmp_path / "f.tif", warn=messages.append)
    assert mg.is_stack and mg.n_frames == 3 and messages == []


def test_colour_png_warns_grey_png_does_not(tmp_path, rng):
    rgba = rng.integers(0, 256, (6, 7, 4), dtype=np.uint8)
    iio.imwrite(tmp_path / "c.png", rgba)
    messages: list[str] = []
    read_image(tmp_path / "c.png", warn=messages.append)
    assert messages == [f"{tmp_path / 'c.png'}: 4 samples/pixel (RGBA) converted to grey, "
                        "the last dropped as alpha"]
    grey = np.repeat(rgba[..., :1], 3, axis=-1)
    grey = np.concatenate([grey, np.full((6, 7, 1), 255, np.uint8)], axis=-1)  # opaque
    iio.imwrite(tmp_path / "g.png", grey)
    messages.clear()
    np.testing.assert_allclose(read_image(tmp_path / "g.png", warn=messages.append).data,
                               rgba[..., 0], rtol=1e-5)
    assert messages == []  # nothing lost: no warning


def test_grey_plus_varying_alpha_warns(tmp_path, rng):
    la = rng.integers(0, 256, (5, 5, 2), dtype=np.uint8)
    iio.imwrite(tmp_path / "la.png", la)
    messages: list[str] = []
    read_image(tmp_path / "la.png", warn=messages.append)
    assert len(messages) == 1 and "2 samples/pixel (grey+alpha)" in messages[0]


# ---------------------------------------------------------------- values beyond float32


def test_values_beyond_float32_refused_without_a_runtime_warning(tmp_path, rng):
    image = rng.normal(0, 1, (9, 8)) * 1e300
    tifffile.imwrite(tmp_path / "h.tif", image)
    for allow in (False, True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(InputError, match=r"h\.tif: image has 72 value\(s\) beyond the "
                                                 r"float32 range \(up to .*e\+300"):
                read_image(tmp_path / "h.tif", allow_nonfinite=allow)
        assert caught == []


def test_float64_within_range_and_real_inf_unchanged(tmp_path, rng):
    image = rng.normal(0, 1, (9, 8)) * 1e30
    tifffile.imwrite(tmp_path / "ok.tif", image)
    np.testing.assert_array_equal(read_image(tmp_path / "ok.tif").data, image.astype(np.float32))
    image[0, 0] = np.inf
    tifffile.imwrite(tmp_path / "inf.tif", image)
    with pytest.raises(InputError, match=r"inf\.tif: image has 1 NaN/inf pixel"):
        read_image(tmp_path / "inf.tif")


def test_stack_frame_beyond_float32_refused(tmp_path, rng):
    frames = rng.normal(0, 1, (3, 6, 5))
    frames[1, 2, 2] = -1e200
    tifffile.imwrite(tmp_path / "s.tif", frames, photometric="minisblack")
    mg = read_image(tmp_path / "s.tif", allow_nonfinite=True)
    np.testing.assert_array_equal(mg.frame(0), frames[0].astype(np.float32))
    with pytest.raises(InputError, match=r"s\.tif: frame 1 has 1 value\(s\) beyond the float32"):
        mg.statistics()


# ---------------------------------------------------------------- tifffile's logger


def test_truncated_stack_logs_nothing_of_tifffile(tmp_path, rng, caplog):
    tifffile.imwrite(tmp_path / "s.tif", rng.normal(0, 1, (6, 16, 16)).astype(np.float32))
    data = (tmp_path / "s.tif").read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: len(data) * 2 // 3])
    with caplog.at_level(logging.DEBUG):
        mg = read_image(tmp_path / "t.tif")
        with pytest.raises(InputError, match=r"t\.tif: cannot read frame data"):
            mg.statistics()
    assert [r for r in caplog.records if r.name.startswith("tifffile")] == []
    assert logging.getLogger("tifffile").filters == []  # silenced only while we read
    with caplog.at_level(logging.DEBUG), tifffile.TiffFile(tmp_path / "t.tif") as tif:
        tif.pages.first  # outside our reads tifffile still logs (the test can see it)
        len(tif.pages)
    assert any(r.name == "tifffile" for r in caplog.records)


def test_non_square_pixels_are_warned_about(tmp_path):
    """X and Y calibrations that differ: the X one is used, and said so."""
    import tifffile

    from temseg.io import read_image

    path = tmp_path / "aniso.tif"
    tifffile.imwrite(path, (np.zeros((8, 8)) + np.arange(8)).astype(np.float32), imagej=True,
                     resolution=(2.0, 4.0), metadata={"unit": "nm"})
    messages = []
    mg = read_image(path, warn=messages.append)
    assert mg.sampling == pytest.approx(5.0)  # 0.5 nm per px in X
    assert len(messages) == 1 and "pixels are not square" in messages[0]
    square = tmp_path / "square.tif"
    tifffile.imwrite(square, (np.zeros((8, 8)) + np.arange(8)).astype(np.float32), imagej=True,
                     resolution=(2.0, 2.0), metadata={"unit": "nm"})
    messages.clear()
    assert read_image(square, warn=messages.append).sampling == pytest.approx(5.0)
    assert messages == []
