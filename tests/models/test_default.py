"""The shipped default model: lookup through importlib.resources, override, and `segment` without a model."""

import json

import numpy as np
import pytest

from temseg.cli.main import main
from temseg.errors import ModelFileError
from temseg.io import read_image, write_tiff
from temseg.models import default as default_mod


@pytest.fixture
def tiny_model(save_tiny_model):
    """Saves a 2-block residual U-Net with random weights; returns its JSON path."""
    return lambda folder, *, sampling=0.3, name="tiny": save_tiny_model(
        folder, sampling=sampling, name=name)


def test_shipped_model_lives_in_the_package_data(monkeypatch):
    monkeypatch.delenv(default_mod.ENV_VAR, raising=False)
    folder = default_mod.models_folder()
    import temseg

    assert folder.parts[-3:] == ("temseg", "data", "models")
    assert folder.parent.parent.resolve() == default_mod.Path(temseg.__file__).parent.resolve()
    path = default_mod.default_model_path(check=False)
    assert path == folder / f"{default_mod.DEFAULT_MODEL_NAME}.json"


def test_shipped_model_loads_when_present(monkeypatch):
    monkeypatch.delenv(default_mod.ENV_VAR, raising=False)
    if not default_mod.has_default_model():
        pytest.skip("default model not built yet (benchmarks/train_default_model.py --install)")
    from temseg.infer import load_segmenter
    from temseg.models import count_parameters

    seg = load_segmenter(default_mod.default_model_path())
    assert seg.sampling == pytest.approx(0.3)
    assert 0 < seg.threshold < 1
    assert count_parameters(seg.model) < 2_000_000  # a few MB at most
    size = default_mod.default_model_path().with_suffix(".safetensors").stat().st_size
    assert size < 5e6
    data = json.loads(default_mod.default_model_path().read_text())
    assert data["config"]["training"]["simulation"]["structure"]["element"] == "Au"
    assert default_mod.model_card_path().is_file()


def test_env_var_overrides_and_missing_files_are_one_clear_error(tiny_model, tmp_path, monkeypatch):
    json_path = tiny_model(tmp_path)
    monkeypatch.setenv(default_mod.ENV_VAR, str(json_path.with_suffix(".safetensors")))
    assert default_mod.default_model_path() == json_path
    monkeypatch.setenv(default_mod.ENV_VAR, str(json_path.with_suffix("")))
    assert default_mod.default_model_path() == json_path
    assert default_mod.has_default_model()
    monkeypatch.setenv(default_mod.ENV_VAR, str(tmp_path / "nothing"))
    with pytest.raises(ModelFileError, match="nothing.json: default model file missing"):
        default_mod.default_model_path()
    assert not default_mod.has_default_model()


def test_segment_without_a_model_uses_the_default(tiny_model, tmp_path, monkeypatch, rng, capsys):
    json_path = tiny_model(tmp_path)
    monkeypatch.setenv(default_mod.ENV_VAR, str(json_path))
    image = rng.gamma(4, 25, (40, 52)).astype(np.float32)
    write_tiff(tmp_path / "a.tif", image, sampling=0.6)  # twice the model's Å/px
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "a.tif"), "--out", str(out)]) == 0
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["model"] == str(json_path)
    prob = read_image(out / "a_prob.tif")
    assert prob.data.shape == (40, 52)  # resampled to 0.3 Å/px and back
    assert prob.sampling == pytest.approx(0.6)
    assert np.all((prob.data >= 0) & (prob.data <= 1))


def test_segment_first_path_still_a_model(tiny_model, tmp_path, monkeypatch, rng, capsys):
    default = tiny_model(tmp_path, name="default")
    other = tiny_model(tmp_path, name="other", sampling=1.0)
    monkeypatch.setenv(default_mod.ENV_VAR, str(default))
    write_tiff(tmp_path / "a.tif", rng.gamma(4, 25, (32, 32)).astype(np.float32), sampling=1.0)
    out = tmp_path / "out"
    assert main(["segment", str(other.with_suffix("")), str(tmp_path / "a.tif"),
                 "--out", str(out)]) == 0
    assert json.loads((out / "record.json").read_text())["config"]["model"] == \
        str(other.with_suffix(""))
    capsys.readouterr()
    assert main(["segment", str(other), "--out", str(tmp_path / "o2")]) == 2
    assert "after the model" in capsys.readouterr().err


def test_segment_without_pixel_size_warns(tiny_model, tmp_path, monkeypatch, rng, capsys):
    json_path = tiny_model(tmp_path)
    monkeypatch.setenv(default_mod.ENV_VAR, str(json_path))
    from PIL import Image

    Image.fromarray(rng.integers(0, 255, (32, 40), dtype=np.uint8)).save(tmp_path / "p.png")
    assert main(["segment", str(tmp_path / "p.png"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "no pixel size" in err and "0.3 Å/px" in err


def test_segment_without_default_model_is_one_line(tmp_path, monkeypatch, rng, capsys):
    monkeypatch.setenv(default_mod.ENV_VAR, str(tmp_path / "gone"))
    write_tiff(tmp_path / "a.tif", rng.gamma(4, 25, (32, 32)).astype(np.float32), sampling=1.0)
    assert main(["segment", str(tmp_path / "a.tif"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "default model file missing" in err and err.count("\n") == 1


def test_a_shipped_model_is_named_by_its_stem(tiny_model, tmp_path, monkeypatch):
    from temseg.infer import model_json

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    json_path = tiny_model(shipped, name="carbon")
    (shipped / "half.json").write_text("{}")  # no weights beside it: not a shipped model
    monkeypatch.setattr(default_mod, "models_folder", lambda: shipped)
    assert default_mod.shipped_models() == ["carbon"]
    assert default_mod.shipped_model_path("half") is None
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert model_json("carbon") == json_path
    with pytest.raises(ModelFileError, match=r"grapheen: no such model file, nor a shipped "
                                             r"model \(shipped: carbon\)"):
        model_json("grapheen")
    # a file or folder here wins over the shipped model of that name
    local = tiny_model(work, name="carbon")
    assert model_json("carbon").resolve() == local.resolve()
    (work / "carbon_dir").mkdir()
    with pytest.raises(ModelFileError, match="folder holds no model.json"):
        model_json("carbon_dir")


def test_segment_takes_a_shipped_model_by_name(tiny_model, tmp_path, monkeypatch, rng):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    tiny_model(shipped, name="carbon")
    monkeypatch.setattr(default_mod, "models_folder", lambda: shipped)
    image = write_tiff(tmp_path / "a.tif", rng.gamma(4, 25, (40, 52)).astype(np.float32),
                       sampling=0.3)
    monkeypatch.chdir(tmp_path)
    assert main(["segment", "carbon", str(image), "--out", "out"]) == 0
    record = json.loads((tmp_path / "out" / "record.json").read_text())
    assert record["config"]["model"] == "carbon"
    assert record["segmenter"]["path"] == str(shipped / "carbon.json")  # what was used


def test_shipped_graphene_model_finds_the_contamination_when_present(graphene_dir):
    """The shipped graphene ensemble on a held-in pair of Sadre et al.: a sanity check of the
    installed files (its held-out scores are the cross-validation in BENCHMARKS.md)."""
    path = default_mod.shipped_model_path("graphene")
    if path is None:
        pytest.skip("graphene model not built (benchmarks/train_graphene_model.py --install)")
    data = graphene_dir
    from PIL import Image

    from temseg.infer import load_segmenter

    seg = load_segmenter("graphene", tile=256, device="cpu")
    config = json.loads(path.read_text())["config"]
    assert config["architecture"] == "ensemble"
    image = read_image(data / "2013_1114_Gr_100.png").data
    truth = np.asarray(Image.open(data / "2013_1114_Gr_100_LABEL.png")) > 0
    mask = seg.predict(image) >= seg.threshold
    f1 = 2 * (mask & truth).sum() / (mask.sum() + truth.sum())
    assert f1 > 0.9
