"""temseg info: calibrations that are no pixel size are named; non-square pixels give the
true field of view and a warning."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from temseg.cli.main import main

IMAGE = np.arange(16 * 12, dtype=np.float32).reshape(16, 12)


@pytest.mark.parametrize(("unit", "per_unit", "said"), [
    ("inch", 72, "ImageJ calibration of 72 px/inch (a print resolution) ignored"),
    ("1/nm", 100, "ImageJ calibration in 1/nm (reciprocal space) ignored"),
])
def test_info_names_the_calibration_it_ignored(tmp_path, capsys, unit, per_unit, said):
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, IMAGE, imagej=True, resolution=(per_unit, per_unit),
                     metadata={"unit": unit})
    assert main(["info", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"sampling none in file (give --sampling or --pixel-size-nm); {said}" in out
    assert "field of view" not in out and "sampling from" not in out


@pytest.mark.filterwarnings("always::UserWarning")  # printed by the CLI as one line
def test_info_of_non_square_emd_pixels_warns_and_gives_w_by_h(tmp_path, capsys):
    pytest.importorskip("h5py")
    from rsciio.emd import file_writer

    axes = [{"name": n, "size": s, "scale": d, "offset": 0.0, "units": "nm", "navigate": False}
            for n, s, d in (("y", 16, 0.1), ("x", 12, 0.05))]
    path = tmp_path / "rect.emd"
    file_writer(str(path), {"data": IMAGE, "axes": axes, "original_metadata": {},
                            "metadata": {"General": {"title": "t"}, "Signal": {}}})
    assert main(["info", str(path)]) == 0
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())
    assert "0.5 Å/px (0.05 nm/px) in X, 1 Å/px in Y (pixels not square)" in out
    assert "field of view 0.6 × 1.6 nm (W × H)" in out  # 12 × 0.05 nm by 16 × 0.1 nm
    assert f"warning: {path}: pixels are not square (X 0.5, Y 1 Å/px)" in captured.err
    assert main(["info", str(path), "--sampling", "2"]) == 0  # the caller's size, both axes
    out = " ".join(capsys.readouterr().out.split())
    assert "field of view 2.4 × 3.2 nm (W × H)" in out and "pixels not square" not in out
