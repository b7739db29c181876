from pathlib import Path

import pytest

from temseg.config import load_config, to_dict
from temseg.errors import ConfigError
from temseg.train.config import TrainConfig


def test_yaml_one_to_one_and_overrides(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("data: [a, b]\narchitecture: unet\nmodel: {features: 8}\nlr: 1.0e-4\n"
                    "class_weights: [1, 2]\nseeds: [0, 1]\nloss: ce+dice\n")
    cfg = load_config(TrainConfig, path, epochs=3, lr=None)
    assert cfg.epochs == 3 and cfg.lr == pytest.approx(1e-4) and cfg.seeds == [0, 1]
    assert [str(p) for p in cfg.data] == ["a", "b"] and cfg.n_classes == 2
    again = load_config(TrainConfig, to_dict(cfg))
    assert again == cfg


@pytest.mark.parametrize("data, field", [
    ({"lr": 0}, "lr"), ({"epochs": 0}, "epochs"), ({"loss": "focal"}, "loss"),
    ({"val_fraction": 1.0}, "val_fraction"), ({"monitor": "loss"}, "monitor"),
    ({"seeds": []}, "seeds"), ({"seeds": [1, 1]}, "seeds"),
    ({"class_weights": [1]}, "class_weights"),
    ({"threshold": 1.0}, "threshold"), ({"device": "tpu"}, "device"), ({"epoch": 3}, "epoch"),
    ({"patience": 3, "val_fraction": 0.0}, "patience"), ({"group_pattern": "("}, "group_pattern"),
    ({"zoom": 1.0}, "zoom"), ({"noise": -0.1}, "noise"), ({"blur": 11}, "blur"),
    ({"ema": 1.0}, "ema"), ({"ema": -0.5}, "ema"),
    # seeds torch and numpy would refuse mid-run, after config.yaml was written
    ({"seeds": [-1]}, "seeds: .*0 … 2\\*\\*32-1, got -1"),
    ({"seeds": [0, 10**23]}, "seeds: .*got 1000"), ({"seeds": [2**32]}, "seeds"),
    ({"split_seed": -1}, "split_seed: .*got -1"), ({"split_seed": 2**64}, "split_seed"),
    ({"sampling": 0}, "sampling"), ({"sampling": float("inf")}, "sampling"),
    # k-fold: scored on each test fold, validation only from val_fraction of the training folds
    ({"val_data": ["v"], "folds": 2}, "val_data: not used with folds ≥ 2"),
    ({"patience": 3, "val_fraction": 0.0, "folds": 2}, "patience: .*split off each fold's"),
])
def test_bad_values_name_the_field(data, field):
    with pytest.raises(ConfigError, match=field):
        load_config(TrainConfig, data)


def test_recipes_in_configs_are_valid():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "configs"
    from temseg.models import build_model

    recipes = sorted(folder.glob("graphene_*.yaml"))
    assert [r.stem for r in recipes] == ["graphene_best", "graphene_n3", "graphene_paper",
                                         "graphene_reflect", "graphene_wide"]
    for recipe in recipes:
        cfg = load_config(TrainConfig, recipe)
        assert cfg.folds == 5 and cfg.split_seed == 0  # the same folds for every recipe
        assert cfg.preprocessing.get("standardize", True)
        build_model(cfg.architecture, **cfg.model)  # the model options are valid


def test_seed_range_edges_are_accepted():
    cfg = load_config(TrainConfig, {"seeds": [0, 2**32 - 1], "split_seed": 2**32 - 1})
    assert cfg.seeds == [0, 2**32 - 1] and cfg.split_seed == 2**32 - 1
    with pytest.raises(ConfigError, match="seeds"):
        TrainConfig(seeds=[True])  # built in code, not through YAML's type check


def test_validation_that_is_used_is_accepted():
    assert load_config(TrainConfig, {"patience": 3, "folds": 2}).val_fraction == 0.2
    assert load_config(TrainConfig, {"patience": 3, "val_fraction": 0.0, "val_data": ["v"]})


def test_one_data_folder_may_be_given_as_a_string():
    """From Python, data="folder" was split into one folder per letter."""
    from pathlib import Path

    from temseg.train.config import TrainConfig

    config = TrainConfig(data="runs/graphene", val_data=Path("val"))
    assert config.data == [Path("runs/graphene")] and config.val_data == [Path("val")]
    assert TrainConfig(data=["a", "b"]).data == [Path("a"), Path("b")]


def test_counts_must_be_whole_numbers():
    """epochs=1.5 was taken, and training then failed with a TypeError of range()."""
    import numpy as np

    from temseg.train.config import TrainConfig

    for field, value in (("epochs", 1.5), ("batch_size", True), ("patch_size", 128.0)):
        with pytest.raises(ConfigError, match=rf"^{field}: must be a whole number"):
            TrainConfig(**{field: value})
    assert TrainConfig(epochs=np.int64(3)).epochs == 3


def test_recipe_errors_name_the_file_and_the_closest_field(tmp_path):
    from temseg.train.config import load_recipe

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("epochs: 'two'\n")
    with pytest.raises(ConfigError, match=r"^\S*recipe\.yaml: epochs: 'two' is not a valid int$"):
        load_recipe(recipe)
    recipe.write_text("epochs: 1\nval_fraction: 0.5\n")
    with pytest.raises(ConfigError, match=r"^val_fraction: must be in"):  # the flag's value
        load_recipe(recipe, val_fraction=1.5)
    for text, message in (
            ("patch_szie: 64\n", "patch_szie: unknown field (did you mean 'patch_size'?)"),
            ("preprocessing: {standardise: true}\n",
             "preprocessing.standardise: unknown field (did you mean 'standardize'?)"),
            ("colour: red\n", "colour: unknown field (`temseg train --show-config` lists")):
        recipe.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_recipe(recipe)
        assert str(caught.value).startswith(f"{recipe}: {message}")
        assert "known:" not in str(caught.value)  # not the ~40 fields


def test_recipe_data_paths_are_taken_from_the_recipe_folder(tmp_path, monkeypatch):
    from temseg.train.config import load_recipe

    (tmp_path / "recipes").mkdir()
    recipe = tmp_path / "recipes" / "r.yaml"
    recipe.write_text(f"data: [../d, {tmp_path / 'abs'}]\nval_data: [../v]\n")
    monkeypatch.chdir(tmp_path / "recipes")
    cfg = load_recipe("r.yaml")
    assert cfg.data == [tmp_path / "d", tmp_path / "abs"] and cfg.val_data == [tmp_path / "v"]
    # the command line's paths stay the working folder's; a run's own config.yaml too
    assert load_recipe("r.yaml", data=["here"]).data == [Path("here")]
    assert load_recipe("r.yaml", paths_from_recipe=False).data[0] == Path("../d")


def test_a_recipe_may_give_its_pixel_size_in_nm(tmp_path):
    from temseg.errors import ConfigError
    from temseg.train.config import load_recipe

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("pixel_size_nm: 0.03\nepochs: 2\n")
    assert load_recipe(recipe).sampling == pytest.approx(0.3)
    recipe.write_text("pixel_size_nm: 0.03\nsampling: 0.3\n")
    with pytest.raises(ConfigError, match="either sampling .* or pixel_size_nm, not both"):
        load_recipe(recipe)
