"""The whole pipeline through the CLI: train → evaluate → segment a larger-than-tile image."""

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from temseg.cli.main import main
from temseg.io import read_image, write_tiff
from temseg.synthetic import particle_image, particle_set

pytestmark = pytest.mark.integration

RECIPE = """\
architecture: resunet
model: {blocks: 2, pool: 2, filters: 4}
preprocessing: {remove_outliers: false, standardize: true}
loss: ce
lr: 1e-2
batch_size: 4
epochs: 6
val_fraction: 0.25
device: cpu
"""


def _labelled_folder(folder, n=8, shape=(48, 48)):
    folder.mkdir()
    pairs = particle_set(n, shape, seed=7, radius_px=(8, 14), spacing_px=4,
                         mass_contrast=1.0, noise_sigma=0.2)
    for i, (image, mask) in enumerate(pairs):
        name = f"series{i // 2}_layer_{i:04d}"
        write_tiff(folder / f"{name}.tif", image, sampling=0.5)
        iio.imwrite(folder / f"{name}_LABEL.png", mask * 255)
    return folder


def test_train_evaluate_segment(tmp_path, capsys):
    data = _labelled_folder(tmp_path / "data")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    run = tmp_path / "run"
    assert main(["train", str(data), "-c", str(recipe), "-o", str(run)]) == 0, \
        capsys.readouterr().err
    log = json.loads((run / "log.json").read_text())
    assert log[-1]["train_loss"] < 0.8 * log[0]["train_loss"]
    model = run / "model.json"
    config = json.loads(model.read_text())["config"]
    assert config["sampling"] == pytest.approx(0.5)          # kept from the data

    assert main(["evaluate", str(model), str(data), "-o", str(tmp_path / "eval")]) == 0
    pooled = json.loads((tmp_path / "eval" / "pooled.json").read_text())
    with open(tmp_path / "eval" / "per_image.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 10 and sum("pooled" in row.values() for row in rows) == 1
    assert rows[-1]["name"] == "mean of images"
    # the lattice/mass contrast is easy: a few epochs already beat chance clearly
    assert pooled["f1"] > 0.5

    big, truth = particle_image((150, 200), n_particles=4, radius_px=(10, 16), spacing_px=4,
                                mass_contrast=1.0, noise_sigma=0.2, seed=99)
    write_tiff(tmp_path / "big.tif", big, sampling=0.5)
    out = tmp_path / "seg"
    assert main(["segment", str(model), str(tmp_path / "big.tif"), "-o", str(out),
                 "--tile", "64", "--overlap", "0.25"]) == 0
    prob = read_image(out / "big_prob.tif")
    assert prob.data.shape == (150, 200) and prob.sampling == pytest.approx(0.5)
    assert np.all((prob.data >= 0) & (prob.data <= 1))
    mask = iio.imread(out / "big_mask.png")
    assert mask.shape == (150, 200) and set(np.unique(mask)) <= {0, 255}
    overlap = ((mask > 0) & (truth > 0)).sum() / max((truth > 0).sum(), 1)
    assert overlap > 0.5
    assert iio.imread(out / "big_overlay.png").shape == (150, 200, 3)
    record = json.loads((out / "record.json").read_text())
    assert record["command"].startswith("temseg") or record["command"]
    assert tifffile.imread(out / "big_prob.tif").dtype == np.float32


MOS2_RECIPE = """
architecture: resunet
model: {blocks: 2, pool: 2, filters: 4}
loss: ce+dice
lr: 3.0e-3
batch_size: 4
epochs: 3
dihedral: true
val_fraction: 0.0
seeds: [0]
device: cpu
"""


def test_focal_series_species_simulate_train_evaluate_segment(tmp_path, capsys):
    """003 end to end: MoS2 focal series simulated, a 3-channel species network trained,
    scored per class and run on a stack of two focal series, counting columns."""
    from pathlib import Path

    zarr = pytest.importorskip("zarr")
    config = Path(__file__).resolve().parents[1] / "configs" / "simulate_mos2.yaml"
    data = tmp_path / "mos2.zarr"
    small = ["--size", "64", "--n-structures", "3", "--images-per-structure", "2",
             "--scheduler", "synchronous"]
    assert main(["simulate", str(config), "-o", str(data), *small]) == 0, capsys.readouterr().err
    root = zarr.open_group(str(data), mode="r")
    assert root["images"].shape == (6, 3, 64, 64) and root["labels"].shape == (6, 64, 64)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(MOS2_RECIPE)
    run = tmp_path / "run"
    assert main(["train", str(data), "-c", str(recipe), "-o", str(run), "--threads", "1"]) == 0
    log = json.loads((run / "log.json").read_text())
    assert log[-1]["train_loss"] < log[0]["train_loss"]
    model = json.loads((run / "model.json").read_text())["config"]
    assert model["in_channels"] == 3 and model["classes"] == ["background", "Mo", "S2", "S1"]
    assert model["channels"] == ["Δf -50 Å", "Δf +0 Å", "Δf +50 Å"]
    assert model["sampling"] == pytest.approx(0.125)

    assert main(["evaluate", str(run), str(data), "-o", str(tmp_path / "ev"),
                 "--no-overlays"]) == 0, capsys.readouterr().err
    with open(tmp_path / "ev" / "columns.csv") as fh:
        columns = {r["class"]: r for r in csv.DictReader(fh)}
    labels = np.asarray(root["labels"][:])
    from skimage.measure import label

    for c, name in enumerate(("Mo", "S2", "S1"), start=1):  # every labelled column counted
        assert int(columns[name]["labelled"]) == sum(label(lab == c, connectivity=1).max()
                                                     for lab in labels)

    stack = tmp_path / "two_series.tif"  # two focal series, frames in the model's channel order
    write_tiff(stack, np.concatenate([root["images"][0], root["images"][2]]), sampling=0.125)
    out = tmp_path / "seg"
    assert main(["segment", str(run), str(stack), "-o", str(out)]) == 0, capsys.readouterr().err
    with open(out / "two_series_counts.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["series"] for r in rows] == ["0", "1"] and "S1_count" in rows[0]
    masks = tifffile.imread(out / "two_series_mask.tif")
    assert masks.shape == (2, 64, 64) and masks.max() <= 3
    assert tifffile.imread(out / "two_series_prob.tif").shape == (2, 4, 64, 64)
    record = json.loads((out / "record.json").read_text())
    assert record["classes"][3] == "S1"
    # a stack that is not whole focal series is refused in one line
    write_tiff(tmp_path / "four.tif", np.asarray(root["images"][0:2]).reshape(6, 64, 64)[:4])
    assert main(["segment", str(run), str(tmp_path / "four.tif"), "-o", str(tmp_path / "x")]) == 2
    assert "4 frames" in capsys.readouterr().err
