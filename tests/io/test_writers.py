"""Writers: TIFF with sampling, masks, overlays, confusion maps; atomic on failure."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from temseg.errors import InputError
from temseg.io import (read_image, write_confusion_overlay, write_mask, write_overlay,
                       write_tiff)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sampling=st.floats(0.01, 100.0), frames=st.sampled_from([0, 3]))
def test_write_tiff_round_trips_sampling(tmp_path, sampling, frames):
    gen = np.random.default_rng(7)
    shape = (frames, 6, 5) if frames else (6, 5)
    array = gen.normal(0, 1, shape)
    path = write_tiff(tmp_path / "a.tif", array, sampling=sampling)
    mg = read_image(path)
    assert mg.sampling == pytest.approx(sampling, rel=1e-6)
    assert mg.is_stack == bool(frames)
    np.testing.assert_array_equal(np.stack(list(mg.frames())).reshape(shape),
                                  array.astype(np.float32))


def test_write_tiff_without_sampling(tmp_path):
    write_tiff(tmp_path / "a.tif", np.ones((3, 3)))
    mg = read_image(tmp_path / "a.tif")
    assert mg.sampling is None and mg.metadata["dtype"] == "float32"
    with pytest.raises(InputError, match="2-D images or 3-D stacks"):
        write_tiff(tmp_path / "b.tif", np.ones(3))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_write_mask_binary_and_classes(tmp_path, suffix):
    binary = np.zeros((5, 6), bool)
    binary[1:3, 2:5] = True
    write_mask(tmp_path / f"b{suffix}", binary)
    stored = iio.imread(tmp_path / f"b{suffix}") if suffix == ".png" else tifffile.imread(
        tmp_path / f"b{suffix}")
    assert stored.dtype == np.uint8 and set(np.unique(stored)) == {0, 255}
    np.testing.assert_array_equal(stored > 0, binary)
    classes = np.arange(30).reshape(5, 6) % 4
    write_mask(tmp_path / f"c{suffix}", classes)
    stored = iio.imread(tmp_path / f"c{suffix}") if suffix == ".png" else tifffile.imread(
        tmp_path / f"c{suffix}")
    np.testing.assert_array_equal(stored, classes)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_write_mask_keeps_the_pixel_size(tmp_path, suffix):
    """A mask is read back with its pixel size (HRTEM sizes too fine for PNG's pHYs)."""
    classes = np.arange(30).reshape(5, 6) % 3
    write_mask(tmp_path / f"m{suffix}", classes, sampling=0.0731)
    mg = read_image(tmp_path / f"m{suffix}")
    assert mg.sampling == pytest.approx(0.0731, rel=1e-6)
    assert "sampling" not in mg.metadata
    np.testing.assert_array_equal(mg.data, classes)
    write_mask(tmp_path / f"n{suffix}", classes)  # no pixel size given: none read
    assert read_image(tmp_path / f"n{suffix}").sampling is None
    with pytest.raises(Exception, match="pixel size"):
        write_mask(tmp_path / f"z{suffix}", classes, sampling=0.0)
    assert not (tmp_path / f"z{suffix}").exists()


def test_png_pixel_size_text_is_trusted_only_when_valid(tmp_path):
    from PIL import Image, PngImagePlugin

    from temseg.io.micrograph import PNG_SAMPLING_KEY

    for i, text in enumerate(["nan", "-1", "abc"]):
        info = PngImagePlugin.PngInfo()
        info.add_text(PNG_SAMPLING_KEY, text)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / f"{i}.png", pnginfo=info)
        assert read_image(tmp_path / f"{i}.png").sampling is None


def test_write_mask_refuses_bad_masks(tmp_path):
    with pytest.raises(InputError, match=r"m\.jpg: masks are written as"):
        write_mask(tmp_path / "m.jpg", np.zeros((3, 3), np.uint8))
    with pytest.raises(InputError, match="integer class ids"):
        write_mask(tmp_path / "m.png", np.full((3, 3), 0.5))
    with pytest.raises(InputError, match="does not fit"):
        write_mask(tmp_path / "m.png", np.full((3, 3), 300))
    with pytest.raises(InputError, match="negative"):
        write_mask(tmp_path / "m.png", np.full((3, 3), -1))
    with pytest.raises(InputError, match="2-D"):
        write_mask(tmp_path / "m.png", np.zeros((2, 3, 3), np.uint8))
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_write_overlay_tints_only_the_mask(tmp_path):
    image = np.tile(np.linspace(0, 1, 20, dtype=np.float32), (10, 1))
    mask = np.zeros((10, 20), np.uint8)
    mask[:, 10:] = 1
    write_overlay(tmp_path / "o.png", image, mask, color=(0, 255, 0), alpha=0.5)
    rgb = iio.imread(tmp_path / "o.png")
    assert rgb.shape == (10, 20, 3) and rgb.dtype == np.uint8
    outside = rgb[:, :10]
    np.testing.assert_array_equal(outside[..., 0], outside[..., 1])  # untinted: grey
    inside = rgb[:, 10:].astype(int)
    assert (inside[..., 1] - inside[..., 0] >= 127).all()  # half green added
    with pytest.raises(InputError, match="differ in shape"):
        write_overlay(tmp_path / "x.png", image, mask[:, :5])
    with pytest.raises(InputError, match=r"x\.jpg: overlays are written as \.png"):
        write_overlay(tmp_path / "x.jpg", image, mask)


def test_confusion_overlay_colours(tmp_path):
    pred = np.array([[1, 1], [0, 0]])
    truth = np.array([[1, 0], [1, 0]])
    write_confusion_overlay(tmp_path / "c.png", pred, truth)
    rgb = iio.imread(tmp_path / "c.png")
    assert tuple(rgb[0, 0]) == (255, 255, 255)  # TP white
    assert tuple(rgb[0, 1]) == (255, 0, 0)      # FP red
    assert tuple(rgb[1, 0]) == (0, 0, 255)      # FN blue
    assert tuple(rgb[1, 1]) == (0, 0, 0)        # TN black
    with pytest.raises(InputError, match=r"d\.png: prediction"):
        write_confusion_overlay(tmp_path / "d.png", pred, truth[:1])


def test_failed_write_leaves_old_file(tmp_path, monkeypatch):
    path = write_mask(tmp_path / "m.png", np.ones((4, 4), bool))
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    from PIL import Image

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        write_mask(path, np.zeros((4, 4), bool))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]


def test_write_tiff_channels_and_hyperstacks(tmp_path):
    proba = np.random.default_rng(0).random((4, 8, 6)).astype(np.float32)
    write_tiff(tmp_path / "k.tif", proba, sampling=0.5, axes="CYX")
    with tifffile.TiffFile(tmp_path / "k.tif") as tif:
        assert tif.series[0].axes == "CYX"
    assert read_image(tmp_path / "k.tif").sampling == pytest.approx(0.5)
    write_tiff(tmp_path / "h.tif", np.stack([proba, proba]), sampling=0.5)
    with tifffile.TiffFile(tmp_path / "h.tif") as tif:
        assert tif.series[0].axes == "TCYX" and tif.series[0].shape == (2, 4, 8, 6)
        np.testing.assert_array_equal(tif.asarray()[1], proba)
    with pytest.raises(InputError, match=r"axes 'CYX' do not fit a 2-D array \(use YX\)"):
        write_tiff(tmp_path / "x.tif", proba[0], axes="CYX")


def test_class_overlay_colours_each_class_and_names_them(tmp_path):
    from temseg.io.writers import class_color, class_overlay_rgb, write_class_overlay

    image = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    mask = np.zeros((16, 16), np.uint8)
    mask[2:5, 2:5], mask[8:11, 8:11], mask[12:15, 1:4] = 1, 2, 3
    rgb = class_overlay_rgb(image, mask, n_classes=4, alpha=1.0)
    assert [tuple(rgb[y, x]) for y, x in ((3, 3), (9, 9), (13, 2))] == [
        class_color(1), class_color(2), class_color(3)]
    assert len({class_color(c) for c in (1, 2, 3)}) == 3
    assert rgb[0, 15, 0] == rgb[0, 15, 1] == rgb[0, 15, 2]  # background stays grey
    path = write_class_overlay(tmp_path / "o.png", image, mask,
                               classes=["background", "Mo", "S2", "S1"], title="t")
    png = iio.imread(path)
    assert png.shape[1] == 512 and png.shape[0] > 512  # enlarged 32×, legend strip below
    with pytest.raises(InputError, match=r"class indices 0\.\.2"):
        write_class_overlay(tmp_path / "p.png", image, mask, classes=["bg", "a", "b"])


def test_class_confusion_marks_the_wrong_class_yellow(tmp_path):
    pred = np.array([[1, 2, 0, 3]])
    truth = np.array([[1, 3, 2, 0]])
    write_confusion_overlay(tmp_path / "c.png", pred, truth, classes=True)
    rgb = iio.imread(tmp_path / "c.png")
    assert [tuple(v) for v in rgb[0]] == [(255, 255, 255), (255, 255, 0), (0, 0, 255),
                                          (255, 0, 0)]
    binary = iio.imread(write_confusion_overlay(tmp_path / "d.png", pred, truth))
    assert tuple(binary[0, 1]) == (255, 255, 255)  # without classes any foreground is a hit


def test_a_small_confusion_map_is_enlarged_with_its_scale_bar(tmp_path):
    """A 64² simulated image's map was a thumbnail whose bar label read "5 A" in 9 px."""
    from temseg.io.writers import scale_bar_geometry

    truth = np.zeros((64, 48), bool)
    truth[10:30, 10:30] = True
    pred = np.roll(truth, 3, axis=1)
    write_confusion_overlay(tmp_path / "s.png", pred, truth, sampling=0.3, min_side_px=256)
    big = iio.imread(tmp_path / "s.png")
    assert big.shape == (256, 192, 3)  # 4× (whole multiples)
    np.testing.assert_array_equal(big[40:44, 52:56], 255)  # a TP pixel, 4 × 4 now
    geo = scale_bar_geometry((256, 192), 0.3 / 4)
    assert (big[geo["y"], geo["x"]:geo["x"] + geo["length_px"]] == 255).all()
    write_confusion_overlay(tmp_path / "n.png", pred, truth)  # by default as it is
    assert iio.imread(tmp_path / "n.png").shape == (64, 48, 3)


def test_an_rgb_array_is_not_written_as_a_stack_of_slivers(tmp_path):
    """(256, 256, 3) became 256 frames of 256 × 3 px."""
    with pytest.raises(InputError, match=r"looks like an RGB\(A\) image \(H, W, 3\)"):
        write_tiff(tmp_path / "rgb.tif", np.zeros((256, 256, 3)), sampling=0.3)
    assert not (tmp_path / "rgb.tif").exists()
    write_tiff(tmp_path / "frames.tif", np.zeros((3, 16, 16)))  # three frames: a stack
    assert read_image(tmp_path / "frames.tif").n_frames == 3
