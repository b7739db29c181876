"""``temseg analyze dose-curve`` and the dose-series runs behind it."""

import csv
import json
import re

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


def disc_series(doses, *, seed=0, size=64, radius=12, sampling=1.0):
    """A dark disc (70 % transmission) under Poisson noise at each dose (e/Å²), in counts
    at 1 count per electron and ``sampling`` Å/px."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < radius**2
    clean = np.where(disc, 0.7, 1.0) * sampling**2
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
    # areas.csv holds 6 significant digits
    assert [float(r["dose_e_per_A2"]) for r in rows] == pytest.approx(doses, rel=1e-5)
    assert float(rows[-1]["area_nm2"]) == pytest.approx(int(rows[-1]["area_px"]) * 0.01)
    again = dose_curve([float(r["dose_e_per_A2"]) for r in rows], [int(r["area_px"]) for r in rows])
    summary = json.loads((tmp_path / "dose_curve.json").read_text())
    assert summary["dose_converged_e_per_A2"] == pytest.approx(again.dose_converged, rel=1e-5)
    assert summary["paper_002"]["dose_converged_e_per_A2"] == 200.0
    assert (tmp_path / "dose_curve.png").stat().st_size > 1000


def test_a_blank_frame_has_no_area_and_the_series_goes_on():
    """A constant frame, or one made constant by the segmenter's preprocessing, is blank."""
    from temseg.analyze.dose_run import iter_areas
    from temseg.preprocess.normalize import standardize

    class Standardizing(Smooth):  # raises on a constant frame, as a network's preprocessing does
        def predict(self, image, **kw):
            standardize(np.minimum(image, np.percentile(image, 99)))  # clips a hot pixel
            return super().predict(image, **kw)

    doses = [0.01, 1.0, 50, 500]
    frames, disc = disc_series(doses)
    frames[0] = 0.0  # beam blanked: not one electron counted
    frames[1] = 0.0
    frames[1, 3, 3] = 1e4  # a hot pixel on a dropped frame: constant once clipped
    labels = np.broadcast_to(disc, frames.shape)
    rows = list(iter_areas(Standardizing(), DoseSeries(frames, doses, sampling=1.0,
                                                      labels=labels)))
    for row in rows[:2]:
        assert row["blank"] and row["area_px"] is None and row["area_nm2"] is None
        assert row["f1"] is None and row["true_area_px"] == disc.sum()
    assert not rows[2]["blank"] and not rows[3]["blank"]
    assert rows[3]["area_px"] == pytest.approx(disc.sum(), rel=0.1)


def test_blank_frames_are_left_out_of_the_curve_not_counted_as_zero(tmp_path):
    doses = np.geomspace(1, 1000, 12)
    frames, _ = disc_series(doses, seed=2)
    frames[7] = 0.0  # a dropped frame high in the series: as area 0 it would move the curve
    run = run_dose_curve(Smooth(), DoseSeries(frames, doses, sampling=1.0), tmp_path)
    assert run.blank_frames == [7]
    keep = np.arange(12) != 7
    with open(tmp_path / "areas.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 and "blank" in rows[0]
    assert [r["frame"] for r in rows if r["blank"] == "True"] == ["7"]
    assert rows[7]["area_px"] == "" and rows[7]["area_nm2"] == ""
    areas = [int(r["area_px"]) for r in rows if r["blank"] == "False"]
    expected = dose_curve(doses[keep], areas)
    assert run.curve.doses == pytest.approx(doses[keep])
    assert run.curve.dose_half == pytest.approx(expected.dose_half)
    assert run.curve.full_area == pytest.approx(expected.full_area)

    def strict(text):
        raise ValueError(f"not strict JSON: {text}")

    summary = json.loads((tmp_path / "dose_curve.json").read_text(), parse_constant=strict)
    assert summary["blank_frames"] == [7] and summary["n_frames"] == 11
    assert summary["frames"][7]["blank"] is True and summary["frames"][7]["area_px"] is None


class Counting(Smooth):
    calls = 0

    def predict(self, image, **kw):
        Counting.calls += 1
        return super().predict(image, **kw)


def test_too_few_frames_fail_before_segmenting_and_create_no_folder(tmp_path):
    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses)
    out = tmp_path / "dc"
    Counting.calls = 0
    with pytest.raises(InputError, match="at least 6 frames, got 5"):
        run_dose_curve(Counting(), DoseSeries(frames[:5], doses[:5]), out)
    assert Counting.calls == 0 and not out.exists()
    frames[1] = 3.0  # one blank frame leaves 5
    with pytest.raises(InputError, match=r"6 frames that are not blank, got 5 of 6 .*frame 1;"):
        run_dose_curve(Smooth(), DoseSeries(frames, doses), out)
    assert not out.exists()


def test_smooth_must_span_one_to_the_number_of_frames(tmp_path):
    from temseg.errors import ConfigError

    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses)
    for smooth in (0, 7):
        with pytest.raises(ConfigError, match=f"^smooth: .*1 to 6 frames.*got {smooth}"):
            run_dose_curve(Smooth(), DoseSeries(frames, doses), tmp_path / "dc", smooth=smooth)
        with pytest.raises(ConfigError, match="^smooth:"):
            dose_curve(doses, np.arange(6.0), smooth=smooth)
    assert not (tmp_path / "dc").exists()
    frames[0] = 0.0  # 7 frames, one blank: a window of 7 is longer than the curve
    frames = np.concatenate([frames, frames[-1:]])
    doses = np.append(doses, 200.0)
    with pytest.raises(ConfigError, match="^smooth: .*1 to 6 frames.*got 7"):
        run_dose_curve(Smooth(), DoseSeries(frames, doses), tmp_path / "dc", smooth=7)
    run = run_dose_curve(Smooth(), DoseSeries(frames, doses), tmp_path / "dc", smooth=6)
    assert run.blank_frames == [0] and run.curve.doses.size == 6


def test_dose_curve_refuses_areas_that_are_not_finite():
    with pytest.raises(InputError, match="areas must be finite"):
        dose_curve(np.arange(1, 7), [1, 2, np.nan, 4, 5, 6])


def test_read_doses_from_lines_and_csv(tmp_path):
    (tmp_path / "d.txt").write_text("# doses\n10\n20.5\n\n1e3\n")
    assert read_doses(tmp_path / "d.txt") == pytest.approx([10, 20.5, 1000])
    (tmp_path / "d.csv").write_text("frame,dose\n0,5\n1,50\n")
    assert read_doses(tmp_path / "d.csv") == pytest.approx([5, 50])
    (tmp_path / "named.csv").write_text("frame,Dose_e_per_A2\n0,5\n1,7\n")
    assert read_doses(tmp_path / "named.csv") == pytest.approx([5, 7])
    (tmp_path / "one.txt").write_text("Dose\n5\n50\n")
    assert read_doses(tmp_path / "one.txt") == pytest.approx([5, 50])
    (tmp_path / "bom.csv").write_text("\ufeffdose\n5\n")  # as Excel saves a CSV
    assert read_doses(tmp_path / "bom.csv") == pytest.approx([5])
    (tmp_path / "evil.pkl").write_bytes(b"\x80\x04\x95\x00\x00")
    with pytest.raises(InputError, match=r"evil.pkl: not a text file of doses"):
        read_doses(tmp_path / "evil.pkl")
    with pytest.raises(InputError, match=r": a folder, not a file of doses"):
        read_doses(tmp_path)
    (tmp_path / "bad.txt").write_text("10\nten\n")
    with pytest.raises(InputError, match="bad.txt: not a list of doses"):
        read_doses(tmp_path / "bad.txt")
    with pytest.raises(InputError, match="3 doses for 2 frames"):
        DoseSeries(np.zeros((2, 4, 4)), [1, 2, 3])
    with pytest.raises(InputError, match="positive"):
        DoseSeries(np.zeros((2, 4, 4)), [1, -2])


def test_a_dose_column_in_another_unit_is_converted_or_refused(tmp_path):
    """100 e/nm² is 1 e/Å²: a column in e/nm² was read as e/Å², 100× too high."""
    (tmp_path / "nm.csv").write_text("frame,dose_e_per_nm2\n0,100\n1,6400\n")
    assert read_doses(tmp_path / "nm.csv") == pytest.approx([1.0, 64.0])
    (tmp_path / "nm2.csv").write_text("frame,Dose (e/nm²)\n0,250\n")
    assert read_doses(tmp_path / "nm2.csv") == pytest.approx([2.5])
    (tmp_path / "a.csv").write_text("frame,dose [e/Å^2]\n0,250\n")
    assert read_doses(tmp_path / "a.csv") == pytest.approx([250.0])
    for header in ("dose_e_nm-2", "dose (e nm^-2)", "dose e·nm⁻²"):  # no '/' or 'per'
        (tmp_path / "n.csv").write_text(f"frame,{header}\n0,100\n")
        assert read_doses(tmp_path / "n.csv") == pytest.approx([1.0]), header
    for header, message in (("dose_e_per_px", "a dose per pixel"),
                            ("dose (e/Å²/s)", "a dose rate"), ("dose_rate", "a dose rate"),
                            ("dose_e_per_pm2", "not one temseg knows")):
        (tmp_path / "x.csv").write_text(f"frame,{header}\n0,5\n")
        with pytest.raises(InputError, match=rf"x.csv: column '{re.escape(header)}' .*{message}"
                           if "knows" not in message else message):
            read_doses(tmp_path / "x.csv")


def test_a_dose_file_without_a_dose_column_names_what_it_has(tmp_path):
    (tmp_path / "doses.csv").write_text("frame,exposure\n0,5\n1,10\n")
    with pytest.raises(InputError, match=r"^doses.csv: no 'dose' column \(columns: frame, "
                                         r"exposure\)$"):
        read_doses(tmp_path / "doses.csv")
    # no header, two numbers a line: not taken as frame numbers for doses
    (tmp_path / "pairs.txt").write_text("1,5\n2,10\n")
    with pytest.raises(InputError, match=r"pairs.txt: not a list of doses \(entry 1: '1,5'"):
        read_doses(tmp_path / "pairs.txt")
    (tmp_path / "two.csv").write_text("frame,dose_rate,total_dose\n0,1,5\n")
    with pytest.raises(InputError, match=r"^two.csv: 2 columns could hold the doses "
                                         r"\(dose_rate, total_dose\); name one 'dose'$"):
        read_doses(tmp_path / "two.csv")
    (tmp_path / "gap.csv").write_text("frame,dose\n0,5\n1,\n")
    with pytest.raises(InputError, match=r"gap.csv: not a list of doses \(row 2: dose = ''\)"):
        read_doses(tmp_path / "gap.csv")


def test_doses_in_any_order_give_the_same_curve_and_repeats_are_found(tmp_path):
    doses = np.geomspace(1, 1000, 8)
    frames, _ = disc_series(doses, seed=4)
    order = np.array([0, 1, 7, 6, 5, 4, 3, 2])  # decreasing after frame 1
    forward = run_dose_curve(Smooth(), DoseSeries(frames, doses), tmp_path / "a")
    shuffled = run_dose_curve(Smooth(), DoseSeries(frames[order], doses[order]), tmp_path / "b")
    assert shuffled.curve.doses == pytest.approx(forward.curve.doses)
    assert shuffled.curve.areas == pytest.approx(forward.curve.areas)
    assert shuffled.curve.dose_half == pytest.approx(forward.curve.dose_half)
    assert DoseSeries(frames, doses).repeated_doses() == {}
    assert DoseSeries(frames[:4], [5, 20, 10, 20]).repeated_doses() == {20.0: [1, 3]}


def test_cli_on_a_simulated_series(series_zarr, tiny_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(default_mod.ENV_VAR, str(tiny_model))
    out = tmp_path / "dc"
    assert main(["analyze", "dose-curve", str(series_zarr), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert " look" not in captured.err  # simulated counts agree with their doses
    assert "Leth Larsen et al.: 20–25" not in printed
    assert "(Leth Larsen et al.: 200 e/Å²)" in printed
    with open(out / "areas.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8
    doses = [float(r["dose_e_per_A2"]) for r in rows]
    assert doses == pytest.approx(np.geomspace(10, 1e4, 8), rel=1e-5)
    series = read_series(series_zarr)
    true_area = int(np.count_nonzero(series.label(0)))
    assert all(int(r["true_area_px"]) == true_area for r in rows)
    assert all(0.0 <= float(r["f1"]) <= 1.0 for r in rows)
    summary = json.loads((out / "dose_curve.json").read_text())
    curve = dose_curve(doses, [int(r["area_px"]) for r in rows])
    assert summary["full_area"] == pytest.approx(curve.full_area)
    assert summary["full_area_nm2"] == pytest.approx(curve.full_area * 0.03**2)
    assert summary["band_nm2"] == pytest.approx([b * 0.03**2 for b in curve.band])
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["model"] == str(tiny_model) and record["config"]["sampling"] == 0.3


def test_cli_tta_segments_each_frame_with_the_averaged_views(tiny_model, tmp_path, capsys):
    from temseg.infer import load_segmenter

    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses, size=48, sampling=0.3)
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    out = tmp_path / "dc"
    assert main(["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model),
                 "-o", str(out), "--tta",
                 *[a for d in doses for a in ("--dose", f"{d:.17g}")]]) == 0
    with open(out / "areas.csv") as fh:
        areas = [int(r["area_px"]) for r in csv.DictReader(fh)]
    seg = load_segmenter(tiny_model, tta=True, device="cpu")
    expected = [int(np.count_nonzero(seg.predict(f, sampling=0.3) >= seg.threshold))
                for f in frames]
    assert areas == expected
    assert json.loads((out / "record.json").read_text())["config"]["tta"] is True


def test_cli_on_a_stack_with_doses(tiny_model, tmp_path, capsys):
    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses, size=48, sampling=0.3)
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    out = tmp_path / "dc"
    argv = ["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model), "-o", str(out)]
    assert main([*argv, *[a for d in doses for a in ("--dose", f"{d:.17g}")]]) == 0
    with open(out / "areas.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["dose_e_per_A2"]) for r in rows] == pytest.approx(doses, rel=1e-5)
    assert "f1" not in rows[0]
    capsys.readouterr()
    assert main(argv) == 2  # no doses
    err = capsys.readouterr().err
    assert "no per-frame doses" in err and err.count("\n") == 1
    (tmp_path / "d.txt").write_text("1\n2\n3\n")
    assert main([*argv, "--doses", str(tmp_path / "d.txt")]) == 2
    assert "3 doses for 6 frames" in capsys.readouterr().err


def test_cli_leaves_a_blank_frame_out_and_says_so(tiny_model, tmp_path, capsys):
    doses = np.geomspace(1, 100, 7)
    frames, _ = disc_series(doses, size=48, sampling=0.3)
    frames[2] = 0.0  # beam blanked
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    out = tmp_path / "dc"
    argv = ["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model), "-o", str(out),
            *[a for d in doses for a in ("--dose", f"{d:.17g}")]]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err.count("blank") == 1
    assert ("1 blank (constant) frame(s) left out of the dose curve (frame 2; 0-based)"
            in captured.err)
    assert "7 frames (1 blank left out)" in captured.out
    with open(out / "areas.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["frame"], r["area_px"], r["blank"]) for r in rows][2] == ("2", "", "True")
    summary = json.loads((out / "dose_curve.json").read_text())
    assert summary["blank_frames"] == [2] and summary["n_frames"] == 6
    record = json.loads((out / "record.json").read_text())
    assert record["result"]["blank_frames"] == [2]


def test_cli_refuses_bad_smooth_and_outputs_before_any_work(tiny_model, tmp_path, capsys):
    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses, size=48, sampling=0.3)
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    out = tmp_path / "dc"
    argv = ["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model),
            *[a for d in doses for a in ("--dose", f"{d:.17g}")]]
    for smooth, message in (("0", "at least 1 frame, got 0"), ("100", "1 to 6 frames")):
        capsys.readouterr()
        assert main([*argv, "-o", str(out), "--smooth", smooth]) == 2
        err = capsys.readouterr().err
        assert "--smooth:" in err and message in err and err.count("\n") == 1
        assert not out.exists()
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    # checked first: the missing series is not even looked at
    assert main(["analyze", "dose-curve", str(tmp_path / "missing.tif"), "-o", str(afile),
                 "--dose", "1"]) == 2
    err = capsys.readouterr().err
    assert "--out:" in err and "exists and is not a folder" in err
    assert afile.read_text() == "keep me"


def test_cli_failed_run_leaves_no_output_folder(tiny_model, tmp_path, capsys):
    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses, size=48, sampling=0.3)
    frames[0] = 0.0  # 5 frames left: too few, found only once segmented
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    out = tmp_path / "new" / "dc"
    assert main(["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model),
                 "-o", str(out), *[a for d in doses for a in ("--dose", f"{d:.17g}")]]) == 2
    err = capsys.readouterr().err
    assert "not blank, got 5 of 6" in err and "Traceback" not in err
    assert not (tmp_path / "new").exists()


def test_cli_warns_about_a_dose_given_twice(tiny_model, tmp_path, capsys):
    doses = [1.0, 2.0, 5.0, 5.0, 20.0, 50.0]
    frames, _ = disc_series(doses, size=48, sampling=0.3)
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    (tmp_path / "d.txt").write_text("\n".join(map(str, doses)))
    assert main(["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model),
                 "-o", str(tmp_path / "dc"), "--doses", str(tmp_path / "d.txt")]) == 0
    err = capsys.readouterr().err
    assert "dose 5 e/Å² given for 2 frames (2, 3; 0-based)" in err


def test_a_nan_frame_is_named_with_its_file_and_frame(tiny_model, tmp_path, capsys):
    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses, size=48, sampling=0.3)
    frames[3, :10, :10] = np.nan
    with pytest.raises(InputError, match=r"^s.tif: frame 3 has 100 NaN/inf pixel\(s\) "):
        DoseSeries(frames, doses, source="s.tif").frame(3)
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    out = tmp_path / "dc"
    assert main(["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model),
                 "-o", str(out), *[a for d in doses for a in ("--dose", f"{d:.17g}")]]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 's.tif'}: frame 3 has 100 NaN/inf pixel(s)" in err
    assert err.count("error:") == 1 and "Traceback" not in err and not out.exists()


def test_cli_states_the_reference_prints_nm2_and_records_the_rule(tiny_model, tmp_path, capsys):
    doses = np.geomspace(1, 100, 6)
    frames, _ = disc_series(doses, size=48, sampling=0.3)
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    out = tmp_path / "dc"
    assert main(["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model),
                 "-o", str(out), "--tolerance", "0.2",
                 *[a for d in doses for a in ("--dose", f"{d:.17g}")]]) == 0
    captured = capsys.readouterr()
    summary = json.loads((out / "dose_curve.json").read_text())
    full = summary["full_area"]
    assert (f"full area {full:.0f} px = {full * 0.03**2:.3g} nm² (mean of the 3 highest-dose "
            f"frames, {doses[3]:.3g}–100 e/Å²)") in captured.out
    assert "±20 % of the full area" in captured.out
    # 3 reference frames of 6: one warning line
    assert "3 of the 6 in the curve (more than a third)" in captured.err
    assert captured.err.count("more than a third") == 1
    assert summary["n_reference_frames"] == 3 and summary["tolerance"] == 0.2
    assert "±20 % of the full area" in summary["convergence_rule"]
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["tolerance"] == 0.2 and record["config"]["n_reference_frames"] == 3
    capsys.readouterr()
    assert main(["analyze", "dose-curve", str(tmp_path / "s.tif"), "-o", str(tmp_path / "x"),
                 "--tolerance", "1.5", "--dose", "1"]) == 2
    assert "--tolerance: the relative half-width of the band must be in (0, 1), got 1.5" in capsys.readouterr().err


def test_a_constant_dose_is_refused_before_any_work(tmp_path, capsys):
    """Six frames at 400 e/Å² (a movie at a constant dose rate) are no dose curve: one line,
    before the model is even looked for, and no output."""
    doses = [400.0] * 6
    frames, _ = disc_series(doses, size=32, sampling=0.3)
    write_tiff(tmp_path / "movie.tif", frames, sampling=0.3)
    out = tmp_path / "dc"
    assert main(["analyze", "dose-curve", str(tmp_path / "movie.tif"), "-o", str(out),
                 "-m", str(tmp_path / "no_such_model"), *["--dose", "400"] * 6]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and not captured.out and not out.exists()
    assert ("at least 3 distinct doses, got 1 (400 e/Å² for all 6 frames); a movie at a "
            "constant dose rate is not a dose series") in captured.err
    assert "cumulative dose" in captured.err
    Counting.calls = 0
    for given, message in (([100, 400] * 3, r"got 2 \(100 and 400 e/Å²\)"),
                           ([1.0] * 6 + [2.0, 3.0], r"holds all 8 frames")):
        frames, _ = disc_series(given, size=16)
        with pytest.raises(InputError, match=message):
            run_dose_curve(Counting(), DoseSeries(frames, given, source="s.tif"), out)
    assert Counting.calls == 0 and not out.exists()
    # 3 distinct doses once the blank frames are left out: the curve is refused by name
    given = [1, 2, 3, 10, 10, 10, 10, 10]
    frames, _ = disc_series(given, size=16)
    frames[:2] = 0.0
    with pytest.raises(InputError, match=r"^s.tif \(blank frames aside\): .*got 2 "):
        run_dose_curve(Smooth(), DoseSeries(frames, given, source="s.tif"), out)
    assert not out.exists()


def test_doses_separated_by_commas_in_one_option(tiny_model, tmp_path, capsys):
    doses = [1, 2, 5, 10, 20, 50]
    frames, _ = disc_series(doses, size=32, sampling=0.3)
    write_tiff(tmp_path / "s.tif", frames, sampling=0.3)
    argv = ["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model)]
    assert main([*argv, "-o", str(tmp_path / "a"), "--dose", "1,2,5", "--dose", "10,20,50"]) == 0
    with open(tmp_path / "a" / "areas.csv") as fh:
        assert [float(r["dose_e_per_A2"]) for r in csv.DictReader(fh)] == doses
    capsys.readouterr()
    out = tmp_path / "b"
    assert main([*argv, "-o", str(out), "--dose", "1", "2", "5", "10", "20", "50"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected extra argument(s) 2 5 10 20 50" in err
    assert "repeat --dose per frame" in err and "--dose 20,50,100" in err
    assert "--doses FILE" in err and not out.exists()
    # fit-noise reads --dose the same way
    capsys.readouterr()
    fit = ["fit-noise", str(tmp_path / "s.tif"), "--vacuum", "0:8,0:8", "-o", str(out)]
    assert main([*fit, "--dose", "1,2"]) == 2
    assert "--dose: 2 doses for 6 frames" in capsys.readouterr().err
    assert main([*fit, "--dose", "1", "2"]) == 2
    err = capsys.readouterr().err
    assert "unexpected extra argument(s) 2: repeat --dose" in err and "--doses" not in err

    from temseg.analyze.dose_run import parse_doses

    assert parse_doses(["20", "50, 100", "1e3"]).tolist() == [20, 50, 100, 1000]
    with pytest.raises(InputError, match=r"^--dose: '20,abc' is not a dose"):
        parse_doses(["20,abc"])
    assert read_doses(["1,2", 3.0]).tolist() == [1, 2, 3]


def test_doses_far_off_the_counts_are_warned_about_once(tiny_model, tmp_path, capsys):
    """Doses typed in e/nm² as e/Å² (100× too high) against integer counts: one warning, the
    run goes on; doses print as people write them (12,800, not 1.28e+04); areas.csv marks
    the reference frames and holds no float noise."""
    doses = 200.0 * 2.0 ** np.arange(7)  # 200 ... 12,800 e/Å²
    frames, _ = disc_series(doses, size=32, sampling=0.3)
    write_tiff(tmp_path / "s.tif", frames.astype(np.uint16), sampling=0.3)
    argv = ["analyze", "dose-curve", str(tmp_path / "s.tif"), "-m", str(tiny_model)]
    out = tmp_path / "ok"
    assert main([*argv, "-o", str(out), *[a for d in doses for a in ("--dose", f"{d:g}")]]) == 0
    captured = capsys.readouterr()
    assert "look" not in captured.err  # counts and doses agree
    assert "7 frames, 200–12,800 e/Å²" in captured.out
    assert "(mean of the 3 highest-dose frames, 3,200–12,800 e/Å²)" in captured.out
    assert "e+0" not in captured.out + captured.err
    with open(out / "areas.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["reference"] for r in rows] == ["False"] * 4 + ["True"] * 3
    summary = json.loads((out / "dose_curve.json").read_text())
    assert summary["reference_dose_range_e_per_A2"] == [3200, 12800]
    assert summary["reference_frames"] == [4, 5, 6]
    assert "reference_doses_e_per_A2" not in summary
    out = tmp_path / "nm2"
    assert main([*argv, "-o", str(out), "--dose", ",".join(f"{100 * d:g}" for d in doses)]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("look") == 1
    # the disc lets 70 % through: the counts are a little under the dose
    assert re.search(r"the doses look 1[0-2]0× the counts' \(mean counts per pixel / "
                     r"pixel area, e/Å² at 1 count per electron\) in 7 of 7 frames — e/nm² "
                     "given as e/Å²", captured.err)
    assert "20,000–1,280,000 e/Å²" in captured.out and (out / "areas.csv").exists()


def test_series_warnings_need_counts_and_a_pixel_size(tmp_path):
    from temseg.analyze.dose_run import series_warnings

    doses = np.geomspace(10, 1000, 6)
    rng = np.random.default_rng(1)  # counts of vacuum at 1 count per electron, 0.5 Å/px
    frames = np.stack([rng.poisson(d * 0.25, (16, 16)) for d in doses]).astype(np.int32)
    assert series_warnings(DoseSeries(frames, doses, sampling=0.5)) == []
    (line,) = series_warnings(DoseSeries(frames, doses * 100, sampling=0.5, source="s"))
    assert re.match(r"s: the doses look (99|100|110)× the counts'", line)
    (line,) = series_warnings(DoseSeries(frames * 30, doses, sampling=0.5))
    assert re.search(r"the counts look (29|30|31)× the doses'.* a gain of about", line)
    # a gain of 2: within the factor; no pixel size, or not counts: nothing to compare
    assert series_warnings(DoseSeries(frames * 2, doses, sampling=0.5)) == []
    assert series_warnings(DoseSeries(frames, doses * 100)) == []
    assert series_warnings(DoseSeries(frames * 1.01 + 0.5, doses * 100, sampling=0.5)) == []
    assert series_warnings(DoseSeries(frames * 1.0, doses * 100, sampling=0.5)) != []
    # off in only 2 of 6 frames: no warning
    off = doses * [100, 100, 1, 1, 1, 1]
    assert series_warnings(DoseSeries(frames, off, sampling=0.5)) == []


def test_a_mask_given_as_the_series_is_warned_about(tmp_path):
    """A 0/255 stack, as `temseg segment` writes movie_mask.tif, is no micrograph."""
    from temseg.analyze.dose_run import series_warnings

    doses = np.geomspace(10, 1000, 6)
    frames, disc = disc_series(doses, size=16, radius=5)
    masks = np.stack([disc] * 6).astype(np.uint8) * 255
    masks[0] = 0  # nothing segmented in one frame
    write_tiff(tmp_path / "movie_mask.tif", masks, sampling=0.5)
    series = read_series(tmp_path / "movie_mask.tif", doses=doses)
    (line,) = series_warnings(series)
    assert line.endswith("movie_mask.tif: every frame holds only 0 and 255: this looks like a "
                         "mask (as `temseg segment` writes), not micrographs")
    assert "0 and 7" in series_warnings(DoseSeries(masks / 255 * 7.0, doses))[0]
    assert series_warnings(DoseSeries(frames, doses)) == []  # counts: many values
    masks[3, 0, 0] = 3  # one frame holds 0, 3 and 255: not a mask
    assert series_warnings(DoseSeries(masks, doses)) == []


def test_areas_csv_marks_tied_reference_frames_and_rounds_floats(tmp_path):
    """Frames tied at the lowest reference dose all join the reference, in areas.csv and
    dose_curve.json by frame number; floats are written to 6 significant digits."""
    doses = np.array([1.1 * 3, 0.1 + 0.2, 30, 300, 300, 10, 3000, 300])
    frames, _ = disc_series(doses, seed=5)
    frames[5] = 0.0  # blank: never a reference frame, and not counted among the frames
    run = run_dose_curve(Smooth(), DoseSeries(frames, doses, sampling=0.37), tmp_path)
    text = (tmp_path / "areas.csv").read_text()
    assert not re.search(r"\d{7}", text)  # no 3.3000000000000003
    rows = {int(r["frame"]): r for r in csv.DictReader(text.splitlines())}
    assert rows[0]["dose_e_per_A2"] == "3.3" and rows[1]["dose_e_per_A2"] == "0.3"
    assert run.curve.n_reference == 4 and run.reference_frames() == [3, 4, 6, 7]
    assert [f for f, r in sorted(rows.items()) if r["reference"] == "True"] == [3, 4, 6, 7]
    assert rows[5]["reference"] == "False" and rows[5]["blank"] == "True"
    summary = json.loads((tmp_path / "dose_curve.json").read_text())
    assert summary["reference_frames"] == [3, 4, 6, 7]
    assert summary["reference_dose_range_e_per_A2"] == [300, 3000]
