"""Focal series (003): stacks of n·C frames → n series, class maps, one series at a time."""

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from temseg.errors import BlankImageError, InputError
from temseg.infer import count_series, iter_series, load_segmenter, segment_micrograph
from temseg.io import read_image, write_tiff


@pytest.fixture(scope="module")
def focal(tmp_path_factory, save_focal_model):
    path = save_focal_model(tmp_path_factory.mktemp("focal"), sampling=1.0)
    return load_segmenter(path, tile=64, device="cpu")


def _stack(path, n_frames, seed=0, shape=(64, 64)):
    data = np.random.default_rng(seed).gamma(4.0, 25.0, (n_frames, *shape)).astype(np.float32)
    return write_tiff(path, data if n_frames > 1 else data[0], sampling=1.0), data


def test_a_stack_of_six_frames_is_two_series(focal, tmp_path):
    path, data = _stack(tmp_path / "mos2.tif", 6)
    mg = read_image(path)
    seen = []
    result = segment_micrograph(focal, mg, tmp_path / "out",
                                on_mask=lambda i, mask, image: seen.append((i, mask, image)))
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "mos2_mask.tif", "mos2_overlay.png", "mos2_prob.tif"]
    with tifffile.TiffFile(out / "mos2_prob.tif") as tif:
        assert tif.series[0].axes == "TCYX"
        prob = tif.asarray()
    assert prob.shape == (2, 4, 64, 64) and prob.dtype == np.float32
    np.testing.assert_allclose(prob.sum(1), 1.0, atol=1e-5)
    mask = tifffile.imread(out / "mos2_mask.tif")
    assert mask.shape == (2, 64, 64) and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, prob.argmax(1))
    # each series is the prediction of its own three frames, in order
    np.testing.assert_allclose(prob[1], focal.predict_proba(data[3:6], sampling=1.0), atol=1e-6)
    assert [i for i, _, _ in seen] == [0, 1]
    np.testing.assert_array_equal(seen[1][1], mask[1])
    np.testing.assert_array_equal(seen[1][2], data[4])  # the middle defocus is shown
    overlay = iio.imread(out / "mos2_overlay.png")
    assert overlay.ndim == 3 and overlay.shape[1] >= 512  # enlarged so that the legend fits
    d = result.to_dict()
    assert d["shape"] == [6, 64, 64] and d["frames_per_series"] == 3
    assert len(d["series_fractions"]) == 2 and d["blank_series"] == []
    assert set(d["class_fractions"]) == {"background", "Mo", "S2", "S1"}
    assert sum(d["class_fractions"].values()) == pytest.approx(1.0)
    assert d["foreground_fraction"] == pytest.approx(float((mask > 0).mean()))
    assert read_image(out / "mos2_mask.tif").sampling == pytest.approx(1.0)


def test_one_series_gives_a_png_mask_and_k_maps(focal, tmp_path):
    path, data = _stack(tmp_path / "one.tif", 3)
    segment_micrograph(focal, read_image(path), tmp_path)
    prob = read_image(tmp_path / "one_prob.tif")  # (K, H, W) reads back as a 3-D file
    assert prob.data.shape == (4, 64, 64) and prob.sampling == pytest.approx(1.0)
    with tifffile.TiffFile(tmp_path / "one_prob.tif") as tif:
        assert tif.series[0].axes == "CYX"
    mask = iio.imread(tmp_path / "one_mask.png")
    assert mask.dtype == np.uint8 and mask.shape == (64, 64)
    np.testing.assert_array_equal(mask, np.asarray(prob.data).argmax(0))


@pytest.mark.parametrize(("frames", "message"), [
    (5, r"^x\.tif: the model takes focal series of 3 images \(Δf -50, \+0, \+50 Å\) "
        r"\(stacks of 3·n frames, n series\); the file has 5 frames$"),
    (1, r"the file is a single image \(images of a series in files of their own: "
        r"--series-files\)$")])
def test_a_frame_count_that_is_not_series_is_refused(focal, tmp_path, frames, message):
    path, _ = _stack(tmp_path / "x.tif", frames)
    with pytest.raises(InputError, match=message):
        count_series(focal, read_image(path), name="x.tif")
    with pytest.raises(InputError, match="3·n frames"):
        segment_micrograph(focal, read_image(path), tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_series_are_read_three_frames_at_a_time(tmp_path):
    path, data = _stack(tmp_path / "s.tif", 9)
    mg = read_image(path)
    read = []
    frame = mg.frame
    mg.frame = lambda i: read.append(i) or frame(i)
    series = iter_series(mg, 3)
    first = next(series)
    assert read == [0, 1, 2] and first.shape == (3, 64, 64)
    np.testing.assert_array_equal(first, data[:3])
    np.testing.assert_array_equal(next(series), data[3:6])
    assert read == [0, 1, 2, 3, 4, 5]


def test_a_blank_series_is_skipped_not_fatal(focal, tmp_path):
    data = np.random.default_rng(1).gamma(4.0, 25.0, (9, 64, 64)).astype(np.float32)
    data[4] = 3.0  # the middle image of series 1: beam blanked
    path = write_tiff(tmp_path / "b.tif", data, sampling=1.0)
    result = segment_micrograph(focal, read_image(path), tmp_path / "out")
    assert result.blank_frames == [1] and result.frame_fractions[1] is None
    prob = tifffile.imread(tmp_path / "out" / "b_prob.tif")
    assert np.isnan(prob[1]).all() and np.isfinite(prob[[0, 2]]).all()
    assert (tifffile.imread(tmp_path / "out" / "b_mask.tif")[1] == 0).all()
    data[:] = 5.0
    path = write_tiff(tmp_path / "c.tif", data, sampling=1.0)
    with pytest.raises(BlankImageError, match="every one of the 3 focal series"):
        segment_micrograph(focal, read_image(path), tmp_path / "out")


def test_one_channel_model_of_four_classes_gets_class_outputs(tmp_path):
    import torch

    from temseg.models import ModelConfig, build_model, save_model

    torch.manual_seed(1)
    model = build_model("resunet", classes=4, blocks=1, filters=2)
    save_model(tmp_path / "m", model, ModelConfig(
        architecture="resunet", options=model.options, classes=["bg", "a", "b", "c"],
        preprocessing={"remove_outliers": False}))
    seg = load_segmenter(tmp_path / "m.json", tile=64, device="cpu")
    path, _ = _stack(tmp_path / "img.tif", 1)
    result = segment_micrograph(seg, read_image(path), tmp_path / "one")
    assert tifffile.imread(tmp_path / "one" / "img_prob.tif").shape == (4, 64, 64)
    assert iio.imread(tmp_path / "one" / "img_mask.png").max() < 4
    assert result.frame_fractions is None and "blank_frames" in result.to_dict()
    path, _ = _stack(tmp_path / "st.tif", 2)
    result = segment_micrograph(seg, read_image(path), tmp_path / "two")
    assert tifffile.imread(tmp_path / "two" / "st_prob.tif").shape == (2, 4, 64, 64)
    assert tifffile.imread(tmp_path / "two" / "st_mask.tif").shape == (2, 64, 64)
    assert len(result.frame_fractions) == 2


def test_a_series_saved_as_colour_is_refused_saying_how_to_save_it(focal, tmp_path):
    # tifffile.imwrite of a (3, H, W) array writes planar RGB: read as one grey image
    data = np.random.default_rng(4).gamma(4.0, 25.0, (3, 64, 64)).astype(np.float32)
    tifffile.imwrite(tmp_path / "rgb.tif", data, photometric="rgb", planarconfig="separate")
    with pytest.warns(UserWarning, match="converted to grey"):
        mg = read_image(tmp_path / "rgb.tif")
    with pytest.raises(InputError, match=r"the file is a single image \(its samples per pixel "
                                         r"were read as colour and made grey: save the frames "
                                         r"with photometric='minisblack'\)$"):
        count_series(focal, mg)
    tifffile.imwrite(tmp_path / "grey.tif", data, photometric="minisblack")
    assert count_series(focal, read_image(tmp_path / "grey.tif")) == 1


def test_constant_frames_names_the_blank_frames_of_blank_series_in_the_file(tmp_path):
    from temseg.infer.series import constant_frames

    data = np.random.default_rng(3).gamma(4.0, 25.0, (9, 16, 16)).astype(np.float32)
    data[4] = 3.0  # series 1, its middle image
    data[6] = data[8] = 0.0  # series 2, its first and last
    stack = read_image(write_tiff(tmp_path / "b.tif", data))
    assert constant_frames(stack, [1, 2], 3) == [4, 6, 8]
    assert constant_frames(stack, [1], 3) == [4]
    assert constant_frames(stack, [0], 3) == []  # not blank: nothing named


def test_a_hyperstack_keeps_its_time_per_frame_of_the_flattened_stack(tmp_path):
    import tifffile

    from temseg.infer.series import hyperstack_as_series
    from temseg.io import read_image

    path = tmp_path / "tcyx.tif"  # 4 time points of 3 defoci, 2 s apart (ImageJ's finterval)
    tifffile.imwrite(path, np.ones((4, 3, 8, 8), np.float32), imagej=True,
                     metadata={"axes": "TCYX", "finterval": 2.0, "tunit": "s"})
    flat = hyperstack_as_series(read_image(path, allow_hyperstack=True), 3)
    assert flat.n_frames == 12
    # a series (3 frames) every 2 s: what segment multiplies by C again
    assert flat.frame_interval_s * 3 == pytest.approx(2.0)
