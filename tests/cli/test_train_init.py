"""`temseg train --init MODEL`: fine-tuning a trained network on other labelled data."""

import json

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file

from temseg.cli.main import main
from tests.cli.test_train import RECIPE, write_folder

#: the recipe without its network and preprocessing: a fine-tuned run takes the init model's
FINE = "\n".join(line for line in RECIPE.splitlines()
                 if not line.startswith(("architecture", "model", "preprocessing"))) + "\n"


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A 2-block, 4-filter residual U-Net trained 3 epochs on six lattice particles."""
    tmp = tmp_path_factory.mktemp("pre")
    recipe = tmp / "recipe.yaml"
    recipe.write_text(RECIPE)
    data = write_folder(tmp / "data", seed=0)
    assert main(["train", str(data), "-c", str(recipe), "-o", str(tmp / "run"),
                 "--epochs", "4", "--val-fraction", "0"]) == 0
    return tmp / "run"


@pytest.fixture
def fine(tmp_path):
    path = tmp_path / "fine.yaml"
    path.write_text(FINE)
    return path


def test_init_model_sets_the_network_and_its_weights_start_the_run(tmp_path, pretrained, fine):
    from temseg.config import load_config
    from temseg.train.config import TrainConfig
    from temseg.train.crossval import _build
    from temseg.train.data import load_training_data
    from temseg.train.init import resolve_init

    data = write_folder(tmp_path / "other", seed=5)
    cfg, init = resolve_init(load_config(TrainConfig, fine, init=str(pretrained)))
    assert cfg.architecture == "resunet" and cfg.model["blocks"] == 2
    assert cfg.model["filters"] == 4  # not the resunet default
    # the init model's preprocessing (remove_outliers is on by default)
    assert cfg.preprocessing["standardize"] is True
    assert cfg.preprocessing["remove_outliers"] is False
    # idempotent: a resolved recipe resolves to itself
    assert resolve_init(cfg)[0] == cfg
    train = load_training_data([data])
    model, _ = _build(cfg, train, seed=9, preprocessing=None, init_state=init.state)
    trained = load_file(str(pretrained / "model.safetensors"))
    state = model.state_dict()
    assert set(state) == set(trained)
    for name, value in trained.items():
        assert np.array_equal(state[name].numpy(), value), name


def test_fine_tuning_starts_where_the_pretrained_network_stopped(tmp_path, pretrained, fine,
                                                               capsys):
    data = write_folder(tmp_path / "other", seed=5)
    runs = {}
    for name, extra in (("fresh", ["--architecture", "resunet"]),
                        ("tuned", ["--init", str(pretrained)])):
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(FINE + ("model: {blocks: 2, filters: 4}\n" if name == "fresh" else ""))
        assert main(["train", str(data), "-c", str(cfg), "-o", str(tmp_path / name),
                     "--epochs", "1", *extra]) == 0, capsys.readouterr().err
        runs[name] = json.loads((tmp_path / name / "log.json").read_text())[0]
    # the same network, seed and data: only the starting weights differ
    assert runs["tuned"]["train_loss"] < 0.7 * runs["fresh"]["train_loss"]
    meta = json.loads((tmp_path / "tuned" / "model.json").read_text())["config"]
    assert meta["options"]["filters"] == 4
    init = meta["training"]["init"]
    pre = json.loads((pretrained / "model.json").read_text())
    assert init["weights_sha256"] == pre["weights_sha256"]
    assert init["model"].endswith("model.json") and init["architecture"] == "resunet"
    record = json.loads((tmp_path / "tuned" / "record.json").read_text())
    assert record["init"]["weights_sha256"] == pre["weights_sha256"]
    assert record["config"]["init"] == str(pretrained / "model.json")
    err = " ".join(capsys.readouterr().err.split())
    assert "training resunet to 1 epoch(s)" in err and "from " + str(pretrained) in err


def test_resumed_fine_tuning_is_bit_identical(tmp_path, pretrained, fine):
    data = write_folder(tmp_path / "other", seed=5)
    base = ["train", str(data), "-c", str(fine), "--init", str(pretrained)]
    assert main([*base, "-o", str(tmp_path / "whole"), "--epochs", "2"]) == 0
    assert main([*base, "-o", str(tmp_path / "parts"), "--epochs", "1"]) == 0
    assert main(["train", "-o", str(tmp_path / "parts"), "--resume", "--epochs", "2"]) == 0
    a = load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = load_file(str(tmp_path / "parts" / "model.safetensors"))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_show_config_prints_the_init_models_network(tmp_path, pretrained, fine, capsys):
    assert main(["train", "-c", str(fine), "--init", str(pretrained), "--show-config"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["init"] == str(pretrained / "model.json")
    assert shown["architecture"] == "resunet" and shown["model"]["filters"] == 4


def test_held_out_images_the_init_model_saw_are_warned(tmp_path, pretrained, fine, capsys):
    data = pretrained.parent / "data"  # the very images it was trained on
    assert main(["train", str(data), "-c", str(fine), "--init", str(pretrained), "-o",
                 str(tmp_path / "cv"), "--folds", "3", "--val-fraction", "0",
                 "--epochs", "1"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "was trained on images named as 6 of the held-out ones" in err
    assert "optimistic" in err


def test_a_validation_folder_the_init_model_saw_is_warned(tmp_path, pretrained, capsys):
    seen = pretrained.parent / "data"  # the init model's training images, as val_data
    cfg = tmp_path / "r.yaml"
    cfg.write_text(FINE + f"val_data: [{seen}]\n")
    data = write_folder(tmp_path / "other", seed=5)
    assert main(["train", str(data), "-c", str(cfg), "--init", str(pretrained), "-o",
                 str(tmp_path / "out"), "--epochs", "1"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "was trained on images named as 6 of the held-out ones" in err
    # a validation folder of images it never saw (other names): no warning
    val = write_folder(tmp_path / "val", seed=7)
    for path in val.iterdir():
        path.rename(val / f"new_{path.name}")
    cfg.write_text(FINE + f"val_data: [{val}]\n")
    assert main(["train", str(data), "-c", str(cfg), "--init", str(pretrained), "-o",
                 str(tmp_path / "out2"), "--epochs", "1"]) == 0
    assert "held-out" not in capsys.readouterr().err


def test_another_pixel_size_is_warned(tmp_path, pretrained, fine, capsys):
    data = write_folder(tmp_path / "other", seed=5)
    tuned = tmp_path / "tuned"
    assert main(["train", str(data), "-c", str(fine), "--init", str(pretrained), "-o",
                 str(tuned), "--epochs", "1", "--sampling", "0.3"]) == 0
    capsys.readouterr()
    assert main(["train", str(data), "-c", str(fine), "--init", str(tuned), "-o",
                 str(tmp_path / "again"), "--epochs", "1", "--sampling", "0.6"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "learned at 0.3 Å/px, the data are at 0.6 Å/px" in err


@pytest.mark.parametrize(("extra", "recipe_tail", "message"), [
    (["--architecture", "unet"], "", "architecture: unet asked for, but --init"),
    ([], "model: {blocks: 3}\n", "model.blocks: the recipe says 3"),
    ([], "model: {depth: 3}\n", "has no option 'depth'"),
])
def test_a_recipe_that_reshapes_the_network_is_refused(tmp_path, pretrained, extra,
                                                       recipe_tail, message, capsys):
    data = write_folder(tmp_path / "other", seed=5)
    cfg = tmp_path / "r.yaml"
    cfg.write_text(FINE + recipe_tail)
    out = tmp_path / "out"
    rc = main(["train", str(data), "-c", str(cfg), "--init", str(pretrained), "-o", str(out),
               *extra])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_init_models_that_do_not_fit_are_refused_before_work(tmp_path, pretrained, fine,
                                                             save_focal_model, capsys):
    data = write_folder(tmp_path / "other", seed=5)
    focal = save_focal_model(tmp_path / "m", sampling=0.125)
    cases = [
        (str(focal), "takes 3 channel(s) (Δf -50 Å, Δf +0 Å, Δf +50 Å), the data have 1"),
        (str(tmp_path / "missing"), "no such model file"),
    ]
    for spec, message in cases:
        capsys.readouterr()
        out = tmp_path / "out"
        rc = main(["train", str(data), "-c", str(fine), "--init", spec, "-o", str(out)])
        err = " ".join(capsys.readouterr().err.split())
        assert rc == 2 and message in err, err
        assert not out.exists()


def test_info_names_the_model_a_network_was_fine_tuned_from(tmp_path, pretrained, fine, capsys):
    data = write_folder(tmp_path / "other", seed=5)
    assert main(["train", str(data), "-c", str(fine), "--init", str(pretrained), "-o",
                 str(tmp_path / "tuned"), "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "tuned")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "fine-tuned from" in out and "model.json" in out
    assert main(["info", str(pretrained)]) == 0
    assert "fine-tuned from" not in capsys.readouterr().out


def test_recipe_preprocessing_fields_replace_only_their_own(tmp_path, pretrained, fine):
    from temseg.config import load_config
    from temseg.train.config import TrainConfig
    from temseg.train.init import resolve_init

    cfg = load_config(TrainConfig, fine, init=str(pretrained),
                      preprocessing={"flatfield_order": 2})
    resolved, _ = resolve_init(cfg)
    assert resolved.preprocessing["flatfield_order"] == 2
    assert resolved.preprocessing["remove_outliers"] is False  # the init model's, kept


def test_one_member_of_an_ensemble_is_fine_tuned(tmp_path, pretrained, fine, capsys):
    from temseg.config import load_config
    from temseg.train.config import TrainConfig
    from temseg.train.init import resolve_init

    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.replace("{blocks: 2, filters: 4}", "{blocks: 2, filters: 6}"))
    other = tmp_path / "other_run"
    assert main(["train", str(pretrained.parent / "data"), "-c", str(recipe), "-o", str(other),
                 "--epochs", "1", "--val-fraction", "0"]) == 0
    ens = tmp_path / "ens"
    assert main(["ensemble", str(pretrained), str(other), "-o", str(ens)]) == 0
    cfg, init = resolve_init(load_config(TrainConfig, fine, init=str(ens), init_member=2))
    assert cfg.model["filters"] == 6 and init.member == 2
    second = load_file(str(other / "model.safetensors"))
    assert all(np.array_equal(init.state[k].numpy(), v) for k, v in second.items())
    data = write_folder(tmp_path / "d", seed=5)
    capsys.readouterr()
    for extra, message in (([], "is an ensemble of 2 networks (1: resunet blocks 2 filters 4"),
                           (["--init-member", "3"], "has members 1 to 2, not 3")):
        rc = main(["train", str(data), "-c", str(fine), "--init", str(ens), "-o",
                   str(tmp_path / "out"), *extra])
        err = " ".join(capsys.readouterr().err.split())
        assert rc == 2 and message in err, err
    rc = main(["train", str(data), "-c", str(fine), "--init", str(pretrained),
               "--init-member", "1", "-o", str(tmp_path / "out")])
    assert rc == 2 and "is a single network" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_shipped_graphene_ensemble_gives_its_n3_member():
    from temseg.train.config import TrainConfig
    from temseg.train.init import resolve_init

    cfg, init = resolve_init(TrainConfig(init="graphene", init_member=4))
    assert cfg.architecture == "resunet"
    assert (cfg.model["blocks"], cfg.model["filters"]) == (3, 8)
    assert init.record()["member"] == 4


def test_resume_from_another_init_model_is_refused(tmp_path, pretrained, fine, capsys):
    import shutil

    data = write_folder(tmp_path / "other", seed=5)
    init = tmp_path / "init"
    shutil.copytree(pretrained, init)
    out = tmp_path / "tuned"
    assert main(["train", str(data), "-c", str(fine), "--init", str(init), "-o", str(out),
                 "--epochs", "1"]) == 0
    assert json.loads((out / "init.json").read_text())["weights_sha256"] == json.loads(
        (pretrained / "model.json").read_text())["weights_sha256"]
    # the init folder now holds another network of the same shape
    shutil.rmtree(init)
    assert main(["train", str(data), "-c", str(fine), "--init", str(pretrained), "-o",
                 str(init), "--epochs", "1", "--seeds", "4"]) == 0
    capsys.readouterr()
    assert main(["train", "-o", str(out), "--resume", "--epochs", "2"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "is not the one" in err and "started from" in err


def test_warnings_of_preprocessing_and_pixel_size_and_the_path_kept_absolute(
        tmp_path, pretrained, fine, capsys, monkeypatch):
    from temseg.config import load_config
    from temseg.train.config import TrainConfig
    from temseg.train.init import check_init_fits, resolve_init
    from temseg.train.data import load_training_data

    monkeypatch.chdir(pretrained.parent)
    cfg, init = resolve_init(load_config(TrainConfig, fine, init="run"))
    assert cfg.init == str(pretrained.resolve() / "model.json")  # found from any folder
    data = load_training_data([write_folder(tmp_path / "d", seed=5)])
    assert check_init_fits(init, data, 2, set(), preprocessing=dict(cfg.preprocessing)) == []
    # the recipe turns standardizing off: the network would see raw intensities
    told = check_init_fits(init, data, 2, set(),
                           preprocessing={**cfg.preprocessing, "standardize": False})
    assert len(told) == 1 and "standardize True → False" in told[0]
    # a pixel size: none for the data, or outside what the model learned (with its zoom)
    import dataclasses

    init = dataclasses.replace(init, config=dataclasses.replace(init.config, sampling=0.5))
    told = check_init_fits(init, data, 2, set())
    assert len(told) == 1 and "the data have no pixel size" in told[0]
    for sampling, zoom, warned in ((0.8, 0.0, True), (0.8, 0.8, False), (1.2, 0.8, True)):
        init.config.training = {**init.config.training, "recipe": {"zoom": zoom}}
        told = check_init_fits(init, dataclasses.replace(data, sampling=sampling), 2, set())
        assert bool(told) == warned, (sampling, zoom, told)


def test_a_shipped_members_own_training_images_are_known(tmp_path, fine, graphene_dir,
                                                         capsys):
    from temseg.train.init import load_init

    init = load_init("graphene", 4)
    seen = set(init.config.training.get("train_images") or [])
    assert len(seen) == 105  # the shipped members were trained on all 105 labelled images
    few = tmp_path / "few"
    few.mkdir()
    for path in sorted(graphene_dir.glob("*_LABEL.png"))[:4]:
        image = path.with_name(path.name.replace("_LABEL", ""))
        (few / image.name).symlink_to(image)
        (few / path.name).symlink_to(path)
    assert main(["train", str(few), "-c", str(fine), "--init", "graphene", "--init-member", "4",
                 "--folds", "2", "--val-fraction", "0", "--epochs", "1", "-o",
                 str(tmp_path / "cv")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "images named as 4 of the held-out ones" in err


def test_a_fresh_run_replaces_a_stale_init_record(tmp_path, pretrained, fine):
    data = write_folder(tmp_path / "other", seed=5)
    for init in (["--init", str(pretrained)], []):
        out = tmp_path / ("with" if init else "without")
        out.mkdir()
        (out / "init.json").write_text('{"weights_sha256": "from an interrupted try"}')
        assert main(["train", str(data), "-c", str(fine), "-o", str(out), "--epochs", "1",
                     *init, *([] if init else ["--architecture", "resunet"])]) == 0
        stale = out / "init.json"
        if init:
            assert json.loads(stale.read_text())["weights_sha256"] == json.loads(
                (pretrained / "model.json").read_text())["weights_sha256"]
        else:
            assert not stale.exists()
