"""``temseg demo``: simulate a small micrograph, segment it, write and score everything."""

import csv
import json

import numpy as np
import pytest
from skimage import measure, morphology

from temseg.cli.main import main
from temseg.io import read_image
from temseg.models import default as default_mod

#: a small, fast simulation (64 px at 0.3 Å/px, coarse exit wave): a few seconds
SMALL = {"size": 64, "wave_sampling": 0.1, "padding": 4.0,
         "structure": {"radius": [5.0, 7.0], "max_offset": 1.0, "support_depth": [8.0, 12.0]}}


@pytest.fixture(scope="module")
def tiny_default(tmp_path_factory, save_tiny_model):
    """A 2-block residual U-Net with random weights saved as a model file (JSON path)."""
    return save_tiny_model(tmp_path_factory.mktemp("model"), sampling=0.3,
                           training={"simulation": {"structure": {"element": "Au"}}})


@pytest.fixture(scope="module")
def small_yaml(tmp_path_factory):
    import yaml

    path = tmp_path_factory.mktemp("cfg") / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


def test_demo_writes_everything_consistently(tiny_default, small_yaml, tmp_path, monkeypatch,
                                             capsys):
    monkeypatch.setenv(default_mod.ENV_VAR, str(tiny_default))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--config", str(small_yaml), "--seed", "5",
                 "--dose", "2500"]) == 0
    printed = capsys.readouterr().out
    assert "dose 2,500 e/Å²" in printed  # (plain, as every dose temseg prints)
    image = read_image(out / "image.tif")
    assert image.data.shape == (64, 64)
    assert image.sampling == pytest.approx(0.3)
    # counts: mean ≈ dose × sampling² electrons per pixel (MTF and noise conserve the mean)
    assert image.data.mean() == pytest.approx(2500 * 0.3**2, rel=0.1)
    label = read_image(out / "label.png").data > 0
    mask = read_image(out / "mask.png").data > 0
    # a particle of radius 5–7 Å covers π r² / s² ≈ 870–1710 px (hull of a truncated sphere: less)
    assert 300 < label.sum() < 1800
    scores = json.loads((out / "scores.json").read_text())
    tp = np.count_nonzero(mask & label)
    f1 = 2 * tp / (mask.sum() + label.sum())
    assert scores["scores"]["f1"] == pytest.approx(f1, abs=1e-9)
    assert f"F1 = {f1:.3f}" in printed
    with open(out / "particles.csv") as fh:
        rows = list(csv.DictReader(fh))
    regions = measure.regionprops(measure.label(
        morphology.remove_small_objects(mask, max_size=15), connectivity=2))
    assert len(rows) == len(regions) == scores["n_particles"]
    assert all("peak_ratio" in row for row in rows)  # the Fourier columns of each particle
    for row, region in zip(rows, regions):
        area_nm2 = region.area * 0.03**2
        # (the CSV keeps 6 significant digits)
        assert float(row["area_nm2"]) == pytest.approx(area_nm2, rel=5e-6)
        assert float(row["equivalent_diameter_nm"]) == pytest.approx(
            2 * np.sqrt(area_nm2 / np.pi), rel=5e-6)
    record = json.loads((out / "record.json").read_text())
    assert record["seed"] == 5
    assert record["model"] == str(tiny_default)
    assert record["config"]["size"] == 64 and record["config"]["detector"]["dose"] == [2500, 2500]
    for name in ("overlay.png", "probability.tif"):
        assert (out / name).is_file()
    # the closing line names every file written, and only those
    wrote = printed[printed.index("wrote "):].split(" to ")[0][len("wrote "):]
    named = set(wrote.replace(" and ", ", ").split(", "))
    assert named == {p.name for p in out.iterdir()}


def test_demo_image_matches_simulate_dataset(tmp_path):
    """The demo's micrograph is image 0 of `simulate_dataset` with the same config."""
    import zarr

    from temseg.analyze.demo import demo_config, simulate_micrograph
    from temseg.simulate.dataset import simulate_dataset

    config = demo_config(seed=9, overrides=SMALL)
    assert config.detector.dose == (1000.0, 1000.0) and config.n_images == 1
    image, label, params = simulate_micrograph(config)
    assert params["dose"] == pytest.approx(1000.0)
    simulate_dataset(config, tmp_path / "d.zarr", scheduler="synchronous")
    root = zarr.open_group(str(tmp_path / "d.zarr"), mode="r")
    np.testing.assert_array_equal(image, root["images"][0])
    np.testing.assert_array_equal(label, root["labels"][0])


def test_demo_bad_options_are_one_line(tiny_default, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(default_mod.ENV_VAR, str(tiny_default))
    assert main(["demo", "--out", str(tmp_path / "x"), "--size", "32"]) == 2
    err = capsys.readouterr().err
    assert "structure.radius" in err and err.count("\n") == 1
    assert main(["demo", "--out", str(tmp_path / "y"), "--dose", "-1"]) == 2
    assert "dose" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_with_the_shipped_model_finds_the_particle(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(default_mod.ENV_VAR, raising=False)
    if not default_mod.has_default_model():
        pytest.skip("default model not built yet")
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    scores = json.loads((tmp_path / "demo" / "scores.json").read_text())
    assert scores["scores"]["f1"] > 0.8
    assert scores["n_particles"] >= 1
    # the particle's own power spectrum gives the Au {111} spacing, a / √3 = 2.355 Å, and
    # several reflections of similar strength: the simulated particle sits on its [110] zone
    with open(tmp_path / "demo" / "particles.csv") as fh:
        rows = list(csv.DictReader(fh))
    biggest = max(rows, key=lambda r: int(r["area_px"]))
    assert float(biggest["spacing_A"]) == pytest.approx(4.078 / 3**0.5, rel=0.015)
    assert int(biggest["reflections"]) >= 3 and float(biggest["peak_ratio"]) < 2.0
    assert "lattice spacing" in capsys.readouterr().out
