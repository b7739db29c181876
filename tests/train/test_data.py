import numpy as np
import pytest

from temseg.errors import InputError
from temseg.synthetic import particle_set
from temseg.train.data import (TrainingSet, check_shapes, epoch_batches, group_of,
                               load_training_data)


def _set(n=5, shape=(24, 24)):
    rng = np.random.default_rng(0)
    labels = [(rng.random(shape) > 0.5).astype(np.uint8) for _ in range(n)]
    # the image equals its label: any crop/rotation must keep them aligned
    return TrainingSet([lab.astype(np.float32) for lab in labels], labels,
                       [f"img_{i}" for i in range(n)])


def test_batches_are_a_pure_function_of_seed_and_epoch():
    data = _set()
    kw = dict(batch_size=2, patch_size=16, dihedral=True, intensity=0.0)
    a = list(epoch_batches(data, seed=1, epoch=3, **kw))
    b = list(epoch_batches(data, seed=1, epoch=3, **kw))
    c = list(epoch_batches(data, seed=1, epoch=4, **kw))
    assert [x.shape for x, _ in a] == [(2, 1, 16, 16), (2, 1, 16, 16), (1, 1, 16, 16)]
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b))
    assert not all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, c))
    for x, y in a:  # augmentation moved image and label together
        assert y.dtype == np.int64 and np.array_equal(x[:, 0], y.astype(np.float32))


def test_intensity_changes_image_not_label():
    data = _set(2)
    (x, y), = list(epoch_batches(data, seed=0, epoch=1, batch_size=2, dihedral=False,
                                 intensity=0.3))
    assert not np.array_equal(x[:, 0], y.astype(np.float32))
    assert set(np.unique(y)) == {0, 1}


def test_noise_and_blur_change_image_not_label():
    data = _set(3)
    for kw in ({"noise": 0.5}, {"blur": 1.0}):
        (x, y), = list(epoch_batches(data, seed=0, epoch=1, batch_size=3, dihedral=True, **kw))
        assert set(np.unique(y)) == {0, 1}
        err = np.abs(x[:, 0] - y.astype(np.float32))
        assert 0.02 < err.mean() < 0.4  # changed, yet still aligned with its label
        assert np.corrcoef(x.ravel(), y.ravel())[0, 1] > 0.5
    (x, y), = list(epoch_batches(data, seed=0, epoch=1, batch_size=3, dihedral=True, blur=1.0))
    assert x.min() >= 0 and x.max() <= 1  # a blur only averages the 0/1 image


def test_zoom_keeps_image_and_label_aligned():
    rng = np.random.default_rng(0)  # 4-pixel blocks, so interpolation leaves pure pixels
    labels = [np.kron(rng.random((8, 8)) > 0.5, np.ones((4, 4))).astype(np.uint8) for _ in range(3)]
    data = TrainingSet([lab.astype(np.float32) for lab in labels], labels, ["a", "b", "c"])
    batches = list(epoch_batches(data, seed=2, epoch=1, batch_size=3, patch_size=16,
                                 dihedral=True, zoom=0.5))
    (x, y), = batches
    assert x.shape == (3, 1, 16, 16) and y.shape == (3, 16, 16) and y.dtype == np.int64
    # where linear interpolation of the 0/1 image is still pure, it equals the label
    pure = (x[:, 0] == 0) | (x[:, 0] == 1)
    assert pure.mean() > 0.4
    np.testing.assert_array_equal(x[:, 0][pure], y[pure].astype(np.float32))
    # the zoomed crops are not plain crops: interpolation leaves mixed values
    assert not pure.all()


def test_group_of_keeps_stack_frames_together():
    assert group_of("2014_0601_Gr_FS_029_layer_0011") == "2014_0601_Gr_FS_029"
    assert group_of("2014_0105_Gr_071") == "2014_0105_Gr_071"


def test_check_shapes():
    data = _set(2)
    assert check_shapes(data, patch_size=None) == 24
    with pytest.raises(InputError, match="smaller than patch_size"):
        check_shapes(data, patch_size=32)
    mixed = TrainingSet([np.zeros((8, 8)), np.zeros((9, 9))], [np.ones((8, 8)), np.ones((9, 9))],
                        ["a", "b"])
    with pytest.raises(InputError, match="differ in shape"):
        check_shapes(mixed, patch_size=None)


def _write_folder(folder, pairs):
    import imageio.v3 as iio

    folder.mkdir()
    for i, (img, mask) in enumerate(pairs):
        u8 = np.clip((img - img.min()) / (np.ptp(img) + 1e-9) * 255, 0, 255).astype(np.uint8)
        iio.imwrite(folder / f"s{i}_layer_{i:04d}.png", u8)
        iio.imwrite(folder / f"s{i}_layer_{i:04d}_LABEL.png", (mask * 255).astype(np.uint8))


def test_load_folder_preprocesses_and_groups(tmp_path):
    pairs = particle_set(3, (32, 32), seed=2, radius_px=(6, 9))
    _write_folder(tmp_path / "d", pairs)
    from temseg.preprocess import Preprocessing

    data = load_training_data([tmp_path / "d"], preprocessing=Preprocessing(remove_outliers=False))
    assert len(data) == 3 and data.groups == ["s0", "s1", "s2"]
    assert all(abs(float(img.mean())) < 1e-4 and abs(float(img.std()) - 1) < 1e-3
               for img in data.images)
    assert all(np.array_equal(lab, m) for lab, (_, m) in zip(data.labels, pairs))


def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="no such"):
        load_training_data([tmp_path / "missing"])
    pairs = [(img, np.zeros_like(m))
             for img, m in particle_set(2, (32, 32), seed=0, radius_px=(4, 6))]
    _write_folder(tmp_path / "bg", pairs)
    with pytest.raises(InputError, match="background"):
        load_training_data([tmp_path / "bg"])


def test_load_zarr(tmp_path):
    import zarr

    root = zarr.open_group(str(tmp_path / "sim.zarr"), mode="w")
    images = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    labels = (images > 0.5).astype(np.uint8) * 2
    root.create_array("images", data=images)
    root.create_array("labels", data=labels)
    root.attrs["sampling"] = 0.1
    data = load_training_data([tmp_path / "sim.zarr"])
    assert len(data) == 3 and data.sampling == pytest.approx(0.1)
    assert np.array_equal(data.labels[1], (labels[1] > 0).astype(np.uint8))
    assert len(set(data.groups)) == 3
    # the names it gives, without reading pixels; a labelled folder's likewise
    from temseg.train.data import dataset_names

    pairs = particle_set(2, (16, 16), seed=0, radius_px=(3, 4))
    _write_folder(tmp_path / "folder", pairs)
    folder = load_training_data([tmp_path / "folder"])
    assert dataset_names([tmp_path / "sim.zarr", tmp_path / "folder"]) == data.names + folder.names
    assert dataset_names([tmp_path / "missing"]) == []


def test_simulated_dataset_groups_by_structure(tmp_path):
    """A dataset from `simulate`: the imaging conditions of one structure share a group."""
    from pathlib import Path

    from temseg.config import load_config
    from temseg.simulate.config import SimulateConfig
    from temseg.simulate.dataset import simulate_dataset

    small = Path(__file__).resolve().parents[2] / "configs" / "simulate_small.yaml"
    config = load_config(SimulateConfig, small, n_structures=2, images_per_structure=2)
    path = simulate_dataset(config, tmp_path / "sim.zarr", scheduler="synchronous")
    data = load_training_data([path])
    assert len(data) == 4 and data.sampling == pytest.approx(0.3)
    assert data.groups[0] == data.groups[1] != data.groups[2] == data.groups[3]
    assert 0.0 < data.foreground_fraction() < 1.0


def _write_tiff_folder(folder, pairs, sampling):
    import imageio.v3 as iio

    from temseg.io import write_tiff

    folder.mkdir()
    for i, (img, mask) in enumerate(pairs):
        write_tiff(folder / f"s{i}_layer_{i:04d}.tif", img.astype(np.float32), sampling=sampling)
        iio.imwrite(folder / f"s{i}_layer_{i:04d}_LABEL.png", (mask * 255).astype(np.uint8))


def test_pixel_sizes_of_mixed_training_data_are_warned_about(tmp_path):
    """The model records one pixel size: a mix is said, not settled silently either way."""
    pairs = particle_set(2, (32, 32), seed=1, radius_px=(5, 7))
    _write_tiff_folder(tmp_path / "a", pairs, 0.3)
    _write_tiff_folder(tmp_path / "b", pairs, 0.5)
    _write_tiff_folder(tmp_path / "plain", pairs, None)
    with pytest.warns(UserWarning, match=r"training data at 2 pixel sizes \(0.3, 0.5 Å/px\)"):
        assert load_training_data([tmp_path / "a", tmp_path / "b"]).sampling is None
    with pytest.warns(UserWarning, match=r"plain: no pixel size; taken to be 0.3 Å/px"):
        assert load_training_data([tmp_path / "a", tmp_path / "plain"]).sampling == 0.3
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one pixel size, or the user's: nothing to say
        assert load_training_data([tmp_path / "a"]).sampling == 0.3
        assert load_training_data([tmp_path / "a", tmp_path / "b"], sampling=0.4).sampling == 0.4


def test_non_square_images_keep_their_shape_through_the_dihedral_draw():
    from temseg.preprocess import dihedral

    rng = np.random.default_rng(3)
    images = [rng.random((6, 10)).astype(np.float32) for _ in range(3)]
    labels = [(img > 0.5).astype(np.uint8) for img in images]
    data = TrainingSet(images, labels, ["a", "b", "c"])
    seen = set()
    for epoch in range(12):
        batches = list(epoch_batches(data, seed=5, epoch=epoch, batch_size=3, dihedral=True))
        again = list(epoch_batches(data, seed=5, epoch=epoch, batch_size=3, dihedral=True))
        assert all(np.array_equal(x, x2) and np.array_equal(y, y2)
                   for (x, y), (x2, y2) in zip(batches, again))
        for x, y in batches:
            assert x.shape == (3, 1, 6, 10) and y.shape == (3, 6, 10)
            for xi, yi in zip(x[:, 0], y):
                (i, k), = [(i, k) for i, img in enumerate(images) for k in range(8)
                           if np.array_equal(dihedral(img, k), xi)]
                np.testing.assert_array_equal(yi, dihedral(labels[i], k))  # turned together
                seen.add(k)
    assert seen == {0, 2, 4, 6}  # identity, 180° and both mirrors; no 90° turn


def test_non_square_images_train_a_step():
    import torch
    from torch import nn

    from temseg.train.config import TrainConfig
    from temseg.train.loop import fit, init_seed

    pairs = particle_set(4, (20, 28), seed=1, radius_px=(3, 5))
    data = TrainingSet([p[0] for p in pairs], [p[1] for p in pairs], [f"r{i}" for i in range(4)])
    init_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    cfg = TrainConfig(epochs=1, batch_size=4, device="cpu", val_fraction=0.0)
    result = fit(model, data, None, cfg, seed=0)
    assert len(result.history) == 1 and np.isfinite(result.history[0]["train_loss"])
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_labels_without_background_are_refused_before_training(tmp_path):
    """Binary labels with no 0 anywhere (ilastik's 1/2 class ids, an all-255 mask): refused,
    naming the values; one full label among others is a warning naming the image."""
    import imageio.v3 as iio

    pairs = particle_set(2, (32, 32), seed=0, radius_px=(4, 6))
    _write_folder(tmp_path / "fg", [(img, np.ones_like(m)) for img, m in pairs])
    with pytest.raises(InputError, match=r"fg: no label has a background pixel: every label is "
                                         r"255 everywhere; 0 must be background"):
        load_training_data([tmp_path / "fg"])
    _write_folder(tmp_path / "ids", pairs)
    for i, (_, m) in enumerate(pairs):  # labels saved as class ids 1/2
        iio.imwrite(tmp_path / "ids" / f"s{i}_layer_{i:04d}_LABEL.png", (m + 1).astype(np.uint8))
    with pytest.raises(InputError, match=r"ids: no label has a background pixel: the labels "
                                         r"hold only 1, 2; 0 must be background: save labels "
                                         r"as 0 = background, 1 = foreground \(class ids 1/2"):
        load_training_data([tmp_path / "ids"])
    load_training_data([tmp_path / "ids"], multiclass=True)  # classes 1 and 2: no refusal
    _write_folder(tmp_path / "some", [(pairs[0][0], np.ones_like(pairs[0][1])), pairs[1]])
    with pytest.warns(UserWarning, match=r"^s0_layer_0000: every pixel of the label is "
                                         r"foreground \(0 is background"):
        data = load_training_data([tmp_path / "some"])  # one full label among others
    assert data.labels[0].all()
    images, _ = _pixels()
    path = _zarr(tmp_path / "ones.zarr", images, np.full((2, 16, 16), 1, np.uint8))
    with pytest.raises(InputError, match=r"ones\.zarr: no label has a background pixel: every "
                                         r"label is 1 everywhere"):
        load_training_data([path])


def test_side_by_side_folders_load_with_names_and_groups(tmp_path):
    import imageio.v3 as iio

    pairs = particle_set(3, (32, 32), seed=3, radius_px=(5, 7))
    for sub in ("images", "masks"):
        (tmp_path / "d" / sub).mkdir(parents=True)
    names = ["g_layer_0001", "g_layer_0002", "h"]
    for name, (img, mask) in zip(names, pairs):
        u8 = ((img - img.min()) / np.ptp(img) * 255).astype(np.uint8)
        iio.imwrite(tmp_path / "d" / "images" / f"{name}.png", u8)
        iio.imwrite(tmp_path / "d" / "masks" / f"{name}.png", mask * 255)
    data = load_training_data([tmp_path / "d"])
    assert data.names == names and data.groups == ["g", "g", "h"]
    assert all(np.array_equal(lab, m) for lab, (_, m) in zip(data.labels, pairs))
    from temseg.train.data import dataset_names

    assert dataset_names([tmp_path / "d"]) == names


def _zarr(path, images, labels, **attrs):
    import zarr

    root = zarr.open_group(str(path), mode="w")
    root.create_array("images", data=np.asarray(images, np.float32))
    root.create_array("labels", data=np.asarray(labels))
    root.attrs.update(attrs)
    return path


def _pixels(n=2, side=16):
    images = np.random.default_rng(1).random((n, side, side)).astype(np.float32)
    return images, (images > 0.5).astype(np.uint8)


@pytest.mark.parametrize("value", ["abc", -1, 0, True, [0.1], float("nan")])
def test_zarr_bad_sampling_attr_names_the_dataset(tmp_path, value):
    images, labels = _pixels()
    path = _zarr(tmp_path / "s.zarr", images, labels, sampling=value)
    with pytest.raises(InputError, match=r"s\.zarr: attr sampling must be a positive number "
                                         r"of Å/px, got " + repr(value).replace("[", r"\[")):
        load_training_data([path])
    # a pixel size given by the user replaces the attr, which is not used then
    assert load_training_data([path], sampling=0.2).sampling == 0.2


def test_zarr_numeric_text_sampling_attr_is_read(tmp_path):
    images, labels = _pixels()
    path = _zarr(tmp_path / "s.zarr", images, labels, sampling="0.25")
    assert load_training_data([path]).sampling == 0.25


def test_zarr_fractional_labels_are_refused_like_a_folders(tmp_path):
    images, labels = _pixels(3)
    soft = labels.astype(np.float32)
    soft[2, 0, 0] = 0.5
    path = _zarr(tmp_path / "f.zarr", images, soft)
    with pytest.raises(InputError, match=r"f\.zarr: image f_00002: label is not integer-valued"):
        load_training_data([path])
    soft[2, 0, 0] = np.nan
    _zarr(path, images, soft)
    with pytest.raises(InputError, match="f_00002: label is not integer-valued"):
        load_training_data([path])
    # whole numbers stored as floats are class ids as any
    _zarr(path, images, labels.astype(np.float32))
    data = load_training_data([path])
    assert all(np.array_equal(a, b) for a, b in zip(data.labels, labels))


def test_zarr_negative_class_ids_are_refused_for_multiclass(tmp_path):
    images, labels = _pixels()
    path = _zarr(tmp_path / "n.zarr", images, labels.astype(np.int8) - 1)
    with pytest.raises(InputError, match="n.zarr: label has negative class id -1"):
        load_training_data([path], multiclass=True)


def test_zarr_non_finite_image_names_dataset_and_image(tmp_path):
    images, labels = _pixels(3)
    images[1, :2, :3] = np.nan
    path = _zarr(tmp_path / "nan.zarr", images, labels)
    with pytest.raises(InputError, match=r"nan\.zarr: image nan_00001: 6 non-finite"):
        load_training_data([path])


def test_preprocessing_errors_name_dataset_and_image(tmp_path):
    from temseg.errors import BlankImageError
    from temseg.preprocess import Preprocessing

    images, labels = _pixels(3)
    images[2] = 1.0
    path = _zarr(tmp_path / "c.zarr", images, labels)
    with pytest.raises(BlankImageError, match=r"c\.zarr: image c_00002: .*constant"):
        load_training_data([path], preprocessing=Preprocessing())


def test_binary_training_on_class_ids_warns_once(tmp_path):
    import warnings

    images, labels = _pixels(3)
    ids = labels.copy()
    ids[0, :4] = 2  # three classes 0/1/2 read as binary
    path = _zarr(tmp_path / "ids.zarr", images, ids)
    with pytest.warns(UserWarning, match=r"ids\.zarr: labels hold 3 class ids \(0, 1, 2\); "
                                         "binary training reads label > 0.*multiclass") as got:
        data = load_training_data([path])
    assert len([w for w in got if "class ids" in str(w.message)]) == 1
    assert data.n_classes == 2 and data.labels[0][:4].max() == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_training_data([path], multiclass=True)  # kept as classes: nothing to say
        _zarr(path, images, labels * 255)  # a 0/255 mask is binary
        load_training_data([path])


def test_an_empty_zarr_dataset_says_so(tmp_path):
    """No images (float or integer labels): the plain 'no labelled images', not a reshape
    error from the per-image checks."""
    import zarr

    from temseg.train.data import load_training_data

    for dtype in ("f4", "u1"):
        path = tmp_path / f"empty_{dtype}.zarr"
        root = zarr.open_group(str(path), mode="w")
        root.create_array("images", shape=(0, 8, 8), dtype="f4")
        root.create_array("labels", shape=(0, 8, 8), dtype=dtype)
        with pytest.raises(InputError, match="no labelled images found"):
            load_training_data([path])
