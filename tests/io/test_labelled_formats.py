"""Label files as labelling tools write them: palette PNGs, masks in the alpha channel."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from PIL import Image

from temseg.errors import InputError
from temseg.io import read_labelled_folder
from temseg.synthetic import particle_image


def _image(folder, name="a", shape=(16, 16)):
    image, mask = particle_image(shape, radius_px=(3.0, 5.0), seed=2)
    tifffile.imwrite(folder / f"{name}.tif", image)
    return mask


def _palette_png(path, indices, colours):
    image = Image.fromarray(indices.astype(np.uint8), mode="P")
    image.putpalette([c for colour in colours for c in colour])
    image.save(path)


def test_palette_label_gives_its_indices_not_its_colours(tmp_path):
    _image(tmp_path)
    classes = np.zeros((16, 16), np.uint8)
    classes[2:7, 2:7], classes[9:14, 9:14] = 1, 2
    # background white, classes red and green: the colours say nothing, the index is the class
    _palette_png(tmp_path / "a_LABEL.png", classes, [(255, 255, 255), (255, 0, 0), (0, 255, 0)])
    with Image.open(tmp_path / "a_LABEL.png") as saved:
        assert saved.mode == "P"
    np.testing.assert_array_equal(read_labelled_folder(tmp_path, multiclass=True)[0].label,
                                  classes)
    said: list[str] = []  # binary: foreground, and the three class ids said
    np.testing.assert_array_equal(read_labelled_folder(tmp_path, warn=said.append)[0].label,
                                  classes > 0)
    assert len(said) == 1 and "3 class ids (0, 1, 2)" in said[0]


def test_grey_palette_label_reads_as_the_grey_png_of_the_mask(tmp_path):
    # the review's case: palette numbered in order of first appearance, the top-left is
    # white, so index 0 = white; read as indices, 960 background px became foreground
    (tmp_path / "grey").mkdir()
    (tmp_path / "palette").mkdir()
    _image(tmp_path / "grey", shape=(32, 32))
    _image(tmp_path / "palette", shape=(32, 32))
    mask = np.zeros((32, 32), np.uint8)
    mask[:8, :8] = 1  # 64 foreground px, in the top-left corner
    iio.imwrite(tmp_path / "grey" / "a_LABEL.png", mask * 255)
    _palette_png(tmp_path / "palette" / "a_LABEL.png", 1 - mask, [(255, 255, 255), (0, 0, 0)])
    with Image.open(tmp_path / "palette" / "a_LABEL.png") as saved:
        assert saved.mode == "P"
        assert np.array(saved)[0, 0] == 0 and saved.getpalette()[:3] == [255, 255, 255]
    for multiclass in (False, True):
        grey = read_labelled_folder(tmp_path / "grey", multiclass=multiclass)[0].label
        palette = read_labelled_folder(tmp_path / "palette", multiclass=multiclass)[0].label
        np.testing.assert_array_equal(palette, grey)
        np.testing.assert_array_equal(palette, mask)


def test_coloured_palette_keeps_its_indices_even_with_a_grey_entry(tmp_path):
    _image(tmp_path)
    classes = np.zeros((16, 16), np.uint8)
    classes[2:7, 2:7], classes[9:14, 9:14] = 1, 2
    # background black (grey), classes 1 white (grey) and 2 red: one colour makes it class ids
    _palette_png(tmp_path / "a_LABEL.png", classes, [(0, 0, 0), (255, 255, 255), (255, 0, 0)])
    np.testing.assert_array_equal(read_labelled_folder(tmp_path, multiclass=True)[0].label,
                                  classes)


@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0)])
def test_colour_labels_other_than_one_colour_on_black_are_refused_with_advice(tmp_path,
                                                                             background):
    _image(tmp_path)
    colour = np.zeros((16, 16, 3), np.uint8)
    colour[:] = background
    colour[4:8, 4:8] = (255, 0, 0)
    colour[9:12, 9:12] = (0, 255, 0)  # on white: two colours, none black; on black: three
    if background == (255, 255, 255):
        colour[9:12, 9:12] = (255, 0, 0)
    iio.imwrite(tmp_path / "a_LABEL.png", colour)
    with pytest.raises(InputError, match=r"a_LABEL\.png: label is a colour image; save the "
                                         "label as one channel of class ids: 0 background, "
                                         "1 foreground"):
        read_labelled_folder(tmp_path)


@pytest.mark.parametrize("channels", [3, 4])
def test_one_colour_on_black_is_a_binary_mask_said_once(tmp_path, channels):
    """Red on black, RGB or opaque RGBA: non-black is foreground, one warning for the folder
    naming the first file."""
    masks = {name: _image(tmp_path, name, shape=(16, 16)) for name in ("a", "b", "c")}
    for name, mask in masks.items():
        colour = np.zeros((16, 16, channels), np.uint8)
        colour[..., 0] = mask * 200
        if channels == 4:
            colour[..., 3] = 255
        iio.imwrite(tmp_path / f"{name}_LABEL.png", colour)
    said: list[str] = []
    dataset = read_labelled_folder(tmp_path, warn=said.append)
    for pair in dataset:
        np.testing.assert_array_equal(pair.label, masks[pair.name])
    red = (200, 0, 0, 255)[:channels]
    assert said == [f"{tmp_path / 'a_LABEL.png'} (and 2 more labels): colour label of two "
                    f"colours read as binary: black is background, {red} foreground"]
    with pytest.raises(InputError, match=r"a_LABEL\.png: label is a colour image; save the "
                                         r"label as one channel of class ids: 0 background, 1 "
                                         r"foreground, 2, 3\.\.\. the other classes"):
        read_labelled_folder(tmp_path, multiclass=True)  # class ids: no colour guessed


def test_jpeg_mask_is_read_at_half_its_maximum_not_its_ringing(tmp_path):
    """A mask drawn white on black and saved as JPEG: > 0 made the ringing foreground (the
    audit: +3-35 % foreground per image); half the maximum recovers the mask."""
    yy, xx = np.mgrid[:64, :64]
    mask = ((yy - 31.3) ** 2 + (xx - 30.6) ** 2 < 13.2 ** 2).astype(np.uint8)  # a disc
    _image(tmp_path, shape=(64, 64))
    iio.imwrite(tmp_path / "a_LABEL.jpg", mask * 255, quality=60)
    said: list[str] = []
    label = read_labelled_folder(tmp_path, warn=said.append)[0].label
    ringing = iio.imread(tmp_path / "a_LABEL.jpg") > 0
    assert ringing.sum() > 1.1 * mask.sum()  # what > 0 would have taken
    assert np.count_nonzero(label != mask) <= 0.01 * mask.size
    assert len(said) == 1 and "read as foreground above 127.5" in said[0]


def test_class_ids_are_never_thresholded(tmp_path):
    """Class ids up to 200 in a multi-class set stay as they are; small class ids read as
    binary are > 0 (none dropped below a threshold)."""
    _image(tmp_path)
    ids = np.zeros((16, 16), np.uint8)
    ids[2:6, 2:6], ids[8:10, 8:10], ids[12:14, 2:6] = 1, 60, 200
    tifffile.imwrite(tmp_path / "a_LABEL.tif", ids)
    said: list[str] = []
    np.testing.assert_array_equal(
        read_labelled_folder(tmp_path, multiclass=True, warn=said.append)[0].label, ids)
    assert "read as foreground above" not in " ".join(said)
    ids[ids == 60], ids[ids == 200] = 2, 3
    tifffile.imwrite(tmp_path / "a_LABEL.tif", ids)
    np.testing.assert_array_equal(read_labelled_folder(tmp_path, warn=said.append)[0].label,
                                  ids > 0)


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 0, 0), (7,)])
def test_mask_in_the_alpha_channel_is_read(tmp_path, colour):
    mask = _image(tmp_path)
    rgba = np.zeros((16, 16, len(colour) + 1), np.uint8)
    rgba[..., :-1] = colour  # one colour everywhere (RGBA, or grey + alpha)
    rgba[..., -1] = mask * 255
    iio.imwrite(tmp_path / "a_LABEL.png", rgba)
    np.testing.assert_array_equal(read_labelled_folder(tmp_path)[0].label, mask)
    np.testing.assert_array_equal(read_labelled_folder(tmp_path, multiclass=True)[0].label, mask)


def test_grey_mask_with_an_opaque_alpha_reads_the_grey(tmp_path):
    mask = _image(tmp_path)
    rgba = np.full((16, 16, 4), 255, np.uint8)
    rgba[..., :3] = (mask * 255)[..., None]
    iio.imwrite(tmp_path / "a_LABEL.png", rgba)
    np.testing.assert_array_equal(read_labelled_folder(tmp_path)[0].label, mask)


def test_grey_palette_of_class_ids_in_order_keeps_the_ids(tmp_path):
    """Class ids 0/1/2 drawn as 0/128/255: the indices are the classes (the greys would be
    0/128/255 with a '3 distinct values' warning)."""
    _image(tmp_path)
    classes = np.zeros((16, 16), np.uint8)
    classes[2:7, 2:7], classes[9:14, 9:14] = 1, 2
    _palette_png(tmp_path / "a_LABEL.png", classes, [(0, 0, 0), (128, 128, 128), (255, 255, 255)])
    np.testing.assert_array_equal(read_labelled_folder(tmp_path, multiclass=True)[0].label,
                                  classes)
    said: list[str] = []  # binary: foreground, and the three class ids said
    np.testing.assert_array_equal(read_labelled_folder(tmp_path, warn=said.append)[0].label,
                                  classes > 0)
    assert len(said) == 1 and "3 class ids (0, 1, 2)" in said[0]


def test_a_palette_of_one_white_entry_is_all_foreground(tmp_path):
    """Index 0 = white and nothing else: the greys (all foreground), not the indices."""
    _image(tmp_path)
    _palette_png(tmp_path / "a_LABEL.png", np.zeros((16, 16), np.uint8), [(255, 255, 255)])
    assert read_labelled_folder(tmp_path)[0].label.all()


def test_numbered_regions_are_all_foreground_not_cut_at_half_their_maximum(tmp_path):
    from skimage.measure import label as number_regions

    dots = np.zeros((64, 64), bool)
    dots[1::4, 1::4] = True  # 256 one-pixel regions, numbered 1..256: stored as uint16
    regions = number_regions(dots, connectivity=1).astype(np.uint16)
    assert regions.max() == 256
    _image(tmp_path, "a", shape=(64, 64))
    tifffile.imwrite(tmp_path / "a_LABEL.tif", regions)
    with pytest.warns(UserWarning, match="numbered regions"):
        pair = read_labelled_folder(tmp_path)[0]
    # every numbered pixel is foreground (cut at 128 it kept half of them)
    assert np.count_nonzero(pair.label) == 256
