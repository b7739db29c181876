"""``temseg ensemble``: several model files in, one averaged model file out, usable by segment."""

import json

import numpy as np
import pytest

from temseg.cli.main import main
from temseg.io import read_image, write_tiff


@pytest.mark.filterwarnings("always::UserWarning")  # printed by the CLI as one line
def test_an_ensemble_of_copies_segments_like_the_model(tmp_path, save_tiny_model, rng, capsys):
    a = save_tiny_model(tmp_path, sampling=1.0, name="a")
    b = save_tiny_model(tmp_path, sampling=1.0, name="b")  # same seed: identical weights
    code = main(["ensemble", str(a), str(b.with_suffix("")), "-o", str(tmp_path / "ab"),
                 "--threshold", "0.6"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "2 networks" in captured.out and "threshold 0.6" in captured.out
    # the same weights twice: said, in one line, naming both files
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and f"{a} and {b} are the same network (weights SHA-256" in err[0]
    assert "counts 2× in the average" in err[0]
    assert json.loads((tmp_path / "ab.json").read_text())["config"]["threshold"] == 0.6
    image = write_tiff(tmp_path / "img.tif", rng.gamma(4, 25, (72, 80)).astype(np.float32),
                       sampling=1.0)
    for model, out in ((a, "one"), (tmp_path / "ab.json", "two")):
        assert main(["segment", str(model), str(image), "--out", str(tmp_path / out),
                     "--tile", "64", "--device", "cpu"]) == 0
    one = read_image(tmp_path / "one" / "img_prob.tif").data
    two = read_image(tmp_path / "two" / "img_prob.tif").data
    np.testing.assert_allclose(two, one, atol=1e-5)
    assert 0.01 < one.std()  # a real map, not a constant


def test_one_model_or_a_missing_file_is_a_one_line_error(tmp_path, save_tiny_model, capsys):
    a = save_tiny_model(tmp_path, sampling=1.0, name="a")
    assert main(["ensemble", str(a), "-o", str(tmp_path / "x")]) == 2
    assert main(["ensemble", str(a), str(tmp_path / "missing"), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "at least two" in err[0] and "no such model file" in err[1]
    assert not list(tmp_path.glob("x*"))


@pytest.mark.filterwarnings("always::UserWarning")  # (the same weights twice)
def test_members_are_named_as_segment_takes_them(tmp_path, save_tiny_model, capsys):
    """A run folder (its model.json) and a stem, as for segment and evaluate."""
    run = tmp_path / "run"
    save_tiny_model(run, sampling=1.0, name="model")
    b = save_tiny_model(tmp_path, sampling=1.0, name="b")
    code = main(["ensemble", str(run), str(b.with_suffix("")), "-o", str(tmp_path / "e")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "e.json").is_file() and (tmp_path / "e.safetensors").is_file()


@pytest.mark.filterwarnings("always::UserWarning")  # (the same weights twice)
def test_a_focal_series_ensemble_says_what_it_takes_and_gives(tmp_path, save_focal_model,
                                                              capsys):
    a = save_focal_model(tmp_path, name="a")
    b = save_focal_model(tmp_path, name="b")
    code = main(["ensemble", str(a), str(b), "-o", str(tmp_path / "ab"), "--threshold", "0.6"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = " ".join(captured.out.split())
    assert "2 networks" in out and "threshold" not in out
    assert "classes background, Mo, S2, S1 (most probable); takes focal series of 3 images " \
           "(Δf -50, +0, +50 Å)" in out
    assert "--threshold 0.6 is not used: a 4-class mask" in " ".join(captured.err.split())


@pytest.mark.filterwarnings("always::UserWarning")
def test_an_ensemble_among_the_models_is_said_to_join_network_by_network(tmp_path,
                                                                         save_tiny_model,
                                                                         save_focal_model,
                                                                         capsys):
    """An ensemble of 2 plus one model: 3 networks of 1/3 each, said in one line; distinct
    networks draw no warning of sameness."""
    import torch

    from temseg.models import ModelConfig, build_model, save_model

    paths = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        model = build_model("resunet", blocks=2, filters=2, pool=2)
        save_model(tmp_path / f"m{seed}", model,
                   ModelConfig(architecture="resunet", options=model.options, sampling=1.0))
        paths.append(tmp_path / f"m{seed}.json")
    assert main(["ensemble", str(paths[0]), str(paths[1]), "-o", str(tmp_path / "ab")]) == 0
    assert capsys.readouterr().err == ""  # three different networks: nothing to say
    assert main(["ensemble", str(tmp_path / "ab"), str(paths[2]), "-o",
                 str(tmp_path / "abc")]) == 0
    captured = capsys.readouterr()
    assert "3 networks" in captured.out
    err = " ".join(captured.err.split())
    assert "ab.json is an ensemble of 2 networks: they join one by one, so each of the 3 " \
           "networks weighs 1/3 (" in err and "as a whole 2/3, not 1/2)" in err
    assert "same network" not in err
    # a network given both inside an ensemble and alone is the same network twice
    assert main(["ensemble", str(tmp_path / "ab"), str(paths[1]), "-o",
                 str(tmp_path / "abb")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"ab.json (member 2) and {paths[1]} are the same network" in err


@pytest.mark.filterwarnings("always::UserWarning")  # (the same weights twice)
def test_an_existing_output_is_refused_without_overwrite(tmp_path, save_tiny_model, capsys):
    """-o m/ok silently replaced an unrelated model m/ok.json + m/ok.safetensors; now refused
    before any member is loaded, and --overwrite replaces only a network model file."""
    a = save_tiny_model(tmp_path, sampling=1.0, name="a")
    b = save_tiny_model(tmp_path, sampling=1.0, name="b")
    m = tmp_path / "m"
    ok = save_tiny_model(m, sampling=2.0, name="ok")  # unrelated: another pixel size
    before = {p.name: p.read_bytes() for p in m.iterdir()}
    for out in (m / "ok", m / "ok.json", m / "ok.safetensors"):
        assert main(["ensemble", str(a), str(b), "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: ensemble: the output {ok} already exists (use --overwrite to "
                       "replace it)"]
    assert {p.name: p.read_bytes() for p in m.iterdir()} == before
    # weights alone count too
    (tmp_path / "w.safetensors").write_bytes(b"weights")
    assert main(["ensemble", str(a), str(b), "-o", str(tmp_path / "w")]) == 2
    assert "w.safetensors already exists" in capsys.readouterr().err
    # with --overwrite an earlier model is replaced: the ensemble now, at a's pixel size
    assert main(["ensemble", str(a), str(b), "-o", str(m / "ok"), "--overwrite"]) == 0
    capsys.readouterr()
    config = json.loads(ok.read_text())["config"]
    assert config["architecture"] == "ensemble" and config["sampling"] == 1.0
    # but never a file that is not a model (nor, as before, a member)
    notes = tmp_path / "notes.json"
    notes.write_text('{"my": "notes"}')
    assert main(["ensemble", str(a), str(b), "-o", str(notes), "--overwrite"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: ensemble: the output {notes} exists and is not a temseg network "
                   "model file; refusing to replace it"]
    assert notes.read_text() == '{"my": "notes"}'
    assert main(["ensemble", str(a), str(b), "-o", str(a), "--overwrite"]) == 2
    assert "would overwrite the member" in capsys.readouterr().err
