"""``temseg evaluate`` into a folder of an earlier evaluation, and labels without foreground."""

import csv

import imageio.v3 as iio
import numpy as np

from temseg.cli.main import main


def _labelled(folder, names, *, foreground=True, seed=0):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in names:
        iio.imwrite(folder / f"{name}.png", (rng.random((32, 32)) * 255).astype(np.uint8))
        label = np.zeros((32, 32), np.uint8)
        if foreground:
            label[10:20, 8:24] = 255
        iio.imwrite(folder / f"{name}_LABEL.png", label)
    return folder


def _names(table):
    with open(table, newline="") as fh:
        return [row["name"] for row in csv.DictReader(fh)][:-2]  # less pooled, mean of images


def test_a_second_evaluation_leaves_no_stale_overlays(tmp_path, save_tiny_model, capsys):
    model = save_tiny_model(tmp_path, sampling=None)
    four = _labelled(tmp_path / "four", ["a", "b", "c", "d"])
    one = _labelled(tmp_path / "one", ["e"], seed=1)
    out = tmp_path / "ev1"
    assert main(["evaluate", str(model), str(four), "-o", str(out)]) == 0
    assert sorted(p.name for p in (out / "confusion").iterdir()) == [
        "a.png", "b.png", "c.png", "d.png"]
    (out / "confusion" / "mine.txt").write_text("my notes")  # not evaluate's: kept
    (out / "confusion" / "pooled.png").write_bytes(b"mine")  # a summary row's name: no image
    (out / "notes.md").write_text("kept")
    (out / "per_dose.csv").write_text("dose_low_e_per_A2\n10\n")  # as of data with doses
    assert main(["evaluate", str(model), str(one), "-o", str(out)]) == 0
    assert _names(out / "per_image.csv") == ["e"]
    assert not (out / "per_dose.csv").exists()  # evaluate's, not written again: stale
    assert sorted(p.name for p in (out / "confusion").iterdir()) == ["e.png", "mine.txt",
                                                                      "pooled.png"]
    assert (out / "notes.md").read_text() == "kept"
    # without overlays, the earlier ones are stale too; other files stay
    assert main(["evaluate", str(model), str(four), "-o", str(out), "--no-overlays"]) == 0
    assert sorted(p.name for p in (out / "confusion").iterdir()) == ["mine.txt", "pooled.png"]
    assert _names(out / "per_image.csv") == ["a", "b", "c", "d"]
    capsys.readouterr()


def test_labels_without_foreground_are_warned(tmp_path, save_tiny_model, capsys):
    model = save_tiny_model(tmp_path, sampling=None)
    empty = _labelled(tmp_path / "empty", ["a", "b"], foreground=False)
    assert main(["evaluate", str(model), str(empty), "-o", str(tmp_path / "ev")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: the labels of all 2 image(s) hold no foreground pixel (" in err
    assert "F1, Jaccard, precision and recall are undefined; only accuracy is meaningful" in err
    # labels with foreground: nothing of the kind
    full = _labelled(tmp_path / "full", ["a"])
    assert main(["evaluate", str(model), str(full), "-o", str(tmp_path / "ev2")]) == 0
    assert "no foreground" not in capsys.readouterr().err
