"""`temseg train` guards: resume only with the images trained on, k-fold options that would be
ignored, an output folder apart from the data, Ctrl-C before the first epoch."""

import json
import shutil
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from temseg.cli.main import main
from temseg.train.resume import DATA_RECORD
from tests.cli.test_train import RECIPE, write_folder


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE)
    return path


def _listing(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_resume_refuses_other_images_and_takes_a_moved_folder(tmp_path, recipe, capsys):
    data = write_folder(tmp_path / "d6")
    out = tmp_path / "kf"
    assert main(["train", str(data), "-c", str(recipe), "-o", str(out), "--folds", "2",
                 "--val-fraction", "0", "--epochs", "1"]) == 0
    record = json.loads((out / "data.json").read_text())
    assert record["data"]["images"] == sorted(p.stem for p in data.glob("*_layer_????.png"))
    assert record["data"]["groups"][:2] == ["stack0", "stack0"]
    (out / "fold_2" / "result.json").unlink()  # as if interrupted in fold 2
    config, run_record = (out / "config.yaml").read_bytes(), (out / "record.json").read_bytes()
    capsys.readouterr()
    # an added image would be planned into fold 2's training while its checkpoint is kept
    more = shutil.copytree(data, tmp_path / "more")
    for suffix in ("", "_LABEL"):
        shutil.copy(data / f"stack0_layer_0000{suffix}.png", more / f"extra_layer_0009{suffix}.png")
    assert main(["train", str(more), "--resume", "-o", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--resume: the data differ" in err and "1 image(s) added, e.g. 'extra_layer_0009'" in err
    less = shutil.copytree(data, tmp_path / "less")
    for suffix in ("", "_LABEL"):
        (less / f"stack2_layer_0005{suffix}.png").unlink()
    assert main(["train", str(less), "--resume", "-o", str(out)]) == 2
    assert "1 image(s) missing, e.g. 'stack2_layer_0005'" in " ".join(
        capsys.readouterr().err.split())
    # nothing rewritten to claim the other data, no fold trained
    assert (out / "config.yaml").read_bytes() == config
    assert (out / "record.json").read_bytes() == run_record
    assert not (out / "fold_2" / "result.json").exists()
    # the same images from a moved folder: resumed
    moved = data.rename(tmp_path / "moved")
    assert main(["train", str(moved), "--resume", "-o", str(out)]) == 0
    assert "could not be checked" not in capsys.readouterr().err
    assert (out / "fold_2" / "result.json").is_file()
    # an older run without data.json: resumed, with a warning that nothing was checked
    (out / "data.json").unlink()
    assert main(["train", str(moved), "--resume", "-o", str(out)]) == 0
    assert "the data could not be checked" in " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize("extra, args, message", [
    ("", ["--patience", "2", "--val-fraction", "0"],
     "patience: early stopping needs validation data (val_fraction > 0, split off each fold's"),
    ("val_data: [VAL]\n", [], "val_data: not used with folds ≥ 2 (each fold is scored on its"),
])
def test_kfold_options_that_would_be_ignored_are_refused(tmp_path, capsys, extra, args,
                                                         message):
    data = write_folder(tmp_path / "d", n=4)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE + extra.replace("VAL", str(write_folder(tmp_path / "v", n=2))))
    rc = main(["train", str(data), "-c", str(recipe), "-o", str(tmp_path / "o"),
               "--folds", "2", *args])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("where, how", [("d", "is"), ("d/run", "lies inside")])
def test_output_folder_overlapping_the_data_is_refused_before_writing(tmp_path, recipe, capsys,
                                                                      where, how):
    data = write_folder(tmp_path / "d", n=4)
    before = _listing(tmp_path)
    rc = main(["train", str(data), "-c", str(recipe), "-o", str(tmp_path / where),
               "--epochs", "1"])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2 and f"the output folder {how} the data {data}" in err
    assert _listing(tmp_path) == before  # nothing written, in the data or beside them


def test_ctrl_c_before_the_first_epoch_leaves_nothing_to_resume(tmp_path, recipe, monkeypatch,
                                                                capsys):
    import temseg.train.loop as loop

    data = write_folder(tmp_path / "d", n=4)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    def args(out):
        return ["train", str(data), "-c", str(recipe), "-o", str(out), "--epochs", "2",
                "--val-fraction", "0"]

    for out in (tmp_path / "again", tmp_path / "resumed"):
        monkeypatch.setattr(loop, "epoch_batches", ctrl_c)
        assert main(args(out)) == 130
        err = " ".join(capsys.readouterr().err.split())
        assert "interrupted before the first epoch finished" in err
        assert "nothing to resume" in err and "--resume" not in err
        assert not err.endswith("interrupted")  # said once, by train, not again by main
        assert json.loads((out / "checkpoints/last/trainer.json").read_text())["epoch"] == 0
        monkeypatch.undo()
    # the same command again starts afresh (the epoch-0 checkpoint is no earlier run)...
    assert main(args(tmp_path / "again")) == 0
    # ...and --resume from epoch 0 is the same training
    assert main(["train", "-o", str(tmp_path / "resumed"), "--resume"]) == 0
    logs = [json.loads((tmp_path / name / "log.json").read_text()) for name in ("again",
                                                                                "resumed")]
    assert [r["epoch"] for r in logs[1]] == [1, 2]
    assert [r["train_loss"] for r in logs[0]] == [r["train_loss"] for r in logs[1]]
    a, b = (load_file(str(tmp_path / name / "model.safetensors")) for name in ("again",
                                                                               "resumed"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def _lines(err):
    return [line.strip() for line in err.splitlines()]


def _raise_interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _raise_while_interrupted(*args, **kwargs):
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:  # what torch's own code did, interrupted halfway through its import
        raise AttributeError("partially initialized module 'torch' has no attribute 'fx'") \
            from None


class _HalfImportedTorch:
    """A meta path finder: importing torch again fails, as after an interrupted import."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            raise AttributeError("partially initialized module 'torch' has no attribute 'fx'")
        return None


@pytest.mark.parametrize("stop", [_raise_interrupt, _raise_while_interrupted])
def test_train_ctrl_c_while_torch_is_imported_says_interrupted(tmp_path, recipe, monkeypatch,
                                                               capsys, stop):
    """Ctrl-C in the first seconds, while torch was imported: the handler imported torch
    again (AttributeError, RuntimeError, a segfault) instead of saying "interrupted"."""
    import sys

    import temseg.train.crossval as crossval

    data = write_folder(tmp_path / "d", n=4)
    monkeypatch.setattr(crossval, "run_training", stop)
    import temseg.train

    monkeypatch.setattr(temseg.train, "checkpoints", temseg.train.checkpoints)  # (put back)
    for name in ("torch", "temseg.train.checkpoints"):  # imported again: torch's import fails
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_HalfImportedTorch(), *sys.meta_path])
    rc = main(["train", str(data), "-c", str(recipe), "-o", str(tmp_path / "o")])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert rc == 130 and "interrupted" in _lines(err), err
    assert "error" not in err and not (tmp_path / "o").exists()


def test_train_stopped_before_its_first_checkpoint_leaves_no_folder(tmp_path, recipe,
                                                                    monkeypatch, capsys):
    """Ctrl-C after config.yaml and data.json were written, before the epoch-0 checkpoint:
    they were left in a folder that held nothing to resume."""
    import temseg.train.loop as loop

    data = write_folder(tmp_path / "d", n=4)
    monkeypatch.setattr(loop, "fit", _raise_interrupt)
    new = tmp_path / "new" / "run"
    assert main(["train", str(data), "-c", str(recipe), "-o", str(new)]) == 130
    assert not (tmp_path / "new").exists()  # the folders it made, parents too
    assert "interrupted" in _lines(capsys.readouterr().err)
    mine = tmp_path / "mine"
    (mine / "notes").mkdir(parents=True)  # a folder made beforehand keeps what it held
    assert main(["train", str(data), "-c", str(recipe), "-o", str(mine)]) == 130
    assert _listing(mine) == ["notes"]


def test_resume_refuses_an_edited_label_and_resumes_an_older_run(tmp_path, recipe,
                                                                  monkeypatch, capsys):
    """Only the image names were compared: a label redrawn between the interruption and
    --resume was trained on silently. (Relative data paths of the command line, recorded in
    config.yaml, are the working folder's on --resume.)"""
    import imageio.v3 as iio

    monkeypatch.chdir(tmp_path)
    write_folder(tmp_path / "d", n=4)
    args = ["train", "d", "-c", str(recipe), "-o", "o", "--val-fraction", "0"]
    assert main([*args, "--epochs", "1"]) == 0
    record = json.loads((tmp_path / "o" / DATA_RECORD).read_text())
    assert len(record["data"]["label_sha256"]) == len(record["data"]["images"]) == 4
    label = tmp_path / "d" / "stack1_layer_0003_LABEL.png"
    drawn = iio.imread(label)
    iio.imwrite(label, 255 - drawn)
    capsys.readouterr()
    assert main(["train", "--resume", "-o", "o", "--epochs", "2"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"--resume: {Path('d') / label.name} changed since o was trained on it" in err
    assert not (tmp_path / "o" / "log.json").read_text().count('"epoch": 2')
    iio.imwrite(label, drawn)
    for part in record.values():  # a run from before the SHA-256s: resumed, with a warning
        part.pop("image_sha256", None), part.pop("label_sha256", None)
    (tmp_path / "o" / DATA_RECORD).write_text(json.dumps(record))
    assert main(["train", "--resume", "-o", "o", "--epochs", "2"]) == 0
    assert "has no SHA-256 of the files (an older run)" in " ".join(
        capsys.readouterr().err.split())


def test_train_recipe_typo_and_data_relative_to_the_recipe(tmp_path, monkeypatch, capsys):
    write_folder(tmp_path / "d", n=4)
    (tmp_path / "recipes").mkdir()
    recipe = tmp_path / "recipes" / "r.yaml"
    recipe.write_text("data: [../d]\npatch_szie: 16\n")
    monkeypatch.chdir(tmp_path / "d")  # elsewhere: ../d from here is no data folder
    assert main(["train", "-c", str(recipe), "-o", "o"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{recipe}: patch_szie: unknown field (did you mean 'patch_size'?)" in err
    recipe.write_text("data: [../d]\nepochs: 1\n")
    assert main(["train", "-c", str(recipe), "-o", "o", "--show-config"]) == 0
    assert f"data:\n- {tmp_path / 'd'}\n" in capsys.readouterr().out


def test_kfold_warns_of_frames_of_a_series_in_different_folds(tmp_path, recipe, monkeypatch,
                                                              capsys):
    import temseg.train.loop as loop

    data = write_folder(tmp_path / "d", n=6)
    for i, png in enumerate(sorted(data.glob("*_layer_????.png"))):
        series = f"series{i // 3 + 1}_frame{i % 3 + 1:03d}"
        png.rename(data / f"{series}.png")
        (data / f"{png.stem}_LABEL.png").rename(data / f"{series}_LABEL.png")
    monkeypatch.setattr(loop, "fit", _raise_interrupt)  # the warning comes before training
    assert main(["train", str(data), "-c", str(recipe), "-o", str(tmp_path / "o"),
                 "--folds", "2", "--val-fraction", "0"]) == 130
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("6 images look like frames of 2 series (series1_frame…): give a "
                     "group_pattern so frames of a series stay in one fold") == 1
