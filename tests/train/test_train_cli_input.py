"""``temseg train`` refuses bad seeds and bad zarr datasets in one line (exit code 2) before
anything is written, and names the corrupt file of a checkpoint it cannot resume."""

import numpy as np
import pytest

from temseg.cli.main import main

zarr = pytest.importorskip("zarr")


def _dataset(path, **attrs):
    rng = np.random.default_rng(2)
    images = rng.gamma(4.0, 25.0, (3, 32, 32)).astype(np.float32)
    labels = np.zeros((3, 32, 32), np.uint8)
    labels[:, 8:20, 8:20] = 1
    root = zarr.open_group(str(path), mode="w")
    root.create_array("images", data=images)
    root.create_array("labels", data=labels)
    root.attrs.update({"sampling": 0.3, **attrs})
    return path


def _train(data, out, *args):
    return main(["train", str(data), "-o", str(out), "--epochs", "1", "--threads", "1",
                 "--device", "cpu", *args])


@pytest.mark.parametrize("args, recipe, message", [
    (["--seeds", "-1"], "", "seeds: a seed must be an integer in 0 … 2**32-1, got -1"),
    (["--seeds", "0,99999999999999999999999"], "", "seeds: a seed must be"),
    ([], "seeds: [-1]\n", "seeds: a seed must be"),
    ([], "split_seed: -1\n", "split_seed: a seed must be an integer in 0 … 2**32-1, got -1"),
])
def test_bad_seeds_are_refused_before_anything_is_written(tmp_path, capsys, args, recipe,
                                                          message):
    data = _dataset(tmp_path / "d.zarr")
    if recipe:
        (tmp_path / "r.yaml").write_text(recipe)
        args = [*args, "--config", str(tmp_path / "r.yaml")]
    code = _train(data, tmp_path / "run", *args)
    err = capsys.readouterr().err
    assert code == 2 and message in err and "ValueError" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value, shown", [("abc", "'abc'"), (-1, "-1")])
def test_bad_sampling_attr_is_refused_before_anything_is_written(tmp_path, capsys, value,
                                                                 shown):
    data = _dataset(tmp_path / "s.zarr", sampling=value)
    code = _train(data, tmp_path / "run", "--val-fraction", "0")
    err = capsys.readouterr().err
    assert code == 2
    assert f"s.zarr: attr sampling must be a positive number of Å/px, got {shown}" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors"])
def test_resume_from_a_corrupt_checkpoint_names_the_file(tmp_path, capsys, name):
    data = _dataset(tmp_path / "d.zarr")
    run = tmp_path / "run"
    recipe = tmp_path / "r.yaml"
    recipe.write_text("architecture: unet\nmodel: {features: 4, depth: 2}\nbatch_size: 3\n"
                      "val_fraction: 0\n")
    assert _train(data, run, "--config", str(recipe)) == 0, capsys.readouterr().err
    spoilt = run / "checkpoints" / "last" / name
    spoilt.write_bytes(bytes(range(100)))  # `head -c 100 /dev/urandom > FILE`
    capsys.readouterr()
    code = main(["train", "-o", str(run), "--resume", "--epochs", "2", "--threads", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{spoilt}: corrupt checkpoint file" in err.replace("\n", "")
    assert "cannot be resumed" in err and "SafetensorError" not in err
