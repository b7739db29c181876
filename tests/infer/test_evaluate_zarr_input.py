"""``temseg evaluate`` on zarr datasets that are not what they should be: one line naming the
dataset (and image), exit code 2, nothing written; class ids read as binary are warned about."""

import numpy as np
import pytest

from temseg.cli.main import main

zarr = pytest.importorskip("zarr")


def _dataset(path, labels, **attrs):
    labels = np.asarray(labels)
    images = np.random.default_rng(5).gamma(4.0, 25.0, labels.shape).astype(np.float32)
    root = zarr.open_group(str(path), mode="w")
    root.create_array("images", data=images)
    root.create_array("labels", data=labels)
    root.attrs.update({"sampling": 0.3, **attrs})
    return path


def _labels(n=2):
    labels = np.zeros((n, 32, 32), np.uint8)
    labels[:, 8:20, 8:20] = 1
    return labels


def _evaluate(tmp_path, data, save_tiny_model, out="eval"):
    model = save_tiny_model(tmp_path, sampling=0.3)
    out = tmp_path / out
    code = main(["evaluate", str(model), str(data), "-o", str(out), "--device", "cpu",
                 "--threads", "1"])
    return code, out


@pytest.mark.parametrize("value, shown", [("abc", "'abc'"), (-1, "-1")])
def test_bad_sampling_attr(tmp_path, save_tiny_model, capsys, value, shown):
    data = _dataset(tmp_path / "s.zarr", _labels(), sampling=value)
    code, out = _evaluate(tmp_path, data, save_tiny_model)
    err = capsys.readouterr().err
    assert code == 2
    assert f"s.zarr: attr sampling must be a positive number of Å/px, got {shown}" in err
    assert "ValueError" not in err and not out.exists()


def test_fractional_labels(tmp_path, save_tiny_model, capsys):
    labels = _labels().astype(np.float32)
    labels[1] *= 0.5
    code, out = _evaluate(tmp_path, _dataset(tmp_path / "f.zarr", labels), save_tiny_model)
    err = capsys.readouterr().err
    assert code == 2 and "f.zarr: image f_00001: label is not integer-valued" in err
    assert not out.exists()


def test_class_ids_scored_as_binary_are_warned_about_once(tmp_path, save_tiny_model, capsys):
    labels = _labels(3)
    labels[:, 24:28, 24:28] = 2
    code, out = _evaluate(tmp_path, _dataset(tmp_path / "ids.zarr", labels), save_tiny_model)
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.count("class ids") == 1
    assert "ids.zarr: labels hold 3 class ids (0, 1, 2) for a model of 2 classes" in err
    code, _ = _evaluate(tmp_path, _dataset(tmp_path / "bin.zarr", _labels(3)), save_tiny_model,
                        out="eval2")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "class ids" not in err  # 0/1: a binary mask
