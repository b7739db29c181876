"""``temseg analyze compare``: simulated images beside a stack, in electrons per pixel."""

import json
import re

import numpy as np
import pytest
from scipy import ndimage

import temseg.cli.compare as cli_compare
from temseg.analyze.compare import (compare_files, compare_images, fourier_resample,
                                    least_structured_window)
from temseg.cli.main import app, main
from temseg.errors import ConfigError, InputError
from temseg.io import write_tiff
from temseg.synthetic import lattice

SPACING_A = 2.4  # lattice fringes of the particle, Å


def micrograph(dose_px, rng, *, size=64, sampling=0.3, blur_A=0.2, centre=None):
    """A particle with lattice fringes (a disc, 25 % darker, fringes ±10 %) on vacuum, in
    electrons per pixel at ``dose_px`` e/px: Poisson electrons spread by a Gaussian MTF
    of ``blur_A`` Å."""
    yy, xx = np.mgrid[:size, :size]
    cy, cx = centre if centre is not None else (size / 2, size / 2)
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < (size / 4) ** 2
    fringes = lattice((size, size), spacing_px=SPACING_A / sampling)
    clean = 1.0 - disc * (0.25 + 0.1 * fringes)
    electrons = rng.poisson(clean * dose_px).astype(np.float64)
    return ndimage.gaussian_filter(electrons, blur_A / sampling)


def write_sim(path, doses, *, size=64, sampling=0.3, seed=0, detector=True):
    """A simulated dataset laid out as ``temseg simulate`` writes it (images in e/px)."""
    import zarr

    rng = np.random.default_rng(seed)
    images = np.stack([micrograph(d * sampling**2, rng, size=size, sampling=sampling)
                       for d in doses]).astype(np.float32)
    root = zarr.open_group(str(path), mode="w")
    root.create_array("images", data=images)
    root.create_array("labels", data=np.zeros(images.shape, np.uint8))
    root.create_group("parameters").create_array("dose", data=np.asarray(doses, np.float64))
    root.attrs.update(sampling=sampling, seed=seed, mode="dataset", label_kind="hull")
    if detector:
        root.attrs.update(units="images: electron counts per pixel",
                          detector={"c0": [0.3, 0.5], "c3": [2.0, 4.0], "N0": [0.0, 0.01],
                                    "dose": [min(doses), max(doses)],
                                    "dose_distribution": "log-uniform", "dose_scale": None})
    else:
        root.attrs.update(units="images: intensity, vacuum = 1")
    return path


def write_stack(path, dose, *, frames=4, size=96, sampling=0.3, gain=4.0, seed=1,
                with_sampling=True):
    """Frames in counts (``gain`` counts per electron), the particle off centre to the lower
    right so that the vacuum corner 0:24,0:24 is free."""
    rng = np.random.default_rng(seed)
    data = np.stack([gain * micrograph(dose * sampling**2, rng, size=size, sampling=sampling,
                                       centre=(0.6 * size, 0.6 * size))
                     for _ in range(frames)])
    return write_tiff(path, data, sampling=sampling if with_sampling else None)


DOSES = [30.0, 100.0, 300.0, 600.0, 1000.0, 3000.0, 10000.0, 20.0]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return write_sim(tmp_path_factory.mktemp("sim") / "sim.zarr", DOSES)


@pytest.fixture(autouse=True, scope="module")
def _registered():
    cli_compare.register(app)


def test_fourier_resample_keeps_electrons_and_poisson_statistics(rng):
    image = rng.poisson(5.0, (128, 128)).astype(np.float64)
    out = fourier_resample(image, shape=(64, 64))
    assert out.sum() == pytest.approx(image.sum(), rel=1e-3)
    # binned Poisson electrons stay Poisson: 4 pixels of 5 e → mean 20, variance 20
    assert out.mean() == pytest.approx(20.0, rel=0.01)
    assert out.var() == pytest.approx(20.0, rel=0.1)


def test_the_least_structured_window_is_the_vacuum(rng):
    image = micrograph(200.0, rng, size=96, centre=(60, 60))
    ys, xs = least_structured_window(image, (24, 24))
    yy, xx = np.mgrid[ys, xs]
    assert ((yy - 60) ** 2 + (xx - 60) ** 2).min() > 24**2  # clear of the disc (radius 24)


def test_matched_sides_agree_and_show_the_lattice_at_one_over_d(rng):
    sims = [micrograph(50.0, rng) for _ in range(4)]
    frames = [4.0 * micrograph(50.0, rng) for _ in range(3)]
    result = compare_images(sims, frames, sim_sampling=0.3, stack_sampling=0.3,
                            counts_per_electron=4.0)
    assert result.resampled is None and result.stack.images[0].shape == (64, 64)
    ratio = result.ratios()
    assert ratio["mean_e_per_px"] == pytest.approx(1.0, abs=0.05)
    assert ratio["noise_e_per_px"] == pytest.approx(1.0, abs=0.1)
    assert result.warnings() == []
    # the fringes' peak at 1/d: 1/0.24 nm = 4.17 1/nm on both sides (hexagonal: one ring),
    # above the disc's edge (low q)
    for row in (result.simulated, result.stack):
        high = row.q_per_nm > 2.5
        peak = row.q_per_nm[high][np.argmax(row.psd[high])]
        assert peak == pytest.approx(10.0 / SPACING_A, abs=0.35)


def test_a_gain_left_out_is_warned(rng):
    sims = [micrograph(50.0, rng) for _ in range(3)]
    frames = [8.0 * micrograph(50.0, rng) for _ in range(3)]
    result = compare_images(sims, frames, sim_sampling=0.3, stack_sampling=0.3,
                            vacuum="0:20,0:20")
    assert result.ratios()["mean_e_per_px"] == pytest.approx(1 / 8, rel=0.05)
    messages = result.warnings()
    assert len(messages) == 2 and "intensity scales differ 8" in messages[0]
    assert "--counts-per-electron" in messages[0] and "gain" in messages[1]


def test_a_finer_stack_is_resampled_to_the_simulated_pixel(rng):
    sims = [micrograph(500.0 * 0.09, rng) for _ in range(2)]
    frames = [micrograph(500.0 * 0.15**2, rng, size=128, sampling=0.15) for _ in range(2)]
    result = compare_images(sims, frames, sim_sampling=0.3, stack_sampling=0.15,
                            vacuum="0:32,0:32")
    assert result.resampled == "stack" and result.sampling == 0.3
    assert "stack resampled from 0.15 to 0.3 Å/px" in result.notes[0]
    assert result.fov_A == pytest.approx((19.2, 19.2))
    assert result.stack.images[0].shape == result.simulated.images[0].shape == (64, 64)
    # e/px per 0.3 Å pixel: 4× the 0.15 Å pixel's, as the simulated images'
    assert result.ratios()["mean_e_per_px"] == pytest.approx(1.0, abs=0.05)
    assert result.stack.q_per_nm.max() <= 5.0 / 0.3 + 1e-9
    assert result.stack.region == "vacuum 0:32,0:32"
    assert result.simulated.region == "least-structured 16×16 px"  # 32 px at 0.15 Å


def test_bad_arguments_are_refused(rng):
    sims, frames = [micrograph(10.0, rng)], [micrograph(10.0, rng)]
    with pytest.raises(InputError, match="outside the 64×64 frame"):
        compare_images(sims, frames, sim_sampling=0.3, stack_sampling=0.3, vacuum="40:80,0:20")
    with pytest.raises(ConfigError, match="counts_per_electron"):
        compare_images(sims, frames, sim_sampling=0.3, stack_sampling=0.3, counts_per_electron=0)
    with pytest.raises(InputError, match="too small"):
        compare_images(sims, frames, sim_sampling=0.3, stack_sampling=0.3, vacuum="0:8,0:40")


def test_compare_files_picks_the_simulated_images_nearest_the_stacks_dose(sim, tmp_path):
    stack = write_stack(tmp_path / "stack.tif", 450.0)
    result = compare_files(sim, stack, n=3, vacuum="0:24,0:24", counts_per_electron=4.0)
    assert result.simulated.titles == ["#2: 300 e/Å²", "#3: 600 e/Å²", "#4: 1,000 e/Å²"]
    assert result.stack.titles == ["frame 0", "frame 2", "frame 3"]
    assert result.sim_dose_range == (20.0, 10000.0)
    assert re.search(r"nearest the stack's 4[45]\d e/Å²", result.notes[0])


def test_cli_writes_the_figure_json_and_a_summary(sim, tmp_path, capsys):
    stack = write_stack(tmp_path / "stack.tif", 450.0, sampling=0.2, size=128)
    out = tmp_path / "out"
    assert main(["analyze", "compare", str(sim), str(stack), "-o", str(out), "--vacuum",
                 "0:32,0:32", "--counts-per-electron", "4", "--n", "4"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    assert "note: stack resampled from 0.2 to 0.3 Å/px" in captured.err
    line = captured.out.splitlines()[0]
    assert line.startswith("simulated ") and "simulated/stack" in line
    data = json.loads((out / "compare.json").read_text())
    assert data["resampled"] == "stack" and data["sampling_A_per_px"] == 0.3
    assert 0.5 < data["ratio_simulated_over_stack"]["mean_e_per_px"] < 2.0
    assert len(data["simulated"]["titles"]) == 4 and data["warnings"] == []
    assert (out / "compare.png").stat().st_size > 20_000 and (out / "record.json").exists()


def test_cli_warns_of_a_gain_left_out(sim, tmp_path, capsys):
    stack = write_stack(tmp_path / "stack.tif", 450.0, gain=20.0)
    assert main(["analyze", "compare", str(sim), str(stack), "-o", str(tmp_path / "o"),
                 "--vacuum", "0:24,0:24"]) == 0
    err = capsys.readouterr().err
    assert "warning: noise relative to the level differs" in err


@pytest.mark.parametrize("case, message", [
    ("not_zarr", "not a temseg simulated dataset"),
    ("no_detector", "simulated without a detector"),
    ("no_pixel_size", "no pixel size in the file"),
    ("vacuum_outside", "lies outside the 96×96 frame"),
    ("bad_vacuum", "is not a region Y0:Y1,X0:X1"),
    ("bad_n", "1 to 12 images per row"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(sim, tmp_path, capsys, case, message):
    stack = write_stack(tmp_path / "stack.tif", 450.0, with_sampling=case != "no_pixel_size")
    source, vacuum = sim, "0:24,0:24"
    if case == "not_zarr":
        source = stack
    elif case == "no_detector":
        source = write_sim(tmp_path / "plain.zarr", [1.0, 1.0], detector=False)
    elif case == "vacuum_outside":
        vacuum = "80:120,0:24"
    elif case == "bad_vacuum":
        vacuum = "0:24"
    out = tmp_path / "out"
    extra = ["--n", "0"] if case == "bad_n" else []
    assert main(["analyze", "compare", str(source), str(stack), "-o", str(out),
                 "--vacuum", vacuum, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_stack_without_pixel_size_takes_one_given(sim, tmp_path):
    stack = write_stack(tmp_path / "stack.tif", 450.0, with_sampling=False)
    assert main(["analyze", "compare", str(sim), str(stack), "-o", str(tmp_path / "o"),
                 "--pixel-size-nm", "0.03", "--counts-per-electron", "4"]) == 0


def test_register_is_idempotent():
    from temseg.cli.analyze import analyze_app

    cli_compare.register(app)
    cli_compare.register(app)
    assert [c.name for c in analyze_app.registered_commands].count("compare") == 1


def test_a_measured_region_outside_the_field_shown_is_clipped_or_left_out():
    from temseg.analyze.compare import _within

    assert _within((-36.0, -36.0, 76.0, 76.0), (128, 128)) == (0.0, 0.0, 40.0, 40.0)
    assert _within((10.0, 20.0, 5.0, 5.0), (128, 128)) == (10.0, 20.0, 5.0, 5.0)
    assert _within((200.0, 200.0, 10.0, 10.0), (128, 128)) is None
