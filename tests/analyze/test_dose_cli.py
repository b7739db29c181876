"""``temseg analyze dose-curve`` and the dose-series runs behind it."""

import csv
import json

import numpy as np
import pytest
from scipy import ndimage

from temseg.analyze.dose import dose_curve
from temseg.analyze.dose_run import DoseSeries, read_doses, read_series, run_dose_curve
from temseg.cli.main import main
from temseg.errors import InputError
from temseg.io import write_tiff
from temseg.models import default as default_mod

SMALL = {"size": 64, "wave_sampling": 0.1, "padding": 4.0, "mode": "dose_series", "frames": 8,
         "structure": {"radius": [5.0, 7.0], "max_offset": 1.0, "support_depth": [8.0, 12.0]},
         "detector": {"dose": [10.0, 1e4]}, "labels": {"columns": False}}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, save_tiny_model):
    return save_tiny_model(tmp_path_factory.mktemp("model"), sampling=0.3)


@pytest.fixture(scope="module")
def series_zarr(tmp_path_factory):
    from temseg.config import from_dict
    from temseg.simulate.config import SimulateConfig
    from temseg.simulate.dataset import simulate_dataset

    config = from_dict(SimulateConfig, {**SMALL, "seed": 3})
    return simulate_dataset(config, tmp_path_factory.mktemp("sim") / "series.zarr",
                            scheduler="synchronous")


class Smooth:
    """A stand-in segmenter: dark (particle) where the smoothed, normalised image is low."""

    threshold = 0.5

    def predict(self, image, *, sampling=None, callback=None):
        smooth = ndimage.gaussian_filter(np.asarray(image, np.float64), 2.0)
        return (smooth < 0.85 * max(np.median(smooth), 1e-9)).astype(np.float32)


def disc_series(doses, *, seed=0, size=64, radius=12):
    """A dark disc (70 % transmission) under Poisson noise at each dose (e/px)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < radius**2
    clean = np.where(disc, 0.7, 1.0)
    return np.stack([rng.poisson(d * clean).astype(np.float32) for d in doses]), disc


def test_run_dose_curve_recovers_the_disc_and_converges(tmp_path):
    doses = np.geomspace(0.5, 500, 16)
    frames, disc = disc_series(doses)
    run = run_dose_curve(Smooth(), DoseSeries(frames, doses, sampling=1.0), tmp_path)
    # at the highest doses the smoothed threshold finds the disc within a few % of its area
    assert run.curve.full_area == pytest.approx(disc.sum(), rel=0.05)
    assert run.curve.dose_converged is not None and run.curve.dose_converged < 500
    with open(tmp_path / "areas.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["dose_e_per_A2"]) for r in rows] == pytest.approx(doses)
    assert float(rows[-1]["area_nm2"]) == pytest.approx(int(rows[-1]["area_px"]) * 0.01)
    again = dose_curve([float(r["dose_e_per_A2"]) for r in rows], [int(r["area_px"]) for r in rows])
    summary = json.loads((tmp_path / "dose_curve.json").read_text())
    assert summary["dose_converged_e_per_A2"] == pytest.approx(again.dose_converged)
    assert summary["paper_002"]["dose_converged_e_per_A2"] == 200.0
    assert (tmp_path / "dose_curve.png").stat().st_size > 1000


def test_a_frame_without_contrast_has_area_zero_and_the_curve_goes_on():
    from temseg.analyze.dose_run import iter_areas
    from temseg.preprocess.normalize import standardize

    class Standardizing(Smooth):  # raises on a constant frame, as a network's preprocessing does
        def predict(self, image, **kw):
            standardize(image)
            return super().predict(image, **kw)

    doses = [0.01, 50, 500]
    frames, disc = disc_series(doses)
    frames[0] = 0.0  # not one electron counted
    rows = list(iter_areas(Standardizing(), DoseSeries(frames, doses, sampling=1.0)))
    assert rows[0]["area_px"] == 0
    assert rows[2]["area_px"] == pytest.approx(disc.sum(), rel=0.1)


def test_read_doses_from_lines_and_csv(tmp_path):
    (tmp_path / "d.txt").write_text("# doses\n10\n20.5\n\n1e3\n")
    assert read_doses(tmp_path / "d.txt") == pytest.approx([10, 20.5, 1000])
    (tmp_path / "d.csv").write_text("frame,dose\n0,5\n1,50\n")
    assert read_doses(tmp_path / "d.csv") == pytest.approx([5, 50])
    (tmp_path / "bad.txt").write_text("10\nten\n")
    with pytest.raises(InputError, match="bad.txt: not a list of doses"):
        read_doses(tmp_path / "bad.txt")
    with pytest.raises(InputError, match="3 doses for 2 frames"):
        DoseSeries(np.zeros((2, 4, 4)), [1, 2, 3])
    with pytest.raises(InputError, match="positive"):
        DoseSeries(np.zeros((2, 4, 4)), [1, -2])


def test_cli_on_a_simulated_series(series_zarr, tiny_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(default_mod.ENV_VAR, str(tiny_model))
    out = tmp_path / "dc"
    assert main(["analyze", "dose-curve", str(series_zarr), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Leth Larsen et al.: 20–25" not in printed
    assert "(Leth Larsen et al.: 200 e/Å²)" in printed
    with open(out / "areas.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8
    doses = [float(r["dose_e_per_A2"]) for r in rows]
    assert doses == pytest.approx(np.geomspace(10, 1e4, 8))
    series = read_series(series_zarr)
    true_area = int(np.count_nonzero(series.label(0)))
    assert all(int(r["true_area_px"]) == true_area for r in rows)
    assert all(0.0 <= float(r["f1"]) <= 1.0 for r in rows)
    summary = json.loads((out / "dose_curve.json").read_text())
    curve = dose_curve(doses, [int(r["area_px"]) for r in rows])
    assert summary["full_area"] == pytest.approx(curve.full_area)
    assert summary["full_area_nm2"] == pytest.approx(curve.full_area * 0.03**2)
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["model"] == str(tiny_model) and record["config"]["sampling"] == 0.3


def test_cli_tta_segments_each_frame_with_the_averaged_views(tiny_model, tmp_path, capsys):
    from temseg.infer import load_segmenter

    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses, size=48)
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    out = tmp_path / "dc"
    assert main(["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model),
                 "-o", str(out), "--tta", *[a for d in doses for a in ("--dose", f"{d:.17g}")]]) == 0
    with open(out / "areas.csv") as fh:
        areas = [int(r["area_px"]) for r in csv.DictReader(fh)]
    seg = load_segmenter(tiny_model, tta=True, device="cpu")
    expected = [int(np.count_nonzero(seg.predict(f, sampling=0.3) >= seg.threshold))
                for f in frames]
    assert areas == expected
    assert json.loads((out / "record.json").read_text())["config"]["tta"] is True


def test_cli_on_a_stack_with_doses(tiny_model, tmp_path, capsys):
    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses, size=48)
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    out = tmp_path / "dc"
    argv = ["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model), "-o", str(out)]
    assert main([*argv, *[a for d in doses for a in ("--dose", f"{d:.17g}")]]) == 0
    with open(out / "areas.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["dose_e_per_A2"]) for r in rows] == pytest.approx(doses)
    assert "f1" not in rows[0]
    capsys.readouterr()
    assert main(argv) == 2  # no doses
    err = capsys.readouterr().err
    assert "no per-frame doses" in err and err.count("\n") == 1
    (tmp_path / "d.txt").write_text("1\n2\n3\n")
    assert main([*argv, "--doses", str(tmp_path / "d.txt")]) == 2
    assert "3 doses for 6 frames" in capsys.readouterr().err
