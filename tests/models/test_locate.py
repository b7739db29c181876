"""Where a model is: run folders finished or not, the runs of a training output."""

import json
import warnings

import pytest

from temseg.errors import ModelFileError
from temseg.models.locate import (model_json, run_folders, run_state, training_runs,
                                  unfinished_note)


def fake_run(run, save_tiny_model, *, last, best=None, finished=False):
    """A run folder as training leaves it: checkpoints/last (epoch ``last``), checkpoints/best
    (epoch ``best``, a model) and, once finished, model.json."""
    (run / "checkpoints" / "last").mkdir(parents=True)
    (run / "checkpoints" / "last" / "trainer.json").write_text(json.dumps({"epoch": last}))
    if best is not None:
        save_tiny_model(run / "checkpoints" / "best", sampling=None, name="model")
        (run / "checkpoints" / "best" / "trainer.json").write_text(json.dumps({"epoch": best}))
    if finished:
        save_tiny_model(run, sampling=None, name="model")
    return run


def kfold_output(root, save_tiny_model):
    """An interrupted 3-fold × 2-seed output: fold_1 done, fold_2/seed_0 at epoch 3 of 6
    (best 2), fold_2/seed_1 at epoch 0 (no best yet); no summary.json."""
    root.mkdir()
    (root / "config.yaml").write_text("epochs: 6\nfolds: 3\nseeds: [0, 1]\n")
    for seed in (0, 1):
        fake_run(root / "fold_1" / f"seed_{seed}", save_tiny_model, last=6, best=5,
                 finished=True)
    fake_run(root / "fold_2" / "seed_0", save_tiny_model, last=3, best=2)
    fake_run(root / "fold_2" / "seed_1", save_tiny_model, last=0)
    return root


def test_an_unfinished_run_gives_its_best_checkpoint_with_one_warning(tmp_path,
                                                                     save_tiny_model):
    out = kfold_output(tmp_path / "kf", save_tiny_model)
    run = out / "fold_2" / "seed_0"
    note = (f"{run}: an unfinished training run (no model.json): using its best checkpoint, "
            f"epoch 2 of 6 (trained to epoch 3); resume with temseg train --resume -o {out}")
    assert unfinished_note(run) == note
    with pytest.warns(UserWarning) as record:
        assert model_json(run) == run / "checkpoints" / "best" / "model.json"
    assert [str(w.message) for w in record] == [note]
    with warnings.catch_warnings():  # said once: a command looks its model up twice
        warnings.simplefilter("error")
        assert model_json(run) == run / "checkpoints" / "best" / "model.json"
        # a finished run, or a checkpoint given itself: nothing to say
        assert model_json(out / "fold_1" / "seed_0") == out / "fold_1" / "seed_0" / "model.json"
        assert model_json(run / "checkpoints" / "best").name == "model.json"
    assert unfinished_note(out / "fold_1" / "seed_0") is None


def test_the_runs_of_an_interrupted_output_and_their_state(tmp_path, save_tiny_model):
    out = kfold_output(tmp_path / "kf", save_tiny_model)
    assert training_runs(out) == {"fold_1/seed_0": "finished", "fold_1/seed_1": "finished",
                                  "fold_2/seed_0": "unfinished: epoch 3 of 6",
                                  "fold_2/seed_1": "unfinished: epoch 0 of 6, no best checkpoint"}
    assert training_runs(out / "fold_1") == {"seed_0": "finished", "seed_1": "finished"}
    assert training_runs(out / "fold_1" / "seed_0") == {}  # one run: its checkpoints are not runs
    assert run_folders(out) == ["fold_1/seed_0", "fold_1/seed_1", "fold_2/seed_0"]
    assert run_state(out / "fold_2" / "seed_1") == "unfinished: epoch 0 of 6, no best checkpoint"
    with pytest.raises(ModelFileError, match=r"holds 3 trained runs \(fold_1/seed_0, "
                                             r"fold_1/seed_1, fold_2/seed_0 unfinished\)"):
        model_json(out)
    with pytest.raises(ModelFileError, match="an unfinished training run .*epoch 0 of 6, no best "
                                             "checkpoint.*: no model yet .*--resume -o"):
        model_json(out / "fold_2" / "seed_1")


def test_a_detector_model_given_as_a_model_says_what_it_is(tmp_path):
    from temseg.infer import load_segmenter

    path = tmp_path / "detector.json"
    path.write_text(json.dumps({"kind": "detector", "format_version": 1}))
    with pytest.raises(ModelFileError, match="a detector model from `temseg fit-noise`"):
        load_segmenter(path)
