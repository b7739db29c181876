"""Interrupted training outputs: info lists their runs and states; info, evaluate and segment
of an unfinished run say once that its best checkpoint stands in for the model."""

import imageio.v3 as iio
import numpy as np
import pytest

from temseg.cli.main import main
from tests.models.test_locate import fake_run as _fake_run


@pytest.fixture
def interrupted(tmp_path, save_tiny_model):
    """A 3-fold × 2-seed output stopped at fold 2, seed 0, epoch 1 of 6 (no summary.json)."""
    out = tmp_path / "kfE"
    out.mkdir()
    (out / "config.yaml").write_text("epochs: 6\nfolds: 3\nseeds: [0, 1]\n")
    for seed in (0, 1):
        _fake_run(out / "fold_1" / f"seed_{seed}", save_tiny_model, last=6, best=4,
                  finished=True)
    _fake_run(out / "fold_2" / "seed_0", save_tiny_model, last=1, best=1)
    return out


def _info(path, capsys):
    code = main(["info", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return " ".join(captured.out.split())


def test_info_lists_the_runs_of_an_interrupted_kfold_output(interrupted, capsys):
    shown = _info(interrupted, capsys)
    assert "training output: 3 of 6 run(s), not finished (no summary.json yet)" in shown
    assert "runs fold_1/seed_0, fold_1/seed_1, fold_2/seed_0 (unfinished: epoch 1 of 6)" in shown
    assert f"state 2 finished, 1 unfinished (resume with temseg train --resume -o " \
           f"{interrupted})" in shown
    assert f"one per run: temseg info {interrupted / 'fold_1' / 'seed_0'}" in shown


def test_info_of_a_run_without_a_model_yet_says_so(interrupted, save_tiny_model, capsys):
    run = interrupted / "fold_2" / "seed_1"
    _fake_run(run, save_tiny_model, last=0)  # interrupted before any validation score
    assert main(["info", str(run)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "an unfinished training run (epoch 0 of 6, no best checkpoint): no " \
           f"model yet (resume with temseg train --resume -o {interrupted})" in err
    assert "not an image" not in err and len(err.splitlines()) == 1


def test_info_lists_the_seeds_of_a_fold(interrupted, capsys):
    shown = _info(interrupted / "fold_1", capsys)
    assert f"training runs: 2 run(s) of the output {interrupted}" in shown
    assert "runs seed_0, seed_1 state 2 finished" in shown
    shown = _info(interrupted / "fold_2", capsys)
    assert "runs seed_0 (unfinished: epoch 1 of 6) state 0 finished, 1 unfinished" in shown


@pytest.mark.filterwarnings("always::UserWarning")  # the CLI prints it as one line
@pytest.mark.parametrize("command", ["info", "evaluate", "segment"])
def test_an_unfinished_run_is_said_once(interrupted, tmp_path, capsys, command):
    """Each its own process in real use (the note is given once per process and run):
    one line, though segment looks its model up twice."""
    run = interrupted / "fold_2" / "seed_0"
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    iio.imwrite(data / "a.png", (rng.random((32, 32)) * 255).astype(np.uint8))
    iio.imwrite(data / "a_LABEL.png", np.pad(np.full((8, 8), 255, np.uint8), 12))
    note = (f"{run}: an unfinished training run (no model.json): using its best checkpoint, "
            f"epoch 1 of 6; resume with temseg train --resume -o {interrupted}")
    argv = {"info": ["info", str(run)],
            "evaluate": ["evaluate", str(run), str(data), "-o", str(tmp_path / "ev")],
            "segment": ["segment", str(run), str(data / "a.png"), "-o", str(tmp_path / "sg")]}
    code = main(argv[command])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 0, err
    assert err.count("an unfinished training run") == 1 and f"warning: {note}" in err
