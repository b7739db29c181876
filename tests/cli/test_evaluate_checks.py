"""``temseg evaluate``'s checks of what is scored: images the model was trained on, labels
without background (class ids 1/2), images whose label has no foreground."""

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest

from temseg.cli.main import main


def _labelled(folder, names, *, values=(0, 255), empty=(), seed=0):
    """32² images with labels of ``values`` (background, foreground); ``empty`` names get
    labels of background only."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in names:
        iio.imwrite(folder / f"{name}.png", (rng.random((32, 32)) * 255).astype(np.uint8))
        label = np.full((32, 32), values[0], np.uint8)
        if name not in empty:
            label[10:20, 8:24] = values[1]
        iio.imwrite(folder / f"{name}_LABEL.png", label)
    return folder


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _err(capsys):
    return " ".join(capsys.readouterr().err.split())


# 1. images the model was trained on


def test_training_overlap_reads_the_record_and_its_ensemble_members():
    from temseg.infer.evaluation import training_overlap

    record = {"members": [{"training": {"train_images": ["a"], "val_images": ["b", "c"]}},
                          {"training": {"train_images": ["b"], "val_images": ["a"]}}]}
    assert training_overlap(record, ["c", "b", "a", "z"]) == {
        "train_images": ["b", "a"], "val_images": ["c"], "known": True}
    assert training_overlap({}, ["a"]) == {"train_images": [], "val_images": [],
                                           "known": False}
    assert training_overlap(None, ["a"])["known"] is False


def test_images_the_model_was_trained_on_are_warned_and_recorded(tmp_path, save_tiny_model,
                                                                 capsys):
    model = save_tiny_model(tmp_path, sampling=None, training={
        "train_images": ["a", "b", "x"], "val_images": ["c"], "test_images": ["d"]})
    data = _labelled(tmp_path / "data", ["a", "b", "c", "d", "e"])
    out = tmp_path / "ev"
    assert main(["evaluate", str(model), str(data), "-o", str(out), "--no-overlays"]) == 0
    err = _err(capsys)
    assert ("warning: 2 of 5 scored images are named as images the model was trained on: "
            "their scores are not held-out; 1 more are named as its validation images, "
            "which chose its best epoch: optimistic too") in err
    assert err.count("held-out") == 1  # one line, not one per image
    for name in ("pooled.json", "record.json"):
        held = json.loads((out / name).read_text())["held_out"]
        assert held["held_out"] is False and held["n_images"] == 5
        assert (held["train_images"], held["val_images"]) == (["a", "b"], ["c"])
        assert "not held-out" in held["note"]
    rows = _rows(out / "per_image.csv")
    assert [r["in_training"] for r in rows[:5]] == ["train", "train", "validation", "no", "no"]


def test_only_validation_images_scored_say_so(tmp_path, save_tiny_model, capsys):
    model = save_tiny_model(tmp_path, sampling=None, training={
        "train_images": ["x"], "val_images": ["a"]})
    data = _labelled(tmp_path / "data", ["a", "b"])
    assert main(["evaluate", str(model), str(data), "-o", str(tmp_path / "ev"),
                 "--no-overlays"]) == 0
    err = _err(capsys)
    assert "1 of 2 scored images are named as its validation images, which chose its best " \
           "epoch: optimistic too" in err and "trained on" not in err


def test_renamed_images_of_a_second_data_path_are_matched_by_their_own_names(
        tmp_path, save_tiny_model, capsys):
    model = save_tiny_model(tmp_path, sampling=None, training={"train_images": ["a"]})
    one = _labelled(tmp_path / "one" / "data", ["a"])
    two = _labelled(tmp_path / "two" / "data", ["a"], seed=1)  # written as two_a
    out = tmp_path / "ev"
    assert main(["evaluate", str(model), str(one), str(two), "-o", str(out),
                 "--no-overlays"]) == 0
    assert "2 of 2 scored images are named as images the model was trained on" in _err(capsys)
    held = json.loads((out / "pooled.json").read_text())["held_out"]
    assert held["train_images"] == ["a", "two_a"]


@pytest.mark.parametrize("training, held", [({"train_images": ["x"]}, True), ({}, None)])
def test_held_out_images_are_not_warned(tmp_path, save_tiny_model, capsys, training, held):
    model = save_tiny_model(tmp_path, sampling=None, training=training)
    data = _labelled(tmp_path / "data", ["a", "b"])
    out = tmp_path / "ev"
    assert main(["evaluate", str(model), str(data), "-o", str(out), "--no-overlays"]) == 0
    assert "held-out" not in capsys.readouterr().err
    record = json.loads((out / "record.json").read_text())
    assert record["held_out"]["held_out"] is held  # None: the model lists no training image
    assert "in_training" not in _rows(out / "per_image.csv")[0]


# 2. labels without any background pixel


def test_labels_of_class_ids_without_background_are_refused(tmp_path, save_tiny_model,
                                                            capsys):
    model = save_tiny_model(tmp_path, sampling=None)
    data = _labelled(tmp_path / "ids", ["a", "b"], values=(1, 2))
    out = tmp_path / "ev"
    assert main(["evaluate", str(model), str(data), "-o", str(out)]) == 2
    err = _err(capsys)
    assert "every labelled pixel is foreground (no label holds a 0); 0 must be background" in err
    assert not out.exists()  # refused before any work
    # one label with background is enough: not refused
    _labelled(tmp_path / "mixed", ["c"])
    assert main(["evaluate", str(model), str(data), str(tmp_path / "mixed"), "-o",
                 str(out), "--no-overlays"]) == 0
    capsys.readouterr()


def test_a_zarr_of_class_ids_without_background_is_refused(tmp_path, save_tiny_model,
                                                           capsys):
    zarr = pytest.importorskip("zarr")
    model = save_tiny_model(tmp_path, sampling=None)
    root = zarr.open_group(str(tmp_path / "ids.zarr"), mode="w")
    root.create_array("images", data=np.random.default_rng(0).random((2, 32, 32),
                                                                    dtype=np.float32))
    labels = np.ones((2, 32, 32), np.uint8)
    labels[:, 8:16] = 2
    root.create_array("labels", data=labels)
    assert main(["evaluate", str(model), str(tmp_path / "ids.zarr"), "-o",
                 str(tmp_path / "ev")]) == 2
    assert "every labelled pixel is foreground" in _err(capsys)


# 3. some labels without foreground


def test_some_labels_without_foreground_are_warned_once(tmp_path, save_tiny_model, capsys):
    from temseg.metrics import Confusion, scores_from_confusion

    model = save_tiny_model(tmp_path, sampling=None)
    names = ["a", "b", "c", "d", "e", "f"]
    data = _labelled(tmp_path / "data", names, empty=("b", "c", "d", "f"))
    out = tmp_path / "ev"
    assert main(["evaluate", str(model), str(data), "-o", str(out), "--no-overlays"]) == 0
    err = _err(capsys)
    assert ('warning: 4 of 6 images have no foreground pixel in their label (b, c, d, ...): '
            'they count in "mean of images" with F1, Jaccard, precision and recall 1 where '
            'nothing is predicted, 0 with any false positive') in err
    assert err.count("no foreground pixel") == 1 and "all 6" not in err
    rows = _rows(out / "per_image.csv")
    images = rows[:6]
    assert [int(r["label_foreground_px"]) for r in images] == [160, 0, 0, 0, 160, 0]
    for row in images:  # scores_from_confusion's convention for an empty truth, kept
        counts = [int(row[k]) for k in ("tp", "fp", "fn", "tn")]
        assert float(row["f1"]) == pytest.approx(scores_from_confusion(Confusion(*counts))["f1"])
        if row["label_foreground_px"] == "0":
            assert float(row["f1"]) == (1.0 if counts[1] == 0 else 0.0)
    assert float(rows[-1]["f1"]) == pytest.approx(np.mean([float(r["f1"]) for r in images]))


def test_a_class_model_marks_images_without_foreground(tmp_path, save_focal_model, capsys):
    zarr = pytest.importorskip("zarr")
    model = save_focal_model(tmp_path, sampling=1.0)
    rng = np.random.default_rng(11)
    labels = np.zeros((2, 64, 64), np.uint8)
    labels[0, 10:20, 10:20], labels[0, 30:40, 30:40] = 1, 3
    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    root.create_array("images", data=rng.gamma(4.0, 25.0, (2, 3, 64, 64)).astype(np.float32))
    root.create_array("labels", data=labels)
    root.attrs.update(sampling=1.0)
    out = tmp_path / "ev"
    assert main(["evaluate", str(model), str(tmp_path / "s.zarr"), "-o", str(out), "--tile",
                 "64", "--no-overlays"]) == 0
    assert "1 of 2 images have no foreground pixel in their label (s_00001)" in _err(capsys)
    assert [int(r["label_foreground_px"]) for r in _rows(out / "per_image.csv")] == [200, 0]
