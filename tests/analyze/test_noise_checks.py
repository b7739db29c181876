"""fit-noise's plausibility checks on stacks built as a microscope makes them: Poisson
electrons at a known dose, a Gaussian MTF, Gaussian readout noise, a known gain."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from temseg.analyze import noise
from temseg.analyze.noise import fit_noise
from temseg.analyze.noise_plot import plot_noise_fit, write_noise_fit
from temseg.analyze.noise_checks import noise_consistency
from temseg.errors import ConfigError, InputError
from temseg.synthetic import lattice

SAMPLING = 0.3  # Å/px
ROI = (0, 64, 0, 64)


def electron_stack(images, dose, *, gain=2.0, sigma_px=0.8, read_e=1.5, seed=1):
    """Counts of ``images`` (relative intensity) at ``dose`` e/Å² (one or per frame):
    Poisson electrons, a Gaussian MTF of ``sigma_px``, ``read_e`` e rms Gaussian readout
    (N0 = read_e² e/px), ``gain`` counts per electron."""
    rng = np.random.default_rng(seed)
    doses = np.broadcast_to(np.asarray(dose, dtype=float), (len(images),))
    frames = []
    for image, d in zip(images, doses):
        electrons = rng.poisson(image * d * SAMPLING**2).astype(np.float64)
        electrons = gaussian_filter(electrons, sigma_px, mode="wrap")
        frames.append(gain * (electrons + rng.normal(0.0, read_e, image.shape)))
    return np.stack(frames)


def vacuum(n=6, size=64):
    return [np.ones((size, size))] * n


def quiet_fit(frames, **kwargs):
    """``fit_noise`` with warnings recorded: (fit, [messages])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_noise(frames, vacuum_roi=ROI, sampling=SAMPLING, **kwargs)
    return fit, [str(w.message) for w in caught]


# --- 1. a gain of 2 counts per electron left out --------------------------------------------

@pytest.mark.parametrize("seed", [1, 2])
def test_a_gain_of_2_left_out_is_warned_and_measured(seed):
    """The shot noise reads ~12 % low on a Gaussian MTF (1.76 for 2): a 2× limit let it by."""
    frames = electron_stack(vacuum(), 500.0, gain=2.0, seed=seed)
    fit, said = quiet_fit(frames)
    assert 1.5 < fit.check["noise_gain"] < 2.3
    assert len(said) == 1 and said[0].startswith("gain: the shot noise"), said
    assert fit.check["gain_limits"] == [0.5, 1.4]  # 6 frames of 64² px
    assert "(not given?)" in said[0] and "--counts-per-electron" in said[0]
    assert f"counts_per_electron ≈ {fit.check['noise_gain']:.2g}" in said[0]
    assert fit.warnings == said
    given, said = quiet_fit(frames, counts_per_electron=2.0)
    assert said == [] and given.N0 == pytest.approx(2.25, rel=0.25)  # read_e² e/px


def test_the_gain_limit_widens_over_fewer_pixels():
    from temseg.analyze.noise_checks import gain_limits

    assert gain_limits(6 * 64 * 64) == (0.5, 1.4) == gain_limits(10**6)
    assert gain_limits(3 * 64 * 64)[1] == pytest.approx(1.57)
    assert gain_limits(64 * 64) == (0.5, 1.98)
    assert gain_limits(32 * 32, 4.0) == (0.25, 2.96)  # small regions: the factor doubled
    frame = electron_stack(vacuum(1), 500.0, gain=1.7)  # one frame: 1.7 may be noise
    _, said = quiet_fit(frame)
    assert not any(line.startswith("gain:") for line in said), said


# --- 2. specimen in the region: no gain advised -----------------------------------------------

def _support_edge(size=64, *, fringes=(0, 3)):
    """A support edge drifting over the bottom of the region (long-period contrast that
    inflates the noise at low q), with lattice fringes over frames ``fringes``."""
    rows = np.arange(size)[:, None] * np.ones((1, size))
    images = []
    for k, shift in enumerate((-2, 1, 0, 2, -1, 1)):
        ramp = np.clip((rows - 40 - shift) / 16, 0, 1)
        image = 1.0 - 0.03 * ramp + 0.2 * ramp * lattice((size, size), spacing_px=11.0,
                                                          angle_deg=20)
        if k in fringes:
            image = image + 0.3 * lattice((size, size), spacing_px=4.0, angle_deg=20)
        images.append(image)
    return images


def test_specimen_in_the_region_gives_no_gain_advice():
    """The audit: 2 of 6 frames rejected for peaks, the rest implying ~4 counts/e for 2."""
    fit, said = quiet_fit(electron_stack(_support_edge(), 500.0, gain=2.0),
                          counts_per_electron=2.0)
    assert sum("peaks" in f.reasons for f in fit.frames) == 2
    assert fit.check["noise_gain"] > 3  # inflated by the specimen
    lines = [line for line in said if "counts per electron" in line]
    assert len(lines) == 1, said
    assert lines[0].startswith("vacuum: 2 of 6 frames show structure (2 with spectral peaks)")
    assert "likely holds specimen" in lines[0] and "unreliable" in lines[0]
    assert "≈" not in lines[0] and "give counts_per_electron" not in lines[0]
    assert fit.check["specimen"] is True


def test_structure_found_in_any_frame_withholds_the_gain_advice():
    """One frame rejected for peaks (of six, so not "most") is enough."""
    frames = [SimpleNamespace(accepted=k > 0, C=0.2, mean_counts=100.0, c1=np.sqrt(430 + 9),
                              c2=3.0, dose_per_pixel=50.0, r2=0.95,
                              reasons=("peaks",) if k == 0 else ()) for k in range(6)]
    check = noise_consistency(frames, counts_per_electron=2.0)
    assert check["noise_gain"] == pytest.approx(4.3)
    assert "≈" not in check["message"]
    assert "1 of 6 frames show structure (1 with spectral peaks)" in check["message"]
    assert check["specimen"]
    for f in frames:  # no structure: the gain is advised
        f.reasons = ()
    check = noise_consistency(frames, counts_per_electron=2.0)
    assert not check["specimen"] and "give counts_per_electron ≈ 4.3" in check["message"]


# --- 3. the readout fit at one dose ---------------------------------------------------------

def test_a_constant_dose_stack_is_not_warned_of_its_readout_r2(tmp_path):
    """R² across doses that span 1 % is noise over noise; N0 itself is right."""
    fit, said = quiet_fit(electron_stack(vacuum(), 500.0, gain=2.0), counts_per_electron=2.0)
    assert fit.N0_r2 < 0.5  # what used to be warned as "poor"
    assert said == [] and fit.readout_one_dose
    assert fit.N0 == pytest.approx(2.25, rel=0.25)
    json_path, _ = write_noise_fit(tmp_path, fit)
    data = json.loads(json_path.read_text())
    assert data["fit"]["readout_one_dose"] is True
    assert data["fit"]["readout"].startswith("eq. 2 fitted at one dose")


def test_a_poor_readout_fit_across_doses_is_still_warned(monkeypatch):
    monkeypatch.setattr(noise, "fit_readout", lambda C, nd: (2.0, 0.1))
    frames = electron_stack(vacuum(4), [100.0, 300.0, 1000.0, 3000.0], gain=2.0)
    fit, said = quiet_fit(frames, counts_per_electron=2.0)
    assert not fit.readout_one_dose
    assert [line for line in said if line.startswith("the readout fit (eq. 2) is poor")]
    one, said = quiet_fit(frames[2:3].repeat(4, axis=0), counts_per_electron=2.0)
    assert one.readout_one_dose and not any("readout fit" in line for line in said)


# --- 4. doses in e/nm²: an error unless forced -------------------------------------------------

def test_doses_in_e_per_nm2_are_an_error_unless_forced():
    frames = electron_stack(vacuum(), 500.0, gain=2.0)
    with pytest.raises(InputError, match=r"^doses: .*look like e/nm², not e/Å² .*N0 is 100× "
                                         r"too high — give the doses in e/Å², or force"):
        fit_noise(frames, vacuum_roi=ROI, sampling=SAMPLING, counts_per_electron=2.0,
                  doses=[50000.0] * 6)
    fit, said = quiet_fit(frames, counts_per_electron=2.0, doses=[50000.0] * 6, force=True)
    assert fit.check["dose_unit_error"] and fit.N0 > 100
    assert fit.warnings == said and "look like e/nm²" in said[0]
    assert fit.to_dict()["warnings"] == said
    # doses 10× off are a warning only, as before
    fit, said = quiet_fit(frames, counts_per_electron=2.0, doses=[5000.0] * 6)
    assert not fit.check["dose_unit_error"] and said[0].startswith("doses: ")


# --- 5. one dose for every frame ----------------------------------------------------------------

def test_one_dose_is_the_dose_of_every_frame():
    frames = electron_stack(vacuum(), 500.0, gain=2.0)
    fit, said = quiet_fit(frames, counts_per_electron=2.0, doses=[500.0])
    assert said == [] and [f.dose for f in fit.frames] == [500.0] * 6
    assert fit.detector.dose == (500.0, 500.0)
    lazy, _ = quiet_fit(iter(frames), counts_per_electron=2.0, doses=[500.0])  # no len()
    assert [f.dose for f in lazy.frames] == [500.0] * 6
    for doses in ([500.0, 500.0], [500.0] * 7):
        with pytest.raises(ConfigError, match=rf"^doses: {len(doses)} doses for 6 frames \(give "
                                              r"one per frame, or one for every frame\)"):
            fit_noise(frames, vacuum_roi=ROI, sampling=SAMPLING, doses=doses)
    with pytest.raises(ConfigError, match="^doses: 2 doses for"):
        fit_noise(iter(frames), vacuum_roi=ROI, sampling=SAMPLING, doses=[500.0, 500.0])


# --- 6. detector.png --------------------------------------------------------------------------

def _figure(monkeypatch, fit, tmp_path):
    import temseg.io.files as files

    kept = {}
    monkeypatch.setattr(files, "write_figure", lambda fig, path, dpi=None: kept.setdefault(
        "fig", fig))
    plot_noise_fit(fit, tmp_path / "detector.png")
    return kept["fig"]


def test_the_plot_has_plain_dose_axes_the_fitted_mtf_and_the_gain(monkeypatch, tmp_path):
    fit, _ = quiet_fit(electron_stack(vacuum(), 500.0, gain=2.0))
    fig = _figure(monkeypatch, fit, tmp_path)
    fig.canvas.draw()
    axes = fig.axes
    for ax in (axes[2], axes[3], axes[4], axes[5]):  # doses spanning 1 %: linear, plain ticks
        assert ax.get_xscale() == "linear"
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert all(text.replace(",", "").replace(".", "").replace("−", "").isdigit()
                   for text in labels if text), labels
        assert ax.xaxis.get_offset_text().get_text() == ""
    mtf_panel = axes[1]
    assert mtf_panel.get_ylabel() != "MTF"
    f = fit.frames[0]
    mtf = [line for line in mtf_panel.get_lines() if line.get_label().startswith("MTF")]
    q, y = mtf[0].get_data()
    np.testing.assert_allclose(y, 1 / (1 + (q / f.c0) ** f.c3))  # the MTF, no floor C
    assert y[-1] < 0.5 * f.C  # below the noise floor the panel's data sit on
    title = fig.get_suptitle()
    assert "1 given" in title and f"{fit.check['noise_gain']:.3g} measured" in title
    series, _ = quiet_fit(electron_stack(vacuum(4), [100.0, 300.0, 1000.0, 3000.0], gain=2.0),
                          counts_per_electron=2.0)
    fig = _figure(monkeypatch, series, tmp_path)
    assert [ax.get_xscale() for ax in fig.axes[2:]] == ["log"] * 4
