"""Labelled folders as people lay them out: images/ beside masks/, label suffixes other than
``_LABEL`` (named in the error), microscope formats as the images."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from temseg.errors import InputError
from temseg.io import find_pairs, read_labelled_folder
from temseg.synthetic import particle_image


def _image(path, seed=0, shape=(16, 16)):
    image, mask = particle_image(shape, radius_px=(3.0, 5.0), seed=seed)
    if path.suffix == ".tif":
        tifffile.imwrite(path, image)
    else:
        iio.imwrite(path, (np.clip(image - image.min(), 0, None) / np.ptp(image) * 255)
                    .astype(np.uint8))
    return mask


def _side_by_side(root, names=("a", "b"), *, images="images", masks="masks", suffix=""):
    (root / images).mkdir(parents=True)
    (root / masks).mkdir()
    truth = {}
    for i, name in enumerate(names):
        truth[name] = _image(root / images / f"{name}.png", seed=i)
        iio.imwrite(root / masks / f"{name}{suffix}.png", truth[name] * 255)
    return truth


@pytest.mark.parametrize("images, masks", [("images", "masks"), ("Images", "Labels"),
                                           ("images", "GT"), ("imgs", "ground_truth"),
                                           ("image", "mask"), ("images", "label")])
def test_images_beside_masks_are_paired_by_name(tmp_path, images, masks):
    truth = _side_by_side(tmp_path, images=images, masks=masks)
    dataset = read_labelled_folder(tmp_path)
    assert dataset.names == ["a", "b"]
    for pair in dataset:
        assert pair.path == tmp_path / images / f"{pair.name}.png"
        assert pair.label_path == tmp_path / masks / f"{pair.name}.png"
        np.testing.assert_array_equal(pair.label, truth[pair.name])


def test_labels_beside_may_carry_the_suffix(tmp_path):
    truth = _side_by_side(tmp_path, suffix="_mask")
    pairs = find_pairs(tmp_path, label_suffix="_mask")
    assert [(i.name, lab.name) for i, lab in pairs] == [("a.png", "a_mask.png"),
                                                        ("b.png", "b_mask.png")]
    dataset = read_labelled_folder(tmp_path, label_suffix="_mask")
    assert dataset.names == ["a", "b"]
    np.testing.assert_array_equal(dataset[1].label, truth["b"])
    with pytest.raises(InputError, match=r"a_mask\.png: looks like the label of a, .*"
                                         r"--label-suffix _mask"):
        find_pairs(tmp_path)  # the default _LABEL: the suffix to give is named


def test_side_by_side_orphans_name_the_file(tmp_path):
    _side_by_side(tmp_path)
    iio.imwrite(tmp_path / "masks" / "c.png", np.zeros((16, 16), np.uint8))
    with pytest.raises(InputError, match=r"masks/c\.png: label without an image \(no c\.\* in "
                                         r".*images\)"):
        find_pairs(tmp_path)
    (tmp_path / "masks" / "c.png").unlink()
    _image(tmp_path / "images" / "d.png", seed=3)
    with pytest.raises(InputError, match=r"images/d\.png: image without a label \(no d\.\* in "
                                         r".*masks\)"):
        find_pairs(tmp_path)


def test_side_by_side_needs_one_of_each(tmp_path):
    _side_by_side(tmp_path)
    (tmp_path / "labels").mkdir()
    with pytest.raises(InputError, match=r"holds images/, labels/, masks/; a labelled folder "
                                         "holds one images/"):
        find_pairs(tmp_path)


def test_giving_the_images_folder_itself_says_to_give_its_parent(tmp_path):
    _side_by_side(tmp_path / "DATA")
    with pytest.raises(InputError, match=r"image without a label .*; give .*DATA instead: it "
                                         r"pairs images/ with masks/ by name"):
        find_pairs(tmp_path / "DATA" / "images")


@pytest.mark.parametrize("suffix", ["_mask", "-mask", "_label", "_labels", "_gt", "_seg",
                                    "_Mask", "_GT"])
def test_another_common_suffix_is_named_with_the_option_to_give(tmp_path, suffix):
    for name in ("img001", "img002"):
        _image(tmp_path / f"{name}.tif")
        tifffile.imwrite(tmp_path / f"{name}{suffix}.tif", np.eye(16, dtype=np.uint8))
    if suffix.lower() == "_label":  # the default suffix in another case: simply read
        assert find_pairs(tmp_path)[0][1].name == f"img001{suffix}.tif"
        return
    with pytest.raises(InputError) as caught:
        find_pairs(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / f'img001{suffix}.tif'}: looks like the label of "
                              f"img001, but no img001_LABEL.* is in {tmp_path}; give "
                              f"--label-suffix {suffix} (recipe: label_suffix: {suffix})")
    assert "image without a label" not in message
    assert len(find_pairs(tmp_path, label_suffix=suffix)) == 2


def test_label_suffix_is_matched_in_any_case(tmp_path):
    _image(tmp_path / "img001.png")
    iio.imwrite(tmp_path / "img001_Mask.png", np.eye(16, dtype=np.uint8))
    (image, label), = find_pairs(tmp_path, label_suffix="_mask")
    assert (image.name, label.name) == ("img001.png", "img001_Mask.png")
    assert read_labelled_folder(tmp_path, label_suffix="_MASK").names == ["img001"]


def test_plain_missing_label_is_still_said_so(tmp_path):
    _image(tmp_path / "a.png")
    with pytest.raises(InputError, match=r"a\.png: image without a label \(no a_LABEL\.\* in "
                                         r"[^;]*\)$"):
        find_pairs(tmp_path)


def test_microscope_format_images_pair_with_their_labels(tmp_path, write_mrc):
    image, mask = particle_image((16, 16), radius_px=(3.0, 5.0), seed=4)
    write_mrc(tmp_path / "img001.mrc", image.astype(np.float32), sampling=1.25)
    tifffile.imwrite(tmp_path / "img001_mask.tif", mask)
    pair, = read_labelled_folder(tmp_path, label_suffix="_mask")
    assert pair.path == tmp_path / "img001.mrc" and pair.sampling == pytest.approx(1.25)
    np.testing.assert_array_equal(pair.image, image.astype(np.float32))
    np.testing.assert_array_equal(pair.label, mask)
    (tmp_path / "s").mkdir()  # a stack as a training image: refused, named
    write_mrc(tmp_path / "s" / "s.mrc", np.random.default_rng(0).random((3, 8, 8))
              .astype(np.float32))
    iio.imwrite(tmp_path / "s" / "s_LABEL.png", np.eye(8, dtype=np.uint8))
    with pytest.raises(InputError, match=r"s\.mrc: a stack of 3 frames; labelled folders hold "
                                         "single images"):
        read_labelled_folder(tmp_path / "s")


def test_microscope_format_labels_are_refused(tmp_path, write_mrc):
    _image(tmp_path / "a.png")
    write_mrc(tmp_path / "a_LABEL.mrc", np.eye(16, dtype=np.uint8))
    with pytest.raises(InputError, match=r"a_LABEL\.mrc: labels are read from PNG, JPEG, BMP "
                                         "or TIFF files"):
        find_pairs(tmp_path)
