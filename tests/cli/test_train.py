"""`temseg train` end to end on a tiny residual U-Net and synthetic lattice particles."""

import json

import imageio.v3 as iio
import numpy as np
import pytest

from temseg.cli.main import main
from temseg.synthetic import particle_set

RECIPE = """\
architecture: resunet
model: {blocks: 2, filters: 4}
preprocessing: {remove_outliers: false, standardize: true}
loss: ce
lr: 1.0e-2
amsgrad: true
batch_size: 2
epochs: 3
val_fraction: 0.25
device: cpu
"""


def write_folder(folder, n=6, shape=(32, 32), seed=0):
    """n lattice-particle images as 8-bit PNGs with _LABEL masks, stack-style names."""
    folder.mkdir(parents=True)
    pairs = particle_set(n, shape, seed=seed, radius_px=(6, 10), spacing_px=4,
                         mass_contrast=1.0, noise_sigma=0.2)
    for i, (img, mask) in enumerate(pairs):
        u8 = np.clip((img - img.min()) / np.ptp(img) * 255, 0, 255).astype(np.uint8)
        name = f"stack{i // 2}_layer_{i:04d}"
        iio.imwrite(folder / f"{name}.png", u8)
        iio.imwrite(folder / f"{name}_LABEL.png", mask * 255)
    return folder


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE)
    return path


def test_train_two_seeds_writes_models_logs_and_summary(tmp_path, recipe, capsys):
    data = write_folder(tmp_path / "data")
    out = tmp_path / "run"
    rc = main(["train", str(data), "-c", str(recipe), "-o", str(out), "--seeds", "0,1",
               "--epochs", "3"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "mean" in captured.out and "std" in captured.out
    assert captured.out.count("scores on") == 1 and "ensemble" not in captured.out
    for seed in (0, 1):
        run = out / f"seed_{seed}"
        log = json.loads((run / "log.json").read_text())
        assert len(log) == 3 and log[-1]["train_loss"] < log[0]["train_loss"]
        assert (run / "learning_curve.png").stat().st_size > 1000
        meta = json.loads((run / "model.json").read_text())
        assert meta["kind"] == "network"
        cfg = meta["config"]
        assert cfg["architecture"] == "resunet" and cfg["threshold"] == 0.5
        assert cfg["preprocessing"]["standardize"] is True
        training = cfg["training"]
        assert training["seed"] == seed and training["recipe"]["epochs"] == 3
        # grouped split: the two frames of a stack are on one side
        val_stacks = {n.split("_layer")[0] for n in training["val_images"]}
        train_stacks = {n.split("_layer")[0] for n in training["train_images"]}
        assert val_stacks and not val_stacks & train_stacks
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_runs"] == 2 and 0.0 <= summary["mean"]["f1"] <= 1.0
    assert summary["std"]["f1"] >= 0.0
    assert (out / "runs.csv").read_text().count("\n") == 3
    assert json.loads((out / "record.json").read_text())["config"]["seeds"] == [0, 1]


def test_kfold_and_resume(tmp_path, recipe, capsys):
    data = write_folder(tmp_path / "data")
    out = tmp_path / "cv"
    args = ["train", str(data), "-c", str(recipe), "-o", str(out), "--folds", "3",
            "--val-fraction", "0", "--epochs", "1"]
    assert main(args) == 0
    table = (out / "runs.csv").read_text().splitlines()
    assert len(table) == 4 and table[0].startswith("fold,seed")
    tested = set()
    for f in (1, 2, 3):
        meta = json.loads((out / f"fold_{f}/model.json").read_text())["config"]["training"]
        assert meta["scored_on"] == "test fold" and not set(meta["test_images"]) & set(
            meta["train_images"])
        tested |= set(meta["test_images"])
    assert len(tested) == 6  # every image is tested exactly once over the folds
    capsys.readouterr()
    # info of the whole output: its scores over the folds and where each fold's model is
    assert main(["info", str(out)]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    summary = json.loads((out / "summary.json").read_text())
    assert "3 run(s) scored on test folds" in shown and "runs fold_1, fold_2, fold_3" in shown
    assert f"f1 {summary['mean']['f1']:.4f} ± {summary['std']['f1']:.4f}" in shown
    # a model is one fold's: the folder of all of them is refused, naming them
    interrupted = tmp_path / "cv_interrupted"  # no summary.json yet
    interrupted.mkdir()
    for f in (1, 2):
        (interrupted / f"fold_{f}").mkdir()
        for name in ("model.json", "model.safetensors"):
            (interrupted / f"fold_{f}" / name).write_bytes((out / f"fold_{f}" / name).read_bytes())
    for folder, shown in ((out, "3 trained runs (fold_1, fold_2, fold_3)"),
                          (interrupted, "2 trained runs (fold_1, fold_2)")):
        for command in (["evaluate", str(folder), str(data)],
                        ["segment", str(folder), str(data / "stack0_layer_0000.png")]):
            assert main([*command, "-o", str(tmp_path / "x")]) == 2
            err = " ".join(capsys.readouterr().err.split())
            assert f"holds {shown}, not one model" in err
    # a second run into the same folder must not overwrite it
    assert main(args) == 2
    assert "earlier run" in capsys.readouterr().err
    # --resume keeps finished runs as they are
    assert main(["train", "-o", str(out), "--resume"]) == 0
    before = (out / "config.yaml").read_text()
    # ...but will not pretend to continue a different training (it used to rewrite
    # config.yaml to the new recipe and train nothing)
    capsys.readouterr()
    assert main(["train", "-o", str(out), "--resume", "--lr", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--resume: the recipe differs" in err and "lr: 0.01 → 0.5" in err
    assert (out / "config.yaml").read_text() == before


def test_kfold_ensemble_of_seeds_is_written_and_scored(tmp_path, recipe, capsys):
    from safetensors.numpy import load_file

    data = write_folder(tmp_path / "data")
    out = tmp_path / "cv"
    assert main(["train", str(data), "-c", str(recipe), "-o", str(out), "--folds", "2",
                 "--val-fraction", "0", "--epochs", "1", "--seeds", "3,4", "--ensemble"]) == 0
    printed = capsys.readouterr().out
    assert "ensemble of 2 seeds" in printed
    rows = (out / "runs.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 + 2 and sum(",ensemble," in r for r in rows) == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_runs"] == 4 and summary["ensemble"]["n_runs"] == 2
    assert 0.0 <= summary["ensemble"]["mean"]["f1"] <= 1.0
    for fold in (1, 2):
        folder = out / f"fold_{fold}"
        meta = json.loads((folder / "ensemble.json").read_text())["config"]
        assert meta["architecture"] == "ensemble" and len(meta["options"]["members"]) == 2
        weights = load_file(str(folder / "ensemble.safetensors"))
        for i, seed in enumerate((3, 4)):
            member = load_file(str(folder / f"seed_{seed}" / "model.safetensors"))
            np.testing.assert_array_equal(weights[f"members.{i}.head.weight"],
                                          member["head.weight"])
        result = json.loads((folder / "ensemble_result.json").read_text())
        assert result["seeds"] == [3, 4] and set(result["scores"]) >= {"f1", "jaccard"}
        per_image = (folder / "ensemble_per_image.csv").read_text().splitlines()
        seed_model = json.loads((folder / "seed_3" / "model.json").read_text())
        assert len(per_image) == 1 + len(seed_model["config"]["training"]["test_images"])
    capsys.readouterr()
    # info and a model argument name the seeds' averages beside the runs
    assert main(["info", str(out)]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "fold_1/seed_3, fold_1/seed_4, fold_2/seed_3" in shown
    assert "ensembles fold_1/ensemble.json, fold_2/ensemble.json" in shown
    assert main(["evaluate", str(out), str(data), "-o", str(tmp_path / "x")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "holds 4 trained runs" in err and "or an average of seeds, e.g." in err
    assert main(["train", str(data), "-c", str(recipe), "-o", str(tmp_path / "one"),
                 "--ensemble"]) == 2
    assert "two or more seeds" in capsys.readouterr().err


def test_resume_continues_to_more_epochs(tmp_path, recipe):
    data = write_folder(tmp_path / "data", n=4)
    out = tmp_path / "run"
    assert main(["train", str(data), "-c", str(recipe), "-o", str(out), "--epochs", "1",
                 "--val-fraction", "0"]) == 0
    (out / "result.json").unlink()  # as if stopped before the end
    assert main(["train", "-o", str(out), "--resume", "--epochs", "2"]) == 0
    log = json.loads((out / "log.json").read_text())
    assert [r["epoch"] for r in log] == [1, 2]
    # a finished run is trained for longer too (it used to keep it and train nothing)
    assert json.loads((out / "result.json").read_text())["epochs"] == 2
    assert main(["train", "-o", str(out), "--resume", "--epochs", "3"]) == 0
    assert [r["epoch"] for r in json.loads((out / "log.json").read_text())] == [1, 2, 3]


def test_sigterm_keeps_the_last_whole_epoch_to_resume_from(tmp_path, recipe, monkeypatch,
                                                           capsys):
    """A batch scheduler's time limit (SIGTERM) after epoch 1 of 3: exit 143, the epoch kept."""
    import os
    import signal

    import temseg.train.loop as loop

    data = write_folder(tmp_path / "data", n=4)
    out = tmp_path / "run"
    write_log = loop.write_log

    def killed_after_epoch_1(out_dir, history):
        write_log(out_dir, history)
        if len(history) == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(loop, "write_log", killed_after_epoch_1)
    code = main(["train", str(data), "-c", str(recipe), "-o", str(out), "--epochs", "3",
                 "--val-fraction", "0"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 143 and "terminated: the last whole epoch is saved" in err
    trainer = json.loads((out / "checkpoints" / "last" / "trainer.json").read_text())
    assert trainer["epoch"] == 1 and not (out / "result.json").exists()
    monkeypatch.undo()
    # resumed with the data folder moved (the same images): the same model as never stopped
    moved = data.rename(tmp_path / "moved")
    assert main(["train", str(moved), "-o", str(out), "--resume"]) == 0
    assert [r["epoch"] for r in json.loads((out / "log.json").read_text())] == [1, 2, 3]
    assert main(["train", str(moved), "-c", str(recipe), "-o", str(tmp_path / "straight"),
                 "--epochs", "3", "--val-fraction", "0"]) == 0
    from safetensors.numpy import load_file

    a, b = (load_file(str(f / "model.safetensors")) for f in (out, tmp_path / "straight"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


@pytest.mark.parametrize("args, message", [
    (["--loss", "focal"], "loss"),
    (["--epochs", "0"], "epochs"),
    (["--threads", "0"], "--threads: must be >= 1, got 0"),
    (["--architecture", "vgg"], "architecture"),
    (["--architecture", "unet"], "blocks"),  # a resunet option given to the U-Net
    (["--patch-size", "3"], "pooling factor of 4 px"),
    (["--patch-size", "1000"], "is smaller than patch_size 1000"),
])
def test_bad_options_fail_in_one_line(tmp_path, recipe, capsys, args, message):
    data = write_folder(tmp_path / "data", n=2)
    rc = main(["train", str(data), "-c", str(recipe), "-o", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # no run folder with a lone config.yaml left


def test_show_config_prints_the_resolved_recipe_and_trains_nothing(tmp_path, recipe, capsys):
    import yaml

    rc = main(["train", "-c", str(recipe), "--epochs", "7", "--show-config"])
    shown = yaml.safe_load(capsys.readouterr().out)
    assert rc == 0
    assert shown["epochs"] == 7 and shown["batch_size"] == 2  # flag over recipe
    assert shown["noise"] == 0.0  # a default
    # the network's and the preprocessing's defaults are shown too, beside the recipe's options
    assert shown["model"] == {"blocks": 2, "filters": 4, "pool": 2, "dilation": 1,
                              "kernel_size": 3, "padding_mode": "zeros"}
    assert shown["preprocessing"]["standardize"] is True
    assert "outlier_threshold" in shown["preprocessing"]
    assert list(tmp_path.iterdir()) == [recipe]  # nothing written
    # what it prints is a recipe that loads back to the same config
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(shown))
    assert main(["train", "-c", str(again), "--show-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == shown
    rc = main(["train", "-c", str(recipe)])
    assert rc == 2 and "--out" in capsys.readouterr().err
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({**shown, "model": {"blocks": 2, "filtres": 4}}))
    rc = main(["train", "-c", str(typo), "--show-config"])
    err = capsys.readouterr().err
    assert rc == 2 and "'filtres'" in err and "Traceback" not in err
    for bad, said in (("'4'", "model.blocks: must be an integer >= 1, got '4'"),
                      ("0", "model.blocks: must be an integer >= 1, got 0")):
        typo.write_text(yaml.safe_dump({**shown, "model": {"blocks": 2}}).replace(
            "blocks: 2", f"blocks: {bad}"))
        assert main(["train", "-c", str(typo), "--show-config"]) == 2
        assert said in capsys.readouterr().err


def test_bad_data_fails_before_work(tmp_path, recipe, capsys):
    rc = main(["train", str(tmp_path / "missing"), "-c", str(recipe), "-o", str(tmp_path / "o")])
    assert rc == 2 and "no such" in capsys.readouterr().err
    small = write_folder(tmp_path / "small", n=4, shape=(32, 32))
    rc = main(["train", str(small), "-c", str(recipe), "-o", str(tmp_path / "o2"),
               "--patch-size", "2"])  # the recipe's network pools by 4
    assert rc == 2 and "pooling factor" in capsys.readouterr().err
    rc = main(["train", "-o", str(tmp_path / "nothing"), "--resume"])
    assert rc == 2 and "nothing to resume" in capsys.readouterr().err
    assert not (tmp_path / "o2" / "checkpoints").exists()
