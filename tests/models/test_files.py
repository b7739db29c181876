"""Model files: safetensors + JSON round trip, bit-identical outputs, refusal of bad files."""

import json

import pytest
import torch

from temseg.errors import ConfigError, ModelFileError
from temseg.models import ModelConfig, build_model, load_model, save_model

SMALL = {
    "resunet": {"blocks": 2, "pool": 4, "dilation": [1, 2, 1]},
    "unet": {"depth": 2, "features": 4, "variant": "supplement"},
    "msdnet": {"depth": 5, "kernel_size": 3, "max_dilation": 4, "seed": 11},
}


def _trained_like(architecture):
    torch.manual_seed(0)
    model = build_model(architecture, **SMALL[architecture])
    model.train()
    with torch.no_grad():  # move BN running statistics away from their defaults
        model(torch.randn(2, 1, 32, 32) * 3 + 1)
    return model.eval()


@pytest.mark.parametrize("architecture", sorted(SMALL))
def test_round_trip_is_bit_identical(tmp_path, architecture):
    model = _trained_like(architecture)
    config = ModelConfig(architecture=architecture, sampling=0.2152, threshold=0.4,
                         classes=["support", "particle"],
                         preprocessing={"standardize": True, "flatfield_order": 2},
                         training={"epochs": 3, "dice": 0.97})
    weights, meta = save_model(tmp_path / "net", model, config)
    assert (weights.name, meta.name) == ("net.safetensors", "net.json")
    x = torch.randn(1, 1, 29, 35) if architecture != "msdnet" else torch.randn(1, 1, 29, 35)
    with torch.no_grad():
        expected = model(x)
    for path in (tmp_path / "net", meta, weights):
        loaded, cfg = load_model(path)
        assert not loaded.training
        with torch.no_grad():
            assert torch.equal(loaded(x), expected)
    assert cfg.sampling == 0.2152 and cfg.threshold == 0.4
    assert cfg.classes == ["support", "particle"]
    assert cfg.preprocessing == {"standardize": True, "flatfield_order": 2}
    assert cfg.training == {"epochs": 3, "dice": 0.97}
    data = json.loads(meta.read_text())
    assert data["kind"] == "network" and data["format_version"] == 1
    assert len(data["weights_sha256"]) == 64


def test_msdnet_file_keeps_the_drawn_dilations(tmp_path):
    model = build_model("msdnet", depth=6, seed=123)
    save_model(tmp_path / "m.json", model, ModelConfig(architecture="msdnet"))
    loaded, cfg = load_model(tmp_path / "m")
    assert cfg.options["dilations"] == model.dilations == loaded.dilations


def test_weights_file_is_safetensors_not_pickle(tmp_path):
    weights, _ = save_model(tmp_path / "n", _trained_like("resunet"), ModelConfig())
    raw = weights.read_bytes()
    header = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and json.loads(raw[8:8 + header])["__metadata__"]["format"] == "pt"
    assert not raw.startswith(b"\x80") and b"PK\x03\x04" not in raw[:4]


@pytest.fixture
def saved(tmp_path):
    save_model(tmp_path / "net", _trained_like("resunet"),
               ModelConfig(options={"blocks": 2}))
    return tmp_path / "net"


def _edit_json(stem, change):
    path = stem.with_suffix(".json")
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_tampered_weights_are_refused(saved):
    weights = saved.with_suffix(".safetensors")
    raw = bytearray(weights.read_bytes())
    raw[-3] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="SHA-256"):
        load_model(saved)


def test_a_model_file_without_its_weights_hash_says_so(saved):
    """Intact weights but no hash in the JSON: not "SHA-256 does not match" (misleading)."""
    _edit_json(saved, lambda d: d.pop("weights_sha256"))
    with pytest.raises(ModelFileError, match="no 'weights_sha256'"):
        load_model(saved)


def test_config_that_does_not_fit_the_weights_is_refused(saved):
    _edit_json(saved, lambda d: d["config"]["options"].update(filters=8))
    with pytest.raises(ModelFileError, match="do not fit"):
        load_model(saved)


def test_corrupt_weights_with_matching_hash_are_refused(saved):
    import hashlib

    weights = saved.with_suffix(".safetensors")
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    _edit_json(saved, lambda d: d.update(weights_sha256=digest))
    with pytest.raises(ModelFileError, match="safetensors"):
        load_model(saved)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(kind="baseline"), "not a network"),
    (lambda d: d.update(format_version=2), "format_version"),
    (lambda d: d.update(weights="../other.safetensors"), "beside it"),
    (lambda d: d["config"].update(threshold=1.5), "threshold"),
    (lambda d: d["config"].update(threshold=None), r"threshold: must lie in \(0, 1\), got None"),
    (lambda d: d["config"].update(architecture="vgg"), "architecture"),
    (lambda d: d["config"].update(colour="red"), "colour"),
])
def test_bad_json_is_refused_with_the_field(saved, change, message):
    _edit_json(saved, change)
    with pytest.raises(ModelFileError, match=message):
        load_model(saved)


def test_missing_and_unreadable_files(tmp_path, saved):
    with pytest.raises(ModelFileError, match=r"nothing: no such model file$"):
        load_model(tmp_path / "nothing")
    saved.with_suffix(".json").write_text("{ not json")
    with pytest.raises(ModelFileError, match="JSON"):
        load_model(saved)


def test_missing_weights_file(saved):
    saved.with_suffix(".safetensors").unlink()
    with pytest.raises(ModelFileError, match="not found"):
        load_model(saved)


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="classes"):
        ModelConfig(classes=["only"])
    with pytest.raises(ConfigError, match="sampling"):
        ModelConfig(sampling=0.0)
    with pytest.raises(ConfigError, match="options.classes"):
        ModelConfig(options={"classes": 3})
    with pytest.raises(ConfigError, match="in_channels"):
        save_model("unused", build_model("resunet", in_channels=3), ModelConfig())


def test_a_shipped_model_loads_by_its_name():
    """load_segmenter took 'graphene', load_model said 'graphene.json: model file not found'."""
    from temseg.models.receptive import receptive_field

    model, config = load_model("graphene")
    assert receptive_field(model) == 200
    with pytest.raises(ModelFileError, match="nor a shipped model"):
        load_model("no_such_model_here")
