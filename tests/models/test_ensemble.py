"""Ensembles: the mean of the members' probabilities, one model file, clear refusals."""

import json

import numpy as np
import pytest
import torch

from temseg.errors import ConfigError, InputError
from temseg.models import (Ensemble, ModelConfig, build_model, combine_models, load_model,
                           receptive_field, save_model)


def _save(folder, name, seed, *, pool=2, preprocessing=None, sampling=0.3):
    torch.manual_seed(seed)
    model = build_model("resunet", blocks=2, filters=2, pool=pool)
    config = ModelConfig(architecture="resunet", options=model.options, sampling=sampling,
                         preprocessing=preprocessing or {"standardize": True},
                         training={"seed": seed})
    save_model(folder / name, model, config)
    return folder / f"{name}.json", model.eval()


def test_probabilities_are_the_mean_of_the_members(tmp_path):
    a_path, a = _save(tmp_path, "a", 0)
    b_path, b = _save(tmp_path, "b", 1, pool=4)
    _, meta = combine_models([a_path, b_path], tmp_path / "ens", threshold=0.4)
    ens, config = load_model(meta)
    assert isinstance(ens, Ensemble) and config.architecture == "ensemble"
    assert config.threshold == 0.4 and config.sampling == 0.3
    assert [m["training"]["seed"] for m in config.training["members"]] == [0, 1]
    x = torch.randn(2, 1, 24, 40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = (torch.softmax(a(x), 1) + torch.softmax(b(x), 1)) / 2
        got = torch.softmax(ens(x), 1)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    # the members differ, so the mean is neither of them
    assert (got - torch.softmax(a(x), 1)).abs().max() > 1e-3
    # it sees as far as its farthest-seeing member (N = 2, k = 4: 120 px)
    assert receptive_field(ens) == max(receptive_field(a), receptive_field(b)) == 120
    assert ens.factor == 16


def test_an_ensemble_of_ensembles_is_flattened(tmp_path):
    paths = [_save(tmp_path, n, s)[0] for n, s in (("a", 0), ("b", 1), ("c", 2))]
    _, first = combine_models(paths[:2], tmp_path / "ab")
    with pytest.warns(UserWarning, match=r"ab.json is an ensemble of 2 networks: .* each of "
                                         r"the 3 networks weighs 1/3 \(.*2/3, not 1/2\)"):
        _, meta = combine_models([first, paths[2]], tmp_path / "abc")
    ens, _ = load_model(meta)
    direct, _ = load_model(combine_models(paths, tmp_path / "direct")[1])
    assert len(ens.members) == 3
    x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(torch.softmax(ens(x), 1), torch.softmax(direct(x), 1))


def test_members_must_take_the_same_images(tmp_path):
    a, _ = _save(tmp_path, "a", 0)
    other_prep, _ = _save(tmp_path, "b", 1, preprocessing={"standardize": False})
    other_px, _ = _save(tmp_path, "c", 2, sampling=0.5)
    with pytest.raises(InputError, match="preprocessing"):
        combine_models([a, other_prep], tmp_path / "x")
    with pytest.raises(InputError, match="sampling"):
        combine_models([a, other_px], tmp_path / "x")
    with pytest.raises(InputError, match="at least two"):
        combine_models([a], tmp_path / "x")
    other, _ = _save(tmp_path, "d", 3)
    before = a.read_bytes()
    with pytest.raises(InputError, match="overwrite"):
        combine_models([a, other], tmp_path / "a.json")
    assert a.read_bytes() == before
    assert not list(tmp_path.glob("x*"))  # nothing half-written
    with pytest.raises(ConfigError, match="at least two"):
        Ensemble(members=[{"architecture": "resunet", "options": {}}])
    with pytest.raises(ConfigError, match="ensemble"):
        Ensemble(members=[{"architecture": "ensemble"}, {"architecture": "resunet"}])


def test_the_file_lists_members_not_pickles(tmp_path):
    paths = [_save(tmp_path, n, s)[0] for n, s in (("a", 0), ("b", 1))]
    weights, meta = combine_models(paths, tmp_path / "ens")
    data = json.loads(meta.read_text())
    members = data["config"]["options"]["members"]
    assert [m["architecture"] for m in members] == ["resunet", "resunet"]
    assert "in_channels" not in data["config"]["options"]
    from safetensors.numpy import load_file

    names = load_file(str(weights))
    assert any(k.startswith("members.0.") for k in names)
    assert any(k.startswith("members.1.") for k in names)
    assert np.array_equal(names["members.0.head.bias"],
                          load_model(paths[0])[0].head.bias.detach().numpy())


def test_a_focal_series_ensemble_keeps_its_channel_names(tmp_path):
    """Members of 3 named channels (003): the ensemble takes the same channels, in order."""
    names = ["defocus -50 Å", "defocus +0 Å", "defocus +50 Å"]
    paths = []
    for seed, channels in ((0, names), (1, names), (2, ["a", "b", "c"])):
        torch.manual_seed(seed)
        model = build_model("resunet", blocks=1, filters=2, in_channels=3, classes=4)
        config = ModelConfig(architecture="resunet", options=model.options, in_channels=3,
                             classes=["background", "Mo", "S2", "S1"], channels=channels)
        save_model(tmp_path / f"m{seed}", model, config)
        paths.append(tmp_path / f"m{seed}.json")
    ens, config = load_model(combine_models(paths[:2], tmp_path / "ens")[1])
    assert config.channels == names and config.in_channels == 3 and len(config.classes) == 4
    assert ens(torch.zeros(1, 3, 16, 16)).shape == (1, 4, 16, 16)
    with pytest.raises(InputError, match="channels"):
        combine_models([paths[0], paths[2]], tmp_path / "x")


def test_the_same_network_twice_is_warned(tmp_path):
    """Equal weights (by SHA-256) count twice in the mean: said; different ones are not."""
    a, _ = _save(tmp_path, "a", 0)
    copy, _ = _save(tmp_path, "copy", 0)  # another file, the same weights
    b, _ = _save(tmp_path, "b", 1)
    with pytest.warns(UserWarning, match=r"a.json and .*a.json are the same network \(weights "
                                         r"SHA-256 [0-9a-f]{12}…\): it counts 2×") as record:
        combine_models([a, a], tmp_path / "aa")
    assert len(record) == 1
    with pytest.warns(UserWarning, match="counts 3×"):
        combine_models([a, copy, a, b], tmp_path / "aab")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        combine_models([a, b], tmp_path / "ab")  # two networks: nothing to say


def test_an_ensemble_takes_at_least_two_classes():
    """One sigmoid logit per member would average softmax over one channel (= 1): refused."""
    with pytest.raises(ConfigError, match="classes: an ensemble averages class probabilities "
                                          "of at least two classes, got 1"):
        Ensemble(classes=1, members=[{"architecture": "resunet", "options": {"blocks": 1}}] * 2)


def test_an_existing_output_is_refused_before_loading_the_members(tmp_path):
    """overwrite=False (temseg ensemble without --overwrite) refuses an existing model file
    before any work: a missing member is not even reached; the default replaces a network
    model (a training's ensemble written again on resume), never another file."""
    a, _ = _save(tmp_path, "a", 0)
    b, _ = _save(tmp_path, "b", 1)
    weights, meta = combine_models([a, b], tmp_path / "ens")
    before = meta.read_bytes(), weights.read_bytes()
    with pytest.raises(ConfigError, match=r"ens.json already exists \(use --overwrite"):
        combine_models([a, tmp_path / "missing.json"], tmp_path / "ens", overwrite=False)
    assert (meta.read_bytes(), weights.read_bytes()) == before
    combine_models([b, a], tmp_path / "ens")  # the default: replaced
    assert json.loads(meta.read_text())["config"]["training"]["members"][0]["file"] == str(b)
    other = tmp_path / "other.json"
    other.write_bytes(b"\x80\x04 not a model")
    with pytest.raises(ConfigError, match="not a temseg network model file; refusing"):
        combine_models([a, b], other, overwrite=True)
    assert other.read_bytes() == b"\x80\x04 not a model"
