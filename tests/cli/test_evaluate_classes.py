"""``temseg evaluate`` on zarr datasets: per-class scores of a focal-series species model (003),
foreground scores of a one-channel model."""

import csv
import json

import numpy as np
import pytest
from skimage.draw import disk

from temseg.cli.main import main
from temseg.infer import load_segmenter

SPECIES = ["background", "Mo", "S2", "S1"]
CHANNELS = ["Δf -50 Å", "Δf +0 Å", "Δf +50 Å"]
zarr = pytest.importorskip("zarr")


def _write_zarr(path, *, channels=3, n=3, classes=SPECIES):
    rng = np.random.default_rng(11)
    shape = (n, channels, 64, 64) if channels > 1 else (n, 64, 64)
    images = rng.gamma(4.0, 25.0, shape).astype(np.float32)
    labels = np.zeros((n, 64, 64), np.uint8)
    for i in range(n):
        for j, (y, x) in enumerate(rng.integers(6, 58, (9, 2))):
            labels[i][disk((y, x), 4, shape=(64, 64))] = 1 + j % 3
    root = zarr.open_group(str(path), mode="w")
    root.create_array("images", data=images)
    root.create_array("labels", data=labels)
    root.attrs.update(sampling=1.0, classes=classes,
                      **({"channels": CHANNELS} if channels > 1 else {}))
    return path, images, labels


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_per_class_scores_of_a_focal_series_model(tmp_path, save_focal_model, capsys):
    model = save_focal_model(tmp_path, sampling=1.0)
    data, images, labels = _write_zarr(tmp_path / "mos2.zarr")
    out = tmp_path / "eval"
    code = main(["evaluate", str(model), str(data), "-o", str(out), "--tile", "64",
                 "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = _rows(out / "per_class.csv")
    assert [r["class"] for r in rows] == SPECIES + ["mean (foreground)"]
    assert {"f1", "jaccard", "precision", "recall", "tp", "fp", "fn", "tn"} <= set(rows[0])
    # the scores are those of the model's most probable class, pooled over the three images
    seg = load_segmenter(model, tile=64, device="cpu")
    pred = np.stack([seg.predict_proba(im, sampling=1.0).argmax(0) for im in images])
    for c, row in enumerate(rows[:4]):
        tp = int(((pred == c) & (labels == c)).sum())
        fp, fn = int(((pred == c) & (labels != c)).sum()), int(((pred != c) & (labels == c)).sum())
        assert (int(row["tp"]), int(row["fp"]), int(row["fn"])) == (tp, fp, fn)
        if 2 * tp + fp + fn:
            assert float(row["f1"]) == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert float(rows[4]["f1"]) == pytest.approx(np.mean([float(r["f1"]) for r in rows[1:4]]))
    pooled = json.loads((out / "pooled.json").read_text())
    assert pooled["classes"] == SPECIES and pooled["n_images"] == 3
    assert np.asarray(pooled["matrix"]).sum() == labels.size
    assert len(_rows(out / "per_image.csv")) == 3
    assert sorted(p.name for p in (out / "confusion").iterdir()) == [
        "mos2_00000.png", "mos2_00001.png", "mos2_00002.png"]
    record = json.loads((out / "record.json").read_text())
    assert record["channels"] == CHANNELS and record["classes"] == SPECIES
    assert "mean (foreground)" in captured.out and "S1" in captured.out
    # columns: every labelled disc counted once, every found region of >= 3 px once
    from skimage.measure import label, regionprops

    columns = {r["class"]: r for r in _rows(out / "columns.csv")}
    for c, name in enumerate(SPECIES[1:], start=1):
        labelled = sum(label(lab == c, connectivity=1).max() for lab in labels)
        found = sum(sum(r.area >= 3 for r in regionprops(label(p == c, connectivity=1)))
                    for p in pred)
        row = columns[name]
        assert (int(row["labelled"]), int(row["found"])) == (labelled, found)
        assert int(row["tp"]) + int(row["fn"]) == labelled
        assert int(row["tp"]) + int(row["fp"]) == found
    assert pooled["columns"]["S1"]["labelled"] == int(columns["S1"]["labelled"])


def test_a_dataset_of_the_wrong_channel_count_is_one_line(tmp_path, save_focal_model, capsys):
    model = save_focal_model(tmp_path)
    data, _, _ = _write_zarr(tmp_path / "one.zarr", channels=1)
    code = main(["evaluate", str(model), str(data), "-o", str(tmp_path / "e")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {data}: images have 1 channel(s) (3×1×64×64); the model takes focal " \
           "series of 3 images (Δf -50, +0, +50 Å)" in err
    folder = tmp_path / "folder"
    folder.mkdir()
    code = main(["evaluate", str(model), str(folder), "-o", str(tmp_path / "f")])
    assert code == 2 and "a labelled folder holds single images" in capsys.readouterr().err


def test_a_binary_model_scores_a_zarr_dataset_as_foreground(tmp_path, save_tiny_model, capsys):
    model = save_tiny_model(tmp_path, sampling=1.0)
    data, _, _ = _write_zarr(tmp_path / "bin.zarr", channels=1, n=2)
    out = tmp_path / "eval"
    code = main(["evaluate", str(model), str(data), "-o", str(out), "--tile", "64"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"warning: {data}: labels of 4 classes (background, Mo, S2, S1) for a model of 2 " \
           "(background, foreground): scored as foreground (any class > 0) against " \
           "background" in " ".join(err.split())
    assert not (out / "per_class.csv").exists()
    rows = _rows(out / "per_image.csv")
    assert [r["name"] for r in rows] == ["bin_00000", "bin_00001", "pooled", "mean of images"]
    pooled = json.loads((out / "pooled.json").read_text())
    labels = zarr.open_group(str(data), mode="r")["labels"][:]
    assert pooled["tp"] + pooled["fn"] == int((labels > 0).sum())


def test_labels_beyond_the_classes_are_refused_before_any_work(tmp_path, save_focal_model,
                                                               capsys):
    model = save_focal_model(tmp_path, sampling=1.0)
    data, _, labels = _write_zarr(tmp_path / "bad.zarr", n=3)
    labels[2, 5:9, 5:9] = 7  # a class the model does not have, in the last image
    zarr.open_group(str(data), mode="r+")["labels"][:] = labels
    out = tmp_path / "eval"
    code = main(["evaluate", str(model), str(data), "-o", str(out), "--tile", "64",
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: {data}: image bad_00002: labels hold class index 7, beyond the model's 4 "
        "classes 0..3 (background, Mo, S2, S1)"]
    assert not out.exists()  # no confusion PNGs of the first images left behind


def test_a_dataset_without_pixel_size_is_warned_once_by_name(tmp_path, save_focal_model,
                                                             capsys):
    model = save_focal_model(tmp_path, sampling=1.0)
    data, _, _ = _write_zarr(tmp_path / "nocal.zarr", n=3)
    del zarr.open_group(str(data), mode="r+").attrs["sampling"]
    out = tmp_path / "eval"
    code = main(["evaluate", str(model), str(data), "-o", str(out), "--tile", "64",
                 "--device", "cpu"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 0, err
    assert err.count("has no pixel size: predicting at its own sampling") == 1
    assert f"warning: {data}: image has no pixel size" in err
    assert "3 of 3 images have no pixel size: their columns are not matched" in err
    assert json.loads((out / "pooled.json").read_text())["columns"] is None


def test_the_record_says_what_each_dataset_was_scored_at(tmp_path, save_focal_model, capsys):
    model = save_focal_model(tmp_path, sampling=1.0)
    data, _, _ = _write_zarr(tmp_path / "mos2.zarr", n=2)
    out = tmp_path / "eval"
    code = main(["evaluate", str(model), str(data), "-o", str(out), "--tile", "64",
                 "--device", "cpu", "--no-overlays"])
    assert code == 0, capsys.readouterr().err
    config = json.loads((out / "record.json").read_text())["config"]
    assert config["datasets"] == [{"path": str(data), "images": 2, "sampling": 1.0,
                                   "classes": SPECIES, "channels": CHANNELS}]
    assert config["tile"] == 64 and config["device"] == "cpu"
    assert config["segmenter"]["in_channels"] == 3 and config["segmenter"]["sampling"] == 1.0


@pytest.mark.parametrize(("option", "message"), [
    (["--column-distance", "0"], "--column-distance: must be a positive distance in Å"),
    (["--column-distance", "-1"], "--column-distance: must be a positive distance in Å"),
    (["--column-distance", "inf"], "--column-distance: must be a positive distance in Å"),
    (["--min-column-px", "0"], "--min-column-px: must be >= 1, got 0")])
def test_bad_column_options_are_one_line_before_any_work(tmp_path, option, message, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "nothing.json", str(tmp_path), "-o", str(out), *option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {message}")
    assert not out.exists()


def test_channels_named_in_another_order_are_read_in_the_models(tmp_path, save_focal_model,
                                                                capsys):
    model = save_focal_model(tmp_path, sampling=1.0)
    data, images, labels = _write_zarr(tmp_path / "mos2.zarr", n=2)
    flipped = zarr.open_group(str(tmp_path / "flip.zarr"), mode="w")
    flipped.create_array("images", data=images[:, ::-1].copy())
    flipped.create_array("labels", data=labels)
    flipped.attrs.update(sampling=1.0, classes=SPECIES, channels=CHANNELS[::-1])
    for name in ("mos2", "flip"):
        code = main(["evaluate", str(model), str(tmp_path / f"{name}.zarr"), "-o",
                     str(tmp_path / f"e_{name}"), "--tile", "64", "--device", "cpu"])
        err = " ".join(capsys.readouterr().err.split())
        assert code == 0, err
    assert "flip.zarr: channels Δf +50 Å, Δf +0 Å, Δf -50 Å read in the model's order" in err
    assert "scored by index" not in err
    assert _rows(tmp_path / "e_flip" / "per_class.csv") == \
        _rows(tmp_path / "e_mos2" / "per_class.csv")


@pytest.mark.parametrize("kind", ["focal", "binary"])
def test_a_nan_image_half_way_is_named_and_leaves_no_folder(tmp_path, save_focal_model,
                                                            save_tiny_model, capsys, kind):
    model = (save_focal_model(tmp_path, sampling=1.0) if kind == "focal"
             else save_tiny_model(tmp_path, sampling=1.0))
    data, images, _ = _write_zarr(tmp_path / "d.zarr", channels=3 if kind == "focal" else 1)
    images[2, ..., 5, 5] = np.nan  # the last image: the first ones' overlays are written
    zarr.open_group(str(data), mode="r+")["images"][:] = images
    out = tmp_path / "eval"
    code = main(["evaluate", str(model), str(data), "-o", str(out), "--tile", "64",
                 "--device", "cpu"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"error: {data}: image d_00002: ")
    assert "NaN" in err[0]
    assert not out.exists()


def test_datasets_of_one_name_in_two_folders_keep_their_images_apart(tmp_path,
                                                                     save_focal_model, capsys):
    model = save_focal_model(tmp_path, sampling=1.0)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, _, _ = _write_zarr(tmp_path / "a" / "test.zarr", n=2)
    second, _, _ = _write_zarr(tmp_path / "b" / "test.zarr", n=2)
    out = tmp_path / "eval"
    code = main(["evaluate", str(model), str(first), str(second), "-o", str(out), "--tile",
                 "64", "--device", "cpu"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 0, err
    assert f"{second}: image names repeat those of an earlier DATA path; written as b_NAME" in err
    names = ["test_00000", "test_00001", "b_test_00000", "b_test_00001"]
    assert [r["name"] for r in _rows(out / "per_image.csv")] == names
    assert sorted(p.stem for p in (out / "confusion").iterdir()) == sorted(names)


def _add_doses(path, doses):
    root = zarr.open_group(str(path), mode="r+")
    root.require_group("parameters").create_array("dose", data=np.asarray(doses, float))


@pytest.mark.parametrize("kind", ["focal", "binary"])
def test_a_set_with_doses_is_also_scored_per_dose_band(tmp_path, save_focal_model,
                                                       save_tiny_model, capsys, kind):
    from temseg.metrics import class_confusion, class_report

    focal = kind == "focal"
    model = (save_focal_model(tmp_path, sampling=1.0) if focal
             else save_tiny_model(tmp_path, sampling=1.0))
    data, _, labels = _write_zarr(tmp_path / "d.zarr", channels=3 if focal else 1, n=4)
    _add_doses(data, [150.0, 2.5e3, 4.0e3, np.nan])  # the last: no dose (left out of bands)
    out = tmp_path / "eval"
    code = main(["evaluate", str(model), str(data), "-o", str(out), "--tile", "64",
                 "--no-overlays"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out_text = " ".join(captured.out.split())
    assert ("pooled per band of dose (e/Å²; each image of a series, 3× in all)" if focal
            else "pooled per band of dose (e/Å²) (") in out_text
    record = json.loads((out / "record.json").read_text())
    if focal:  # 3 px at the model's pixel size, which is the data's
        assert record["config"]["min_column_px_used"] == [3]
    assert "1 of 4 images have no dose: left out of per_dose.csv" in captured.err
    bands = _rows(out / "per_dose.csv")
    assert [(round(float(b["dose_low_e_per_A2"])), round(float(b["dose_high_e_per_A2"])), b["images"])
            for b in bands] == [(100, 316, "1"), (1000, 3162, "1"), (3162, 10000, "1")]
    assert [float(b["dose_mean_e_per_A2"]) for b in bands] == pytest.approx([150, 2500, 4000])
    assert (out / "per_dose.png").stat().st_size > 10_000
    rows = _rows(out / "per_image.csv")
    assert [r["dose_e_per_A2"] for r in rows[:4]] == ["150.0", "2500.0", "4000.0", ""]
    # a band of one image scores as that image does
    segmenter = load_segmenter(model)
    images = zarr.open_group(str(data), mode="r")["images"]
    proba = segmenter.predict_proba(np.asarray(images[2]), sampling=1.0)
    if focal:
        matrix = class_confusion(proba.argmax(0).astype(np.uint8), labels[2], n_classes=4)
        report = class_report(matrix, SPECIES)
        for c in (1, 2, 3):
            assert float(bands[2][f"f1_{SPECIES[c]}"]) == pytest.approx(
                report["per_class"][c]["f1"])
        assert float(bands[2]["mean_f1"]) == pytest.approx(report["mean_foreground"]["f1"])
    else:
        assert float(bands[2]["f1"]) == pytest.approx(float(rows[2]["f1"]))
        pred, truth = proba[1] >= 0.5, labels[2] > 0
        tp = int((pred & truth).sum())
        assert float(bands[2]["f1"]) == pytest.approx(
            2 * tp / (pred.sum() + truth.sum()))
    by_dose = json.loads((out / "pooled.json").read_text())["by_dose"]
    assert [b["images"] for b in by_dose] == [1, 1, 1]


def test_a_set_without_doses_has_no_dose_outputs(tmp_path, save_focal_model, capsys):
    model = save_focal_model(tmp_path, sampling=1.0)
    data, _, _ = _write_zarr(tmp_path / "d.zarr", n=2)
    out = tmp_path / "eval"
    assert main(["evaluate", str(model), str(data), "-o", str(out), "--tile", "64",
                 "--no-overlays"]) == 0, capsys.readouterr().err
    assert not (out / "per_dose.csv").exists() and not (out / "per_dose.png").exists()
    assert "dose_e_per_A2" not in _rows(out / "per_image.csv")[0]
    assert json.loads((out / "pooled.json").read_text())["by_dose"] is None
