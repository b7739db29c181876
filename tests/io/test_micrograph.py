"""read_image: round trips per format, calibrations, lazy stacks, and every bad-input case."""

from __future__ import annotations

import dask.array as da
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from temseg.errors import ConfigError, InputError
from temseg.io import Micrograph, read_image, write_tiff
from temseg.io._meta import angstrom_per_unit, flatten_metadata, to_angstrom


# ---------------------------------------------------------------- PNG / JPEG

def test_png_8_and_16_bit_round_trip(tmp_path, rng):
    for dtype in (np.uint8, np.uint16):
        image = rng.integers(0, np.iinfo(dtype).max, (12, 17), dtype=dtype)
        iio.imwrite(tmp_path / "a.png", image)
        mg = read_image(tmp_path / "a.png")
        assert mg.data.dtype == np.float32 and mg.data.shape == (12, 17)
        np.testing.assert_array_equal(mg.data, image.astype(np.float32))
        assert mg.sampling is None and not mg.is_stack and mg.n_frames == 1
        assert mg.metadata["format"] == "PNG" and mg.metadata["dtype"] == np.dtype(dtype).name


def test_rgb_png_becomes_luminance(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    iio.imwrite(tmp_path / "c.png", rgb)
    with pytest.warns(UserWarning, match=r"c\.png: 3 samples/pixel \(RGB\) converted to grey$"):
        grey = read_image(tmp_path / "c.png").data
    expected = 0.2125 * 200 + 0.7154 * 100 + 0.0721 * 50  # Rec. 709 weights, intensity scale kept
    assert grey.shape == (4, 5)
    np.testing.assert_allclose(grey, expected, rtol=1e-5)


def test_rgba_png_drops_alpha(tmp_path):
    rgba = np.full((3, 3, 4), 80, np.uint8)
    rgba[..., 3] = 7
    iio.imwrite(tmp_path / "c.png", rgba)
    np.testing.assert_allclose(read_image(tmp_path / "c.png").data, 80, rtol=1e-5)


def test_jpeg_round_trip_within_compression_error(tmp_path):
    yy, xx = np.mgrid[:32, :32]
    image = (100 + 50 * np.sin(xx / 5.0) * np.cos(yy / 7.0)).astype(np.uint8)
    iio.imwrite(tmp_path / "a.jpg", image, quality=95)
    mg = read_image(tmp_path / "a.jpg")
    assert mg.metadata["format"] == "JPEG"
    assert np.abs(mg.data - image).mean() < 2.0  # JPEG at quality 95: ~1 grey level


# ---------------------------------------------------------------- TIFF

@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_plain_tiff_dtypes(tmp_path, rng, dtype):
    image = (rng.random((9, 11)) * 1000).astype(dtype)
    tifffile.imwrite(tmp_path / "a.tif", image)
    mg = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(mg.data, image.astype(np.float32))
    assert mg.sampling is None  # tifffile's default resolution has no unit


def test_imagej_pixel_size_in_nm_and_micron(tmp_path):
    image = np.zeros((8, 8), np.float32)
    tifffile.imwrite(tmp_path / "nm.tif", image, imagej=True, resolution=(1 / 0.0123, 1 / 0.0123),
                     metadata={"unit": "nm"})
    assert read_image(tmp_path / "nm.tif").sampling == pytest.approx(0.123, rel=1e-6)
    tifffile.imwrite(tmp_path / "um.tif", image, imagej=True, resolution=(500, 500),
                     metadata={"unit": "micron"})
    mg = read_image(tmp_path / "um.tif")
    assert mg.sampling == pytest.approx(20.0, rel=1e-6)  # 1/500 µm = 2 nm = 20 Å
    assert mg.metadata["sampling_source"] == "ImageJ unit"


def test_imagej_escaped_micro_sign(tmp_path):
    tifffile.imwrite(tmp_path / "u.tif", np.zeros((4, 4), np.float32), imagej=True,
                     resolution=(1000, 1000), metadata={"unit": "\\u00B5m"})
    assert read_image(tmp_path / "u.tif").sampling == pytest.approx(10.0, rel=1e-6)


def test_ome_pixel_size(tmp_path):
    tifffile.imwrite(tmp_path / "a.ome.tif", np.ones((6, 7), np.uint16), ome=True,
                     metadata={"PhysicalSizeX": 0.25, "PhysicalSizeXUnit": "nm"})
    mg = read_image(tmp_path / "a.ome.tif")
    assert mg.sampling == pytest.approx(2.5)
    assert mg.metadata["sampling_source"] == "OME PhysicalSizeX"
    tifffile.imwrite(tmp_path / "b.ome.tif", np.ones((6, 7), np.uint16), ome=True,
                     metadata={"PhysicalSizeX": 0.002})  # OME's default unit is µm
    assert read_image(tmp_path / "b.ome.tif").sampling == pytest.approx(20.0)


def test_resolution_tags_cm_and_print_dpi_ignored(tmp_path):
    image = np.ones((4, 4), np.float32)
    tifffile.imwrite(tmp_path / "cm.tif", image, resolution=(2e7, 2e7), resolutionunit="CENTIMETER")
    assert read_image(tmp_path / "cm.tif").sampling == pytest.approx(5.0)  # 1/2e7 cm = 0.5 nm
    tifffile.imwrite(tmp_path / "dpi.tif", image, resolution=(72, 72), resolutionunit="INCH")
    mg = read_image(tmp_path / "dpi.tif")
    assert mg.sampling is None and "sampling_source" not in mg.metadata
    assert mg.metadata["sampling_ignored"] == ("TIFF resolution of 72 px/inch (a print "
                                               "resolution) ignored")


def test_rgb_tiff_becomes_grey(tmp_path):
    rgb = np.full((5, 6, 3), 100, np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    mg = read_image(tmp_path / "rgb.tif")
    assert mg.data.shape == (5, 6)
    np.testing.assert_allclose(mg.data, 100, rtol=1e-5)


def test_sampling_argument_overrides_file(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", np.ones((4, 4), np.float32), imagej=True,
                     resolution=(10, 10), metadata={"unit": "nm"})
    mg = read_image(tmp_path / "a.tif", sampling=0.7)
    assert mg.sampling == 0.7
    assert mg.metadata["sampling_in_file"] == pytest.approx(1.0)
    for bad in (0, -1.0, float("nan"), "x"):
        with pytest.raises(ConfigError, match="sampling"):
            read_image(tmp_path / "a.tif", sampling=bad)


# ---------------------------------------------------------------- stacks

def test_multipage_tiff_is_lazy_and_yields_frames(tmp_path, rng):
    stack = rng.random((6, 10, 12)).astype(np.float32)
    tifffile.imwrite(tmp_path / "s.tif", stack, imagej=True, metadata={"axes": "TYX"})
    mg = read_image(tmp_path / "s.tif")
    assert isinstance(mg.data, da.Array) and mg.is_stack and mg.n_frames == 6
    assert mg.data.chunksize == (1, 10, 12)  # one frame per chunk: read on demand
    frames = mg.frames()
    first = next(frames)
    assert first.dtype == np.float32 and first.shape == (10, 12)
    np.testing.assert_array_equal(first, stack[0])
    np.testing.assert_array_equal(np.stack([first, *frames]), stack)
    np.testing.assert_array_equal(mg.frame(3), stack[3])


@pytest.mark.parametrize("shaped", [True, False])
def test_page_by_page_tiff_is_a_lazy_stack(tmp_path, rng, shaped):
    """Pages written one by one (tifffile series per page, or a generic multi-page TIFF)."""
    stack = rng.integers(0, 60000, (4, 8, 8), dtype=np.uint16)
    with tifffile.TiffWriter(tmp_path / "p.tif", shaped=shaped) as writer:
        for frame in stack:
            writer.write(frame, contiguous=False)
    mg = read_image(tmp_path / "p.tif")
    assert mg.is_stack and mg.data.dtype == np.uint16 and mg.data.chunksize == (1, 8, 8)
    np.testing.assert_array_equal(mg.frame(1), stack[1].astype(np.float32))
    np.testing.assert_array_equal(np.stack(list(mg.frames())), stack)
    np.testing.assert_array_equal(mg.data[1:3, 2:4].compute(), stack[1:3, 2:4])


def test_stack_statistics_match_numpy(tmp_path, rng):
    stack = (rng.normal(1000.0, 30.0, (5, 16, 16))).astype(np.float32)
    tifffile.imwrite(tmp_path / "s.tif", stack, imagej=True, metadata={"axes": "TYX"})
    calls = []
    stats = read_image(tmp_path / "s.tif").statistics(callback=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (5, 5) and len(calls) == 5
    assert stats["min"] == pytest.approx(stack.min()) and stats["max"] == pytest.approx(stack.max())
    assert stats["mean"] == pytest.approx(stack.astype(np.float64).mean(), rel=1e-9)
    assert stats["std"] == pytest.approx(stack.astype(np.float64).std(), rel=1e-6)


def test_nan_in_stack_is_reported_per_frame(tmp_path):
    stack = np.ones((3, 4, 4), np.float32)
    stack[2, 1, 1] = np.nan
    tifffile.imwrite(tmp_path / "s.tif", stack, imagej=True, metadata={"axes": "TYX"})
    mg = read_image(tmp_path / "s.tif")  # lazy: opening does not read the pixels
    np.testing.assert_array_equal(mg.frame(0), 1.0)
    with pytest.raises(InputError, match=r"s\.tif: frame 2 has 1 NaN/inf"):
        list(mg.frames())


def test_single_frame_stack_is_an_image(tmp_path):
    tifffile.imwrite(tmp_path / "one.tif", np.ones((1, 5, 5), np.float32), imagej=True,
                     metadata={"axes": "TYX"})
    mg = read_image(tmp_path / "one.tif")
    assert not mg.is_stack and isinstance(mg.data, np.ndarray) and mg.data.shape == (5, 5)


# ---------------------------------------------------------------- Hypothesis

@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dtype=st.sampled_from(["uint8", "uint16", "int32", "float32", "float64"]),
       height=st.integers(1, 24), width=st.integers(1, 24), seed=st.integers(0, 2**16),
       suffix=st.sampled_from([".tif", ".png"]))
def test_reader_round_trip_any_dtype_and_shape(tmp_path, dtype, height, width, seed, suffix):
    if suffix == ".png" and dtype not in ("uint8", "uint16"):
        suffix = ".tif"  # PNG holds only 8/16-bit integers
    gen = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    image = (gen.integers(max(info.min, -1000), min(info.max, 70000), (height, width)).astype(dtype)
             if info else gen.normal(0, 1e3, (height, width)).astype(dtype))
    path = tmp_path / f"h{suffix}"
    (iio.imwrite(path, image) if suffix == ".png" else tifffile.imwrite(path, image))
    mg = read_image(path)
    assert mg.data.shape == (height, width) and mg.data.dtype == np.float32
    np.testing.assert_array_equal(mg.data, image.astype(np.float32))


@given(scale=st.floats(1e-6, 1e6), unit=st.sampled_from(["nm", "Å", "µm", "um", "m", "pm"]))
def test_unit_conversion(scale, unit):
    factor = {"nm": 10, "Å": 1, "µm": 1e4, "um": 1e4, "m": 1e10, "pm": 0.01}[unit]
    assert to_angstrom(scale, unit) == pytest.approx(scale * factor, rel=1e-12)


def test_units_not_lengths_are_uncalibrated():
    assert angstrom_per_unit("1/nm") is None and angstrom_per_unit("<undefined>") is None
    assert to_angstrom(1.0, None) is None and to_angstrom(0.0, "nm") is None
    assert to_angstrom(float("nan"), "nm") is None


def test_flatten_metadata_is_json_safe():
    import json

    flat = flatten_metadata({"a": {"b": np.float32(2.5), "c": b"raw", "d": [1, 2],
                                   "e": np.arange(100), "f": float("inf"), "_private": 1},
                             "s": "x" * 1000})
    assert flat["a.b"] == 2.5 and flat["a.d"] == [1, 2] and flat["a.f"] == "inf"
    assert "a.c" not in flat and "a.e" not in flat and "a._private" not in flat
    assert len(flat["s"]) <= 300
    json.dumps(flat)


# ---------------------------------------------------------------- bad input

def test_missing_path(tmp_path):
    with pytest.raises(InputError, match=r"nope\.png: no such file"):
        read_image(tmp_path / "nope.png")


def test_directory_given(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        read_image(tmp_path)


def test_unreadable_path(tmp_path):
    import os

    path = tmp_path / "locked.png"
    iio.imwrite(path, np.zeros((4, 4), np.uint8))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root ignores permissions
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(InputError, match=r"locked\.png: cannot read"):
            read_image(path)
    finally:
        path.chmod(0o644)


def test_unreadable_path_reported(tmp_path, monkeypatch):
    """Also as root: make the open fail the way a permission error does."""
    from temseg.io import micrograph

    iio.imwrite(tmp_path / "p.png", np.zeros((4, 4), np.uint8))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(micrograph, "open", denied, raising=False)
    with pytest.raises(InputError, match=r"p\.png: cannot read \(Permission denied\)"):
        read_image(tmp_path / "p.png")


def test_unknown_extension(tmp_path):
    (tmp_path / "a.xyz").write_bytes(b"12345")
    with pytest.raises(InputError, match=r"a\.xyz: unknown file type '\.xyz'"):
        read_image(tmp_path / "a.xyz")


@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a.tif", "a.dm4", "a.mrc", "a.ser"])
def test_corrupt_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"this is not an image at all" * 3)
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        read_image(tmp_path / name)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_truncated_file(tmp_path, rng, suffix):
    image = rng.integers(0, 255, (64, 64), dtype=np.uint8)
    full = tmp_path / f"full{suffix}"
    (iio.imwrite(full, image) if suffix == ".png" else tifffile.imwrite(full, image))
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InputError, match=f"cut\\{suffix}"):
        read_image(cut)


def test_a_truncated_imagej_stack_is_not_read_as_its_first_frame(tmp_path, rng):
    stack = rng.gamma(4.0, 25.0, (6, 32, 32)).astype(np.float32)
    full = write_tiff(tmp_path / "full.tif", stack, sampling=1.0)
    assert read_image(full).n_frames == 6
    cut = tmp_path / "cut.tif"  # a copy cut short: tifffile finds only the first page
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    with pytest.raises(InputError, match=r"cut\.tif: truncated or corrupt stack: its ImageJ "
                                         r"header promises 6 images, the file holds 1$"):
        read_image(cut)


def test_empty_file(tmp_path):
    (tmp_path / "e.tif").write_bytes(b"")
    with pytest.raises(InputError, match=r"e\.tif"):
        read_image(tmp_path / "e.tif")


def test_1d_array(tmp_path):
    tifffile.imwrite(tmp_path / "line.tif", np.arange(10, dtype=np.float32)[None, :],
                     shaped=False)
    # a 1-pixel-high image is 2-D and allowed; a true 1-D file comes from rsciio/npy-like sources
    assert read_image(tmp_path / "line.tif").data.shape == (1, 10)


def test_1d_and_4d_arrays_rejected(tmp_path, monkeypatch):
    from temseg.io import micrograph

    for shape in [(10,), (2, 3, 4, 5)]:
        monkeypatch.setattr(micrograph, "_load",
                            lambda path, s=shape, **_: (np.zeros(s, np.float32), None, {}, "TIFF"))
        (tmp_path / "x.tif").write_bytes(b"x")
        with pytest.raises(InputError, match=rf"x\.tif: expected a 2-D image .* {len(shape)}-D"):
            read_image(tmp_path / "x.tif")


def test_4d_tiff_rejected(tmp_path):
    tifffile.imwrite(tmp_path / "h.tif", np.zeros((2, 3, 4, 5), np.float32), imagej=True,
                     metadata={"axes": "TZYX"})
    with pytest.raises(InputError, match=r"h\.tif: expected .* got a 4-D array"):
        read_image(tmp_path / "h.tif")


def test_4d_class_probabilities_are_refused_naming_the_axes(tmp_path):
    # segment writes a stack of focal series' class probabilities as (series, class, H, W)
    tifffile.imwrite(tmp_path / "s_prob.tif", np.zeros((2, 4, 6, 5), np.float32), imagej=True,
                     metadata={"axes": "TCYX"})
    with pytest.raises(InputError) as info:
        read_image(tmp_path / "s_prob.tif")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 's_prob.tif'}: expected a 2-D image or a 3-D "
                              "stack (frames, H, W), got a 4-D array of shape (2, 4, 6, 5), "
                              "axes TCYX (a hyperstack")
    assert "tifffile.imread or Fiji" in message and "\n" not in message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_pixels(tmp_path, bad):
    image = np.ones((5, 5), np.float32)
    image[2, 3] = bad
    tifffile.imwrite(tmp_path / "n.tif", image)
    with pytest.raises(InputError, match=r"n\.tif: image has 1 NaN/inf pixel"):
        read_image(tmp_path / "n.tif")


def test_complex_rejected(tmp_path):
    tifffile.imwrite(tmp_path / "c.tif", np.ones((4, 4), np.complex64))
    with pytest.raises(InputError, match="complex"):
        read_image(tmp_path / "c.tif")


def test_repr_is_short():
    mg = Micrograph(np.zeros((300, 300), np.float32), 0.5)
    assert len(repr(mg)) < 120 and "300, 300" in repr(mg)


def test_tiff_frame_interval_from_imagej_and_ome(tmp_path):
    import tifffile

    stack = np.zeros((3, 8, 8), np.uint16)
    tifffile.imwrite(tmp_path / "ij.tif", stack, imagej=True,
                     metadata={"axes": "TYX", "finterval": 40, "tunit": "ms"})
    movie = read_image(tmp_path / "ij.tif")
    assert movie.frame_interval_s == pytest.approx(0.04)
    assert movie.metadata["frame_interval_source"] == "ImageJ finterval"
    tifffile.imwrite(tmp_path / "sec.tif", stack, imagej=True,  # ImageJ's unit: seconds
                     metadata={"axes": "TYX", "finterval": 2.5})
    assert read_image(tmp_path / "sec.tif").frame_interval_s == pytest.approx(2.5)
    tifffile.imwrite(tmp_path / "m.ome.tif", stack, ome=True,
                     metadata={"axes": "TYX", "TimeIncrement": 0.5, "TimeIncrementUnit": "s"})
    assert read_image(tmp_path / "m.ome.tif").frame_interval_s == pytest.approx(0.5)
    tifffile.imwrite(tmp_path / "plain.tif", stack, photometric="minisblack")
    assert read_image(tmp_path / "plain.tif").frame_interval_s is None


def test_read_frames_refuses_a_stack_and_another_pixel_size(tmp_path):
    from temseg.io import read_frames

    frame = np.ones((8, 8), np.float32)
    a = write_tiff(tmp_path / "a.tif", frame, sampling=1.0)
    b = write_tiff(tmp_path / "b.tif", frame, sampling=1.5)
    c = write_tiff(tmp_path / "c.tif", np.stack([frame, frame]), sampling=1.0)
    with pytest.raises(InputError, match="b.tif: 1.5 Å/px, but a.tif has 1 Å/px"):
        read_frames([a, b])
    with pytest.raises(InputError, match="c.tif: a stack of 2 frames"):
        read_frames([a, c])
    movie = read_frames([a, b], sampling=2.0)  # one pixel size given for all
    assert movie.sampling == 2.0 and movie.n_frames == 2
    assert movie.metadata["frame_files"] == [str(a), str(b)]
