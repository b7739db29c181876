"""Noise fitting: round trip through apply_detector, refusals, outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from temseg.analyze.noise import fit_noise, fit_readout, fit_spectrum, parse_roi
from temseg.analyze.noise_plot import write_noise_fit
from temseg.errors import ConfigError, InputError
from temseg.simulate.detector import DetectorConfig, apply_detector, mtf, readout_fraction
from temseg.synthetic import lattice

SAMPLING = 0.1  # Å/px
DOSES = [3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0]  # e/Å²


def _vacuum_frames(c0, c3, N0, *, size=128, doses=DOSES, seed=0, pad=0):
    rng = np.random.default_rng(seed)
    shape = (size + pad, size + pad)
    return np.stack([apply_detector(np.ones(shape), dose=d, sampling=SAMPLING, c0=c0, c3=c3,
                                    N0=N0, rng=rng) for d in doses])


@pytest.mark.parametrize("c0, c3, N0", [(0.3, 2.5, 0.01), (0.5, 3.5, 0.05)])
def test_round_trip_recovers_c0_c3_and_N0(c0, c3, N0):
    frames = _vacuum_frames(c0, c3, N0, pad=16)
    fit = fit_noise(frames, vacuum_roi="8:136,8:136", sampling=SAMPLING)
    assert fit.c0 == pytest.approx(c0, rel=0.10)
    assert fit.c3 == pytest.approx(c3, rel=0.10)
    assert fit.N0 == pytest.approx(N0, rel=0.25)
    # doses from the mean counts: N_D = dose × sampling² within Poisson error
    for f, dose in zip(fit.frames, DOSES):
        nd = dose * SAMPLING**2
        assert f.dose_per_pixel == pytest.approx(nd, abs=5 * np.sqrt((nd + N0) / 128**2))
    # C follows eq. 2 where the readout floor is visible
    low = fit.frames[1]
    assert low.C == pytest.approx(readout_fraction(N0, low.dose_per_pixel), rel=0.3)
    det = fit.detector
    assert det.N0 == pytest.approx((0.5 * fit.N0, 1.5 * fit.N0))
    assert det.dose[0] == pytest.approx(3.0, rel=0.1)
    assert det.dose[1] == pytest.approx(3000, rel=0.02)
    assert det.c0[0] <= fit.c0 <= det.c0[1]


def test_given_doses_are_used_and_counted():
    frames = _vacuum_frames(0.4, 3.0, 0.02, size=64, doses=DOSES[2:])
    fit = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING, doses=DOSES[2:])
    assert [f.dose for f in fit.frames] == DOSES[2:]
    with pytest.raises(ConfigError, match="^doses:"):
        fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING, doses=DOSES[:2])
    with pytest.raises(ConfigError, match="^doses:"):
        fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING, doses=[-1.0] * 5)


def test_single_frame_uses_the_closed_form_of_eq2():
    frame = _vacuum_frames(0.3, 2.5, 0.2, doses=[300.0])[0]
    fit = fit_noise(frame, vacuum_roi=(0, 128, 0, 128), sampling=SAMPLING)
    f = fit.frames[0]
    assert fit.N0 == pytest.approx(f.C**2 * f.dose_per_pixel / (1 - f.C**2))
    assert fit.N0 == pytest.approx(0.2, rel=0.35)


def test_fit_spectrum_is_exact_on_model_curves():
    q = np.linspace(0.02, 1.4, 70)
    for form in ("quadrature", "linear"):
        C = 0.3
        lor = mtf(q, c0=0.35, c3=3.0)
        curve = (5.0 * np.sqrt((1 - C**2) * lor**2 + C**2) if form == "quadrature"
                 else 5.0 * mtf(q, c0=0.35, c3=3.0, C=C))
        params, r2 = fit_spectrum(q, curve, form=form)
        assert r2 > 0.9999
        assert params["c0"] == pytest.approx(0.35, rel=1e-3)
        assert params["c3"] == pytest.approx(3.0, rel=1e-3)
        assert params["C"] == pytest.approx(C, rel=1e-3)
        assert params["c2"] / params["c1"] == pytest.approx(params["C"])


def test_fit_readout_inverts_eq2():
    nd = np.geomspace(0.01, 30, 8)
    assert fit_readout(readout_fraction(0.02, nd), nd)[0] == pytest.approx(0.02, rel=1e-4)
    with pytest.raises(InputError):
        fit_readout(np.zeros(3), nd[:3])


def test_region_with_lattice_fringes_is_refused_unless_forced():
    rng = np.random.default_rng(4)
    image = 1.0 + 0.3 * lattice((64, 64), spacing_px=4.0, angle_deg=10)
    frames = [apply_detector(image, dose=d, sampling=SAMPLING, c0=0.3, c3=2.5, N0=0.01, rng=rng)
              for d in (1000.0, 3000.0)]
    with pytest.raises(InputError, match="^vacuum: .*lattice peaks"):
        fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING)
    fit = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING, force=True)
    assert all(f.accepted for f in fit.frames)
    assert all(f.peak_score > 20 for f in fit.frames)


def test_poor_fit_is_refused_by_r2():
    """Readout-dominated frames (flat spectrum, a few counts) cannot pin eq. A.1 down."""
    frames = _vacuum_frames(0.3, 2.5, 0.05, size=32, doses=[1.0, 2.0], seed=6)
    fits = fit_noise(frames, vacuum_roi=(0, 32, 0, 32), sampling=SAMPLING, force=True).frames
    assert max(f.r2 for f in fits) < 0.9
    with pytest.raises(InputError, match=r"^vacuum: .*R² = 0\.\d\d, need 0\.9"):
        fit_noise(frames, vacuum_roi=(0, 32, 0, 32), sampling=SAMPLING)


@pytest.mark.parametrize("roi, message", [("0:20,0:64", "too small"), ("0:64,0:200", "outside")])
def test_bad_regions(roi, message):
    frames = _vacuum_frames(0.3, 2.5, 0.01, size=64, doses=[100.0])
    with pytest.raises(InputError, match=f"^vacuum: .*{message}"):
        fit_noise(frames, vacuum_roi=roi, sampling=SAMPLING)


def test_parse_roi():
    assert parse_roi("10:74, 5:69") == (slice(10, 74), slice(5, 69))
    for bad in ("10:74", "a:b,c:d", "10:5,0:64", "0:64;0:64"):
        with pytest.raises(ConfigError, match="^vacuum:"):
            parse_roi(bad)


def test_bad_options():
    frames = _vacuum_frames(0.3, 2.5, 0.01, size=64, doses=[100.0])
    with pytest.raises(ConfigError, match="^sampling:"):
        fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=0.0)
    with pytest.raises(ConfigError, match="^form:"):
        fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING, form="cubic")
    with pytest.raises(InputError, match="doses cannot"):
        fit_noise(frames - 100, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING)


def test_outputs_feed_the_detector_config(tmp_path):
    frames = _vacuum_frames(0.3, 2.5, 0.01, size=64, doses=DOSES[1:5])
    fit = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING)
    json_path, png_path = write_noise_fit(tmp_path, fit)
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(json_path.read_text())
    assert data["kind"] == "detector" and len(data["frames"]) == 4
    assert data["fit"]["N0"] == pytest.approx(fit.N0)
    config = DetectorConfig.from_json(json_path)
    assert config == fit.detector
    drawn = config.sample(0)
    assert config.c0[0] <= drawn["c0"] <= config.c0[1]
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def _strict_json(path):
    def refuse(text):
        raise ValueError(f"{path}: not strict JSON ({text})")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_a_single_frame_writes_strict_json_without_nan(tmp_path):
    frame = _vacuum_frames(0.3, 2.5, 0.2, size=64, doses=[300.0])[0]
    fit = fit_noise(frame, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING)
    assert np.isnan(fit.N0_r2)  # no R² from one point
    json_path, _ = write_noise_fit(tmp_path, fit)
    data = _strict_json(json_path)
    assert data["fit"]["N0_r2"] is None and data["fit"]["N0"] == pytest.approx(fit.N0)
    assert DetectorConfig.from_json(json_path) == fit.detector


def test_dose_count_is_checked_before_any_fitting(monkeypatch):
    import temseg.analyze.noise as noise

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking the doses")

    monkeypatch.setattr(noise, "fit_spectrum", no_fit)
    frames = _vacuum_frames(0.3, 2.5, 0.01, size=64, doses=DOSES[:5])
    with pytest.raises(ConfigError, match=r"^doses: 2 doses for 5 frames"):
        fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING, doses=[1.0, 2.0])


def test_a_blank_frame_is_left_out_and_all_blank_is_refused():
    """A dropped frame (beam blanked) no longer stops the fit; it has no noise to fit."""
    frames = _vacuum_frames(0.3, 2.5, 0.01, size=64, doses=[100.0, 300.0, 1000.0])
    frames[1] = 0.0
    fit = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING,
                    doses=[100.0, 10.0, 1000.0], force=True)
    assert fit.blank_frames == [1] and [f.index for f in fit.frames] == [0, 2]
    assert [f.dose for f in fit.frames] == [100.0, 1000.0]  # each frame keeps its own dose
    assert fit.to_dict()["fit"]["blank_frames"] == [1]
    with pytest.raises(InputError, match=r"^vacuum: every frame is constant in the region"):
        fit_noise(np.zeros((2, 64, 64)), vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING,
                  doses=[100.0, 10.0], force=True)


def test_cli_says_which_frames_were_blank(tmp_path, capsys):
    from temseg.cli.main import main
    from temseg.io import write_tiff

    frames = _vacuum_frames(0.3, 2.5, 0.01, size=64, doses=[100.0, 300.0, 1000.0])
    frames[1] = 0.0
    write_tiff(tmp_path / "vac.tif", frames.astype(np.float32), sampling=SAMPLING)
    assert main(["fit-noise", str(tmp_path / "vac.tif"), "--vacuum", "0:64,0:64", "--force",
                 "--out", str(tmp_path / "fit")]) == 0
    assert "1 blank (constant) frame(s) left out (frame 1; 0-based)" in capsys.readouterr().err
    assert _strict_json(tmp_path / "fit" / "detector.json")["fit"]["blank_frames"] == [1]


def test_cli_checks_output_and_doses_before_fitting(tmp_path, capsys):
    from temseg.cli.main import main
    from temseg.io import write_tiff

    frames = _vacuum_frames(0.3, 2.5, 0.01, size=64, doses=DOSES[:5])
    write_tiff(tmp_path / "vac.tif", frames, sampling=SAMPLING)
    argv = ["fit-noise", str(tmp_path / "vac.tif"), "--vacuum", "0:64,0:64"]
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    assert main([*argv, "--out", str(afile)]) == 2
    err = capsys.readouterr().err
    assert "--out:" in err and "exists and is not a folder" in err
    assert afile.read_text() == "keep me"
    out = tmp_path / "fit"
    assert main([*argv, "--out", str(out), "--dose", "1", "--dose", "2"]) == 2
    err = capsys.readouterr().err
    assert "--dose: 2 doses for 5 frames" in err and err.count("\n") == 1
    assert not out.exists()
    write_tiff(tmp_path / "zero.tif", np.zeros((64, 64), np.float32), sampling=SAMPLING)
    assert main(["fit-noise", str(tmp_path / "zero.tif"), "--vacuum", "0:64,0:64", "--out",
                 str(out), "--force", "--dose", "10"]) == 2
    assert "every frame is constant" in capsys.readouterr().err
    assert not out.exists()
    assert main([*argv, "--out", str(out)]) == 0
    record = _strict_json(out / "record.json")
    assert record["config"]["N0"] == pytest.approx(_strict_json(out / "detector.json")["fit"]["N0"])


# --- plausibility of the fit: optimiser bounds, gain and doses against the shot noise ---

def _film(size, *, contrast, blur_px, seed, disc=False):
    """Specimen over vacuum: 1 + ``contrast`` × smoothed noise (a thin amorphous film), or
    only inside a disc of a third of the side (an amorphous object)."""
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.standard_normal((size, size)), blur_px, mode="wrap")
    field *= contrast / field.std()
    if disc:
        yy, xx = np.mgrid[:size, :size] - size / 2
        field *= gaussian_filter((yy**2 + xx**2 < (size / 3) ** 2).astype(float), 2)
    return 1.0 + field


def _counts(image, doses, *, gain=1.0, seed=1):
    """Frames of ``image`` in counts: c0 = 0.4, c3 = 3, N0 = 1 e/px, ``gain`` counts/e."""
    rng = np.random.default_rng(seed)
    return gain * np.stack([apply_detector(image, dose=d, sampling=SAMPLING, c0=0.4, c3=3.0,
                                           N0=1.0, rng=rng) for d in doses])


FILM_DOSES = [2000.0, 4000.0, 8000.0]  # e/Å²: N_D = 20–80 e/px at 0.1 Å/px


@pytest.mark.parametrize("seed", [3, 8])
def test_a_thin_film_in_the_region_is_refused_at_the_optimiser_bound(seed):
    """A 5 % carbon-like film puts low-q power the MTF cannot hold: c0 runs to its bound."""
    frames = _counts(_film(128, contrast=0.05, blur_px=10, seed=seed), FILM_DOSES)
    with pytest.raises(InputError, match=r"^vacuum: no frame left: .* at a bound of the "
                                         r"optimiser \(e\.g\. c0 = .*likely holds specimen"):
        fit_noise(frames, vacuum_roi=(0, 128, 0, 128), sampling=SAMPLING)
    import warnings

    with warnings.catch_warnings(record=True) as caught:  # (a poor readout fit is said too)
        warnings.simplefilter("always")
        forced = fit_noise(frames, vacuum_roi=(0, 128, 0, 128), sampling=SAMPLING, force=True)
    assert any("likely holds specimen" in str(w.message) for w in caught)
    assert forced.c0 < 0.05  # what the audit saw accepted: c0 far from the true 0.4
    assert any(r.startswith("bound: c0 = ") for f in forced.frames for r in f.reasons)
    assert "kept by force fit at an optimiser bound" in forced.rejection_summary()
    # the same detector over clean vacuum: nothing at a bound, no warning, the true model
    clean = fit_noise(_counts(np.ones((128, 128)), FILM_DOSES), vacuum_roi=(0, 128, 0, 128),
                      sampling=SAMPLING)
    assert all(not f.reasons for f in clean.frames) and clean.rejection_summary() is None
    assert clean.c0 == pytest.approx(0.4, rel=0.1) and clean.N0 == pytest.approx(1.0, rel=0.3)


def test_an_amorphous_object_is_flagged_by_how_its_noise_grows():
    """Object contrast adds variance ∝ counts², shot noise ∝ counts: the exponent shows it."""
    doses = np.geomspace(1e3, 1e5, 6)
    obj = _film(128, contrast=0.025, blur_px=3, seed=2, disc=True)
    with pytest.warns(UserWarning, match=r"^vacuum: the noise variance grows as mean "
                                         r"counts\^[12]\.\d\d, .*likely holds specimen"):
        fit = fit_noise(_counts(obj, doses), vacuum_roi=(0, 128, 0, 128), sampling=SAMPLING)
    assert fit.check["variance_exponent"] > 1.5
    clean = fit_noise(_counts(np.ones((128, 128)), doses), vacuum_roi=(0, 128, 0, 128),
                      sampling=SAMPLING)
    assert clean.check["variance_exponent"] == pytest.approx(1.0, abs=0.15)
    assert clean.check["message"] is None


def test_a_gain_not_given_is_found_in_the_shot_noise():
    """10 counts per electron: (c1² − c2²)/mean ≈ 10, and doses and N0 10× off unless given."""
    doses = np.geomspace(300, 30000, 5)
    frames = _counts(np.ones((64, 64)), doses, gain=10.0)
    with pytest.warns(UserWarning, match=r"^gain: .*implies about (8\.\d|9\.\d|1[0-2]) counts per "
                                         r"electron, not counts_per_electron = 1 \(not given\?\)"):
        fit = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING)
    assert fit.check["noise_gain"] == pytest.approx(10.0, rel=0.2)
    assert fit.N0 == pytest.approx(10.0, rel=0.35)  # the error the warning names
    given = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING,
                      counts_per_electron=10.0)  # warnings are errors here: none may come
    assert given.check["gain_ratio"] == pytest.approx(1.0, rel=0.2)
    assert given.N0 == pytest.approx(1.0, rel=0.35)
    assert [f.dose for f in given.frames] == pytest.approx(doses, rel=0.02)


def test_doses_in_e_per_nm2_are_found_in_the_counts():
    doses = np.geomspace(300, 30000, 5)
    frames = _counts(np.ones((64, 64)), doses)
    with pytest.raises(InputError, match=r"^doses: the mean counts are 0\.01× .*look like "
                                         r"e/nm², not e/Å²"):
        fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING, doses=doses * 100)
    with pytest.warns(UserWarning, match=r"^doses: the mean counts are 0\.01× .*look like "
                                         r"e/nm², not e/Å²"):
        fit = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING, doses=doses * 100,
                        force=True)
    assert fit.check["counts_ratio"] == pytest.approx(0.01, rel=0.02)
    right = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING, doses=doses,
                      force=True)  # (force keeps every frame: the same frames as above)
    assert right.check["counts_ratio"] == pytest.approx(1.0, rel=0.02)
    assert fit.N0 == pytest.approx(100 * right.N0, rel=0.01)


def test_clean_vacuum_passes_the_checks_and_records_them(tmp_path):
    frames = _vacuum_frames(0.3, 2.5, 0.01, size=64, doses=DOSES[1:5])
    fit = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING)  # no warning
    check = fit.check
    assert check["message"] is None and check["n_frames"] >= 3
    assert 0.5 < check["gain_ratio"] < 2 and check["counts_ratio"] == pytest.approx(1.0)
    assert not any(r.startswith("bound") for f in fit.frames for r in f.reasons)
    json_path, _ = write_noise_fit(tmp_path, fit)
    data = _strict_json(json_path)
    assert data["fit"]["noise_check"]["noise_gain"] == pytest.approx(check["noise_gain"])
    assert data["frames"][0]["mean_counts"] == pytest.approx(float(frames[0].mean()), rel=1e-6)


@pytest.mark.parametrize("params, named", [
    ({"c0": 0.001, "c3": 2.0, "C": 0.1}, "c0 = 0.001 q/q_Nyquist at a bound"),
    ({"c0": 3.0, "c3": 2.0, "C": 0.1}, "c0 = 3 q/q_Nyquist at a bound"),
    ({"c0": 0.005, "c3": 2.0, "C": 0.1}, "below half the lowest frequency fitted (0.0156)"),
    ({"c0": 0.4, "c3": 20.0, "C": 0.1}, "c3 = 20 at a bound"),
    ({"c0": 0.001, "c3": 0.3, "C": 1.0}, "C = 1 at its bound 1"),
    ({"c0": 0.4, "c3": 3.0, "C": 0.0}, ""),  # no readout floor: a counting detector
    ({"c0": 0.01, "c3": 3.0, "C": 0.2}, ""),
])
def test_at_bound_names_the_parameter(params, named):
    from temseg.analyze.noise_checks import _at_bound

    text = _at_bound(params, 2 / 128)
    assert (named in text) if named else text == ""
    if named.startswith("C ="):  # no shot noise: c0 and c3 mean nothing, only C is named
        assert text == named + " (readout noise only)"


def test_a_dose_message_without_measurable_shot_noise_does_not_claim_it_agrees():
    """Readout-dominated frames (C > 0.9) measure no gain: the doses message says so."""
    from types import SimpleNamespace

    from temseg.analyze.noise_checks import noise_consistency

    frames = [SimpleNamespace(accepted=True, C=0.95, mean_counts=m, c1=1.0, c2=0.99,
                              dose_per_pixel=100.0 * m, r2=0.9, reasons=[]) for m in (10, 20, 40)]
    check = noise_consistency(frames, doses_given=True)
    assert check["gain_ratio"] is None and check["counts_ratio"] == 0.01
    assert "no frame showed enough shot noise" in check["message"]
    assert "agrees" not in check["message"] and "e/nm²" in check["message"]


def test_a_poor_readout_fit_is_warned_of(monkeypatch):
    """C that does not fall with dose as eq. 2 says (R² < 0.5): N0 was kept without a word."""
    import warnings

    import temseg.analyze.noise as noise
    from temseg.analyze.noise_checks import READOUT_R2_MIN

    frames = _vacuum_frames(0.4, 3.0, 0.02, size=64, doses=DOSES[2:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the true model: no warning
        good = fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING)
    assert good.N0_r2 >= READOUT_R2_MIN
    monkeypatch.setattr(noise, "fit_readout", lambda C, nd: (1.1e-24, -0.5))
    with pytest.warns(UserWarning, match=r"readout fit \(eq. 2\) is poor: R² = -0.50, "
                                         r"N0 = 1.1e-24 e/px"):
        fit_noise(frames, vacuum_roi=(0, 64, 0, 64), sampling=SAMPLING)


def test_a_vacuum_region_beyond_the_frame_is_refused_before_any_fit():
    from temseg.analyze.noise import check_roi_inside

    check_roi_inside("0:64,0:64", (64, 64))
    with pytest.raises(InputError, match="vacuum: region 0:64,600:700 lies outside the 256×512"):
        check_roi_inside("0:64,600:700", (12, 256, 512))
