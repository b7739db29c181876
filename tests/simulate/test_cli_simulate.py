"""``temseg simulate``: writes the dataset with progress; bad configs fail in one line, exit 2."""

from pathlib import Path

import numpy as np

from temseg.cli.main import main
from temseg.simulate.dataset import open_dataset, read_parameters

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "configs" / "simulate_small.yaml"
MOS2 = REPO / "configs" / "simulate_mos2.yaml"


def test_simulate_writes_dataset_with_overrides(tmp_path, capsys):
    out = tmp_path / "sim.zarr"
    code = main(["simulate", str(SMALL), "--out", str(out), "--n-structures", "1",
                 "--images-per-structure", "2", "--size", "56", "--pixel-size-nm", "0.03",
                 "--seed", "3", "--scheduler", "synchronous"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "wrote" in captured.out
    root = open_dataset(out)
    assert root["images"].shape == (2, 56, 56)
    assert root.attrs["sampling"] == 0.3 and root.attrs["seed"] == 3
    assert read_parameters(root)["epoch"].tolist() == [0, 1]
    # the same command again refuses to overwrite
    again = main(["simulate", str(SMALL), "--out", str(out)])
    assert again == 2 and "already exists" in capsys.readouterr().err


def test_overwrite_replaces_only_a_dataset(tmp_path, capsys):
    """--overwrite on a folder of the user's own files (or on a file) deletes nothing."""
    victim = tmp_path / "micrographs"
    victim.mkdir()
    (victim / "notes.txt").write_text("beam current 2 nA")
    code = main(["simulate", str(SMALL), "--out", str(victim), "--overwrite",
                 "--n-structures", "1", "--images-per-structure", "1", "--size", "56",
                 "--scheduler", "synchronous"])
    err = capsys.readouterr().err
    assert code == 2 and "not a temseg simulated dataset" in err
    assert (victim / "notes.txt").read_text() == "beam current 2 nA"
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["simulate", str(SMALL), "--out", str(afile / "x.zarr")]) == 2
    assert "which is a file" in capsys.readouterr().err


def test_bad_config_fails_before_work(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.read_text().replace("dose: high", "dose: [-5.0, 100.0]"))
    out = tmp_path / "never.zarr"
    assert main(["simulate", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "detector.dose" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["simulate", str(SMALL), "--out", str(out), "--size", "20"]) == 2
    assert "structure.radius" in capsys.readouterr().err


def test_noise_model_option_reaches_detector(tmp_path, capsys):
    model = tmp_path / "noise.json"
    model.write_text('{"detector": {"c0": [0.3, 0.3], "c3": [2.5, 2.5], "N0": [0.01, 0.01], '
                     '"dose": [500.0, 500.0]}}')
    out = tmp_path / "fitted.zarr"
    code = main(["simulate", str(SMALL), "--out", str(out), "--n-structures", "1",
                 "--images-per-structure", "1", "--size", "56", "--noise-model", str(model),
                 "--scheduler", "synchronous"])
    assert code == 0, capsys.readouterr().err
    params = read_parameters(out)
    np.testing.assert_allclose(params["c0"], 0.3)
    np.testing.assert_allclose(params["dose"], 500.0)


def test_noise_model_that_is_a_segmentation_model_is_named(tmp_path, save_tiny_model, capsys):
    model = save_tiny_model(tmp_path, sampling=1.0, name="model")
    code = main(["simulate", str(SMALL), "--out", str(tmp_path / "x.zarr"),
                 "--noise-model", str(model)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == (f"error: {model}: not a detector model from `temseg fit-noise` "
                                 "(kind 'network')")


def test_a_pixel_size_too_coarse_for_the_lattice_is_warned_about():
    """At 1.5 Å/px (or 10: nm typed for Å) no Au fringe is resolved: said before the long run."""
    from temseg.cli.simulate import lattice_warning, load_simulate_config

    assert lattice_warning(load_simulate_config(SMALL, sampling=1.0)) is None
    message = lattice_warning(load_simulate_config(SMALL, sampling=1.5))
    assert message.startswith("at 1.5 Å/px the Au {111} fringes (2.36 Å) lie beyond the Nyquist")


def test_mos2_focal_series_config_writes_species_dataset(tmp_path, capsys):
    """The shipped MoS2 config (003) runs as it is, made tiny by flags."""
    out = tmp_path / "mos2.zarr"
    code = main(["simulate", str(MOS2), "--out", str(out), "--n-structures", "1",
                 "--images-per-structure", "1", "--size", "32", "--scheduler", "synchronous"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "1 images × 3 defoci of 32² px at 0.125 Å/px" in captured.err
    root = open_dataset(out)
    assert root["images"].shape == (1, 3, 32, 32) and root["labels"].shape == (1, 32, 32)
    assert root.attrs["label_kind"] == "species" and root.attrs["energy"] == 80e3
    assert root.attrs["classes"] == ["background", "Mo", "S2", "S1"]
    assert set(np.unique(root["labels"][:]).tolist()) <= {0, 1, 2, 3}


def test_mos2_pixels_too_coarse_for_the_columns_are_warned_about():
    from temseg.cli.simulate import lattice_warning, load_simulate_config

    cfg = load_simulate_config(MOS2)
    assert cfg.structure.kind == "mos2" and cfg.channels == 3 and 0.1 <= cfg.sampling <= 0.15
    assert lattice_warning(cfg) is None
    message = lattice_warning(load_simulate_config(MOS2, sampling=1.0))
    assert message.startswith("at 1 Å/px the MoS2 columns (1.82 Å apart) lie beyond the Nyquist")
