"""Labelled folders: pairing by stem, validation, binary and multi-class labels, graphene data."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from temseg.errors import BlankImageError, ConfigError, InputError
from temseg.io import find_pairs, read_labelled_folder, write_mask
from temseg.synthetic import particle_image


def _pair(folder, name, *, shape=(16, 16), seed=0, suffix="_LABEL", label=None):
    image, mask = particle_image(shape, radius_px=(3.0, 5.0), seed=seed)
    tifffile.imwrite(folder / f"{name}.tif", image)
    iio.imwrite(folder / f"{name}{suffix}.png", mask * 255 if label is None else label)
    return image, mask


def test_binary_pairs_round_trip(tmp_path):
    expected = {n: _pair(tmp_path, n, seed=i) for i, n in enumerate(["b", "a", "c"])}
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".a.png.tmp.png").write_bytes(b"hidden temp file")
    dataset = read_labelled_folder(tmp_path)
    assert dataset.names == ["a", "b", "c"] and len(dataset) == 3
    for pair in dataset:
        image, mask = expected[pair.name]
        assert pair.image.dtype == np.float32 and pair.label.dtype == np.uint8
        np.testing.assert_array_equal(pair.image, image)
        np.testing.assert_array_equal(pair.label, mask > 0)
    pooled = sum(int((m > 0).sum()) for _, m in expected.values()) / (3 * 16 * 16)
    assert dataset.label_fraction() == pytest.approx(pooled)
    assert dataset.n_classes == 2


def test_custom_suffix_and_sampling(tmp_path):
    _pair(tmp_path, "x", suffix="-mask")
    dataset = read_labelled_folder(tmp_path, label_suffix="-mask", sampling=0.9)
    assert dataset[0].sampling == 0.9 and dataset.label_suffix == "-mask"
    with pytest.raises(ConfigError, match="sampling"):
        read_labelled_folder(tmp_path, label_suffix="-mask", sampling=-2)


def test_multiclass_labels(tmp_path):
    label = np.zeros((16, 16), np.uint8)
    label[2:6, 2:6], label[8:12, 8:12] = 1, 3
    _pair(tmp_path, "m", label=label)
    dataset = read_labelled_folder(tmp_path, multiclass=True)
    np.testing.assert_array_equal(dataset[0].label, label)
    assert dataset.n_classes == 4
    messages: list[str] = []  # read as binary: said once for the folder, ids named
    binary = read_labelled_folder(tmp_path, warn=messages.append)
    np.testing.assert_array_equal(binary[0].label, label > 0)
    assert messages == [f"{tmp_path}: the labels hold 3 class ids (0, 1, 3), read as binary: "
                        "label > 0 is foreground, one class for all (`multiclass: true` in a "
                        "training recipe keeps them; a model of as many classes is scored per "
                        "class)"]


def test_written_masks_read_back(tmp_path):
    image, mask = particle_image((16, 16), radius_px=(3.0, 5.0), seed=3)
    tifffile.imwrite(tmp_path / "p.tif", image)
    write_mask(tmp_path / "p_LABEL.png", mask)  # 0/255 on disk
    np.testing.assert_array_equal(read_labelled_folder(tmp_path, multiclass=True)[0].label, mask)


def test_grey_label_saved_as_rgb_is_accepted_colour_is_not(tmp_path):
    image, mask = particle_image((16, 16), radius_px=(3.0, 5.0), seed=1)
    tifffile.imwrite(tmp_path / "a.tif", image)
    iio.imwrite(tmp_path / "a_LABEL.png", np.repeat((mask * 255)[..., None], 3, axis=-1))
    np.testing.assert_array_equal(read_labelled_folder(tmp_path)[0].label, mask)
    colour = np.zeros((16, 16, 3), np.uint8)
    colour[..., 0] = 255
    iio.imwrite(tmp_path / "a_LABEL.png", colour)
    with pytest.raises(InputError, match=r"a_LABEL\.png: label is a colour image"):
        read_labelled_folder(tmp_path)


def test_missing_label(tmp_path):
    _pair(tmp_path, "a")
    tifffile.imwrite(tmp_path / "lonely.tif", np.zeros((16, 16), np.float32))
    with pytest.raises(InputError, match=r"lonely\.tif: image without a label \(no lonely_LABEL"):
        read_labelled_folder(tmp_path)


def test_missing_image(tmp_path):
    _pair(tmp_path, "a")
    iio.imwrite(tmp_path / "orphan_LABEL.png", np.zeros((16, 16), np.uint8))
    with pytest.raises(InputError, match=r"orphan_LABEL\.png: label without an image"):
        find_pairs(tmp_path)


def test_duplicate_stems(tmp_path):
    _pair(tmp_path, "a")
    iio.imwrite(tmp_path / "a.png", np.zeros((16, 16), np.uint8))
    with pytest.raises(InputError, match="two files with the stem 'a'"):
        read_labelled_folder(tmp_path)


def test_shape_mismatch(tmp_path):
    _pair(tmp_path, "a", label=np.zeros((16, 15), np.uint8))
    with pytest.raises(InputError, match=r"a_LABEL\.png: label shape \(16, 15\) differs from "
                                         r"image shape \(16, 16\)"):
        read_labelled_folder(tmp_path)


def test_label_not_integer_valued(tmp_path):
    image, _ = particle_image((8, 8), radius_px=(2.0, 3.0), seed=0)
    tifffile.imwrite(tmp_path / "a.tif", image)
    tifffile.imwrite(tmp_path / "a_LABEL.tif", np.full((8, 8), 0.5, np.float32))
    with pytest.raises(InputError, match=r"a_LABEL\.tif: label is not integer-valued"):
        read_labelled_folder(tmp_path)
    tifffile.imwrite(tmp_path / "a_LABEL.tif", np.ones((8, 8), np.float32))  # integral floats ok
    assert read_labelled_folder(tmp_path)[0].label.sum() == 64


def test_lossy_and_anti_aliased_labels_warn_once_per_file(tmp_path):
    _, mask = _pair(tmp_path, "a", shape=(32, 32), seed=1)
    iio.imwrite(tmp_path / "a_LABEL.jpg", mask * 255, quality=75)  # JPEG rings: many values
    (tmp_path / "a_LABEL.png").unlink()
    from scipy import ndimage

    yy, xx = np.mgrid[:32, :32]  # a disc with a soft, blurred edge
    disc = ((yy - 16) ** 2 + (xx - 16) ** 2 <= 100).astype(float)
    ramp = np.round(ndimage.gaussian_filter(disc, 1.5) * 255).astype(np.uint8)
    n_soft = len(np.unique(ramp))
    _pair(tmp_path, "b", shape=(32, 32), seed=2, label=ramp)
    messages: list[str] = []
    dataset = read_labelled_folder(tmp_path, warn=messages.append)
    jpeg = iio.imread(tmp_path / "a_LABEL.jpg")
    n_jpeg, top = len(np.unique(jpeg)), int(jpeg.max())
    assert messages == [  # binary: read at half the maximum, said with the level
        f"{tmp_path / 'a_LABEL.jpg'}: {n_jpeg} distinct values (a lossy or anti-aliased "
        f"mask?); read as foreground above {top / 2:g}, half its maximum {top}",
        f"{tmp_path / 'b_LABEL.png'}: {n_soft} distinct values (a lossy or anti-aliased "
        "mask?); read as foreground above 127.5, half its maximum 255"]
    np.testing.assert_array_equal(dataset[0].label, jpeg > top / 2)
    np.testing.assert_array_equal(dataset[1].label, ramp > 127.5)
    with pytest.warns(UserWarning) as caught:  # the default: warnings.warn
        read_labelled_folder(tmp_path, multiclass=True)
    assert [str(w.message).split(": ")[0] for w in caught] == [
        str(tmp_path / "a_LABEL.jpg"), str(tmp_path / "b_LABEL.png")]
    assert "expected 0/1, 0/255 or a few class ids" in str(caught[0].message)


@pytest.mark.parametrize("values", [(0, 1), (0, 255), (0, 1, 2, 3, 4, 5, 6), (0, 15), (7,)])
def test_clean_labels_do_not_warn(tmp_path, values):
    label = np.resize(np.array(values, np.uint8), (16, 16))
    _pair(tmp_path, "a", label=label)
    messages: list[str] = []
    read_labelled_folder(tmp_path, multiclass=True, warn=messages.append)
    assert messages == []
    read_labelled_folder(tmp_path, warn=messages.append)  # binary: class ids are said
    assert len(messages) == (len(values) >= 3)


def test_constant_image_is_refused_naming_the_file(tmp_path):
    _pair(tmp_path, "a")
    iio.imwrite(tmp_path / "c.png", np.full((16, 16), 7, np.uint8))
    iio.imwrite(tmp_path / "c_LABEL.png", np.zeros((16, 16), np.uint8))
    with pytest.raises(BlankImageError, match=rf"^{tmp_path / 'c.png'}: constant image "
                                              r"\(value 7\)"):
        read_labelled_folder(tmp_path)


def test_pairs_know_their_files(tmp_path):
    _pair(tmp_path, "a")
    pair = read_labelled_folder(tmp_path)[0]
    assert (pair.path, pair.label_path) == (tmp_path / "a.tif", tmp_path / "a_LABEL.png")


def test_colour_image_in_a_folder_warns_through_the_same_callback(tmp_path, rng):
    iio.imwrite(tmp_path / "a.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    iio.imwrite(tmp_path / "a_LABEL.png", np.eye(8, dtype=np.uint8))
    messages: list[str] = []
    read_labelled_folder(tmp_path, warn=messages.append)
    assert messages == [f"{tmp_path / 'a.png'}: 3 samples/pixel (RGB) converted to grey"]


def test_empty_and_missing_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(InputError, match="no images"):
        read_labelled_folder(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        read_labelled_folder(tmp_path / "absent")
    with pytest.raises(InputError, match="not a folder"):
        read_labelled_folder(tmp_path / "readme.txt")


def test_stack_in_folder_refused(tmp_path):
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((3, 8, 8), np.float32), imagej=True,
                     metadata={"axes": "TYX"})
    iio.imwrite(tmp_path / "s_LABEL.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match=r"s\.tif: a stack of 3 frames"):
        read_labelled_folder(tmp_path)


def test_graphene_folder_loads(graphene_dir):
    calls = []
    dataset = read_labelled_folder(graphene_dir, callback=lambda d, t: calls.append(d))
    assert len(dataset) == 105 and calls[-1] == 105
    assert {p.image.shape for p in dataset} == {(256, 256)}
    assert {p.label.shape for p in dataset} == {(256, 256)}
    assert all(set(np.unique(p.label)) <= {0, 1} for p in dataset)
    # measured pooled foreground fraction: 0.12886 (the "≈ 0.2" is a rough figure)
    assert dataset.label_fraction() == pytest.approx(0.1289, abs=0.002)
