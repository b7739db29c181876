"""temseg info: summary, sampling override, stacks, metadata table, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from temseg.cli.main import main
from temseg.io import write_tiff


def test_info_image_with_sampling(tmp_path, capsys):
    image = np.arange(40 * 50, dtype=np.float32).reshape(40, 50)
    write_tiff(tmp_path / "a.tif", image, sampling=2.0)
    assert main(["info", str(tmp_path / "a.tif")]) == 0
    out = capsys.readouterr().out
    assert "40 × 50" in out and "single image" in out and "TIFF" in out
    assert "2 Å/px (0.2 nm/px)" in out
    assert "10 × 8 nm" in out  # 50 px × 0.2 nm wide, 40 px high
    assert "min 0" in out and "max 1999" in out and "mean 999.5" in out
    assert "imagej.unit" in out  # metadata table


def test_info_uncalibrated_and_override(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "u.tif", np.ones((8, 8), np.uint16))
    assert main(["info", str(tmp_path / "u.tif")]) == 0
    out = capsys.readouterr().out
    assert "none in file" in out and "field of view" not in out and "uint16" in out
    assert main(["info", str(tmp_path / "u.tif"), "--pixel-size-nm", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "0.5 Å/px" in out and "0.4 × 0.4 nm" in out and "given by caller" in out


def test_info_stack(tmp_path, capsys):
    stack = np.stack([np.full((6, 7), i, np.float32) for i in range(4)])
    write_tiff(tmp_path / "s.tif", stack)
    assert main(["info", str(tmp_path / "s.tif")]) == 0
    captured = capsys.readouterr()
    assert "stack of 4 frames" in captured.out and "4 × 6 × 7" in captured.out
    assert "min 0" in captured.out and "max 3" in captured.out and "mean 1.5" in captured.out
    assert "value range" in captured.err  # the progress bar goes to stderr


def test_info_describes_a_probability_map_with_blank_frames(tmp_path, capsys):
    """segment writes NaN for blank frames; info counts them and leaves them out of the range."""
    from temseg.errors import InputError
    from temseg.io import read_image

    stack = np.stack([np.full((6, 7), v, np.float32) for v in (0.25, np.nan, 0.75)])
    write_tiff(tmp_path / "p.tif", stack)
    assert main(["info", str(tmp_path / "p.tif")]) == 0
    out = capsys.readouterr().out
    assert "min 0.25" in out and "max 0.75" in out and "mean 0.5" in out
    assert "NaN/inf pixels  42" in out
    with pytest.raises(InputError, match="frame 1 has 42 NaN"):  # still refused for work
        read_image(tmp_path / "p.tif").frame(1)
    write_tiff(tmp_path / "one.tif", np.full((6, 7), np.nan, np.float32))
    assert main(["info", str(tmp_path / "one.tif")]) == 0
    assert "min nan" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["missing.png"], "no such file"),
    (["empty"], "is a directory"),  # (a folder of images is described: test_info_folder)
    (["a.xyz"], "unknown file type"),
    (["a.tif", "--sampling", "1", "--pixel-size-nm", "0.1"], "not both"),
    (["a.tif", "--sampling", "-1"], "must be positive"),
])
def test_info_errors_are_one_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.xyz").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    write_tiff(tmp_path / "a.tif", np.ones((4, 4)))
    assert main(["info", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_info_describes_a_focal_series_model(tmp_path, save_focal_model, capsys):
    model = save_focal_model(tmp_path, sampling=0.125, name="focal")
    for given in (model, model.with_suffix(""), model.with_suffix(".safetensors")):
        assert main(["info", str(given)]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "input focal series of 3 images (Δf -50, +0, +50 Å)" in out
        assert "channels 0: Δf -50 Å, 1: Δf +0 Å, 2: Δf +50 Å" in out
        assert "classes 4: 0 background, 1 Mo, 2 S2, 3 S1" in out
        assert "0.125 Å/px (0.0125 nm/px)" in out and "threshold" not in out
        assert "network: resunet" in out and "parameters" in out


def test_info_of_a_missing_model_is_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "gone.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'gone.json'}: no such model file"]


def test_info_describes_a_focal_series_zarr_dataset(tmp_path, capsys):
    zarr = pytest.importorskip("zarr")
    root = zarr.open_group(str(tmp_path / "mos2.zarr"), mode="w")
    root.create_array("images", data=np.ones((5, 3, 16, 32), np.float32))
    root.create_array("labels", data=np.zeros((5, 16, 32), np.uint8))
    root.attrs.update(sampling=0.125, classes=["background", "Mo", "S2", "S1"],
                      channels=["Δf -50 Å", "Δf +0 Å", "Δf +50 Å"])
    assert main(["info", str(tmp_path / "mos2.zarr")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "images 5 × 3 × 16 × 32" in out
    assert "input focal series of 3 images (Δf -50, +0, +50 Å)" in out
    assert "classes 4: 0 background, 1 Mo, 2 S2, 3 S1" in out
    assert "0.125 Å/px (0.0125 nm/px)" in out and "0.4 × 0.2 nm (W × H)" in out
    assert "dose" not in out and "labels" not in out.replace("images + labels", "")
    root.attrs["label_kind"] = "species"
    assert main(["info", str(tmp_path / "mos2.zarr")]) == 0
    assert "labels atomic species of each column" in " ".join(capsys.readouterr().out.split())
    assert main(["info", str(tmp_path / "mos2.zarr"), "--sampling", "0.5"]) == 0
    assert "0.5 Å/px (0.05 nm/px)" in capsys.readouterr().out
    # a simulated set's doses (the detector's draw, e/Å²)
    root.require_group("parameters").create_array(
        "dose", data=np.array([1.2e3, 5e4, 3e3, np.nan, 9.6e4]))
    assert main(["info", str(tmp_path / "mos2.zarr")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("dose 1,200–96,000 e/Å² (median 26,500; each image of a series, 3× in all); "
            "1 image(s) without a dose") in out
    assert "made" not in out  # no record group: nothing said
    root.create_group("record", attributes={  # how simulate made it
        "created": "2026-11-22T11:51:43+00:00", "versions": {"temseg": "0.1.0"}, "seed": 7,
        "command": "temseg simulate configs/simulate_mos2.yaml -o mos2.zarr"})
    assert main(["info", str(tmp_path / "mos2.zarr")]) == 0
    assert ("made 2026-11-22T11:51:43+00:00, temseg 0.1.0, seed 7, `temseg simulate "
            "configs/simulate_mos2.yaml -o mos2.zarr`") in " ".join(capsys.readouterr().out.split())


def test_info_gives_a_stack_its_frame_interval(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    tifffile.imwrite(tmp_path / "movie.tif", np.ones((5, 8, 8), np.uint16), imagej=True,
                     metadata={"axes": "TYX", "finterval": 200, "tunit": "ms"})
    assert main(["info", str(tmp_path / "movie.tif")]) == 0
    out = capsys.readouterr().out
    assert "frame interval  0.2 s (ImageJ finterval; 0.8 s from first to last frame)" in out
    assert "frame_interval_s" not in out  # said once, not again in the metadata table
