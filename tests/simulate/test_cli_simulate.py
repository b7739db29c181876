"""``temseg simulate``: writes the dataset with progress; bad configs fail in one line, exit 2."""

import hashlib
import json
from pathlib import Path

import numpy as np

from temseg.cli.main import main
from temseg.cli.simulate import load_simulate_config
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
    # an option this mode does not use is said, not silently dropped (before any work)
    assert main(["simulate", str(SMALL), "--out", str(out), "--frames", "7"]) == 2
    assert "--frames 7 is not used: frames belong to a dose series" in \
        " ".join(capsys.readouterr().err.split())
    assert main(["simulate", str(SMALL), "--out", str(out), "--mode", "dose_series",
                 "--n-structures", "4"]) == 2
    assert "--n-structures: not used by a dose series" in \
        " ".join(capsys.readouterr().err.split())


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


def _noise_model(folder: Path, *, sampling=0.3, dose=(500.0, 500.0), c0=0.3) -> Path:
    """A tiny ``temseg fit-noise``-style detector.json (fixed c0, c3, N0; a vacuum dose range)."""
    model = folder / "noise.json"
    model.write_text(json.dumps({
        "kind": "detector", "format_version": 1,
        "detector": {"c0": [c0, c0], "c3": [2.5, 2.5], "N0": [0.01, 0.01], "dose": list(dose)},
        "fit": {"sampling": sampling}}))
    return model


def test_noise_model_replaces_the_detector_and_keeps_the_dose_range(tmp_path, capsys):
    """--noise-model gives c0, c3, N0; the config's dose ('high': 1e2-1e6) stays; the zarr
    says so: resolved ranges, the model's SHA-256 and block, N0 in e/px, mtf none."""
    model = _noise_model(tmp_path)
    out = tmp_path / "fitted.zarr"
    code = main(["simulate", str(SMALL), "--out", str(out), "--n-structures", "1",
                 "--images-per-structure", "2", "--size", "56", "--noise-model", str(model),
                 "--scheduler", "synchronous"])
    assert code == 0, capsys.readouterr().err
    params = read_parameters(out)
    np.testing.assert_allclose(params["c0"], 0.3)
    np.testing.assert_allclose(params["N0"], 0.01)
    assert np.all((params["dose"] >= 1e2) & (params["dose"] <= 1e6))
    assert not np.allclose(params["dose"], 500.0)
    root = open_dataset(out)
    attrs = dict(root.attrs)
    assert attrs["detector"]["dose"] == [1e2, 1e6] and attrs["detector"]["c0"] == [0.3, 0.3]
    assert attrs["config"]["detector"]["mtf"] is None
    assert attrs["config"]["detector"]["dose"] == "high"
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert attrs["noise_model"]["sha256"] == sha and attrs["noise_model"]["fit_sampling"] == 0.3
    assert attrs["noise_model"]["detector"]["dose"] == [500.0, 500.0]
    record = dict(root["record"].attrs)
    assert record["noise_model"]["sha256"] == sha
    assert dict(root["parameters"].attrs)["units"]["N0"] == "e/px"


def test_dose_fitted_takes_the_vacuum_doses_and_says_one_dose(tmp_path, capsys):
    model = _noise_model(tmp_path)
    config = tmp_path / "fitted.yaml"
    config.write_text(SMALL.read_text().replace("dose: high", "dose: fitted\n  c0: [0.9, 1.0]"))
    out = tmp_path / "fitted.zarr"
    code = main(["simulate", str(config), "--out", str(out), "--n-structures", "1",
                 "--images-per-structure", "1", "--size", "56", "--noise-model", str(model),
                 "--scheduler", "synchronous"])
    err = capsys.readouterr().err
    assert code == 0, err
    params = read_parameters(out)
    np.testing.assert_allclose(params["dose"], 500.0)
    np.testing.assert_allclose(params["c0"], 0.3)  # the model replaced the config's c0
    assert (f"detector.noise_model: {model} replaces the config's detector mtf MTF4, "
            "c0 [0.9, 1.0] (its c0, c3 and N0 are used)") in " ".join(err.split())
    assert "every image the vacuum stack's one dose, 500 e/Å²" in err
    assert main(["simulate", str(config), "--out", str(tmp_path / "x.zarr")]) == 2
    assert "detector.dose: 'fitted'" in capsys.readouterr().err


def test_refitting_the_noise_model_changes_the_recorded_sha(tmp_path):
    """Same config and seed, another model in the same file: the attrs tell them apart."""
    from temseg.cli.simulate import load_simulate_config
    from temseg.simulate.dataset import _attrs

    model = _noise_model(tmp_path, c0=0.3)
    first = _attrs(load_simulate_config(SMALL, size=56, noise_model=model))
    _noise_model(tmp_path, c0=0.4)
    second = _attrs(load_simulate_config(SMALL, size=56, noise_model=model))
    assert first["config"] == second["config"]
    assert first["noise_model"]["sha256"] != second["noise_model"]["sha256"]
    assert second["detector"]["c0"] == [0.4, 0.4]


def test_noise_model_fitted_at_another_pixel_size_is_warned_about(tmp_path):
    from temseg.cli.simulate import load_simulate_config
    from temseg.simulate.config import detector_warnings

    def about_sampling(**overrides):
        messages = detector_warnings(load_simulate_config(SMALL, noise_model=model, **overrides))
        return [m for m in messages if "replaces the config's detector" not in m]

    model = _noise_model(tmp_path, sampling=0.3)
    assert about_sampling() == []
    assert about_sampling(sampling=0.31) == []
    (message,) = about_sampling(sampling=0.6)
    assert message.startswith("detector.noise_model: fitted at 0.3 Å/px, simulating at 0.6 Å/px")


def test_noise_model_by_flag_or_by_yaml_is_one_rule(tmp_path, capsys):
    """The same model file as --noise-model or as detector.noise_model: the same config,
    attrs and bytes for a seed; the config's mtf, c0, c3, N0 it replaces are named."""
    from temseg.simulate.config import detector_warnings

    model = _noise_model(tmp_path)
    detector = "detector:\n  mtf: MTF4\n  c0: [0.9, 1.0]\n  N0: [0.0, 0.1]\n  dose: high"
    text = SMALL.read_text()
    assert "detector:\n  mtf: MTF4\n  dose: high" in text
    by_flag = tmp_path / "flag.yaml"
    by_flag.write_text(text.replace("detector:\n  mtf: MTF4\n  dose: high", detector))
    by_yaml = tmp_path / "yaml.yaml"
    by_yaml.write_text(text.replace("detector:\n  mtf: MTF4\n  dose: high",
                                    f"{detector}\n  noise_model: {model}"))
    configs = [load_simulate_config(by_flag, noise_model=model), load_simulate_config(by_yaml)]
    for cfg in configs:
        assert (cfg.detector.mtf, cfg.detector.c0, cfg.detector.N0) == (None, None, None)
        assert cfg.detector.ranges().c0 == (0.3, 0.3) and cfg.detector.ranges().dose == (1e2, 1e6)
        assert detector_warnings(cfg) == [
            f"detector.noise_model: {model} replaces the config's detector mtf MTF4, "
            "c0 [0.9, 1.0], N0 [0.0, 0.1] (its c0, c3 and N0 are used)"]
    # a config that names no preset gets no word about the default one
    bare = tmp_path / "bare.yaml"
    bare.write_text(text.replace("detector:\n  mtf: MTF4\n  dose: high", "detector: {}"))
    assert detector_warnings(load_simulate_config(bare, noise_model=model)) == []
    digests = []
    for name, config, flag in (("flag", by_flag, ["--noise-model", str(model)]),
                               ("yaml", by_yaml, [])):
        out = tmp_path / f"{name}.zarr"
        code = main(["simulate", str(config), "--out", str(out), "--n-structures", "1",
                     "--images-per-structure", "1", "--size", "56", "--scheduler",
                     "synchronous", *flag])
        assert code == 0, capsys.readouterr().err
        digests.append({str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted(out.rglob("*")) if p.is_file() and p.parent.name != "record"})
    assert digests[0] == digests[1] and "zarr.json" in digests[0]


def test_a_dose_in_e_per_nm2_is_warned_about(tmp_path):
    from temseg.cli.simulate import load_simulate_config
    from temseg.simulate.config import detector_warnings

    config = tmp_path / "nm2.yaml"
    config.write_text(SMALL.read_text().replace("dose: high", "dose: [1.0e+5, 1.0e+7]"))
    (message,) = detector_warnings(load_simulate_config(config))
    assert message.startswith("detector.dose: up to 1e+07 e/Å² is above the 1e+06 e/Å²")
    assert "e/nm²" in message
    assert detector_warnings(load_simulate_config(SMALL)) == []  # 'high' tops at 1e6


def test_a_store_left_by_a_killed_run_is_removed_by_the_next(tmp_path, capsys):
    """A run SIGKILLed while writing leaves .NAME.HOST-PID.XXXX; the next run removes it
    (its process is gone) and names it; an older-style store is only pointed out."""
    import subprocess
    import sys

    out = tmp_path / "sim.zarr"
    script = (
        "import os, signal, sys\n"
        "from temseg.config import load_config\n"
        "from temseg.simulate import dataset\n"
        "from temseg.simulate.config import SimulateConfig\n"
        "dataset._run_local = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "config = load_config(SimulateConfig, sys.argv[1], size=56)\n"
        "dataset.simulate_dataset(config, sys.argv[2])\n")
    proc = subprocess.run([sys.executable, "-c", script, str(SMALL), str(out)], timeout=120)
    assert proc.returncode == -9
    (stale,) = [p for p in tmp_path.iterdir() if p.name.startswith(".sim.zarr.")]
    assert (stale / "zarr.json").exists() and not out.exists()
    older = tmp_path / ".sim.zarr.abcd1234"
    older.mkdir()
    code = main(["simulate", str(SMALL), "--out", str(out), "--n-structures", "1",
                 "--images-per-structure", "1", "--size", "56", "--scheduler", "synchronous"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert not stale.exists() and f"temporary store(s) that killed runs left: {stale.name}" in err
    assert older.exists() and ".sim.zarr.abcd1234 looks like a temporary store" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".sim.zarr.abcd1234", "sim.zarr"]


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


def test_help_names_the_shipped_configs_that_write_columns(capsys, monkeypatch):
    """simulate --help says which shipped configs write the ``columns`` array (labels.columns),
    and names every shipped simulate config, each on the right side."""
    import re

    from temseg.errors import ConfigError

    monkeypatch.setenv("COLUMNS", "200")
    assert main(["simulate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    found = re.search(r"columns \(atomic-column discs\) only where labels\.columns is true "
                      r"\(the default\), as in (.*?); (.*?) write none", text)
    assert found, text
    writes, none = (set(re.findall(r"[\w.]+\.yaml", group)) for group in found.groups())
    shipped = {}
    for path in sorted((REPO / "configs").glob("*.yaml")):
        try:
            shipped[path.name] = load_simulate_config(path).labels.columns
        except ConfigError:  # a training config, not a simulate one
            continue
    assert {"simulate_mos2.yaml", "simulate_small.yaml"} <= set(shipped)
    assert writes == {name for name, columns in shipped.items() if columns}
    assert none == {name for name, columns in shipped.items() if not columns}


def test_dose_flag_sets_the_dose_range_fitted_included(tmp_path, capsys):
    model = _noise_model(tmp_path)
    out = tmp_path / "fitted.zarr"  # the YAML says "high"; --dose fitted takes the vacuum's
    assert main(["simulate", str(SMALL), "--out", str(out), "--n-structures", "1",
                 "--images-per-structure", "1", "--size", "56", "--noise-model", str(model),
                 "--dose", "fitted", "--scheduler", "synchronous"]) == 0, \
        capsys.readouterr().err
    np.testing.assert_allclose(read_parameters(out)["dose"], 500.0)
    ranged = tmp_path / "ranged.zarr"
    assert main(["simulate", str(SMALL), "--out", str(ranged), "--n-structures", "1",
                 "--images-per-structure", "2", "--size", "56", "--dose", "200,300",
                 "--scheduler", "synchronous"]) == 0
    doses = read_parameters(ranged)["dose"]
    assert np.all((doses >= 200) & (doses <= 300))
    capsys.readouterr()
    assert main(["simulate", str(SMALL), "--out", str(tmp_path / "bad.zarr"), "--dose",
                 "1,2,3"]) == 2
    assert "--dose: '1,2,3' holds 3 numbers" in capsys.readouterr().err
