import os
import signal

import pytest
import torch

from temseg.errors import InputError
from temseg.train import checkpoints
from temseg.train.checkpoints import (find_checkpoint, hold_interrupts, load_checkpoint,
                                      save_checkpoint)


def _model_and_optimizer(seed):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 3)).square().sum().backward()
        opt.step()
    return model, opt


def test_round_trip_restores_everything(tmp_path):
    model, opt = _model_and_optimizer(0)
    torch.manual_seed(5)
    save_checkpoint(tmp_path / "last", model=model, optimizer=opt, trainer={"epoch": 3})
    expected_next = torch.rand(3)
    other, other_opt = _model_and_optimizer(1)
    torch.manual_seed(99)
    state = load_checkpoint(tmp_path, model=other, optimizer=other_opt, device="cpu")
    assert state["epoch"] == 3
    assert torch.equal(torch.rand(3), expected_next)  # RNG restored
    for a, b in zip(model.parameters(), other.parameters()):
        assert torch.equal(a, b)
    sa, sb = opt.state_dict(), other_opt.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for k in sa["state"]:
        for name, value in sa["state"][k].items():
            assert torch.equal(value, sb["state"][k][name])


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    model, opt = _model_and_optimizer(0)
    save_checkpoint(tmp_path / "last", model=model, optimizer=opt, trainer={"epoch": 1})

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints, "write_json", broken)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "last", model=model, optimizer=opt, trainer={"epoch": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    assert '"epoch": 1' in (tmp_path / "last/trainer.json").read_text()


def test_sigint_is_held_until_the_write_is_done():
    # the handler in place before (Python's default, or SIG_IGN under nohup) comes back
    before = signal.getsignal(signal.SIGINT)
    done = []
    with pytest.raises(KeyboardInterrupt):
        with hold_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            done.append(True)
    assert done == [True]
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_is_held_too_and_raised_as_terminated():
    from temseg.errors import Terminated

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    done = []
    with pytest.raises(Terminated):
        with hold_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            done.append(True)
    assert done == [True]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_missing_checkpoint(tmp_path):
    with pytest.raises(InputError, match="no checkpoint"):
        find_checkpoint(tmp_path / "nothing")


def test_checkpoint_of_another_model(tmp_path):
    from temseg.errors import ModelFileError

    model, opt = _model_and_optimizer(0)
    save_checkpoint(tmp_path / "last", model=model, optimizer=opt, trainer={"epoch": 1})
    wrong = torch.nn.Linear(4, 2)
    with pytest.raises(ModelFileError, match="does not fit"):
        load_checkpoint(tmp_path, model=wrong,
                        optimizer=torch.optim.Adam(wrong.parameters()), device="cpu")


def _spoil(file, how):
    if how == "overwritten":  # `head -c 100 /dev/urandom > file`
        file.write_bytes(bytes(range(100)))
    else:  # the first 100 bytes garbled in place
        data = bytearray(file.read_bytes())
        data[:100] = b"\xff" * 100
        file.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["overwritten", "garbled"])
@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors",
                                  "rng.safetensors", "trainer.json"])
def test_corrupt_checkpoint_file_is_named(tmp_path, name, how):
    from temseg.errors import ModelFileError

    model, opt = _model_and_optimizer(0)
    save_checkpoint(tmp_path / "last", model=model, optimizer=opt, trainer={"epoch": 1})
    _spoil(tmp_path / "last" / name, how)
    other, other_opt = _model_and_optimizer(1)
    before = [p.detach().clone() for p in other.parameters()]
    with pytest.raises(ModelFileError, match=rf"last[/\\]{name}: corrupt .*cannot be resumed"):
        load_checkpoint(tmp_path, model=other, optimizer=other_opt, device="cpu")
    # nothing half-loaded: the model keeps its weights
    assert all(torch.equal(a, b) for a, b in zip(before, other.parameters()))


def test_trainer_state_that_is_no_object_is_corrupt(tmp_path):
    from temseg.errors import ModelFileError

    model, opt = _model_and_optimizer(0)
    save_checkpoint(tmp_path / "last", model=model, optimizer=opt, trainer={"epoch": 1})
    (tmp_path / "last" / "trainer.json").write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="trainer.json: corrupt"):
        load_checkpoint(tmp_path, model=model, optimizer=opt, device="cpu")


def test_corrupt_weight_average_is_named(tmp_path):
    from temseg.errors import ModelFileError
    from temseg.train.checkpoints import load_average

    model, opt = _model_and_optimizer(0)
    save_checkpoint(tmp_path / "last", model=model, optimizer=opt, trainer={"epoch": 1},
                    average={"w": torch.ones(300)})
    assert torch.equal(load_average(tmp_path)["w"], torch.ones(300))
    _spoil(tmp_path / "last" / "average.safetensors", "overwritten")
    with pytest.raises(ModelFileError, match="average.safetensors: corrupt .*cannot be resumed"):
        load_average(tmp_path)
