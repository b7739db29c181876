"""The loop on a tiny conv net and synthetic lattice particles (seconds on one core)."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from temseg.errors import InputError
from temseg.synthetic import particle_set
from temseg.train.config import TrainConfig
from temseg.train.data import TrainingSet
from temseg.train.loop import fit, init_seed
from temseg.train.plots import plot_learning_curve


def tiny(out=2, inp=1):
    return nn.Sequential(nn.Conv2d(inp, 6, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(6, 6, 3, padding=2, dilation=2), nn.ReLU(),
                         nn.Conv2d(6, out, 1))


def _data(n=6, seed=0):
    pairs = particle_set(n, (32, 32), seed=seed, radius_px=(6, 10), spacing_px=4,
                         mass_contrast=1.0, noise_sigma=0.2)
    return TrainingSet([p[0] for p in pairs], [p[1] for p in pairs], [f"p{i}" for i in range(n)])


CFG = dict(batch_size=2, lr=1e-2, amsgrad=True, intensity=0.1, device="cpu", val_fraction=0.2)


def _run(epochs, out_dir, *, resume=None, seed=7, val=True, **kw):
    init_seed(seed)
    model = tiny()
    cfg = TrainConfig(epochs=epochs, **{**CFG, **kw})
    data = _data()
    return fit(model, data.subset(range(4)), data.subset([4, 5]) if val else None, cfg,
               seed=seed, out_dir=out_dir, resume=resume)


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_resume_is_bit_identical(tmp_path):
    straight = _run(4, tmp_path / "a")
    _run(2, tmp_path / "b")
    resumed = _run(4, tmp_path / "b", resume=tmp_path / "b")
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]
    assert _same_weights(straight.model, resumed.model)
    assert resumed.best_epoch == straight.best_epoch
    # the last checkpoints are the same bytes apart from timings in trainer.json
    a = (tmp_path / "a/checkpoints/last/model.safetensors").read_bytes()
    assert a == (tmp_path / "b/checkpoints/last/model.safetensors").read_bytes()
    assert (tmp_path / "a/checkpoints/last/optimizer.safetensors").read_bytes() == \
        (tmp_path / "b/checkpoints/last/optimizer.safetensors").read_bytes()


def test_resume_with_a_corrupt_best_checkpoint_names_it(tmp_path):
    from temseg.errors import ModelFileError

    _run(1, tmp_path / "b")
    best = tmp_path / "b/checkpoints/best/model.safetensors"
    best.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelFileError, match=r"best[/\\]model.safetensors: corrupt"):
        _run(2, tmp_path / "b", resume=tmp_path / "b")


def test_weight_average_resumes_bit_identically_and_is_the_trained_model(tmp_path):
    from safetensors.torch import load_file

    straight = _run(4, tmp_path / "a", ema=0.8)
    _run(2, tmp_path / "b", ema=0.8)
    resumed = _run(4, tmp_path / "b", resume=tmp_path / "b", ema=0.8)
    assert _same_weights(straight.model, resumed.model)
    assert [r["val_f1"] for r in resumed.history] == [r["val_f1"] for r in straight.history]
    last = tmp_path / "a/checkpoints/last"
    assert (last / "average.safetensors").read_bytes() == \
        (tmp_path / "b/checkpoints/last/average.safetensors").read_bytes()
    # the best checkpoint holds the averaged (scored) weights, which the run returns
    best = load_file(str(tmp_path / "a/checkpoints/best/model.safetensors"))
    assert all(torch.equal(best[k], v) for k, v in straight.model.state_dict().items())
    # without validation the run returns the final average, not the live weights
    plain = _run(4, tmp_path / "c", ema=0.8, val=False)
    state = json.loads((tmp_path / "c/checkpoints/last/trainer.json").read_text())
    assert state["ema_steps"] == 8  # 4 epochs × 2 batches
    sums = load_file(str(tmp_path / "c/checkpoints/last/average.safetensors"))
    live = load_file(str(tmp_path / "c/checkpoints/last/model.safetensors"))
    weight = "4.weight"
    expected = sums[weight] / (1 - 0.8 ** 8)
    assert torch.allclose(plain.model.state_dict()[weight], expected, rtol=1e-6)
    assert (plain.model.state_dict()[weight] - live[weight]).abs().max() > 1e-4
    # a checkpoint and a recipe that disagree on the average do not mix
    with pytest.raises(InputError, match="ema"):
        _run(6, tmp_path / "b", resume=tmp_path / "b")
    with pytest.raises(InputError, match="ema"):
        _run(6, tmp_path / "b", resume=tmp_path / "b", ema=0.9)


def test_loss_falls_and_logs_are_written(tmp_path):
    result = _run(6, tmp_path, seed=1)
    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < 0.7 * losses[0]
    log = json.loads((tmp_path / "log.json").read_text())
    assert [r["epoch"] for r in log] == list(range(1, 7))
    header = (tmp_path / "log.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "train_loss", "val_loss", "val_f1", "val_jaccard", "lr", "seconds"} <= set(header)
    assert 0.0 <= log[-1]["val_f1"] <= 1.0
    assert result.best_epoch == max(log, key=lambda r: r["val_f1"])["epoch"]
    assert (tmp_path / "checkpoints/best/model.safetensors").is_file()
    png = plot_learning_curve(log, tmp_path / "curve.png", best_epoch=result.best_epoch)
    import imageio.v3 as iio

    assert iio.imread(png).shape[:2] == (400, 640)
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_early_stopping(tmp_path):
    # lr so small that nothing improves after the first epoch
    result = _run(20, None, lr=1e-9, patience=2, seed=3)
    assert result.stopped_early and len(result.history) == 3 and result.best_epoch == 1


def test_interrupt_leaves_a_resumable_checkpoint(tmp_path):
    straight = _run(3, tmp_path / "a", val=False)
    init_seed(7)
    calls = []

    def stop(done, total):
        calls.append(done)
        if len(calls) == 5:  # in the third epoch (2 batches per epoch)
            raise KeyboardInterrupt

    cfg = TrainConfig(epochs=3, **CFG)
    data = _data()
    with pytest.raises(KeyboardInterrupt):
        fit(tiny(), data.subset(range(4)), None, cfg, seed=7, out_dir=tmp_path / "b",
            batch_callback=stop)
    state = json.loads((tmp_path / "b/checkpoints/last/trainer.json").read_text())
    assert state["epoch"] == 2
    assert not [p for p in (tmp_path / "b/checkpoints").iterdir() if p.name.startswith(".")]
    resumed = _run(3, tmp_path / "b", resume=tmp_path / "b", val=False)
    assert _same_weights(straight.model, resumed.model)


def test_bad_models_and_data_fail_before_training(tmp_path):
    data = _data(3)
    cfg = TrainConfig(epochs=1, **{**CFG, "val_fraction": 0.0})
    with pytest.raises(InputError, match="output classes"):
        fit(tiny(out=3), data, None, cfg, seed=0)
    with pytest.raises(InputError, match="input channels"):
        fit(tiny(inp=3), data, None, cfg, seed=0)
    big = tiny()
    big.factor = 64
    with pytest.raises(InputError, match="pooling factor"):
        fit(big, data, None, cfg, seed=0)
    empty = TrainingSet([d for d in data.images], [np.zeros_like(m) for m in data.labels],
                        data.names)
    with pytest.raises(InputError, match="background"):
        fit(tiny(), empty, None, cfg, seed=0)
    with pytest.raises(InputError, match="no checkpoint"):
        fit(tiny(), data, None, cfg, seed=0, resume=tmp_path)
    assert not list(tmp_path.iterdir())


def test_sigmoid_head_trains():
    init_seed(0)
    data = _data(4)
    cfg = TrainConfig(epochs=3, **{**CFG, "val_fraction": 0.0, "loss": "ce+dice"})
    result = fit(tiny(out=1), data, None, cfg, seed=0)
    assert math.isnan(result.best_score) and result.history[-1]["train_loss"] < \
        result.history[0]["train_loss"]


def test_training_leaves_torch_and_matplotlib_as_it_found_them(tmp_path):
    """A notebook that trained once computed on one thread, deterministically, with figures
    on a non-displaying backend ever after."""
    import matplotlib
    import torch

    from temseg.rng import keeps_torch_settings

    torch.use_deterministic_algorithms(False)  # (earlier tests' seeding may have set it)
    threads = torch.get_num_threads()
    backend = matplotlib.get_backend()

    @keeps_torch_settings
    def trains():
        torch.set_num_threads(max(1, threads - 1) if threads > 1 else 2)
        torch.use_deterministic_algorithms(True, warn_only=True)
        raise ValueError("stopped")  # the settings come back on an error too

    with pytest.raises(ValueError):
        trains()
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    from temseg.train.plots import plot_learning_curve

    plot_learning_curve([{"epoch": 1, "train_loss": 0.5}], tmp_path / "lc.png")
    assert matplotlib.get_backend() == backend and (tmp_path / "lc.png").stat().st_size > 1000
