"""Per-class scores pooled over pixels, and labelled zarr datasets read one image at a time."""

import numpy as np
import pytest

from temseg.errors import InputError
from temseg.infer.evaluation import (class_scores, evaluate_classes, is_zarr_dataset,
                                     open_labelled_zarr)
from temseg.metrics import class_confusion, multiclass_scores

CLASSES = ["background", "Mo", "S2", "S1"]


def _maps(seed, shape=(16, 20)):
    rng = np.random.default_rng(seed)
    truth = rng.choice(4, size=shape, p=[0.7, 0.1, 0.1, 0.1]).astype(np.uint8)
    pred = np.where(rng.random(shape) < 0.7, truth, rng.integers(0, 4, shape)).astype(np.uint8)
    return pred, truth


def test_pooled_class_scores_are_those_of_all_pixels_at_once():
    pairs = [_maps(s) for s in range(3)]
    pooled = sum(class_confusion(p, t, n_classes=4) for p, t in pairs)
    scores = class_scores(pooled, CLASSES)
    whole = multiclass_scores(np.concatenate([p for p, _ in pairs]),
                              np.concatenate([t for _, t in pairs]), n_classes=4)
    for row, ref in zip(scores["per_class"], whole["per_class"]):
        for key in ("f1", "jaccard", "precision", "recall"):
            assert row[key] == pytest.approx(ref[key])
    assert scores["accuracy"] == pytest.approx(whole["macro"]["accuracy"])
    assert scores["mean_foreground"]["f1"] == pytest.approx(
        np.mean([r["f1"] for r in whole["per_class"][1:]]))
    # a known case: one Mo pixel called S2 out of two Mo pixels
    m = class_confusion(np.array([[0, 1, 2]]), np.array([[0, 1, 1]]), n_classes=3)
    s = class_scores(m, ["bg", "Mo", "S2"])["per_class"]
    assert (s[1]["precision"], s[1]["recall"], s[1]["f1"]) == (1.0, 0.5, pytest.approx(2 / 3))
    assert (s[2]["precision"], s[2]["tp"], s[2]["fp"]) == (0.0, 0, 1)


def test_labels_outside_the_classes_are_named():
    with pytest.raises(InputError, match=r"truth: class indices 0\.\.5 outside the 4 classes"):
        class_confusion(np.zeros((2, 2), np.uint8), np.array([[0, 5], [1, 1]]), n_classes=4)


def test_labelled_zarr_is_lazy_and_scored(tmp_path):
    zarr = pytest.importorskip("zarr")
    root = zarr.open_group(str(tmp_path / "d.zarr"), mode="w")
    truths = np.stack([_maps(s)[1] for s in range(3)])
    root.create_array("images", data=np.random.default_rng(0).random((3, 2, 16, 20),
                                                                     dtype=np.float32))
    root.create_array("labels", data=truths)
    root.attrs.update(sampling=0.5, classes=CLASSES, channels=["a", "b"])
    assert is_zarr_dataset(tmp_path / "d.zarr") and not is_zarr_dataset(tmp_path)
    data = open_labelled_zarr(tmp_path / "d.zarr")
    assert (len(data), data.in_channels, data.shape, data.sampling) == (3, 2, (16, 20), 0.5)
    assert data.classes == CLASSES and data.channels == ["a", "b"]
    assert data[2].image.shape == (2, 16, 20) and data[2].name == "d_00002"
    np.testing.assert_array_equal(data[-1].label, truths[2])
    assert open_labelled_zarr(tmp_path / "d.zarr", sampling=2.0)[0].sampling == 2.0

    def predict(pair):  # a perfect answer, as probabilities
        return np.eye(4, dtype=np.float32)[pair.label].transpose(2, 0, 1)

    seen = []
    pooled, rows = evaluate_classes(predict, data, classes=CLASSES,
                                    on_prediction=lambda p, m, c: seen.append(p.name))
    assert pooled["accuracy"] == 1.0 and pooled["mean_foreground"]["f1"] == 1.0
    assert pooled["n_images"] == 3 and seen == ["d_00000", "d_00001", "d_00002"]
    assert list(rows[0]) == ["name", "accuracy", "f1_Mo", "f1_S2", "f1_S1", "mean_f1"]
    root.create_array("labels", data=truths[:2], overwrite=True)
    with pytest.raises(InputError, match=r"images \(3, 2, 16, 20\) and labels \(2, 16, 20\)"):
        open_labelled_zarr(tmp_path / "d.zarr")
    with pytest.raises(InputError, match="not a temseg zarr dataset"):
        open_labelled_zarr(tmp_path)


def test_check_class_labels_names_the_first_image_beyond_the_classes():
    from temseg.infer.evaluation import check_class_labels
    from temseg.io.labelled import LabelledPair

    label = np.zeros((4, 4), np.uint8)
    pairs = [LabelledPair("a", label, label), LabelledPair("b", label, label + 3)]
    check_class_labels(pairs, ["background", "Mo", "S2", "S1"])  # 0..3: fine
    with pytest.raises(InputError, match=r"^data: image b: labels hold class index 3, beyond "
                                         r"the model's 3 classes 0\.\.2 \(bg, Mo, S2\)$"):
        check_class_labels(pairs, ["bg", "Mo", "S2"], name="data")


def test_a_zarr_reorders_its_named_channels_only_when_they_are_the_same_names(tmp_path):
    import zarr

    images = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    root = zarr.open_group(str(tmp_path / "d.zarr"), mode="w")
    root.create_array("images", data=images)
    root.create_array("labels", data=np.zeros((2, 4, 4), np.uint8))
    root.attrs.update(channels=["b", "c", "a"])
    data = open_labelled_zarr(tmp_path / "d.zarr")
    assert not data.reorder_channels(["a", "b", "x"])
    np.testing.assert_array_equal(data[1].image, images[1])
    assert data.reorder_channels(["a", "b", "c"]) and data.channels == ["a", "b", "c"]
    np.testing.assert_array_equal(data[1].image, images[1][[2, 0, 1]])


def _dataset(path, labels, **attrs):
    zarr = pytest.importorskip("zarr")
    labels = np.asarray(labels)
    root = zarr.open_group(str(path), mode="w")
    root.create_array("images", data=np.random.default_rng(0).random(labels.shape,
                                                                     dtype=np.float32))
    root.create_array("labels", data=labels)
    root.attrs.update(attrs)
    return path


@pytest.mark.parametrize("value", ["abc", -1, 0, float("inf"), False])
def test_labelled_zarr_refuses_a_bad_sampling_attr_naming_it(tmp_path, value):
    path = _dataset(tmp_path / "d.zarr", np.zeros((2, 8, 8), np.uint8), sampling=value)
    with pytest.raises(InputError, match=r"d\.zarr: attr sampling must be a positive number "
                                         rf"of Å/px, got {value!r}"):
        open_labelled_zarr(path)
    assert open_labelled_zarr(path, sampling=0.4).sampling == 0.4  # the attr is not used


def test_labelled_zarr_refuses_fractional_labels_naming_the_image(tmp_path):
    labels = np.zeros((3, 8, 8), np.float32)
    labels[:, :4] = 1.0
    labels[1, 0, 0] = 0.5
    data = open_labelled_zarr(_dataset(tmp_path / "f.zarr", labels))
    np.testing.assert_array_equal(data[0].label, labels[0])  # whole numbers: class ids
    assert data[0].label.dtype.kind == "i"
    for read in (lambda: data[1], lambda: list(data.label_maxima()), data.label_values):
        with pytest.raises(InputError, match=r"f\.zarr: image f_00001: label is not "
                                             "integer-valued"):
            read()


def test_label_values_are_the_distinct_values_of_all_labels(tmp_path):
    labels = np.zeros((5, 8, 8), np.uint8)
    labels[1, 0, 0], labels[4, 1, 1] = 2, 1
    data = open_labelled_zarr(_dataset(tmp_path / "v.zarr", labels))
    assert data.label_values(block=2) == [0, 1, 2]
    assert len(data.label_values(block=1, limit=1)) == 2  # stops once past the limit
