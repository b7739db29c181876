"""`temseg fit-noise STACK --vacuum ROI --out DIR` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from temseg.cli.main import main
from temseg.io import write_tiff
from temseg.simulate.detector import DetectorConfig, apply_detector


@pytest.fixture
def stack(tmp_path):
    rng = np.random.default_rng(8)
    frames = np.stack([apply_detector(np.ones((80, 80)), dose=d, sampling=0.1, c0=0.35, c3=3.0,
                                      N0=0.02, rng=rng) for d in (30.0, 300.0, 3000.0)])
    path = tmp_path / "series.tif"
    write_tiff(path, frames)
    return path


def test_fit_noise_writes_a_detector_model(stack, tmp_path, capsys):
    out = tmp_path / "noise"
    code = main(["fit-noise", str(stack), "--vacuum", "8:72,8:72", "--sampling", "0.1",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "N0 =" in captured.out and "3/3 frames" in captured.out
    config = DetectorConfig.from_json(out / "detector.json")
    assert 0.2 < config.c0[0] <= config.c0[1] < 0.5
    assert config.dose[0] == pytest.approx(30.0, rel=0.1)
    assert (out / "detector.png").stat().st_size > 10_000
    record = json.loads((out / "record.json").read_text())
    assert record["input"] == str(stack) and record["config"]["sampling"] == 0.1


def test_pixel_size_in_nm_and_given_doses(stack, tmp_path, capsys):
    out = tmp_path / "noise"
    code = main(["fit-noise", str(stack), "--vacuum", "8:72,8:72", "--pixel-size-nm", "0.01",
                 "--dose", "30", "--dose", "300", "--dose", "3000", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    frames = json.loads((out / "detector.json").read_text())["frames"]
    assert [f["dose"] for f in frames] == [30.0, 300.0, 3000.0]
    assert frames[0]["dose_per_pixel"] == pytest.approx(0.3)


@pytest.mark.parametrize("args, message", [
    (["--vacuum", "0:16,0:16", "--sampling", "0.1"], "too small"),
    (["--vacuum", "0:64", "--sampling", "0.1"], "vacuum:"),
    (["--vacuum", "8:72,8:72"], "pixel size"),
    (["--vacuum", "8:72,8:72", "--sampling", "0.1", "--pixel-size-nm", "0.01"], "either"),
])
def test_bad_input_is_one_line_and_exit_2(stack, tmp_path, capsys, args, message):
    code = main(["fit-noise", str(stack), *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "detector.json").exists()


def _run(argv, capsys):
    """``main(argv)`` with warnings printed as outside pytest; (exit code, stderr)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code = main(argv)
    return code, capsys.readouterr().err


def _write_stack(path, image, doses, *, gain=1.0):
    rng = np.random.default_rng(5)
    frames = gain * np.stack([apply_detector(image, dose=d, sampling=0.1, c0=0.4, c3=3.0,
                                             N0=1.0, rng=rng) for d in doses])
    write_tiff(path, frames.astype(np.float32), sampling=0.1)
    return path


def test_an_earlier_fit_is_kept_unless_overwrite(stack, tmp_path, capsys):
    out = tmp_path / "noise"
    out.mkdir()
    (out / "detector.json").write_text("earlier")
    argv = ["fit-noise", str(stack), "--vacuum", "8:72,8:72", "--sampling", "0.1",
            "--out", str(out)]
    code, err = _run(argv, capsys)
    assert code == 2
    assert err.strip() == (f"error: {out / 'detector.json'}: already exists (use --overwrite to "
                           "replace it)")
    assert sorted(p.name for p in out.iterdir()) == ["detector.json"]  # nothing written
    assert (out / "detector.json").read_text() == "earlier"
    code, err = _run([*argv, "--overwrite"], capsys)
    assert code == 0, err
    assert json.loads((out / "detector.json").read_text())["kind"] == "detector"
    assert (out / "record.json").exists()


def test_a_gain_not_given_is_warned_in_one_line(tmp_path, capsys):
    doses = list(np.geomspace(300, 30000, 5))
    path = _write_stack(tmp_path / "gain10.tif", np.ones((64, 64)), doses, gain=10.0)
    code, err = _run(["fit-noise", str(path), "--vacuum", "0:64,0:64", "--out",
                      str(tmp_path / "a")], capsys)
    assert code == 0, err
    lines = [line for line in err.splitlines() if "counts per electron" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: gain: "), err
    assert "(not given?)" in lines[0] and "--counts-per-electron" in lines[0]
    check = json.loads((tmp_path / "a" / "detector.json").read_text())["fit"]["noise_check"]
    assert check["noise_gain"] == pytest.approx(10.0, rel=0.25)
    assert check["message"] == lines[0].removeprefix("warning: ")
    code, err = _run(["fit-noise", str(path), "--vacuum", "0:64,0:64", "--out",
                      str(tmp_path / "b"), "--counts-per-electron", "10"], capsys)
    assert code == 0 and "counts per electron" not in err, err


def test_doses_in_e_per_nm2_are_an_error_unless_forced(tmp_path, capsys):
    """N0 100× too high was warned of, written, and used by `simulate` without a word."""
    doses = [300.0, 3000.0, 30000.0]
    path = _write_stack(tmp_path / "vac.tif", np.ones((64, 64)), doses)
    given = [arg for d in doses for arg in ("--dose", str(100 * d))]
    argv = ["fit-noise", str(path), "--vacuum", "0:64,0:64", *given, "--out", str(tmp_path / "o")]
    code, err = _run(argv, capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if "e/nm²" in line]
    assert len(lines) == 1 and lines[0].startswith("error: doses: "), err
    assert "look like e/nm², not e/Å²" in lines[0] and "N0 is 100× too high" in lines[0]
    assert "warning:" not in err and not (tmp_path / "o" / "detector.json").exists()
    code, err = _run([*argv, "--force"], capsys)
    assert code == 0, err
    lines = [line for line in err.splitlines() if "e/nm²" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: doses: "), err
    data = json.loads((tmp_path / "o" / "detector.json").read_text())
    assert data["warnings"][0] == lines[0].removeprefix("warning: ")
    assert data["fit"]["noise_check"]["dose_unit_error"] is True


def test_warnings_of_the_command_are_kept_in_detector_json(tmp_path, capsys):
    frames = np.stack([apply_detector(np.ones((64, 64)), dose=d, sampling=0.1, c0=0.4, c3=3.0,
                                      N0=1.0, rng=np.random.default_rng(5))
                       for d in (300.0, 3000.0, 30000.0)])
    frames[1] = 0.0  # a blank frame
    write_tiff(tmp_path / "vac.tif", frames.astype(np.float32), sampling=0.1)
    code, err = _run(["fit-noise", str(tmp_path / "vac.tif"), "--vacuum", "0:64,0:64",
                      "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "o" / "detector.json").read_text())
    assert data["warnings"] == [line.removeprefix("warning: ") for line in err.splitlines()
                                if line.startswith("warning: ")]
    assert any("1 blank (constant) frame(s) left out" in line for line in data["warnings"])


def _microscope_stack(path, dose=500.0, *, gain=2.0, n=6, seed=1):
    """Poisson electrons at ``dose`` e/Å² over 64² px at 0.3 Å/px, a Gaussian MTF (0.8 px),
    1.5 e rms readout, ``gain`` counts per electron: as a camera records vacuum."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    frames = []
    for d in np.broadcast_to(dose, (n,)):
        electrons = gaussian_filter(rng.poisson(d * 0.09, (64, 64)).astype(float), 0.8,
                                    mode="wrap")
        frames.append(gain * (electrons + rng.normal(0, 1.5, (64, 64))))
    write_tiff(path, np.stack(frames).astype(np.float32), sampling=0.3)
    return path


def test_a_gain_of_2_left_out_is_warned_and_the_measured_gain_printed(tmp_path, capsys):
    path = _microscope_stack(tmp_path / "g2.tif")
    code, err = _run(["fit-noise", str(path), "--vacuum", "0:64,0:64", "--out",
                      str(tmp_path / "a")], capsys)
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("warning: gain: ")]
    assert len(lines) == 1 and "(not given?)" in lines[0], err
    assert "give counts_per_electron ≈ " in lines[0] and "--counts-per-electron" in lines[0]
    check = json.loads((tmp_path / "a" / "detector.json").read_text())["fit"]["noise_check"]
    assert 1.5 < check["noise_gain"] < 2.3


def test_the_summary_gives_the_measured_gain_and_one_dose_for_every_frame(tmp_path, capsys):
    path = _microscope_stack(tmp_path / "g2.tif")
    code = main(["fit-noise", str(path), "--vacuum", "0:64,0:64", "--out", str(tmp_path / "a"),
                 "--counts-per-electron", "2", "--dose", "500"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "warning" not in captured.err  # one dose: no "poor readout fit (R² = 0.0x)"
    data = json.loads((tmp_path / "a" / "detector.json").read_text())
    gain = data["fit"]["noise_check"]["noise_gain"]
    assert f"gain {gain:.3g} counts/e from the shot noise (given 2)" in captured.out
    assert "dose 500 e/Å² given for every frame, 6/6 frames" in captured.out
    assert [f["dose"] for f in data["frames"]] == [500.0] * 6
    assert data["fit"]["readout_one_dose"] is True and data["warnings"] == []
    code = main(["fit-noise", str(path), "--vacuum", "0:64,0:64", "--out", str(tmp_path / "b"),
                 "--dose", "500,500"])
    err = capsys.readouterr().err
    assert code == 2 and "--dose: 2 doses for 6 frames (give one per frame, or one for every " \
                         "frame)" in err
    assert not (tmp_path / "b").exists()


def test_a_region_holding_specimen_is_refused(tmp_path, capsys):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(3)
    film = gaussian_filter(rng.standard_normal((128, 128)), 10, mode="wrap")
    path = _write_stack(tmp_path / "film.tif", 1 + 0.05 * film / film.std(),
                        [2000.0, 4000.0, 8000.0])
    code, err = _run(["fit-noise", str(path), "--vacuum", "0:128,0:128", "--out",
                      str(tmp_path / "o")], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "likely holds specimen" in lines[0], err
    assert not (tmp_path / "o" / "detector.json").exists()
