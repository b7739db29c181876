"""Stacks are streamed frame by frame into TIFFs; single images give TIFF + PNG + overlay."""

import tracemalloc

import numpy as np
import pytest

from temseg.infer.segmenter import NetworkSegmenter
from temseg.infer.stacks import output_paths, segment_micrograph
from temseg.io import read_image, write_tiff


@pytest.fixture
def segmenter(net_factory):
    return NetworkSegmenter(net_factory(), tile=48, overlap=0.25, device="cpu", threshold=0.6)


@pytest.fixture
def stack_file(tmp_path, rng):
    frames = rng.standard_normal((6, 50, 70)).astype(np.float32)
    return write_tiff(tmp_path / "in" / "series.tif", frames, sampling=0.8), frames


def test_stack_is_written_frame_by_frame(segmenter, stack_file, tmp_path):
    path, frames = stack_file
    mg = read_image(path)
    assert mg.is_stack and mg.sampling == pytest.approx(0.8)
    seen = []
    result = segment_micrograph(segmenter, mg, tmp_path / "out",
                                on_frame=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 6) for i in range(1, 7)]
    paths = output_paths(tmp_path / "out", "series", stack=True)
    assert result.outputs == paths and all(p.is_file() for p in paths.values())
    prob = read_image(paths["probability"])
    assert prob.is_stack and prob.data.shape == (6, 50, 70)
    assert prob.sampling == pytest.approx(0.8, rel=1e-6)
    mask = read_image(paths["mask"])
    fractions = []
    for i, frame in enumerate(frames):
        expected = segmenter.predict(frame)
        np.testing.assert_array_equal(prob.frame(i), expected)
        np.testing.assert_array_equal(mask.frame(i) > 0, expected >= 0.6)
        fractions.append(float((expected >= 0.6).mean()))
    assert result.frame_fractions == pytest.approx(fractions)
    assert result.foreground_fraction == pytest.approx(np.mean(fractions))
    assert 0.0 < result.foreground_fraction < 1.0
    with pytest.warns(UserWarning, match="converted to grey"):
        overlay = read_image(paths["overlay"])  # RGB read back as grey, and said so
    assert overlay.data.shape == (50, 70)


def test_single_image_gives_tiff_png_and_overlay(segmenter, tmp_path, rng):
    image = rng.standard_normal((64, 64)).astype(np.float32)
    path = write_tiff(tmp_path / "one.tif", image, sampling=1.25)
    result = segment_micrograph(segmenter, read_image(path), tmp_path / "out", threshold=0.5)
    paths = output_paths(tmp_path / "out", "one", stack=False)
    assert paths["mask"].suffix == ".png" and result.frame_fractions is None
    prob = read_image(paths["probability"])
    assert prob.sampling == pytest.approx(1.25, rel=1e-6)
    np.testing.assert_array_equal(prob.data, segmenter.predict(image))
    np.testing.assert_array_equal(read_image(paths["mask"]).data > 0, prob.data >= 0.5)
    assert result.foreground_fraction == pytest.approx(float((prob.data >= 0.5).mean()))


def _peak_segmenting(segmenter, path, out):
    mg = read_image(path)
    tracemalloc.start()
    try:
        segment_micrograph(segmenter, mg, out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_stack_memory_does_not_grow_with_its_length(segmenter, stack_file, tmp_path):
    """A 28-frame stack needs no more memory than a 4-frame one (beyond bookkeeping)."""
    frame_bytes = 128 * 128 * 4
    segmenter.configure(tile=128)
    paths = {}
    for n in (4, 28):
        frames = np.random.default_rng(n).standard_normal((n, 128, 128)).astype(np.float32)
        paths[n] = write_tiff(tmp_path / f"s{n}.tif", frames, sampling=1.0)
    del frames
    # imports, and the scale bar's font (a calibrated stack's overlay has one)
    segment_micrograph(segmenter, read_image(paths[4]), tmp_path / "warm")
    short = _peak_segmenting(segmenter, paths[4], tmp_path / "a")
    long = _peak_segmenting(segmenter, paths[28], tmp_path / "b")
    # 24 more frames (1.5 MiB) cost less than 4 frames' worth: nothing holds the stack
    assert long - short < 4 * frame_bytes, (short, long)
    # and less than the stack itself (28 frames): the overlay's figure with its scale bar
    # takes ~1.2 MiB however long the stack
    assert long < 24 * frame_bytes, long


class Exploding(NetworkSegmenter):
    def predict_proba(self, image, **kw):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            raise KeyboardInterrupt
        return super().predict_proba(image, **kw)


def test_interrupted_stack_leaves_no_file(net_factory, stack_file, tmp_path):
    seg = Exploding(net_factory(), tile=48, device="cpu")
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        segment_micrograph(seg, read_image(stack_file[0]), out)
    assert list(out.iterdir()) == []


def test_segmenting_into_the_input_folder_twice_does_not_segment_the_outputs(
        segmenter, tmp_path, rng):
    from temseg.infer import collect_inputs

    for name in ("a", "b_mask"):  # a user's own image may end in _mask: no source beside it
        write_tiff(tmp_path / f"{name}.tif", rng.standard_normal((32, 32)).astype(np.float32))
    first = collect_inputs([tmp_path])
    assert [p.name for p in first] == ["a.tif", "b_mask.tif"]
    for path in first:
        segment_micrograph(segmenter, read_image(path), tmp_path, threshold=0.5)
    assert (tmp_path / "a_prob.tif").is_file() and (tmp_path / "a_overlay.png").is_file()
    assert [p.name for p in collect_inputs([tmp_path])] == ["a.tif", "b_mask.tif"]
    # named explicitly, an output file is still taken
    assert collect_inputs([tmp_path / "a_mask.png"]) == [tmp_path / "a_mask.png"]


def test_blank_frames_are_skipped_not_fatal(net_factory, rng, tmp_path):
    from temseg.errors import BlankImageError
    from temseg.preprocess.normalize import standardize

    seg = NetworkSegmenter(net_factory(), preprocessing=standardize, tile=48, device="cpu")
    frames = rng.standard_normal((5, 40, 44)).astype(np.float32)
    frames[1] = 0.0          # beam blanked
    frames[3] = 812.0        # a saturated or dropped frame
    path = write_tiff(tmp_path / "series.tif", frames, sampling=1.0)
    seen = []
    result = segment_micrograph(seg, read_image(path), tmp_path / "out",
                                on_mask=lambda i, mask, frame: seen.append(i))
    assert result.blank_frames == [1, 3] and seen == [0, 2, 4]
    assert result.frame_fractions[1] is None and result.frame_fractions[3] is None
    paths = output_paths(tmp_path / "out", "series", stack=True)
    import tifffile

    prob, mask = tifffile.imread(paths["probability"]), read_image(paths["mask"])
    assert np.isnan(prob[[1, 3]]).all() and not mask.frame(3).any()
    for i in (0, 2, 4):
        np.testing.assert_array_equal(prob[i], seg.predict(frames[i]))
        np.testing.assert_array_equal(mask.frame(i) > 0, prob[i] >= 0.5)
    kept = [result.frame_fractions[i] for i in (0, 2, 4)]
    assert result.foreground_fraction == pytest.approx(np.mean(kept))
    # a stack with nothing but blank frames is an error, and leaves no file
    empty = write_tiff(tmp_path / "dark.tif", np.zeros((3, 40, 44), np.float32), sampling=1.0)
    with pytest.raises(BlankImageError, match="every one of the 3 frames"):
        segment_micrograph(seg, read_image(empty), tmp_path / "out2")
    assert list((tmp_path / "out2").iterdir()) == []


def test_overlay_of_a_stack_shows_its_first_frame_that_is_not_blank(net_factory, rng,
                                                                   tmp_path):
    from PIL import Image

    from temseg.preprocess.normalize import standardize

    seg = NetworkSegmenter(net_factory(), preprocessing=standardize, tile=48, device="cpu")
    frames = rng.standard_normal((3, 40, 44)).astype(np.float32)
    frames[0] = 5.0  # beam blanked at the start of the series
    result = segment_micrograph(seg, read_image(write_tiff(tmp_path / "s.tif", frames)),
                                tmp_path / "out")
    assert result.blank_frames == [0]
    assert result.overlay_frame == 1 and result.to_dict()["overlay_frame"] == 1
    overlay = np.asarray(Image.open(result.outputs["overlay"]).convert("L"), float)
    assert overlay.std() > 10  # frame 1's noise, not the constant frame 0


def test_a_zarr_dataset_given_to_segment_points_to_evaluate(tmp_path):
    import zarr

    from temseg.errors import InputError
    from temseg.infer import collect_inputs

    root = zarr.open_group(str(tmp_path / "mos2.zarr"), mode="w")
    root.create_array("images", data=np.zeros((1, 3, 8, 8), np.float32))
    root.create_array("labels", data=np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(InputError, match=r"mos2\.zarr: a zarr dataset, not images: score it "
                                         r"against its labels with `temseg evaluate MODEL "
                                         r"mos2\.zarr -o DIR`"):
        collect_inputs([tmp_path / "mos2.zarr"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: folder holds no image files"):
        collect_inputs([tmp_path / "empty"])


def test_natural_key_orders_numbers_as_numbers_and_never_ties():
    from temseg.io.files import natural_key

    names = ["frame10.tif", "frame2.tif", "frame1.tif", "frame01.tif", "10x.tif", "2x.tif",
             "²1.tif", "a.tif"]
    ordered = sorted(names, key=natural_key)
    assert ordered.index("frame2.tif") < ordered.index("frame10.tif")
    assert ordered.index("2x.tif") < ordered.index("10x.tif")
    assert ordered[:2] == ["2x.tif", "10x.tif"]  # names starting with a number come first
    # frame01 and frame1 name the same number: the name breaks the tie, whatever the listing
    assert sorted(reversed(names), key=natural_key) == ordered
    assert len({natural_key(n) for n in names}) == len(names)


def test_collect_inputs_orders_a_folder_with_signs_only_when_asked(tmp_path):
    from temseg.infer import collect_inputs

    for d in (50, 0, -50):
        write_tiff(tmp_path / f"df{d}.tif", np.ones((4, 4), np.float32))
    assert [p.name for p in collect_inputs([tmp_path], signed=True)] == [
        "df-50.tif", "df0.tif", "df50.tif"]
    assert [p.name for p in collect_inputs([tmp_path])] == ["df0.tif", "df50.tif",
                                                            "df-50.tif"]
    # files given are kept in the order given
    given = [tmp_path / "df50.tif", tmp_path / "df-50.tif", tmp_path / "df0.tif"]
    assert collect_inputs(given, signed=True) == given


def test_a_folder_of_hyphen_numbered_frames_keeps_the_hyphen_a_separator(tmp_path):
    """frame-1, frame-2, frame-10: no sign anywhere needs reading, so --series-files keeps
    them in frame order (reading signs put frame-10 first and fed the channels reversed)."""
    from temseg.infer import collect_inputs
    from temseg.io.files import signs_matter

    for i in (10, 2, 1):
        write_tiff(tmp_path / f"frame-{i}.tif", np.ones((4, 4), np.float32))
    assert [p.name for p in collect_inputs([tmp_path], signed=True)] == [
        "frame-1.tif", "frame-2.tif", "frame-10.tif"]
    assert not signs_matter(["frame-1", "frame-2", "frame-10"])
    assert signs_matter(["df+50", "df+0", "df-50"])  # a + is a sign wherever it stands


def test_an_all_underfocus_folder_is_ordered_by_defocus(tmp_path):
    """df-100 … df-20 (every defocus of one sign): after a text naming the defocus the '-'
    is a sign, so the series runs -100, -60, -20 (read as separators it ran reversed)."""
    from temseg.infer import collect_inputs
    from temseg.io.files import sign_texts

    for d in (-20, -100, -60):
        write_tiff(tmp_path / f"s1_df{d}.tif", np.ones((4, 4), np.float32))
    assert [p.name for p in collect_inputs([tmp_path], signed=True)] == [
        "s1_df-100.tif", "s1_df-60.tif", "s1_df-20.tif"]
    assert sign_texts(["s1_dz-5", "s1_dz-1", "img-3"]) == ({"_dz"}, {"img"})


def test_signs_are_read_text_by_text_and_the_series_plot_is_no_input(tmp_path):
    """s-1_df-50 … s-10_df50: the '-' after s is a separator (every s has it), the one after
    _df a sign (df0 has none); series_counts.png beside its CSV is segment's, not an input."""
    from temseg.infer import collect_inputs

    for s in (10, 1):
        for d in (50, 0, -50):
            write_tiff(tmp_path / f"s-{s}_df{d}.tif", np.ones((4, 4), np.float32))
    (tmp_path / "series_counts.csv").write_text("series\n0\n")
    write_tiff(tmp_path / "series_counts.png", np.ones((4, 4), np.float32))
    assert [p.name for p in collect_inputs([tmp_path], signed=True)] == [
        f"s-{s}_df{d}.tif" for s in (1, 10) for d in (-50, 0, 50)]


def test_collect_inputs_leaves_out_labels_beside_their_images(tmp_path):
    from temseg.infer.stacks import collect_inputs

    for name in ("img001.tif", "img001_mask.png", "img002.png", "img002_GT.png",
                 "img003-mask.tif", "lonely_mask.png"):
        (tmp_path / name).write_bytes(b"")
    found = [p.name for p in collect_inputs([tmp_path])]
    # img003-mask and lonely_mask label nothing here: they are images
    assert found == ["img001.tif", "img002.png", "img003-mask.tif", "lonely_mask.png"]
