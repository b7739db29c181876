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
