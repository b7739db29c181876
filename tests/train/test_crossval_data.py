"""What a training run records of its data (SHA-256 per image and label, for --resume) and the
warning of frames of one series spread over the k folds."""

import imageio.v3 as iio
import numpy as np
import pytest

from temseg.train.crossval import series_warning
from temseg.train.resume import fingerprints


def _folder(path, names):
    path.mkdir()
    rng = np.random.default_rng(0)
    for name in names:
        iio.imwrite(path / f"{name}.png", rng.integers(0, 255, (8, 8), dtype=np.uint8))
        iio.imwrite(path / f"{name}_LABEL.png", (rng.random((8, 8)) > 0.5).astype(np.uint8) * 255)
    return path


def test_fingerprints_change_with_the_edited_file_only(tmp_path):
    folder = _folder(tmp_path / "d", ["a", "b"])
    before = fingerprints([folder])
    assert [n for n, _, _ in before] == ["a", "b"]
    assert all(len(h) == 64 for _, i, lab in before for h in (i, lab))
    label = iio.imread(folder / "b_LABEL.png")
    label[0, 0] = 255 - label[0, 0]  # one pixel of one label redrawn
    iio.imwrite(folder / "b_LABEL.png", label)
    after = fingerprints([folder])
    assert after[0] == before[0]
    assert after[1][1] == before[1][1] and after[1][2] != before[1][2]


def test_fingerprints_of_a_zarr_dataset_are_per_image(tmp_path):
    import zarr

    images = np.random.default_rng(1).random((3, 8, 8)).astype(np.float32)
    labels = (images > 0.5).astype(np.uint8)
    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    root.create_array("images", data=images)
    root.create_array("labels", data=labels)
    before = fingerprints([tmp_path / "s.zarr"])
    assert [n for n, _, _ in before] == ["s_00000", "s_00001", "s_00002"]
    root["labels"][1] = 1 - labels[1]
    after = fingerprints([tmp_path / "s.zarr"])
    assert [a == b for a, b in zip(after, before)] == [True, False, True]
    assert after[1][1] == before[1][1]  # the image is the same, the label is not


FRAMES = [f"series{s}_frame{f:03d}" for s in (1, 2) for f in (1, 2, 3)]


def test_frames_of_series_each_its_own_group_are_warned_of():
    message = series_warning(FRAMES, FRAMES)
    assert message.startswith("6 images look like frames of 2 series (series1_frame…): give a "
                              "group_pattern so frames of a series stay in one fold")
    assert "group_pattern: '_frame\\d+$'" in message


@pytest.mark.parametrize("names, groups", [
    ([f"img{i:03d}" for i in range(6)], None),  # one numbering of separate images
    (["a", "b", "c", "d"], None),  # no numbers
    (FRAMES, [n[:7] for n in FRAMES]),  # grouped by a group_pattern
    (FRAMES[:2] + ["x", "y", "z", "w", "v"], None),  # one series among many other images
])
def test_no_warning_where_nothing_looks_like_series(names, groups):
    assert series_warning(names, groups or names) is None
