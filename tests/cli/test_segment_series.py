"""``temseg segment`` with a focal-series, species model (003): series in, class maps and
column counts out."""

import csv
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from temseg.analyze.columns import count_columns
from temseg.cli.main import main
from temseg.io import write_tiff

SPECIES = ["background", "Mo", "S2", "S1"]


@pytest.fixture(scope="module")
def focal_file(tmp_path_factory, save_focal_model):
    return save_focal_model(tmp_path_factory.mktemp("focal"), sampling=1.0)


def _frames(path, n, seed=0, sampling=1.0):
    data = np.random.default_rng(seed).gamma(4.0, 25.0, (n, 64, 64)).astype(np.float32)
    return write_tiff(path, data if n > 1 else data[0], sampling=sampling)


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_a_stack_of_two_series_gives_class_maps_and_counts(focal_file, tmp_path, capsys):
    stack = _frames(tmp_path / "mos2.tif", 6)
    out = tmp_path / "out"
    code = main(["segment", str(focal_file), str(stack), "-o", str(out), "--tile", "64",
                 "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == [
        "mos2_column_events.csv", "mos2_columns.csv", "mos2_counts.csv", "mos2_counts.png",
        "mos2_events.csv", "mos2_mask.tif", "mos2_overlay.png", "mos2_prob.tif", "record.json"]
    prob = tifffile.imread(out / "mos2_prob.tif")
    mask = tifffile.imread(out / "mos2_mask.tif")
    assert prob.shape == (2, 4, 64, 64) and prob.dtype == np.float32
    assert mask.shape == (2, 64, 64) and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, prob.argmax(1))
    rows = _rows(out / "mos2_counts.csv")
    assert len(rows) == 2 and [r["first_frame"] for r in rows] == ["0", "3"]
    for name in SPECIES[1:]:
        assert {f"{name}_count", f"{name}_area_px", f"{name}_area_nm2"} <= set(rows[0])
    # the counts are those of the written masks, specks under 3 px left out
    for i, row in enumerate(rows):
        expected = count_columns(mask[i], classes=SPECIES, sampling=1.0, min_area_px=3)
        for name in SPECIES[1:]:
            assert int(row[f"{name}_count"]) == expected[name]["count"]
            assert float(row[f"{name}_area_nm2"]) == pytest.approx(
                expected[name]["area_px"] * 0.01)
    assert sum(int(r["Mo_count"]) + int(r["S2_count"]) for r in rows) > 0
    # every counted column once in NAME_columns.csv, its centre on a pixel of its class
    columns = _rows(out / "mos2_columns.csv")
    for i, row in enumerate(rows):
        for c, name in enumerate(SPECIES[1:], start=1):
            mine = [r for r in columns if r["series"] == str(i) and r["class"] == name]
            assert len(mine) == int(row[f"{name}_count"])
            assert sum(int(r["area_px"]) for r in mine) == int(row[f"{name}_area_px"])
    for r in columns:
        assert float(r["x_nm"]) == pytest.approx(float(r["x_px"]) * 0.1, abs=1e-3)
        y, x = round(float(r["y_px"])), round(float(r["x_px"]))
        near = mask[int(r["series"]), max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
        assert (near == SPECIES.index(r["class"])).any()
    # each event names its columns by the ids of NAME_columns.csv and sits on one of them
    by_id = {(r["series"], r["column"]): r for r in columns}
    assert sorted(int(r["column"]) for r in columns if r["series"] == "1") == list(
        range(sum(int(rows[1][f"{n}_count"]) for n in SPECIES[1:])))
    places = _rows(out / "mos2_column_events.csv")
    events = _rows(out / "mos2_events.csv")
    for kind, key in (("appeared", "appeared"), ("vanished", "vanished")):
        assert sum(p["event"] == kind for p in places) == sum(
            int(e[f"{n}_{key}"]) for e in events for n in SPECIES[1:])
    assert sum(p["event"] == "changed" for p in places) == sum(
        int(e[f"{a}_to_{b}"]) for e in events for a in SPECIES[1:] for b in SPECIES[1:]
        if a != b)
    assert places, "an untrained model's columns come and go between the two series"
    for p in places:
        for side in ("from", "to"):
            if p[f"{side}_column"]:
                column = by_id[(p[f"{side}_series"], p[f"{side}_column"])]
                assert column["class"] == p[f"{side}_class"]
        at = by_id[(p["to_series"], p["to_column"])] if p["to_column"] else by_id[
            (p["from_series"], p["from_column"])]
        assert (at["x_px"], at["y_px"]) == (p["x_px"], p["y_px"])
        assert float(p["x_nm"]) == pytest.approx(float(p["x_px"]) * 0.1, abs=1e-3)
    record = json.loads((out / "record.json").read_text())
    assert record["classes"] == SPECIES
    assert record["channels"] == ["Δf -50 Å", "Δf +0 Å", "Δf +50 Å"]
    assert record["segmenter"]["in_channels"] == 3
    entry = record["inputs"][0]
    assert entry["frames_per_series"] == 3 and len(entry["series_fractions"]) == 2
    assert entry["counts"]["csv"].endswith("mos2_counts.csv")
    assert set(entry["counts"]["per_class"]) == set(SPECIES[1:])
    assert iio.imread(out / "mos2_overlay.png").shape[1] >= 512
    assert "Mo columns" in captured.out and "per series" in captured.out
    # which frame feeds which defocus, with abTEM's sign (the order cannot be seen in images)
    assert ("each focal series: frame 1 → Δf -50 Å, frame 2 → Δf +0 Å, frame 3 → Δf +50 Å "
            "(Δf as abTEM: positive = underfocus)") in " ".join(captured.out.split())


def test_one_series_writes_a_png_mask_and_no_plot(focal_file, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["segment", str(focal_file), str(_frames(tmp_path / "one.tif", 3)), "-o",
                 str(out), "--tile", "64", "--device", "cpu", "--min-column-px", "1"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "one_columns.csv", "one_counts.csv", "one_mask.png", "one_overlay.png", "one_prob.tif",
        "record.json"]
    assert tifffile.imread(out / "one_prob.tif").shape == (4, 64, 64)
    assert len(_rows(out / "one_counts.csv")) == 1


@pytest.mark.parametrize(("frames", "tail"), [
    (5, "the file has 5 frames"),
    (1, "the file is a single image (images of a series in files of their own: "
        "--series-files)")])
def test_not_a_focal_series_is_one_line_before_any_work(focal_file, tmp_path, capsys, frames,
                                                        tail):
    bad = _frames(tmp_path / "bad.tif", frames)
    out = tmp_path / "out"
    code = main(["segment", str(focal_file), str(bad), "-o", str(out), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2
    line = err.strip().splitlines()  # the error alone: no progress bar of the check before
    assert line == [f"error: {bad}: the model takes focal series of 3 images "
                    f"(Δf -50, +0, +50 Å) (stacks of 3·n frames, n series); {tail}"]
    assert not out.exists()


def test_a_blank_series_is_reported_and_counted_as_blank(focal_file, tmp_path, capsys):
    data = np.random.default_rng(2).gamma(4.0, 25.0, (6, 64, 64)).astype(np.float32)
    data[3] = 1.0
    stack = write_tiff(tmp_path / "b.tif", data)  # no pixel size: px only, warned
    out = tmp_path / "out"
    code = main(["segment", str(focal_file), str(stack), "-o", str(out), "--tile", "64",
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    # the series and the blank frame within the file, both 0-based
    assert "1 focal series with a blank (constant) image not segmented (series 1; " \
           "constant: frame 3 of the file; 0-based)" in " ".join(err.split())
    rows = _rows(out / "b_counts.csv")
    assert [r["blank"] for r in rows] == ["False", "True"] and rows[1]["Mo_count"] == ""
    assert "Mo_area_nm2" not in rows[0]


def test_a_one_channel_species_model_counts_per_frame(tmp_path, capsys):
    import torch

    from temseg.models import ModelConfig, build_model, save_model

    torch.manual_seed(1)
    net = build_model("resunet", classes=4, blocks=1, filters=2)
    save_model(tmp_path / "m", net, ModelConfig(architecture="resunet", options=net.options,
                                                classes=SPECIES, sampling=1.0,
                                                preprocessing={"remove_outliers": False}))
    out = tmp_path / "out"
    code = main(["segment", str(tmp_path / "m.json"), str(_frames(tmp_path / "st.tif", 2)),
                 str(_frames(tmp_path / "im.tif", 1, seed=1)), "-o", str(out), "--tile", "64",
                 "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert {"st_counts.csv", "st_counts.png", "st_mask.tif", "im_counts.csv",
            "im_mask.png"} <= {p.name for p in out.iterdir()}
    assert [r["first_frame"] for r in _rows(out / "st_counts.csv")] == ["0", "1"]
    assert tifffile.imread(out / "st_prob.tif").shape == (2, 4, 64, 64)
    assert "per frame" in captured.out
    record = json.loads((out / "record.json").read_text())
    assert record["channels"] is None and "frame_fractions" in record["inputs"][0]


def test_particles_of_a_focal_series_model_are_indexed_by_series(focal_file, tmp_path, capsys):
    from temseg.analyze.particles import particle_table

    stack = _frames(tmp_path / "p.tif", 6)
    out = tmp_path / "out"
    code = main(["segment", str(focal_file), str(stack), "-o", str(out), "--tile", "64",
                 "--device", "cpu", "--fourier", "--min-area-px", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "--particles with a 4-class model: a particle is a connected region of all " \
           "foreground classes together (Mo, S2, S1)" in captured.err
    rows = _rows(out / "p_particles.csv")
    assert list(rows[0])[:3] == ["series", "first_frame", "label"]
    assert "frame" not in rows[0]
    mask = tifffile.imread(out / "p_mask.tif")
    for series in range(2):  # the particles of each series' foreground, the frame it starts at
        got = [r for r in rows if r["series"] == str(series)]
        want = particle_table(mask[series] > 0, sampling=1.0, min_area_px=2)
        assert [int(r["area_px"]) for r in got] == [r["area_px"] for r in want]
        assert {r["first_frame"] for r in got} == {str(3 * series)}
    summary = json.loads((out / "record.json").read_text())["inputs"][0]["particles"]
    assert summary["particles_per_series"] == pytest.approx(len(rows) / 2)
    assert "particles_per_frame" not in summary and len(summary["series_peak_ratio"]) == 2
    assert "per series" in captured.out and "per frame" not in captured.out


def test_a_bad_frame_half_way_through_a_batch_leaves_a_recorded_folder(focal_file, tmp_path,
                                                                        capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _frames(folder / "a.tif", 3)
    data = np.random.default_rng(5).gamma(4.0, 25.0, (6, 64, 64)).astype(np.float32)
    data[4, 3, 3] = np.nan  # found only when series 1 is read, after the checks
    write_tiff(folder / "b.tif", data, sampling=1.0)
    out = tmp_path / "out"
    code = main(["segment", str(focal_file), str(folder), "-o", str(out), "--tile", "64",
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: 1 of 2 inputs failed: {folder / 'b.tif'}: frame 4 has 1 NaN/inf pixel(s); "
        f"the other results and record.json (its 'failed' list) are in {out}"]
    record = json.loads((out / "record.json").read_text())
    assert [e["name"] for e in record["inputs"]] == ["a"]
    assert record["failed"] == [{"input": str(folder / "b.tif"),
                                 "reason": f"{folder / 'b.tif'}: frame 4 has 1 NaN/inf pixel(s)"}]
    assert not [p for p in out.iterdir() if p.name.startswith("b")]  # no half-written outputs


def test_a_pixel_size_far_from_the_models_is_warned(focal_file, tmp_path, capsys):
    stack = _frames(tmp_path / "coarse.tif", 3, sampling=4.0)  # the model works at 1 Å/px
    out = tmp_path / "out"
    code = main(["segment", str(focal_file), str(stack), "-o", str(out), "--tile", "64",
                 "--device", "cpu"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 0, err
    assert f"warning: {stack}: 4 Å/px is 4× coarser than the model's 1 Å/px; resampled to " \
           "256×256 px (check the pixel size)" in err
    assert main(["segment", str(focal_file), str(_frames(tmp_path / "ok.tif", 3, sampling=2.0)),
                 "-o", str(tmp_path / "ok"), "--tile", "64", "--device", "cpu"]) == 0
    assert "coarser" not in capsys.readouterr().err


def test_series_recorded_in_another_order_are_read_in_the_models(focal_file, tmp_path, capsys):
    data = np.random.default_rng(4).gamma(4.0, 25.0, (6, 64, 64)).astype(np.float32)
    write_tiff(tmp_path / "model_order.tif", data, sampling=1.0)
    # the same two series recorded from the last channel to the first (over- to underfocus)
    reverse = data.reshape(2, 3, 64, 64)[:, ::-1].reshape(6, 64, 64)
    write_tiff(tmp_path / "reversed.tif", reverse, sampling=1.0)
    common = ["--tile", "64", "--device", "cpu"]
    assert main(["segment", str(focal_file), str(tmp_path / "model_order.tif"),
                 "-o", str(tmp_path / "a"), *common]) == 0
    assert main(["segment", str(focal_file), str(tmp_path / "reversed.tif"),
                 "-o", str(tmp_path / "b"), "--series-order", "2,1,0", *common]) == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "a" / "model_order_prob.tif"),
                                  tifffile.imread(tmp_path / "b" / "reversed_prob.tif"))
    record = json.loads((tmp_path / "b" / "record.json").read_text())
    assert record["config"]["series_order"] == [2, 1, 0]
    # read in the file's order instead, the network sees other channels: other maps
    assert main(["segment", str(focal_file), str(tmp_path / "reversed.tif"),
                 "-o", str(tmp_path / "c"), *common]) == 0
    assert not np.array_equal(tifffile.imread(tmp_path / "a" / "model_order_prob.tif"),
                              tifffile.imread(tmp_path / "c" / "reversed_prob.tif"))
    capsys.readouterr()
    for bad in ("0,1", "0,1,1", "2;1;0"):
        assert main(["segment", str(focal_file), str(tmp_path / "reversed.tif"),
                     "-o", str(tmp_path / "d"), "--series-order", bad, *common]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: series order:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()


def test_series_order_with_a_single_image_model_is_refused(save_tiny_model, tmp_path, capsys):
    model = save_tiny_model(tmp_path, sampling=1.0)
    image = _frames(tmp_path / "one.tif", 1)
    assert main(["segment", str(model), str(image), "-o", str(tmp_path / "o"),
                 "--series-order", "1,0"]) == 2
    assert "takes single images" in capsys.readouterr().err


def test_series_files_are_read_as_the_stack_of_their_images(focal_file, tmp_path, capsys):
    data = np.random.default_rng(6).gamma(4.0, 25.0, (6, 64, 64)).astype(np.float32)
    write_tiff(tmp_path / "stack.tif", data[:3], sampling=1.0)
    folder = tmp_path / "files"
    folder.mkdir()
    for i, frame in enumerate(data):  # two series of three defoci, one file per image
        write_tiff(folder / f"df{i}.tif", frame, sampling=1.0)
    common = ["--tile", "64", "--device", "cpu"]
    assert main(["segment", str(focal_file), str(tmp_path / "stack.tif"),
                 "-o", str(tmp_path / "a"), *common]) == 0
    assert main(["segment", str(focal_file), str(folder), "--series-files",
                 "-o", str(tmp_path / "b"), *common]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "b").glob("*_prob.tif")) == [
        "df0_prob.tif", "df3_prob.tif"]
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "a" / "stack_prob.tif"),
                                  tifffile.imread(tmp_path / "b" / "df0_prob.tif"))
    record = json.loads((tmp_path / "b" / "record.json").read_text())
    assert record["config"]["series_files"] is True
    assert [Path(p).name for p in record["inputs"][1]["series_files"]] == [
        "df3.tif", "df4.tif", "df5.tif"]
    assert _rows(tmp_path / "b" / "df3_counts.csv")[0]["series"] == "0"


def test_series_files_in_another_order_and_with_repeated_stems(focal_file, tmp_path, capsys):
    data = np.random.default_rng(9).gamma(4.0, 25.0, (3, 64, 64)).astype(np.float32)
    write_tiff(tmp_path / "stack.tif", data, sampling=1.0)
    for folder in ("x", "y"):  # the same series twice, files from over- to underfocus
        (tmp_path / folder).mkdir()
        for i, frame in enumerate(data[::-1]):
            write_tiff(tmp_path / folder / f"img{i}.tif", frame, sampling=1.0)
    common = ["--tile", "64", "--device", "cpu"]
    assert main(["segment", str(focal_file), str(tmp_path / "stack.tif"),
                 "-o", str(tmp_path / "a"), *common]) == 0
    capsys.readouterr()
    assert main(["segment", str(focal_file), str(tmp_path / "x"), str(tmp_path / "y"),
                 "--series-files", "--series-order", "2,1,0", "-o", str(tmp_path / "b"),
                 *common]) == 0
    out = " ".join(capsys.readouterr().out.split())
    # the grouping is shown: file → the model's channel it feeds
    assert "series img0: img0.tif → Δf +50 Å, img1.tif → Δf +0 Å, img2.tif → Δf -50 Å" in out
    expected = tifffile.imread(tmp_path / "a" / "stack_prob.tif")
    for name in ("img0", "img0_2"):  # one output name per series, numbered where stems repeat
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "b" / f"{name}_prob.tif"),
                                      expected)
    # a series of files from two folders is warned about (a grouping slipped by one file?)
    mixed = [str(tmp_path / "x" / "img0.tif"), str(tmp_path / "x" / "img1.tif"),
             str(tmp_path / "y" / "img2.tif")]
    assert main(["segment", str(focal_file), *mixed, "--series-files", "-o",
                 str(tmp_path / "c"), *common]) == 0
    assert "series img0: its files come from different folders" in capsys.readouterr().err


def test_series_files_of_a_folder_are_ordered_with_their_signs(focal_file, tmp_path, capsys):
    # the audit's case: s0_df-50, s0_df0, s0_df50, s1_...: df0 was fed to Δf -50 Å
    data = np.random.default_rng(11).gamma(4.0, 25.0, (6, 64, 64)).astype(np.float32)
    data[[0, 3]] *= np.linspace(0.5, 1.5, 64, dtype=np.float32)  # channels unlike each other
    write_tiff(tmp_path / "stack.tif", data, sampling=1.0)  # in the model's order
    folder = tmp_path / "defoci"
    folder.mkdir()
    for i, frame in enumerate(data):
        write_tiff(folder / f"s{i // 3}_df{(-50, 0, 50)[i % 3]}.tif", frame, sampling=1.0)
    common = ["--tile", "64", "--device", "cpu"]
    assert main(["segment", str(focal_file), str(tmp_path / "stack.tif"), "-o",
                 str(tmp_path / "a"), *common]) == 0
    capsys.readouterr()
    assert main(["segment", str(focal_file), str(folder), "--series-files", "-o",
                 str(tmp_path / "b"), *common]) == 0
    captured = capsys.readouterr()
    out, err = " ".join(captured.out.split()), " ".join(captured.err.split())
    for s in (0, 1):  # each file → its channel, with the sign of the channel names
        assert f"series s{s}_df-50: s{s}_df-50.tif → Δf -50 Å, s{s}_df0.tif → Δf +0 Å, " \
               f"s{s}_df50.tif → Δf +50 Å (Δf as abTEM: positive = underfocus)" in out
    expected = tifffile.imread(tmp_path / "a" / "stack_prob.tif")
    for s in (0, 1):
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "b" / f"s{s}_df-50_prob.tif"),
                                      expected[s])
    # that signs were read is said once, naming the folder
    assert err.count("ordered with the signs of their numbers read") == 1
    assert f"{folder}: files ordered with the signs" in err
    # files given are the user's order: shown, never warned about, even signed ones
    given = [str(folder / f"s0_df{d}.tif") for d in (-50, 0, 50)]
    assert main(["segment", str(focal_file), *given, "--series-files", "-o",
                 str(tmp_path / "c"), *common]) == 0
    captured = capsys.readouterr()
    assert "s0_df-50.tif → Δf -50 Å, s0_df0.tif → Δf +0 Å" in " ".join(captured.out.split())
    assert "signs" not in captured.err and "ordered" not in captured.err
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "c" / "s0_df-50_prob.tif"),
                                  expected[0])
    assert main(["segment", str(focal_file), *given[::-1], "--series-files", "-o",
                 str(tmp_path / "d"), *common]) == 0
    captured = capsys.readouterr()
    assert "series s0_df50: s0_df50.tif → Δf -50 Å" in " ".join(captured.out.split())
    assert "signs" not in captured.err and "ordered" not in captured.err


def test_series_files_of_a_folder_go_in_number_order_and_a_constant_one_is_named(
        focal_file, tmp_path, capsys):
    data = np.random.default_rng(10).gamma(4.0, 25.0, (12, 64, 64)).astype(np.float32)
    folder = tmp_path / "numbered"
    folder.mkdir()
    for i, frame in enumerate(data, start=1):  # frame1 … frame12, as acquisition software
        write_tiff(folder / f"frame{i}.tif", frame, sampling=1.0)
    common = ["--tile", "64", "--device", "cpu"]
    assert main(["segment", str(focal_file), str(folder), "--series-files", "-o",
                 str(tmp_path / "a"), *common]) == 0, capsys.readouterr().err
    out = " ".join(capsys.readouterr().out.split())
    assert "series frame10: frame10.tif → Δf -50 Å, frame11.tif → Δf +0 Å, " \
           "frame12.tif → Δf +50 Å" in out
    write_tiff(tmp_path / "stack.tif", data[9:12], sampling=1.0)
    assert main(["segment", str(focal_file), str(tmp_path / "stack.tif"), "-o",
                 str(tmp_path / "b"), *common]) == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "a" / "frame10_prob.tif"),
                                  tifffile.imread(tmp_path / "b" / "stack_prob.tif"))
    # a constant image (beam blanked at one defocus) is named, not the series' first file
    write_tiff(folder / "frame5.tif", np.full((64, 64), 5.0, np.float32), sampling=1.0)
    assert main(["segment", str(focal_file), str(folder), "--series-files", "-o",
                 str(tmp_path / "c"), *common]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"{folder / 'frame5.tif'}: constant image in the series of frame4.tif" in err
    record = json.loads((tmp_path / "c" / "record.json").read_text())
    assert [Path(p).name for p in record["skipped"][0]["series_files"]] == [
        "frame4.tif", "frame5.tif", "frame6.tif"]


def test_bad_series_files_are_one_line_before_any_work(focal_file, save_tiny_model, tmp_path,
                                                        capsys):
    rng = np.random.default_rng(7)

    def image(name, shape=(64, 64), sampling=1.0, frames=None):
        data = rng.gamma(4.0, 25.0, (frames, *shape) if frames else shape)
        return str(write_tiff(tmp_path / name, data.astype(np.float32), sampling=sampling))

    a, b, c = image("a.tif"), image("b.tif"), image("c.tif")
    cases = [
        ([a, b], "--series-files: the model takes focal series of 3 images; 2 file(s) given"),
        ([a, b, image("s.tif", frames=3)], "s.tif: a stack of 3 frames; --series-files takes "
                                           "one image per file"),
        ([a, b, image("big.tif", shape=(64, 80))], "big.tif: 64×80 px (H × W), but a.tif is "
                                                   "64×64 px"),
        ([a, image("px.tif", sampling=1.1), c], "px.tif: 1.1 Å/px, but a.tif has 1 Å/px"),
    ]
    for inputs, message in cases:
        code = main(["segment", str(focal_file), *inputs, "--series-files", "-o",
                     str(tmp_path / "out"), "--device", "cpu"])
        err = capsys.readouterr().err
        lines = [e for e in err.splitlines() if e.startswith("error:")]
        assert code == 2 and len(lines) == 1 and message in lines[0], err
        assert not (tmp_path / "out").exists()
    for repeated in ([a, a, b], [str(tmp_path), a]):  # also a file inside a folder given
        code = main(["segment", str(focal_file), *repeated, "--series-files", "-o",
                     str(tmp_path / "out"), "--device", "cpu"])
        assert code == 2 and "--series-files: a.tif is given 2 times" in capsys.readouterr().err
    model = save_tiny_model(tmp_path / "tiny", sampling=1.0)
    assert main(["segment", str(model), a, b, c, "--series-files", "-o",
                 str(tmp_path / "out")]) == 2
    assert "--series-files: the model takes single images" in capsys.readouterr().err


def _write_emd(path, data, *, pixel_nm):
    from rsciio.emd import file_writer

    axes = [{"name": n, "size": s, "scale": pixel_nm if n in "xy" else 1.0, "offset": 0.0,
             "units": "nm" if n in "xy" else "", "navigate": n == "frame"}
            for n, s in zip(["frame", "y", "x"], data.shape)]
    file_writer(str(path), {"data": data, "axes": axes,
                            "metadata": {"General": {"title": "focal series"}, "Signal": {}},
                            "original_metadata": {}})


@pytest.mark.parametrize("suffix", [".mrc", ".emd"])
def test_a_focal_stack_in_a_microscope_format_is_segmented_as_its_tiff(
        focal_file, tmp_path, capsys, write_mrc, suffix):
    data = np.random.default_rng(8).gamma(4.0, 25.0, (6, 64, 64)).astype(np.float32)
    write_tiff(tmp_path / "series.tif", data, sampling=1.0)
    if suffix == ".mrc":
        write_mrc(tmp_path / "series.mrc", data, sampling=1.0)  # cell in Å
    else:
        pytest.importorskip("h5py")
        _write_emd(tmp_path / "series.emd", data, pixel_nm=0.1)
    common = ["--tile", "64", "--device", "cpu"]
    assert main(["segment", str(focal_file), str(tmp_path / "series.tif"),
                 "-o", str(tmp_path / "a"), *common]) == 0
    assert main(["segment", str(focal_file), str(tmp_path / f"series{suffix}"),
                 "-o", str(tmp_path / "b"), *common]) == 0, capsys.readouterr().err
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "a" / "series_prob.tif"),
                                  tifffile.imread(tmp_path / "b" / "series_prob.tif"))
    entry = json.loads((tmp_path / "b" / "record.json").read_text())["inputs"][0]
    assert entry["sampling"] == pytest.approx(1.0, rel=1e-6)
    assert entry["frames_per_series"] == 3 and len(entry["series_fractions"]) == 2
    columns = _rows(tmp_path / "b" / "series_columns.csv")
    assert columns and float(columns[0]["x_nm"]) == pytest.approx(
        float(columns[0]["x_px"]) * 0.1, abs=1e-3)


def test_specks_are_sized_at_the_models_pixel_size(focal_file, tmp_path, capsys):
    common = ["--tile", "64", "--device", "cpu"]
    for sampling, option, expected in ((1.0, [], 3), (0.5, [], 12), (0.5, ["--min-column-px",
                                                                        "5"], 5)):
        image = _frames(tmp_path / f"s{sampling}.tif", 3, sampling=sampling)
        out = tmp_path / f"out{sampling}{len(option)}"
        assert main(["segment", str(focal_file), str(image), "-o", str(out), *option,
                     *common]) == 0, capsys.readouterr().err
        entry = json.loads((out / "record.json").read_text())["inputs"][0]
        assert entry["counts"]["min_column_px"] == expected
    # the counts of the finer image leave out regions under 12 px
    mask = np.asarray(iio.imread(tmp_path / "out0.50" / "s0.5_mask.png"))
    row = _rows(tmp_path / "out0.50" / "s0.5_counts.csv")[0]
    expected = count_columns(mask, classes=SPECIES, sampling=0.5, min_area_px=12)
    assert int(row["Mo_count"]) == expected["Mo"]["count"]
    assert expected["Mo"]["count"] < count_columns(mask, classes=SPECIES,
                                                   min_area_px=3)["Mo"]["count"]


def test_a_stack_of_series_follows_its_columns_across_the_drift(focal_file, tmp_path, capsys):
    rng = np.random.default_rng(12)
    yy, xx = np.mgrid[:140, :112]
    blobs = sum(np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0)
                for y, x in rng.uniform(4, 108, (75, 2)) * [1.25, 1])  # column-like blobs
    field = np.stack([100 + 80 * blobs * s + rng.normal(0, 2, (140, 112)) for s in (1, -1, 1)])
    data = field[:, 8:104, 8:104].astype(np.float32)
    moved = field[:, 6:102, 11:107].astype(np.float32)  # the field of view moved: drift (2, -3)
    blank = np.full_like(data, 50.0)  # the beam blanked for one series
    write_tiff(tmp_path / "drift.tif", np.concatenate([data, blank, moved]), sampling=1.0)
    out = tmp_path / "out"
    assert main(["segment", str(focal_file), str(tmp_path / "drift.tif"), "-o", str(out),
                 "--tile", "96", "--device", "cpu", "--column-distance", "1.5"]) == 0, \
        capsys.readouterr().err
    (row,) = _rows(out / "drift_events.csv")  # the blank series is passed over
    assert (row["from_series"], row["to_series"]) == ("0", "2")
    assert float(row["drift_y_px"]) == pytest.approx(2.0, abs=0.15)
    assert float(row["drift_x_px"]) == pytest.approx(-3.0, abs=0.15)
    # the same regions, moved: paired with themselves, hardly any changing class (this
    # untrained model's regions within its receptive field of a cut edge come and go; the
    # pairing and the edge rule are tested exactly in tests/analyze/test_columns.py)
    paired = int(row["paired"])
    kept = sum(int(v) for k, v in row.items() if k.endswith("_kept"))
    assert paired >= 20 and kept >= 0.9 * paired, row
    # a drift of a quarter of the field or more is warned about: a lattice may pair wrongly
    far = field[:, 34:130, 8:104].astype(np.float32)
    write_tiff(tmp_path / "far.tif", np.concatenate([data, far]), sampling=1.0)
    assert main(["segment", str(focal_file), str(tmp_path / "far.tif"), "-o",
                 str(tmp_path / "o3"), "--tile", "96", "--device", "cpu"]) == 0
    assert "series 0 → 1: a drift of 26 px, a quarter of the field or more" in " ".join(
        capsys.readouterr().err.split())
    record = json.loads((out / "record.json").read_text())
    assert record["inputs"][0]["events"]["totals"]["paired"] == int(row["paired"])
    # without a pixel size there is no distance in Å: no events, and it says so
    write_tiff(tmp_path / "nocal.tif", np.concatenate([data, moved]))  # no pixel size
    assert main(["segment", str(focal_file), str(tmp_path / "nocal.tif"), "-o",
                 str(tmp_path / "o2"), "--tile", "96", "--device", "cpu"]) == 0
    assert "columns not followed from series to series" in capsys.readouterr().err
    assert not (tmp_path / "o2" / "nocal_events.csv").exists()


def test_counts_tell_whole_columns_and_events_the_drift_in_nm_from_the_first_series(
        focal_file, tmp_path, capsys):
    from skimage import measure
    from skimage.segmentation import clear_border

    rng = np.random.default_rng(12)
    yy, xx = np.mgrid[:140, :112]
    blobs = sum(np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0)
                for y, x in rng.uniform(4, 108, (75, 2)) * [1.25, 1])
    field = np.stack([100 + 80 * blobs * s + rng.normal(0, 2, (140, 112)) for s in (1, -1, 1)])
    # the field of view moves by (2, -3) px from each series to the next
    series = [field[:, 8 - 2 * k:104 - 2 * k, 8 + 3 * k:104 + 3 * k] for k in range(3)]
    write_tiff(tmp_path / "walk.tif", np.concatenate(series).astype(np.float32), sampling=1.0)
    out = tmp_path / "out"
    assert main(["segment", str(focal_file), str(tmp_path / "walk.tif"), "-o", str(out),
                 "--tile", "96", "--device", "cpu", "--column-distance", "1.5"]) == 0, \
        capsys.readouterr().err
    events = _rows(out / "walk_events.csv")
    assert [(r["from_series"], r["to_series"]) for r in events] == [("0", "1"), ("1", "2")]
    for r in events:
        assert float(r["drift_y_nm"]) == pytest.approx(float(r["drift_y_px"]) * 0.1, abs=2e-3)
        assert float(r["drift_x_nm"]) == pytest.approx(float(r["drift_x_px"]) * 0.1, abs=2e-3)
    # summed from the first series: the second step adds to the first
    assert float(events[0]["cum_drift_y_px"]) == pytest.approx(float(events[0]["drift_y_px"]))
    assert float(events[1]["cum_drift_y_px"]) == pytest.approx(4.0, abs=0.3)
    assert float(events[1]["cum_drift_x_px"]) == pytest.approx(-6.0, abs=0.3)
    assert float(events[1]["cum_drift_x_nm"]) == pytest.approx(
        float(events[1]["cum_drift_x_px"]) * 0.1, abs=2e-3)
    record = json.loads((out / "record.json").read_text())
    assert not any("drift" in k for k in record["inputs"][0]["events"]["totals"])
    # whole columns: those a clear_border of the written mask keeps (specks of 3 px left out)
    mask = tifffile.imread(out / "walk_mask.tif")
    counts = _rows(out / "walk_counts.csv")
    columns = _rows(out / "walk_columns.csv")
    cut = 0
    for i, row in enumerate(counts):
        for c, name in enumerate(SPECIES[1:], start=1):
            labels = measure.label(mask[i] == c, connectivity=1)
            sizes = np.bincount(clear_border(labels).ravel())[1:]
            assert int(row[f"{name}_count_whole"]) == int((sizes >= 3).sum())
            mine = [r for r in columns if r["series"] == str(i) and r["class"] == name]
            whole = [r for r in mine if r["touches_border"] == "False"]
            assert len(whole) == int(row[f"{name}_count_whole"])
            cut += int(row[f"{name}_count"]) - len(whole)
    assert cut > 0  # a 96 px field of columns has some cut by its edge


def test_regions_too_large_for_a_column_are_warned_of_once_per_input(focal_file, tmp_path,
                                                                      capsys):
    # this untrained model maps gamma noise at 1 Å/px to regions of several nm²
    stack = _frames(tmp_path / "blobs.tif", 9)
    out = tmp_path / "out"
    assert main(["segment", str(focal_file), str(stack), "-o", str(out), "--tile", "64",
                 "--device", "cpu"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("too large for one atomic column") == 1, err
    columns = _rows(out / "blobs_columns.csv")
    big = [float(r["area_nm2"]) for r in columns if float(r["area_nm2"]) > 0.2]
    series = {r["series"] for r in columns if float(r["area_nm2"]) > 0.2}
    assert f"blobs.tif: {len(big)} region(s) in {len(series)} focal series too large for one " \
           f"atomic column (area > 0.2 nm²; largest {max(big):.2f} nm²)" in err
    oversized = json.loads((out / "record.json").read_text())["inputs"][0]["counts"]["oversized"]
    assert oversized["regions"] == len(big) and oversized["largest_nm2"] == pytest.approx(max(big))
    # without a pixel size: regions over 20× the median, their size in px
    write_tiff(tmp_path / "nocal.tif", tifffile.imread(stack))
    assert main(["segment", str(focal_file), str(tmp_path / "nocal.tif"), "-o",
                 str(tmp_path / "o2"), "--tile", "64", "--device", "cpu"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    columns = _rows(tmp_path / "o2" / "nocal_columns.csv")
    big = []
    for i in range(3):
        areas = np.array([int(r["area_px"]) for r in columns if r["series"] == str(i)])
        big += areas[areas > 20 * np.median(areas)].tolist()
    assert big and f"nocal.tif: {len(big)} region(s) in 3 focal series too large for one " \
        f"atomic column (area > 20× the median column area; largest {max(big)} px)" in err


def test_series_files_of_several_series_are_followed_as_one_stack(focal_file, tmp_path,
                                                                   capsys):
    rng = np.random.default_rng(12)
    yy, xx = np.mgrid[:140, :112]
    blobs = sum(np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0)
                for y, x in rng.uniform(4, 108, (75, 2)) * [1.25, 1])
    field = np.stack([100 + 80 * blobs * s + rng.normal(0, 2, (140, 112)) for s in (1, -1, 1)])
    # three series drifting by (2, -3) px each: one 9-frame stack, and 9 files of one image
    data = np.concatenate([field[:, 8 - 2 * k:104 - 2 * k, 8 + 3 * k:104 + 3 * k]
                           for k in range(3)]).astype(np.float32)
    write_tiff(tmp_path / "walk.tif", data, sampling=1.0)
    folder = tmp_path / "files"
    folder.mkdir()
    for i, frame in enumerate(data):  # the usual export: s0_df-50, s0_df0, s0_df50, s1_...
        write_tiff(folder / f"s{i // 3}_df{(-50, 0, 50)[i % 3]}.tif", frame, sampling=1.0)
    common = ["--tile", "96", "--device", "cpu", "--column-distance", "1.5"]
    assert main(["segment", str(focal_file), str(tmp_path / "walk.tif"), "-o",
                 str(tmp_path / "a"), *common]) == 0, capsys.readouterr().err
    out = tmp_path / "b"
    assert main(["segment", str(focal_file), str(folder), "--series-files", "-o", str(out),
                 *common]) == 0, capsys.readouterr().err
    names = ["s0_df-50", "s1_df-50", "s2_df-50"]
    for name in names:  # each series' own outputs stay
        assert (out / f"{name}_counts.csv").exists()
        assert not (out / f"{name}_events.csv").exists()
    assert (out / "series_counts.png").exists() and (out / "series_columns.csv").exists()
    # the counts of the 9 files are those of the 9-frame stack, a row per series, named
    counts = _rows(out / "series_counts.csv")
    stack_counts = _rows(tmp_path / "a" / "walk_counts.csv")
    assert [r["name"] for r in counts] == names
    assert all(r["first_frame"] == "" for r in counts)  # separate files: no stack frame
    assert [{k: v for k, v in r.items() if k not in ("name", "first_frame")} for r in counts] \
        == [{k: v for k, v in r.items() if k != "first_frame"} for r in stack_counts]
    # and so are the events: two transitions, the drift summed from the first series
    events = _rows(out / "series_events.csv")
    stack_events = _rows(tmp_path / "a" / "walk_events.csv")
    assert [(r["from_series"], r["to_series"], r["from_name"], r["to_name"]) for r in events] == [
        ("0", "1", names[0], names[1]), ("1", "2", names[1], names[2])]
    assert [{k: v for k, v in r.items() if not k.endswith("_name")} for r in events] == \
        stack_events
    assert float(events[1]["cum_drift_x_px"]) == pytest.approx(-6.0, abs=0.3)
    places = _rows(out / "series_column_events.csv")  # each event placed, as in the stack
    assert [{k: v for k, v in r.items() if not k.endswith("_name")} for r in places] == \
        _rows(tmp_path / "a" / "walk_column_events.csv")
    assert all(r["to_name"] == names[int(r["to_series"])] for r in places)
    header = (out / "series_column_events.csv").read_text().splitlines()[0].split(",")
    assert header[:6] == ["from_series", "to_series", "from_name", "to_name", "event",
                          "from_class"]  # the same columns whether or not anything happened
    record = json.loads((out / "record.json").read_text())
    stack_record = json.loads((tmp_path / "a" / "record.json").read_text())["inputs"][0]
    assert record["series"]["names"] == names
    assert record["series"]["events"]["totals"] == stack_record["events"]["totals"]
    assert record["series"]["counts"]["per_class"] == stack_record["counts"]["per_class"]
    assert record["series"]["counts"]["plot"].endswith("series_counts.png")
    # a blank series is skipped and passed over, as in a stack; without a pixel size no events
    for d in (-50, 0, 50):
        write_tiff(folder / f"s1_df{d}.tif", np.full((96, 96), 5.0, np.float32), sampling=1.0)
    assert main(["segment", str(focal_file), str(folder), "--series-files", "-o",
                 str(tmp_path / "c"), *common]) == 0
    capsys.readouterr()
    assert [r["blank"] for r in _rows(tmp_path / "c" / "series_counts.csv")] == [
        "False", "True", "False"]
    (row,) = _rows(tmp_path / "c" / "series_events.csv")
    assert (row["from_series"], row["to_series"]) == ("0", "2")
    # without a pixel size there is no distance in Å: no events, and it says so
    nocal = tmp_path / "nocal"
    nocal.mkdir()
    for i, frame in enumerate(data[:6]):
        write_tiff(nocal / f"s{i // 3}_df{(-50, 0, 50)[i % 3]}.tif", frame)
    assert main(["segment", str(focal_file), str(nocal), "--series-files", "-o",
                 str(tmp_path / "d"), *common]) == 0
    assert "series: no pixel size: columns not followed" in " ".join(
        capsys.readouterr().err.split())
    assert len(_rows(tmp_path / "d" / "series_counts.csv")) == 2
    assert not (tmp_path / "d" / "series_events.csv").exists()


def test_a_tcyx_hyperstack_is_segmented_as_its_focal_series(focal_file, tmp_path, capsys):
    """A time series of focal series saved as a (T, C, H, W) hyperstack (Fiji's TCYX) gives
    what the same frames give as a stack of T·C frames; other hyperstacks are refused."""
    stack = _frames(tmp_path / "flat.tif", 6)
    frames = tifffile.imread(stack)
    write_tiff(tmp_path / "hyper.tif", frames.reshape(2, 3, 64, 64), sampling=1.0, axes="TCYX")
    for name in ("flat", "hyper"):
        assert main(["segment", str(focal_file), str(tmp_path / f"{name}.tif"), "-o",
                     str(tmp_path / name), "--tile", "64", "--device", "cpu"]) == 0, \
            capsys.readouterr().err
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "hyper" / "hyper_mask.tif"),
                                  tifffile.imread(tmp_path / "flat" / "flat_mask.tif"))
    assert _rows(tmp_path / "hyper" / "hyper_counts.csv") == _rows(
        tmp_path / "flat" / "flat_counts.csv")
    capsys.readouterr()
    write_tiff(tmp_path / "four.tif", np.concatenate([frames, frames[:2]]).reshape(2, 4, 64, 64),
               sampling=1.0, axes="TCYX")
    assert main(["segment", str(focal_file), str(tmp_path / "four.tif"), "-o",
                 str(tmp_path / "four"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "a hyperstack of 4 channels" in err and "focal series of 3" in err
    assert not (tmp_path / "four").exists()
