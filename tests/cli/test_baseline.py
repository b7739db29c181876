"""temseg baseline fit|apply through the CLI entry point."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from temseg.cli.main import main
from temseg.synthetic import particle_set


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labelled")
    pairs = particle_set(6, (96, 96), seed=3, n_particles=1, radius_px=(20, 26),
                         spacing_px=5.0, noise_sigma=0.2)
    for i, (image, mask) in enumerate(pairs):
        scaled = np.clip((image - image.min()) / np.ptp(image) * 200 + 20, 0, 255)
        iio.imwrite(folder / f"img_{i}_layer_{i % 2}.png", scaled.astype(np.uint8))
        iio.imwrite(folder / f"img_{i}_layer_{i % 2}_LABEL.png", (mask * 255).astype(np.uint8))
    return folder


@pytest.mark.integration
def test_fit_then_apply(tmp_path, labelled, capsys):
    model = tmp_path / "fourier.json"
    code = main(["baseline", "fit", str(labelled), "--method", "fourier", "--folds", "3",
                 "--out", str(model)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "f1" in captured.out and "±" in captured.out and "blur_px" in captured.out
    data = json.loads(model.read_text())
    assert data["kind"] == "baseline" and data["method"] == "fourier"
    assert data["foreground"] == "crystal" and data["cv"]["k"] == 3
    assert data["cv"]["scores_mean"]["f1"] > 0.7

    out = tmp_path / "masks"
    images = sorted(p for p in labelled.glob("*.png") if "_LABEL" not in p.name)[:2]
    code = main(["baseline", "apply", str(model), *map(str, images), "--out", str(out),
                 "--pixel-size-nm", "0.03"])
    assert code == 0, capsys.readouterr().err
    mask = iio.imread(out / f"{images[0].stem}_mask.png")
    from temseg.io import read_image

    assert read_image(out / f"{images[0].stem}_mask.png").sampling == pytest.approx(0.3)
    truth = iio.imread(labelled / f"{images[0].stem}_LABEL.png") > 0
    pred = mask > 0
    assert 2 * (pred & truth).sum() / (pred.sum() + truth.sum()) > 0.8
    assert (out / f"{images[0].stem}_overlay.png").is_file()
    record = json.loads((out / "record.json").read_text())
    assert len(record["outputs"]) == 2


@pytest.mark.integration
def test_bragg_fit_runs(tmp_path, labelled, capsys):
    model = tmp_path / "bragg.json"
    code = main(["baseline", "fit", str(labelled), "--method", "bragg", "--folds", "2",
                 "--foreground", "crystal", "--max-evals", "8", "--out", str(model)])
    assert code == 0, capsys.readouterr().err
    data = json.loads(model.read_text())
    assert set(data["cv"]["params_mean"]) == {"sigma", "g_thresh", "m_thresh"}


def test_errors_are_one_line(tmp_path, labelled, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "network", "format_version": 1}')
    image = next(p for p in labelled.glob("*.png") if "_LABEL" not in p.name)
    assert main(["baseline", "apply", str(bad), str(image), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not a baseline" in err and "Traceback" not in err
    assert main(["baseline", "fit", str(labelled), "--band-nm", "1", "2",
                 "--method", "fourier"]) == 2
    assert "--band-nm needs" in capsys.readouterr().err
    # an option of the other filter is refused, not silently dropped
    out = tmp_path / "b.json"
    assert main(["baseline", "fit", str(labelled), "--method", "bragg", "--band", "0.1", "0.3",
                 "-o", str(out)]) == 2
    assert "--band: not an option of the bragg filter (--method fourier?)" in \
        capsys.readouterr().err
    assert main(["baseline", "fit", str(labelled), "--method", "fourier", "--sigma", "0.01",
                 "-o", str(out)]) == 2
    assert "--sigma: not an option of the fourier filter" in capsys.readouterr().err
    assert not out.exists()


def test_an_image_too_small_is_named_before_work(tmp_path, capsys):
    """Fit, apply and evaluate name the file (they said only 'image: ...')."""
    from temseg.baselines import BaselineModel, FourierParams, save_baseline

    tiny = tmp_path / "tiny"
    tiny.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        iio.imwrite(tiny / f"{name}.png", (rng.random((5, 5)) * 255).astype(np.uint8))
        iio.imwrite(tiny / f"{name}_LABEL.png", (rng.random((5, 5)) > 0.5).astype(np.uint8) * 255)
    model = save_baseline(tmp_path / "f.json",
                          BaselineModel("fourier", FourierParams(band=(0.2, 0.3))))
    for argv in (["baseline", "fit", str(tiny), "-o", str(tmp_path / "b.json")],
                 ["baseline", "apply", str(model), str(tiny / "a.png"), "-o", str(tmp_path / "o")],
                 ["evaluate", str(model), str(tiny), "-o", str(tmp_path / "e")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith(f"error: {tiny / 'a.png'}: ") and "8×8" in err, err
    assert not (tmp_path / "o").exists() and not (tmp_path / "e").exists()


def test_apply_says_what_it_does_with_the_pixel_size(tmp_path, capsys):
    """As segment: an image without a pixel size, or one resampled ≥ 4×, is warned of; the
    record keeps the pixel sizes (a filter's band and blur are in pixels)."""
    from temseg.baselines.files import BaselineModel, save_baseline
    from temseg.baselines.fourier import FourierParams
    from temseg.io import write_tiff
    from temseg.synthetic import particle_image

    model = save_baseline(tmp_path / "f.json", BaselineModel("fourier", FourierParams(),
                                                             sampling=0.5))
    image = particle_image((64, 64), seed=1)[0]
    plain = write_tiff(tmp_path / "plain.tif", image)
    fine = write_tiff(tmp_path / "fine.tif", image, sampling=0.1)
    same = write_tiff(tmp_path / "same.tif", image, sampling=0.5)
    out = tmp_path / "o"
    assert main(["baseline", "apply", str(model), str(plain), str(fine), str(same), "-o",
                 str(out)]) == 0
    err = capsys.readouterr().err
    assert "plain.tif: no pixel size" in err and "fitted at 0.5 Å/px" in err
    assert "fine.tif: 0.1 Å/px is 5× finer than the filter's 0.5 Å/px; resampled to 13×13 px" \
        in " ".join(err.split())
    assert "same.tif" not in err
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["model_sampling"] == 0.5
    assert [o["sampling"] for o in record["outputs"]] == [None, 0.1, 0.5]


def _model(tmp_path):
    from temseg.baselines import BaselineModel, FourierParams, save_baseline

    return save_baseline(tmp_path / "f.json",
                         BaselineModel("fourier", FourierParams(band=(0.2, 0.3))))


def _last_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and "Traceback" not in "\n".join(lines)
    return lines[-1]


def test_fit_refuses_an_existing_out_before_any_work(tmp_path, capsys):
    """-o victim.tif made a micrograph JSON; now refused, before the data are even read (a
    missing data folder is not reached), and --overwrite replaces only a baseline model."""
    missing = tmp_path / "no_such_data"
    victim = tmp_path / "victim.tif"
    victim.write_bytes(b"II*\x00 a micrograph")
    assert main(["baseline", "fit", str(missing), "-o", str(victim)]) == 2
    assert _last_error(capsys) == (f"error: --out: {victim} already exists (use --overwrite to "
                                   "replace it)")
    assert main(["baseline", "fit", str(missing), "-o", str(victim), "--overwrite"]) == 2
    assert _last_error(capsys) == (f"error: --out: {victim} exists and is not a baseline "
                                   "model file; refusing to replace it")
    assert victim.read_bytes() == b"II*\x00 a micrograph"
    # an earlier fit's model may be replaced: the check passes, the fit goes on to the data
    model = _model(tmp_path)
    before = model.read_bytes()
    assert main(["baseline", "fit", str(missing), "-o", str(model)]) == 2
    assert "already exists" in _last_error(capsys)
    assert main(["baseline", "fit", str(missing), "-o", str(model), "--overwrite"]) == 2
    err = _last_error(capsys)
    assert str(missing) in err and "--out" not in err, err
    assert model.read_bytes() == before


@pytest.mark.parametrize("seed", ["-1", str(2**32), "99999999999999999999"])
def test_fit_refuses_a_negative_or_huge_seed_in_one_line(tmp_path, seed, capsys):
    """--seed -1 ended in 'error: ValueError: expected non-negative integer' after reading."""
    assert main(["baseline", "fit", str(tmp_path / "no_such_data"), "--seed", seed,
                 "-o", str(tmp_path / "b.json")]) == 2
    assert _last_error(capsys) == (f"error: --seed: must be an integer from 0 to {2**32 - 1}, "
                                   f"got {seed}")
    assert not (tmp_path / "b.json").exists()


def _bad_inputs(tmp_path):
    import tifffile

    text = tmp_path / "text.tif"
    text.write_text("not a TIFF at all\n")
    nan = tmp_path / "nan.tif"
    image = np.ones((32, 32), np.float32)
    image[3, 4] = np.nan
    tifffile.imwrite(nan, image, photometric="minisblack")
    stack = tmp_path / "stacknan.tif"  # the bad frame is the last of a stack
    frames = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    frames[3, 5, 5] = np.nan
    tifffile.imwrite(stack, frames, photometric="minisblack")
    one = tmp_path / "one.png"
    iio.imwrite(one, np.full((1, 1), 7, np.uint8))
    return {"text": text, "nan": nan, "stack": stack, "one": one}


@pytest.mark.parametrize("bad", ["text", "nan", "stack", "one"])
def test_apply_checks_every_input_before_writing_anything(tmp_path, labelled, bad, capsys):
    """A bad input after a good one left the good one's mask and overlay in a folder without
    record.json; now nothing is written, into a new folder or an existing one."""
    model = _model(tmp_path)
    good = next(p for p in sorted(labelled.glob("*.png")) if "_LABEL" not in p.name)
    path = _bad_inputs(tmp_path)[bad]
    out = tmp_path / "out"
    assert main(["baseline", "apply", str(model), str(good), str(path), "-o", str(out)]) == 2
    assert _last_error(capsys).startswith(f"error: {path}")
    assert not out.exists()
    out.mkdir()
    assert main(["baseline", "apply", str(model), str(good), str(path), "-o", str(out)]) == 2
    capsys.readouterr()
    assert list(out.iterdir()) == []


def test_apply_gives_inputs_of_the_same_name_distinct_outputs(tmp_path, capsys):
    """lab/ok/X.png and lab/l01/X.png said '2 masks written' but the second replaced the
    first; the second is now X_2 (as segment names them)."""
    from temseg.baselines import load_baseline
    from temseg.synthetic import particle_image

    model = _model(tmp_path)
    image = particle_image((64, 64), seed=1)[0]
    image = np.clip((image - image.min()) / np.ptp(image) * 255, 0, 255).astype(np.uint8)
    paths = []
    for folder, pixels in (("ok", image), ("l01", image[::-1].copy())):
        (tmp_path / "lab" / folder).mkdir(parents=True)
        paths.append(tmp_path / "lab" / folder / "X.png")
        iio.imwrite(paths[-1], pixels)
    out = tmp_path / "out"
    assert main(["baseline", "apply", str(model), *map(str, paths), "-o", str(out)]) == 0
    assert "2 masks written" in capsys.readouterr().out
    record = json.loads((out / "record.json").read_text())
    assert [o["mask"] for o in record["outputs"]] == ["X_mask.png", "X_2_mask.png"]
    assert {p.name for p in out.iterdir()} == {"X_mask.png", "X_overlay.png", "X_2_mask.png",
                                              "X_2_overlay.png", "record.json"}
    baseline = load_baseline(model)
    for path, name in zip(paths, ("X", "X_2")):  # each mask is its own image's
        want = baseline.segment(iio.imread(path).astype(np.float32))
        np.testing.assert_array_equal(iio.imread(out / f"{name}_mask.png") > 0, want)
    assert not np.array_equal(iio.imread(out / "X_mask.png"), iio.imread(out / "X_2_mask.png"))


def test_a_binary_model_file_is_named_and_never_unpickled(tmp_path, labelled, capsys):
    """evil.pkl as the model ended in 'UnicodeDecodeError: 'utf-8' codec can't decode...'."""
    import pickle

    from temseg.baselines import load_baseline
    from temseg.errors import ModelFileError

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (marker.write_text, ("unpickled",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(Evil(), protocol=4))
    assert evil.read_bytes()[:1] == b"\x80"
    with pytest.raises(ModelFileError, match=r"evil.pkl: not a baseline model file \(not JSON "
                                             r"text\)"):
        load_baseline(evil)
    good = next(p for p in labelled.glob("*.png") if "_LABEL" not in p.name)
    assert main(["baseline", "apply", str(evil), str(good), "-o", str(tmp_path / "x")]) == 2
    assert _last_error(capsys) == f"error: {evil}: not a baseline model file (not JSON text)"
    assert not marker.exists() and not (tmp_path / "x").exists()
