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
