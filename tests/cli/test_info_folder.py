"""temseg info FOLDER: labelled folders (pairs, unpaired files, label values, foreground,
series, what train makes of them), folders of plain images, and folders of neither."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from temseg.cli.main import main
from temseg.io import write_tiff


def _image(seed: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def _label(rows: int, size: int = 32, value: int = 255) -> np.ndarray:
    """``rows`` of ``size`` rows set to ``value``: a foreground fraction of rows / size."""
    label = np.zeros((size, size), np.uint8)
    label[:rows] = value
    return label


def _png(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _info(capsys, *args) -> str:
    assert main(["info", *map(str, args)]) == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.fixture
def labelled(tmp_path):
    """Three 32² pairs (0/255 labels: 25 %, 75 % and no foreground), an image without a label
    and a label without an image."""
    folder = tmp_path / "data"
    for i, (name, rows) in enumerate((("a", 8), ("b", 24), ("c", 0))):
        _png(folder / f"{name}.png", _image(i))
        _png(folder / f"{name}_LABEL.png", _label(rows))
    _png(folder / "d.png", _image(3))
    _png(folder / "e_LABEL.png", _label(4))
    return folder


def test_info_of_a_labelled_folder_counts_pairs_unpaired_files_and_foreground(labelled, capsys):
    out = _info(capsys, labelled)
    assert "labelled folder: NAME.ext + NAME_LABEL.ext" in out
    assert "pairs 3 image/label pairs" in out
    assert "images without labels 1: d.png" in out
    assert "labels without images 1: e_LABEL.png" in out
    assert "image files 3 PNG" in out and "image sizes 32 × 32 px" in out
    assert "sampling none in files" in out
    assert "label values 0, 255" in out and "binary, 0 background, 255 foreground" in out
    assert "foreground min 0 % median 25 % max 75 %" in out
    assert "empty labels 1: c (no foreground pixel)" in out
    assert "train refuses it: every image needs its label" in out


def test_info_folder_reads_each_label_once(labelled, capsys, monkeypatch):
    import temseg.io.labels as labelled_io

    read = []
    original = labelled_io.read_label
    monkeypatch.setattr(labelled_io, "read_label",
                        lambda path, **kw: read.append(path.name) or original(path, **kw))
    _info(capsys, labelled)
    assert sorted(read) == ["a_LABEL.png", "b_LABEL.png", "c_LABEL.png"]


def test_info_of_images_beside_masks_with_0_1_labels_and_a_pixel_size(tmp_path, capsys):
    for i, rows in enumerate((4, 8)):
        write_tiff(tmp_path / "images" / f"s{i}.tif", _image(i).astype(np.float32),
                   sampling=0.5)
        _png(tmp_path / "masks" / f"s{i}.png", _label(rows, value=1))
    out = _info(capsys, tmp_path)
    assert "labelled folder: images/ + masks/ of the same names" in out
    assert "pairs 2 image/label pairs" in out and "unpaired none" in out
    assert "0.5 Å/px (0.05 nm/px)" in out and "TIFF" in out
    assert "label values 0, 1" in out and "binary, 0 background, 1 foreground" in out
    assert "foreground min 12.5 % median 18.8 % max 25 %" in out
    assert f"train takes it: temseg train {tmp_path} -c RECIPE.yaml" in out
    assert "2 images, each its own group" in out


def test_info_finds_a_common_label_suffix_or_takes_the_one_given(tmp_path, capsys):
    for i in range(2):
        _png(tmp_path / f"x{i}.png", _image(i))
        _png(tmp_path / f"x{i}_mask.png", _label(8))
    out = _info(capsys, tmp_path)
    assert "pairs 2 image/label pairs" in out and "NAME_mask.ext" in out
    assert "train needs --label-suffix _mask" in out and "--label-suffix _mask" in out.split(
        "train takes it")[-1]
    out = _info(capsys, tmp_path, "--label-suffix", "_MASK")  # any case, as train takes it
    assert "pairs 2 image/label pairs" in out and "train needs" not in out


def test_info_tells_class_ids_drawn_masks_and_labels_without_background(tmp_path, capsys):
    classes = tmp_path / "classes"
    for i in range(2):
        _png(classes / f"m{i}.png", _image(i))
        label = _label(8, value=1)
        label[8:12] = 2
        _png(classes / f"m{i}_LABEL.png", label)
    out = _info(capsys, classes)
    assert "label values 0, 1, 2" in out and "`multiclass: true` in the recipe keeps 3" in out

    drawn = tmp_path / "drawn"
    _png(drawn / "j.png", _image(0))
    soft = _label(16)
    soft[16] = 90  # an anti-aliased edge: below half the maximum, background
    soft[15] = 200
    _png(drawn / "j_LABEL.png", soft)
    out = _info(capsys, drawn)
    assert "1 drawn in grey levels" in out and "thresholded at half their maximum" in out
    assert "max 50 %" in out  # rows 0..15 foreground, the row of 90 not

    full = tmp_path / "full"
    _png(full / "f.png", _image(0))
    _png(full / "f_LABEL.png", _label(32, value=1))
    out = _info(capsys, full)
    assert "no background 1: f" in out and "no label has a background pixel" in out


def test_info_lists_files_train_cannot_use_without_stopping(tmp_path, capsys):
    _png(tmp_path / "ok.png", _image(0))
    _png(tmp_path / "ok_LABEL.png", _label(8))
    _png(tmp_path / "flat.png", np.full((32, 32), 7, np.uint8))
    _png(tmp_path / "flat_LABEL.png", _label(8))
    _png(tmp_path / "small.png", _image(1))
    _png(tmp_path / "small_LABEL.png", _label(8, size=16))
    out = _info(capsys, tmp_path)
    assert "pairs 3 image/label pairs" in out
    assert "flat.png: constant image" in out
    assert "small_LABEL.png: label shape (16, 16) differs from image shape (32, 32)" in out
    assert "train refuses it: 2 file(s) it cannot use" in out


def test_info_groups_series_by_the_default_pattern_or_warns_of_them(tmp_path, capsys):
    layered = tmp_path / "layered"
    for i, name in enumerate(("s1_layer_0001", "s1_layer_0002", "s2_layer_0001")):
        _png(layered / f"{name}.png", _image(i))
        _png(layered / f"{name}_LABEL.png", _label(8))
    out = _info(capsys, layered)
    assert "groups 2 source groups by group_pattern" in out and "largest s1: 2 images" in out

    framed = tmp_path / "framed"
    for i, name in enumerate(("a_frame001", "a_frame002", "b_frame001", "b_frame002")):
        _png(framed / f"{name}.png", _image(i))
        _png(framed / f"{name}_LABEL.png", _label(8))
    out = _info(capsys, framed)
    assert "4 images look like frames of 2 series" in out and "_frame" in out


def test_info_of_a_folder_of_images_lists_them_for_segment(tmp_path, capsys):
    _png(tmp_path / "p.png", _image(0))
    _png(tmp_path / "q.png", _image(1, size=16))
    write_tiff(tmp_path / "st.tif", np.stack([_image(i) for i in range(3)]).astype(np.float32),
               sampling=2.0)
    out = _info(capsys, tmp_path)
    assert "folder of 3 images (2 single, 1 stack), no labels: segment takes them" in out
    assert "2 PNG, 1 TIFF" in out
    assert "32 × 32 px (1)" in out and "16 × 16 px (1)" in out and "3 frames of 32 × 32" in out
    assert "none in file (2)" in out and "2 Å/px (0.2 nm/px) (1)" in out
    assert "pairs" not in out


@pytest.mark.parametrize("content", [None, "notes.txt"])
def test_info_of_a_folder_of_neither_is_a_one_line_error(tmp_path, capsys, content):
    if content:
        (tmp_path / content).write_text("x")
    assert main(["info", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a directory" in err and len(err.splitlines()) == 1


def test_info_of_a_labelled_folder_does_not_import_torch(labelled):
    code = ("import sys; from temseg.cli.main import main; main(['info', sys.argv[1]]); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(labelled)], capture_output=True,
                            text=True, check=True)
    assert "pairs" in result.stdout and result.stdout.split()[-1] == "False"
