"""temseg info: 4-D hyperstacks described (not refused); a focal-series model's defocus sign,
beam energy and receptive field in nm."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tifffile

from temseg.cli.main import main
from temseg.io import write_tiff


def test_info_describes_a_tcyx_probability_hyperstack(tmp_path, capsys):
    # segment's NAME_prob.tif of a stack of focal series: (series, class, H, W), one blank series
    proba = np.stack([np.full((4, 6, 5), 0.25, np.float32), np.full((4, 6, 5), np.nan)])
    proba[0, 1] = 0.75
    write_tiff(tmp_path / "s_prob.tif", proba, sampling=0.5)
    assert main(["info", str(tmp_path / "s_prob.tif")]) == 0
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())
    assert "shape 2 × 4 × 6 × 5" in out
    assert "axes TCYX" in out and "dtype float32" in out
    assert "hyperstack: 2 × 4 (T × C) planes of 6 × 5 px (a focal-series model of 4 " \
        "channels segments it as 2 series)" in out  # (segment reads TCYX now)
    assert "0.5 Å/px (0.05 nm/px)" in out and "0.25 × 0.3 nm (W × H)" in out
    assert "min 0.25 max 0.75 mean 0.375" in out  # the blank series left out
    assert "NaN/inf pixels 120" in out
    assert "expected a 2-D image" not in captured.err


def test_info_describes_an_uncalibrated_4d_tiff_and_read_image_still_refuses_it(tmp_path,
                                                                                capsys):
    from temseg.errors import InputError
    from temseg.io import read_image

    data = np.arange(2 * 3 * 4 * 5, dtype=np.uint16).reshape(2, 3, 4, 5)
    tifffile.imwrite(tmp_path / "h.tif", data, imagej=True, metadata={"axes": "TZYX"})
    assert main(["info", str(tmp_path / "h.tif")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "shape 2 × 3 × 4 × 5" in out and "axes TZYX" in out and "uint16" in out
    assert "none in file" in out and "max 119" in out
    mg = read_image(tmp_path / "h.tif", allow_hyperstack=True)
    assert mg.n_frames == 6 and mg.frame_shape == (4, 5)
    np.testing.assert_array_equal(mg.frame(4), data[1, 1])  # planes in C order
    np.testing.assert_array_equal(mg.frame(-1), data[1, 2])
    with pytest.raises(IndexError):
        mg.frame(6)
    with pytest.raises(InputError, match="got a 4-D array"):  # for work it stays refused
        read_image(tmp_path / "h.tif")


def _simulated_zarr(path, energy):
    zarr = pytest.importorskip("zarr")
    root = zarr.open_group(str(path), mode="w")
    root.create_array("images", data=np.ones((2, 3, 8, 8), np.float32))
    root.create_array("labels", data=np.zeros((2, 8, 8), np.uint8))
    root.attrs.update(sampling=0.125, energy=energy)
    return path


def test_info_of_a_focal_model_states_the_defocus_sign_energy_and_field_in_nm(
        tmp_path, save_focal_model, capsys, monkeypatch):
    from temseg.infer import load_segmenter
    from temseg.models.receptive import receptive_field

    data = _simulated_zarr(tmp_path / "mos2.zarr", 80e3)
    model = save_focal_model(tmp_path, sampling=0.125, name="focal",
                             training={"recipe": {"data": [str(data)]}})
    field_px = receptive_field(load_segmenter(model, device="cpu").model)
    assert main(["info", str(model)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "abTEM's sign convention (positive Δf = underfocus" in out
    assert "beam energy 80 kV (of the simulated training data)" in out
    assert f"receptive field {field_px} px ({field_px * 0.0125:.3g} nm)" in out
    # a relative path recorded at training: found from the model's folder
    monkeypatch.chdir(tmp_path.parent)
    relative = save_focal_model(tmp_path / "run", sampling=0.125, name="rel",
                                training={"recipe": {"data": ["mos2.zarr"]}})
    assert main(["info", str(relative)]) == 0
    assert "beam energy 80 kV" in " ".join(capsys.readouterr().out.split())


def test_info_says_nothing_of_an_energy_it_cannot_find(tmp_path, save_focal_model,
                                                       save_tiny_model, capsys):
    zarr = pytest.importorskip("zarr")
    data = _simulated_zarr(tmp_path / "d.zarr", 300e3)
    del zarr.open_group(str(data), mode="r+").attrs["energy"]
    for training in ({"recipe": {"data": [str(data)]}},
                     {"recipe": {"data": [str(tmp_path / "gone.zarr")]}}, {}):
        model = save_focal_model(tmp_path, sampling=None, name="focal", training=training)
        assert main(["info", str(model)]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "kV" not in out and "positive Δf = underfocus" in out
        assert re.search(r"receptive field \d+ px(?! \()", out)  # no pixel size: no nm
    tiny = save_tiny_model(tmp_path, sampling=1.0)  # one image, no defocus channels
    assert main(["info", str(tiny)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "underfocus" not in out and re.search(r"receptive field \d+ px \([\d.]+ nm\)", out)


def test_info_of_the_shipped_graphene_ensemble_lists_its_members_and_card(capsys):
    """`train --init graphene --init-member N` needs the members: info names each one."""
    from temseg.cli.main import main

    assert main(["info", "graphene"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for i, (blocks, filters) in enumerate(((4, 4), (4, 8), (4, 4), (3, 8)), 1):
        assert f"member {i} resunet blocks {blocks}, filters {filters}" in out
    assert "padding reflect; trained on 105 images, 80 epochs" in out
    assert "model card" in out and "graphene.md" in out
