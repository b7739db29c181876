"""The exponential moving average of weights: its arithmetic, batch norm, swap in and out."""

import pytest
import torch
from torch import nn

from temseg.train.average import WeightAverage


def test_bias_corrected_average_weights_each_step_by_decay():
    model = nn.Linear(1, 1, bias=False)
    decay, values = 0.9, [2.0, -1.0, 5.0]
    average = WeightAverage(model, decay)
    for v in values:
        model.weight.data.fill_(v)
        average.update(model)
    weights = [decay ** (len(values) - 1 - i) * (1 - decay) for i in range(len(values))]
    expected = sum(w * v for w, v in zip(weights, values)) / sum(weights)
    assert average.state()["weight"].item() == pytest.approx(expected, rel=1e-6)
    # the initial weights carry no weight: one update gives exactly the current value
    single = WeightAverage(model, 0.999)
    model.weight.data.fill_(3.0)
    single.update(model)
    assert single.state()["weight"].item() == pytest.approx(3.0, rel=1e-6)


def test_batch_norm_statistics_averaged_and_counters_follow():
    model = nn.BatchNorm1d(2)
    average = WeightAverage(model, 0.5)
    model.train()
    model(torch.tensor([[0.0, 10.0], [2.0, 30.0]]))
    average.update(model)
    model(torch.tensor([[4.0, 10.0], [6.0, 30.0]]))
    average.update(model)
    state = average.state()
    first, second = torch.tensor([0.1, 2.0]), torch.tensor([0.1, 2.0]) * 0.9 + torch.tensor(
        [0.5, 2.0])
    assert torch.allclose(state["running_mean"], (0.5 * first + second) / 1.5, atol=1e-6)
    assert state["num_batches_tracked"].item() == 2


def test_applied_swaps_in_the_average_and_back():
    model = nn.Linear(2, 1)
    average = WeightAverage(model, 0.9)
    average.update(model)
    live = model.weight.detach().clone()
    model.weight.data.add_(1.0)
    moved = model.weight.detach().clone()
    with average.applied(model):
        assert torch.allclose(model.weight, live, rtol=1e-6)
    assert torch.equal(model.weight, moved)


def test_checkpoint_round_trip_and_bad_input():
    model = nn.Linear(2, 1)
    average = WeightAverage(model, 0.9)
    average.update(model)
    again = WeightAverage(model, 0.9)
    again.load_tensors(average.to_tensors(), average.steps)
    assert all(torch.equal(a, b) for a, b in zip(average.state().values(),
                                                  again.state().values()))
    assert again.steps == 1
    with pytest.raises(ValueError, match="does not fit"):
        again.load_tensors({"weight": torch.zeros(1, 2)}, 1)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, 1.0)
    with pytest.raises(RuntimeError, match="no update"):
        WeightAverage(model, 0.9).state()
