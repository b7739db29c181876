"""``temseg segment``: files, folders and stacks in; probability, mask, overlay and record out."""

import json
from pathlib import Path

import numpy as np
import pytest

from temseg.cli.main import main
from temseg.io import read_image, write_tiff


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, save_tiny_model):
    """A tiny residual U-Net (pooling factor 4) saved as a temseg model file."""
    return save_tiny_model(tmp_path_factory.mktemp("model"), sampling=1.0)


@pytest.fixture
def inputs(tmp_path, rng):
    folder = tmp_path / "in"
    write_tiff(folder / "big.tif", rng.gamma(4, 25, (96, 130)).astype(np.float32), sampling=1.0)
    write_tiff(folder / "small.tif", rng.gamma(4, 25, (40, 48)).astype(np.float32), sampling=2.0)
    write_tiff(folder / "ignored_LABEL.tif", np.zeros((40, 40), np.float32))
    stack = write_tiff(tmp_path / "series.tif", rng.gamma(4, 25, (3, 48, 56)).astype(np.float32),
                       sampling=1.0)
    return folder, stack


def test_segments_a_folder_and_a_stack(model_file, inputs, tmp_path, capsys):
    folder, stack = inputs
    out = tmp_path / "out"
    code = main(["segment", str(model_file), str(folder), str(stack), "--out", str(out),
                 "--tile", "64", "--overlap", "0.25", "--batch-size", "3", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["big_prob.tif", "big_mask.png", "big_overlay.png",
                            "small_prob.tif", "small_mask.png", "small_overlay.png",
                            "series_prob.tif", "series_mask.tif", "series_overlay.png",
                            "record.json"])
    big = read_image(out / "big_prob.tif")
    assert big.data.shape == (96, 130) and big.data.dtype == np.float32
    assert big.sampling == pytest.approx(1.0, rel=1e-6)
    assert 0.0 <= big.data.min() and big.data.max() <= 1.0
    small = read_image(out / "small_prob.tif")  # resampled to 1 Å/px inside, back to 40 × 48
    assert small.data.shape == (40, 48) and small.sampling == pytest.approx(2.0, rel=1e-6)
    series = read_image(out / "series_prob.tif")
    assert series.is_stack and series.data.shape == (3, 48, 56)
    mask = read_image(out / "series_mask.tif")
    np.testing.assert_array_equal(mask.frame(2) > 0, series.frame(2) >= 0.5)
    for name, sampling in (("big", 1.0), ("small", 2.0), ("series", 1.0)):  # masks keep it
        suffix = ".tif" if name == "series" else ".png"
        assert read_image(out / f"{name}_mask{suffix}").sampling == pytest.approx(sampling)
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["tile"] == 64 and record["segmenter"]["kind"] == "network"
    by_name = {r["name"]: r for r in record["inputs"]}
    assert set(by_name) == {"big", "small", "series"}
    # small (2 Å/px) went through the model at its 1 Å/px; big was at it already
    assert by_name["small"]["resampled_to_A_per_px"] == 1.0
    assert "resampled_to_A_per_px" not in by_name["big"]
    assert by_name["big"]["foreground_fraction"] == pytest.approx(
        float((big.data >= 0.5).mean()))
    assert len(by_name["series"]["frame_fractions"]) == 3
    assert "series.tif" in captured.out and "%" in captured.out


def test_sigterm_mid_stack_leaves_no_file_and_exits_143(model_file, inputs, tmp_path,
                                                         monkeypatch, capsys):
    """A batch scheduler's time limit (SIGTERM) is met as Ctrl-C: the stack's temporary
    outputs are removed (they were left as hidden full-size files), exit status 143."""
    import os
    import signal

    from temseg.infer.segmenter import NetworkSegmenter

    _, stack = inputs
    calls = []
    original = NetworkSegmenter.predict_proba

    def killed_on_frame_2(self, image, **kw):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, image, **kw)

    monkeypatch.setattr(NetworkSegmenter, "predict_proba", killed_on_frame_2)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "out"
    code = main(["segment", str(model_file), str(stack), "--out", str(out), "--tile", "64",
                 "--device", "cpu"])
    assert code == 143 and "terminated" in capsys.readouterr().err
    assert len(calls) == 2 and not list(out.glob("*")) and not list(out.glob(".*"))
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is given back


def test_a_folder_named_like_a_shipped_model_is_warned_and_the_model_named(
        tmp_path, rng, monkeypatch, capsys):
    """A folder `graphene` of images here: as the first argument it is an input (the default
    model segments it, said in a warning); --model graphene is the shipped model."""
    monkeypatch.chdir(tmp_path)
    write_tiff(tmp_path / "graphene" / "a.tif", rng.gamma(4, 25, (64, 64)).astype(np.float32))
    assert main(["segment", "graphene", "-o", "o1"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "graphene: the folder here is segmented as an input, with the default model" in err
    assert "model: au_ceo2 (shipped with temseg)" in err
    assert main(["segment", "--model", "graphene", "graphene", "-o", "o2"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "model: graphene (shipped with temseg)" in err and "warning: graphene" not in err
    record = json.loads((tmp_path / "o2" / "record.json").read_text())
    assert Path(record["segmenter"]["path"]).name == "graphene.json"


def test_a_replaced_pixel_size_is_said_and_the_record_names_weights_and_folder(
        model_file, inputs, tmp_path, capsys):
    folder, _ = inputs
    out = tmp_path / "out"
    assert main(["segment", str(model_file), str(folder / "big.tif"), "-o", str(out),
                 "--sampling", "1.5", "--threads", "1", "--device", "cpu"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "big.tif: the file's pixel size 1 Å/px is replaced by the 1.5 Å/px given" in err
    record = json.loads((out / "record.json").read_text())
    entry = record["inputs"][0]
    assert entry["sampling"] == 1.5 and entry["sampling_in_file"] == pytest.approx(1.0)
    model = json.loads(Path(model_file).read_text())
    assert record["segmenter"]["weights_sha256"] == model["weights_sha256"]
    assert record["cwd"] == str(Path.cwd()) and record["config"]["threads"] == 1
    # the same pixel size as the file's: nothing to say
    assert main(["segment", str(model_file), str(folder / "big.tif"), "-o", str(tmp_path / "b"),
                 "--sampling", "1.0", "--device", "cpu"]) == 0
    assert "replaced" not in capsys.readouterr().err


def test_a_movie_keeps_its_frame_time_and_gains_time_and_dose(model_file, tmp_path, capsys,
                                                             rng):
    import csv
    from collections import Counter

    import tifffile

    movie = tmp_path / "movie.tif"  # an ImageJ stack of 4 frames, 0.25 s apart
    tifffile.imwrite(movie, rng.gamma(4, 25, (4, 48, 56)).astype(np.float32), imagej=True,
                     resolution=(10.0, 10.0),
                     metadata={"axes": "TYX", "unit": "nm", "finterval": 0.25, "tunit": "s"})
    out = tmp_path / "out"
    code = main(["segment", str(model_file), str(movie), "-o", str(out), "--device", "cpu",
                 "--particles", "--min-area-px", "1", "--threshold", "0.45",
                 "--dose-rate", "10"])
    assert code == 0, capsys.readouterr().err
    with open(out / "movie_particles.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows, "the tiny model should find some regions at threshold 0.45"
    assert list(rows[0])[:3] == ["frame", "time_s", "dose_e_per_A2"]
    for row in rows:  # the frame's start; the dose by its end at 10 e/Å²/s
        assert float(row["time_s"]) == pytest.approx(0.25 * int(row["frame"]))
        assert float(row["dose_e_per_A2"]) == pytest.approx(2.5 * (int(row["frame"]) + 1))
    for name in ("movie_mask.tif", "movie_prob.tif"):  # Fiji keeps the time calibration
        with tifffile.TiffFile(out / name) as tif:
            meta = tif.imagej_metadata
        assert meta["finterval"] == pytest.approx(0.25) and meta["tunit"] == "s"
    # each particle followed through the movie: its track in the table, the tracks summed up
    with open(out / "movie_tracks.csv") as fh:
        tracks = {int(t["track"]): t for t in csv.DictReader(fh)}
    per_track = Counter(int(r["track"]) for r in rows)
    assert set(per_track) == set(tracks)
    for number, track in tracks.items():
        assert int(track["n_frames"]) == per_track[number]
        assert float(track["last_time_s"]) == pytest.approx(0.25 * int(track["last_frame"]))
    with open(out / "movie_particle_events.csv") as fh:
        assert next(csv.reader(fh))[:4] == ["frame", "time_s", "dose_e_per_A2", "event"]
    assert (out / "movie_tracks.png").stat().st_size > 10_000
    entry = json.loads((out / "record.json").read_text())["inputs"][0]
    assert entry["particles"]["tracks"]["n_tracks"] == len(tracks)
    assert entry["frame_interval_s"] == 0.25 and entry["dose_rate_e_per_A2_s"] == 10
    assert entry["frame_interval_source"] == "ImageJ finterval"
    # --frame-time replaces the file's
    again = tmp_path / "again"
    assert main(["segment", str(model_file), str(movie), "-o", str(again), "--device", "cpu",
                 "--particles", "--min-area-px", "1", "--threshold", "0.45",
                 "--frame-time", "2"]) == 0
    with open(again / "movie_particles.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert "dose_e_per_A2" not in rows[0]
    assert all(float(r["time_s"]) == pytest.approx(2 * int(r["frame"])) for r in rows)
    capsys.readouterr()
    assert main(["segment", str(model_file), str(movie), "-o", str(tmp_path / "bad"),
                 "--frame-time", "-1"]) == 2
    assert "--frame-time: must be a positive number, got -1" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_particles_are_measured_on_the_written_masks(model_file, inputs, tmp_path, capsys):
    import csv

    from temseg.analyze.particles import particle_table

    folder, stack = inputs
    out = tmp_path / "out"
    code = main(["segment", str(model_file), str(folder / "big.tif"), str(stack), "-o", str(out),
                 "--tile", "64", "--device", "cpu", "--particles", "--min-area-px", "4",
                 "--threshold", "0.45"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for name in ("big", "series"):
        assert (out / f"{name}_particles.png").is_file()
    with open(out / "big_particles.csv") as fh:
        big_rows = list(csv.DictReader(fh))
    expected = particle_table(read_image(out / "big_mask.png").data > 0, sampling=1.0,
                              min_area_px=4)
    assert expected, "the tiny model should find some regions at threshold 0.45"
    assert [int(r["area_px"]) for r in big_rows] == [r["area_px"] for r in expected]
    # 1 Å/px: an area in px is the same number / 100 in nm²
    assert float(big_rows[0]["area_nm2"]) == pytest.approx(expected[0]["area_px"] / 100)
    with open(out / "series_particles.csv") as fh:
        series_rows = list(csv.DictReader(fh))
    masks = read_image(out / "series_mask.tif")
    for frame in range(3):
        got = [int(r["area_px"]) for r in series_rows if r["frame"] == str(frame)]
        want = particle_table(masks.frame(frame) > 0, sampling=1.0, min_area_px=4)
        assert got == [r["area_px"] for r in want]
    record = json.loads((out / "record.json").read_text())
    summary = {r["name"]: r["particles"] for r in record["inputs"]}
    assert summary["big"]["particles"] == len(expected)
    assert summary["series"]["particles_per_frame"] == pytest.approx(len(series_rows) / 3)
    assert record["config"]["particles"] == {"min_area_px": 4, "min_area_nm2": None,
                                             "fourier": False}
    assert summary["big"]["min_area_px"] == 4
    assert "per frame" in captured.out
    # the smallest particle in nm²: 0.2 nm² at 1 Å/px (the files' own) is 20 px
    again = tmp_path / "again"
    assert main(["segment", str(model_file), str(folder / "big.tif"), "-o", str(again),
                 "--tile", "64", "--device", "cpu", "--particles", "--min-area-nm2", "0.2",
                 "--threshold", "0.45"]) == 0
    with open(again / "big_particles.csv") as fh:
        areas = [int(r["area_px"]) for r in csv.DictReader(fh)]
    assert areas == [r["area_px"] for r in expected if r["area_px"] >= 20]
    assert json.loads((again / "record.json").read_text())["inputs"][0]["particles"][
        "min_area_px"] == 20
    # an input without a pixel size: an area in nm² has no pixels
    bare = write_tiff(tmp_path / "bare.tif", np.ones((40, 40), np.float32) + np.eye(40))
    assert main(["segment", str(model_file), str(bare), "-o", str(tmp_path / "x"),
                 "--particles", "--min-area-nm2", "0.2"]) == 2
    assert "--min-area-nm2: bare.tif has no pixel size" in capsys.readouterr().err
    # without --particles it does nothing, and says so (it crashed on a file without a size)
    assert main(["segment", str(model_file), str(bare), "-o", str(tmp_path / "y"),
                 "--min-area-nm2", "0.2"]) == 0
    assert "--min-area-nm2 is not used without --particles" in capsys.readouterr().err
    # beside their image, the particle plots are not taken for images by the next run
    from temseg.infer import collect_inputs

    (out / "big.tif").write_bytes((folder / "big.tif").read_bytes())
    assert [p for p in collect_inputs([out]) if p.name.startswith("big")] == [out / "big.tif"]


def test_fourier_columns_and_map_come_from_the_input_image(model_file, tmp_path, capsys):
    import csv

    from temseg.analyze.fourier import particle_reflections
    from temseg.analyze.particles import label_particles

    yy, xx = np.mgrid[:96, :96].astype(np.float32)
    image = 100 + 20 * np.cos(2 * np.pi * xx / 4.0) * np.cos(2 * np.pi * yy / 5.0)
    path = write_tiff(tmp_path / "lattice.tif", image.astype(np.float32), sampling=1.0)
    out = tmp_path / "out"
    code = main(["segment", str(model_file), str(path), "-o", str(out), "--tile", "64",
                 "--device", "cpu", "--fourier", "--threshold", "0.45", "--min-area-px", "4"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (out / "lattice_fourier.png").is_file() and (out / "lattice_particles.csv").is_file()
    with open(out / "lattice_particles.csv") as fh:
        rows = list(csv.DictReader(fh))
    labels = label_particles(read_image(out / "lattice_mask.png").data > 0, min_area_px=4)
    assert rows and len(rows) == labels.max()
    for row in rows:  # each particle's spectrum, of the input image under its own region
        want = particle_reflections(image, labels == int(row["label"]), sampling=1.0)
        assert row["reflections"] == str(want.reflections)
        if want.spacing_A is not None:
            # (the CSV keeps 6 significant digits)
            assert float(row["spacing_A"]) == pytest.approx(want.spacing_A, rel=5e-6)
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["particles"] == {"min_area_px": 4, "min_area_nm2": None,
                                             "fourier": True}
    assert record["inputs"][0]["particles"]["fourier_map"].endswith("lattice_fourier.png")
    # a stack: the median peak ratio of each frame's particles goes into the record
    stack = write_tiff(tmp_path / "films.tif", np.stack([image, image[::-1]]).astype(np.float32),
                       sampling=1.0)
    assert main(["segment", str(model_file), str(stack), "-o", str(out), "--tile", "64",
                 "--device", "cpu", "--fourier", "--threshold", "0.45",
                 "--min-area-px", "4"]) == 0
    with open(out / "films_particles.csv") as fh:
        rows = list(csv.DictReader(fh))
    per_frame = json.loads((out / "record.json").read_text())["inputs"][0]["particles"][
        "frame_peak_ratio"]
    assert len(per_frame) == 2 and any(v is not None for v in per_frame)
    for frame in (0, 1):
        ratios = [float(r["peak_ratio"]) for r in rows
                  if r["frame"] == str(frame) and r["peak_ratio"]]
        assert per_frame[frame] == (pytest.approx(np.median(ratios)) if ratios else None)


def test_a_blank_frame_is_reported_and_the_series_goes_on(model_file, tmp_path, rng, capsys):
    frames = rng.gamma(4, 25, (4, 48, 56)).astype(np.float32)
    frames[2] = 0.0
    stack = write_tiff(tmp_path / "insitu.tif", frames, sampling=1.0)
    out = tmp_path / "out"
    code = main(["segment", str(model_file), str(stack), "-o", str(out), "--tile", "64",
                 "--device", "cpu", "--particles"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    warning = [line for line in captured.err.splitlines() if "blank" in line]
    assert len(warning) == 1 and "insitu.tif" in warning[0] and "frame 2;" in warning[0]
    record = json.loads((out / "record.json").read_text())
    entry = record["inputs"][0]
    assert entry["blank_frames"] == [2] and entry["frame_fractions"][2] is None
    assert not read_image(out / "insitu_mask.tif").frame(2).any()
    import csv

    with open(out / "insitu_particles.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert all(row["frame"] != "2" for row in rows)
    assert "frame_peak_ratio" not in entry["particles"]  # only with --fourier
    # the mean count is over the three frames that were segmented
    assert entry["particles"]["particles_per_frame"] == pytest.approx(len(rows) / 3)


def test_model_option_and_threshold(model_file, inputs, tmp_path, capsys):
    folder, _ = inputs
    out = tmp_path / "out"
    code = main(["segment", "-m", str(model_file), str(folder / "big.tif"), "--out", str(out),
                 "--tile", "64", "--threshold", "0.9", "--window", "gaussian",
                 "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    prob = read_image(out / "big_prob.tif").data
    mask = read_image(out / "big_mask.png").data > 0
    np.testing.assert_array_equal(mask, prob >= 0.9)
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["threshold"] == 0.9 and record["config"]["window"] == "gaussian"


def test_tta_option_averages_dihedral_views(model_file, inputs, tmp_path, capsys):
    from temseg.infer import load_segmenter

    folder, _ = inputs
    image = read_image(folder / "big.tif")
    for flags, out in ((["--tta"], tmp_path / "tta"), ([], tmp_path / "plain")):
        code = main(["segment", "-m", str(model_file), str(folder / "big.tif"), "--out",
                     str(out), "--tile", "64", "--device", "cpu", *flags])
        assert code == 0, capsys.readouterr().err
    seg = load_segmenter(model_file, tile=64, device="cpu", tta=True)
    expected = seg.predict(image.data, sampling=image.sampling)
    tta = read_image(tmp_path / "tta" / "big_prob.tif").data
    np.testing.assert_allclose(tta, expected, atol=1e-6)
    assert np.abs(tta - read_image(tmp_path / "plain" / "big_prob.tif").data).max() > 1e-4
    record = json.loads((tmp_path / "tta" / "record.json").read_text())
    assert record["config"]["tta"] is True and record["segmenter"]["tta"] is True


def test_a_baseline_model_segments_too(tmp_path, capsys):
    from temseg.baselines import BaselineModel, FourierParams, save_baseline
    from temseg.synthetic import particle_image

    model = save_baseline(tmp_path / "fourier.json", BaselineModel("fourier", FourierParams()))
    image, truth = particle_image((96, 96), n_particles=2, noise_sigma=0.1, seed=2)
    path = write_tiff(tmp_path / "particles.tif", image)
    out = tmp_path / "out"
    assert main(["segment", str(model), str(path), "--out", str(out)]) == 0, \
        capsys.readouterr().err
    mask = read_image(out / "particles_mask.png").data > 0
    assert (mask == truth.astype(bool)).mean() > 0.8
    record = json.loads((out / "record.json").read_text())
    assert record["segmenter"]["kind"] == "baseline" and record["segmenter"]["method"] == "fourier"


def test_missing_pixel_size_warns_once_per_file(model_file, tmp_path, rng, capsys):
    image = write_tiff(tmp_path / "plain.tif", rng.gamma(4, 25, (64, 64)).astype(np.float32))
    assert main(["segment", str(model_file), str(image), "--out", str(tmp_path / "o"),
                 "--tile", "64", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert err.count("no pixel size") == 1 and "plain.tif" in err
    # --pixel-size-nm fills it in (0.1 nm = 1 Å): no warning, recorded in Å/px
    assert main(["segment", str(model_file), str(image), "--out", str(tmp_path / "p"),
                 "--tile", "64", "--device", "cpu", "--pixel-size-nm", "0.1"]) == 0
    assert "no pixel size" not in capsys.readouterr().err
    record = json.loads((tmp_path / "p" / "record.json").read_text())
    assert record["inputs"][0]["sampling"] == pytest.approx(1.0)


@pytest.mark.parametrize(("args", "message"), [
    (["MISSING.json", "IMG"], "MISSING.json: no such model file"),
    (["MODEL", "nope.tif"], "nope.tif: no such file or folder"),
    (["MODEL", "TINY"], "smaller than the network's pooling factor of 4"),
    (["MODEL", "BROKEN"], "broken.png"),
    (["MODEL", "CONST"], "const.tif: constant image"),
    (["MODEL"], "give at least one image, stack or folder to segment after the model"),
    (["MODEL", "IMG", "--overlap", "1.5"], "overlap"),
    (["MODEL", "IMG", "--threshold", "2"], "--threshold"),
    (["MODEL", "IMG", "--threshold", "0"], "must be in (0, 1)"),
    (["MODEL", "IMG", "--pixel-size-nm", "1000"], "640000×640000 px; check the pixel size"),
    (["MODEL", "IMG", "--pixel-size-nm", "-0.03"], "--pixel-size-nm -0.03 nm/px: the pixel "
                                                   "size must be positive"),
    (["MODEL", "IMG", "--window", "hann"], "window"),
    (["MODEL", "IMG", "--threads", "0"], "--threads: must be >= 1, got 0"),
])
def test_bad_input_is_one_line_before_any_work(model_file, tmp_path, rng, capsys, args, message):
    img = write_tiff(tmp_path / "img.tif", rng.random((64, 64)).astype(np.float32), sampling=1.0)
    tiny = write_tiff(tmp_path / "tiny.tif", rng.random((3, 64)).astype(np.float32), sampling=1.0)
    const = write_tiff(tmp_path / "const.tif", np.full((64, 64), 7, np.float32), sampling=1.0)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    subst = {"MODEL": str(model_file), "IMG": str(img), "TINY": str(tiny),
             "BROKEN": str(broken), "CONST": str(const),
             "MISSING.json": str(tmp_path / "MISSING.json")}
    argv = [subst.get(a, a) for a in args]
    out = tmp_path / "out"
    code = main(["segment", *argv, "--out", str(out), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error:") and message in err[-1]  # one line, after any bar
    assert sum("error" in line for line in err) == 1
    assert not out.exists()  # not even an empty folder is left behind


def test_a_constant_file_in_a_batch_is_skipped_not_fatal(model_file, tmp_path, rng, capsys):
    """One blank file (beam blanked) among many: warned, recorded, the rest segmented."""
    images = tmp_path / "batch"
    for name in ("a", "c"):
        write_tiff(images / f"{name}.tif", rng.random((64, 64)).astype(np.float32), sampling=1.0)
    write_tiff(images / "b.tif", np.zeros((64, 64), np.float32), sampling=1.0)
    out = tmp_path / "out"
    assert main(["segment", str(model_file), str(images), "-o", str(out), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "b.tif: constant image" in captured.err and "skipped" in captured.err
    assert "skipped 1 constant input(s)" in captured.out
    assert (out / "a_mask.png").is_file() and (out / "c_mask.png").is_file()
    assert not (out / "b_mask.png").exists()
    record = json.loads((out / "record.json").read_text())
    assert [Path(r["input"]).name for r in record["inputs"]] == ["a.tif", "c.tif"]
    assert [Path(r["input"]).name for r in record["skipped"]] == ["b.tif"]
    # all of them blank: nothing to do is an error, and no folder is left
    write_tiff(images / "a.tif", np.ones((64, 64), np.float32), sampling=1.0)
    write_tiff(images / "c.tif", np.ones((64, 64), np.float32), sampling=1.0)
    assert main(["segment", str(model_file), str(images), "-o", str(tmp_path / "none"),
                 "--device", "cpu"]) == 2
    assert "every one is constant" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_an_overlap_that_multiplies_the_work_is_warned_about(model_file, capsys):
    from temseg.cli._segment_inputs import _warn_tile_count
    from temseg.infer import load_segmenter

    plans = [{"path": Path("big.tif"), "shape": (256, 256), "sampling": None}]
    for overlap, warned in ((0.25, False), (0.5, False), (0.99, True)):
        seg = load_segmenter(model_file, tile=64, overlap=overlap, device="cpu")
        _warn_tile_count(seg, plans, overlap)
        err = capsys.readouterr().err
        assert ("--overlap 0.99 makes" in err and "big.tif" in err) if warned else not err


def test_segment_with_a_filter_warns_of_a_far_resampling_as_baseline_apply_does(tmp_path,
                                                                                  capsys):
    """A fitted filter is resampled to its pixel size (its band and blur are in pixels):
    segment said nothing of a 5× resampling with a baseline model, only with a network."""
    from temseg.baselines import BaselineModel, FourierParams, save_baseline

    model = save_baseline(tmp_path / "f.json", BaselineModel("fourier", FourierParams(),
                                                             sampling=0.5))
    path = write_tiff(tmp_path / "fine.tif", np.random.default_rng(0).random((96, 96)) + 1,
                      sampling=0.1)
    main(["segment", str(model), str(path), "--out", str(tmp_path / "out")])
    err = " ".join(capsys.readouterr().err.split())
    assert "0.1 Å/px is 5× finer than the filter's 0.5 Å/px; resampled to 19×19 px" in err


def test_a_folder_of_labels_segmented_into_itself_keeps_its_labels(model_file, tmp_path, rng,
                                                                    capsys):
    import imageio.v3 as iio

    for i in range(2):
        iio.imwrite(tmp_path / f"img{i}.png", rng.integers(0, 255, (48, 48), dtype=np.uint8))
        iio.imwrite(tmp_path / f"img{i}_mask.png", (rng.random((48, 48)) > 0.5).astype(np.uint8))
    label = (tmp_path / "img0_mask.png").read_bytes()
    code = main(["segment", str(model_file), str(tmp_path), "-o", str(tmp_path), "--device",
                 "cpu"])
    assert code == 2  # the hand-drawn img0_mask.png would have been replaced
    assert "img0_mask.png: exists and is no output of an earlier `temseg segment`" in \
        capsys.readouterr().err
    assert (tmp_path / "img0_mask.png").read_bytes() == label
    assert not (tmp_path / "img0_prob.tif").exists()
    # a run into a folder of its own may be repeated: those files are its own
    out = tmp_path / "out"
    for _ in range(2):
        assert main(["segment", str(model_file), str(tmp_path), "-o", str(out), "--device",
                     "cpu"]) == 0
    record = json.loads((out / "record.json").read_text())
    assert [e["name"] for e in record["inputs"]] == ["img0", "img1"]  # the labels left out
    assert main(["segment", str(model_file), str(tmp_path), "-o", str(tmp_path), "--device",
                 "cpu", "--overwrite"]) == 0
    assert (tmp_path / "img0_mask.png").read_bytes() != label


def test_a_movie_saved_a_file_per_frame_is_segmented_as_one_stack(model_file, tmp_path, rng,
                                                                   capsys):
    frames = rng.gamma(4, 25, (3, 48, 56)).astype(np.float32)
    folder = tmp_path / "insitu"
    for i, frame in enumerate(frames):  # frame10 would come after frame2: numbers as numbers
        write_tiff(folder / f"frame{i}.tif", frame, sampling=1.0)
    stack = write_tiff(tmp_path / "stack.tif", frames, sampling=1.0)
    out = tmp_path / "out"
    for given in ([folder, "--as-stack"], [stack]):
        assert main(["segment", str(model_file), *map(str, given), "-o", str(out), "--device",
                     "cpu", "--particles"]) == 0, capsys.readouterr().err
        if given[0] == folder:  # the movie is named after its folder, its files recorded
            entry = json.loads((out / "record.json").read_text())["inputs"][0]
            assert entry["input"] == str(folder) and entry["name"] == "insitu"
            assert entry["frame_files"] == [str(folder / f"frame{i}.tif") for i in range(3)]
    movie, whole = read_image(out / "insitu_prob.tif"), read_image(out / "stack_prob.tif")
    assert movie.data.shape == (3, 48, 56) and movie.sampling == pytest.approx(1.0)
    np.testing.assert_array_equal(np.asarray(movie.data), np.asarray(whole.data))
    assert (out / "insitu_tracks.csv").is_file()
    # a frame of another size is refused, naming it, before any work
    write_tiff(folder / "frame3.tif", frames[0][:40], sampling=1.0)
    capsys.readouterr()
    assert main(["segment", str(model_file), str(folder), "--as-stack", "-o",
                 str(tmp_path / "bad"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "frame3.tif: 40×56 px (H × W), but frame0.tif is 48×56 px" in err
    assert not (tmp_path / "bad").exists()


def test_runs_into_one_folder_may_replace_each_others_outputs(model_file, inputs, tmp_path,
                                                              capsys):
    folder, stack = inputs
    out = tmp_path / "out"
    for given in (folder / "big.tif", folder / "small.tif", folder / "big.tif"):
        # (the third replaced big's outputs although the second run's record lists only
        # small's: every run's outputs are carried from record to record)
        assert main(["segment", str(model_file), str(given), "-o", str(out), "--device",
                     "cpu"]) == 0, capsys.readouterr().err
    record = json.loads((out / "record.json").read_text())
    assert {"big_prob.tif", "small_mask.png"} <= set(record["outputs_in_folder"])


def test_a_movie_segmented_into_its_own_folder_again_skips_its_outputs(model_file, tmp_path,
                                                                       rng, capsys):
    folder = tmp_path / "movie"
    for i in range(3):
        write_tiff(folder / f"f{i}.tif", rng.gamma(4, 25, (32, 40)).astype(np.float32))
    for _ in range(2):  # movie_mask.tif, a stack, was read as a fourth frame the second time
        assert main(["segment", str(model_file), str(folder), "--as-stack", "-o", str(folder),
                     "--device", "cpu", "--frame-time", "0.1"]) == 0, capsys.readouterr().err
    assert read_image(folder / "movie_prob.tif").n_frames == 3
    # a pixel-less single image: --frame-time has nothing to time, and says so
    assert main(["segment", str(model_file), str(folder / "f0.tif"), "-o", str(tmp_path / "one"),
                 "--device", "cpu", "--frame-time", "0.1"]) == 0
    assert "--frame-time/--dose-rate are for stacks; no input is one" in capsys.readouterr().err


def test_the_smallest_particle_is_a_physical_size_by_default(model_file, tmp_path, rng):
    image = write_tiff(tmp_path / "fine.tif", rng.gamma(4, 25, (64, 64)).astype(np.float32),
                       sampling=0.3)  # 16 px would be 0.0144 nm²: a speck, not a particle
    out = tmp_path / "out"
    assert main(["segment", str(model_file), str(image), "-o", str(out), "--device", "cpu",
                 "--particles"]) == 0
    record = json.loads((out / "record.json").read_text())
    assert record["inputs"][0]["particles"]["min_area_px"] == 112  # 0.1 nm² at 0.3 Å/px
    assert record["config"]["particles"]["default"] == "16 px or 0.1 nm²"
    assert main(["segment", str(model_file), str(image), "-o", str(out), "--device", "cpu",
                 "--particles", "--min-area-px", "16"]) == 0
    record = json.loads((out / "record.json").read_text())
    assert record["inputs"][0]["particles"]["min_area_px"] == 16
