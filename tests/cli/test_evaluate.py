"""`temseg evaluate` on a freshly trained tiny network and on a Fourier baseline file."""

import csv
import importlib.util
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from temseg.cli.main import main

_spec = importlib.util.spec_from_file_location("_train_cli", Path(__file__).with_name("test_train.py"))
_train_cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_train_cli)

CONFUSION = {(255, 255, 255), (0, 0, 0), (255, 0, 0), (0, 0, 255)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ev")
    data = _train_cli.write_folder(root / "data", n=4)
    recipe = root / "recipe.yaml"
    recipe.write_text(_train_cli.RECIPE)
    assert main(["train", str(data), "-c", str(recipe), "-o", str(root / "run"),
                 "--epochs", "2", "--val-fraction", "0"]) == 0
    return root


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_evaluate_network_writes_table_csv_and_overlays(trained, capsys):
    out = trained / "eval"
    rc = main(["evaluate", str(trained / "run" / "model.json"), str(trained / "data"),
               "-o", str(out), "--threshold", "0.4"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "pooled" in captured.out and "jaccard" in captured.out
    # trained on these very images (--val-fraction 0): its training record says so
    assert "4 of 4 scored images are named as images the model was trained on: their scores " \
           "are not held-out" in " ".join(captured.err.split())
    rows = _rows(out / "per_image.csv")
    assert [r["name"] for r in rows][-2:] == ["pooled", "mean of images"] and len(rows) == 6
    pooled = json.loads((out / "pooled.json").read_text())
    assert pooled["threshold"] == 0.4 and pooled["n_images"] == 4
    images = rows[:4]
    for key in ("accuracy", "balanced_accuracy", "jaccard", "f1", "precision", "recall"):
        assert 0.0 <= pooled[key] <= 1.0
        assert float(rows[-2][key]) == pytest.approx(pooled[key])
        mean = np.mean([float(r[key]) for r in images])
        assert float(rows[-1][key]) == pytest.approx(mean)
        assert pooled["image_mean"][key] == pytest.approx(mean)
    # each image's own counts, summed, are the pooled counts
    for key in ("tp", "fp", "fn", "tn"):
        assert sum(int(r[key]) for r in images) == pooled[key]
    assert "mean of images" in captured.out
    # pooled counts agree with the per-image confusion pictures
    tp = fp = fn = 0
    for png in sorted((out / "confusion").glob("*.png")):
        rgb = iio.imread(png)[..., :3]
        assert rgb.shape == (256, 256, 3)  # 32² enlarged 8× to be read
        rgb = rgb[::8, ::8]
        assert {tuple(c) for c in rgb.reshape(-1, 3)} <= CONFUSION
        tp += int(np.all(rgb == 255, axis=-1).sum())
        fp += int(np.all(rgb == (255, 0, 0), axis=-1).sum())
        fn += int(np.all(rgb == (0, 0, 255), axis=-1).sum())
    assert len(list((out / "confusion").glob("*.png"))) == 4
    assert (tp, fp, fn) == (pooled["tp"], pooled["fp"], pooled["fn"])
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["threshold"] == 0.4 and record["held_out"]["held_out"] is False


def test_evaluate_with_tta_scores_the_averaged_prediction(trained, capsys):
    from temseg.infer import load_segmenter
    from temseg.io import read_labelled_folder
    from temseg.metrics import score_set

    out = trained / "eval_tta"
    rc = main(["evaluate", str(trained / "run" / "model.json"), str(trained / "data"),
               "-o", str(out), "--tta", "--no-overlays"])
    assert rc == 0, capsys.readouterr().err
    seg = load_segmenter(trained / "run" / "model.json", tta=True, device="cpu")
    pairs = read_labelled_folder(trained / "data")
    preds = [seg.predict(p.image) >= 0.5 for p in pairs]
    expected, _ = score_set(preds, [p.label > 0 for p in pairs])
    pooled = json.loads((out / "pooled.json").read_text())
    assert pooled["f1"] == pytest.approx(expected["f1"], abs=1e-9)
    assert json.loads((out / "record.json").read_text())["config"]["tta"] is True


def test_evaluate_baseline_file(trained, capsys):
    from temseg.baselines import BaselineModel, FourierParams, save_baseline

    path = save_baseline(trained / "fourier.json",
                         BaselineModel("fourier", FourierParams(band=(0.2, 0.3))))
    rc = main(["evaluate", str(path), str(trained / "data"), "-o", str(trained / "ev_b"),
               "--no-overlays"])
    assert rc == 0, capsys.readouterr().err
    assert len(_rows(trained / "ev_b" / "per_image.csv")) == 6
    assert not (trained / "ev_b" / "confusion").exists()


@pytest.mark.parametrize("args, message", [
    (["--threshold", "1.5"], "threshold"),
    (["--threads", "0"], "--threads: must be >= 1"),
])
def test_bad_threshold(trained, capsys, args, message):
    rc = main(["evaluate", str(trained / "run"), str(trained / "data"), "-o",
               str(trained / "x"), *args])
    assert rc == 2 and message in capsys.readouterr().err


def test_missing_model(trained, capsys):
    rc = main(["evaluate", str(trained / "nope.json"), str(trained / "data"), "-o",
               str(trained / "y")])
    assert rc == 2 and "nope" in capsys.readouterr().err


def test_threads_option_sets_torchs_threads(trained, capsys):
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert main(["evaluate", str(trained / "run"), str(trained / "data"), "-o",
                     str(trained / "threads"), "--threads", "1", "--no-overlays"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
