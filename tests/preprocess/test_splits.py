"""Grouped train/val/test splits and grouped k-fold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.errors import ConfigError, InputError
from temseg.preprocess import group_kfold, split_groups


def _groups(rng, n_groups, max_size=12):
    sizes = rng.integers(1, max_size + 1, n_groups)
    return rng.permutation(np.repeat([f"img{i:03d}" for i in range(n_groups)], sizes))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_groups=st.integers(3, 60))
def test_split_keeps_groups_whole_and_partitions(seed, n_groups):
    groups = _groups(np.random.default_rng(seed), n_groups)
    parts = split_groups(groups, seed=seed)
    assert len(parts) == 3 and all(len(p) > 0 for p in parts)
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(len(groups)))
    sets = [set(groups[p]) for p in parts]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


def test_split_fractions_are_close_with_many_groups(rng):
    groups = np.repeat(np.arange(100), 16)  # 100 images × 16 patches
    train, val, test = split_groups(groups, seed=1)
    assert (len(train), len(val), len(test)) == (1120, 160, 320)
    uneven = _groups(rng, 200)
    sizes = np.array([len(p) for p in split_groups(uneven, seed=2)]) / len(uneven)
    np.testing.assert_allclose(sizes, [0.7, 0.1, 0.2], atol=0.02)


def test_split_is_deterministic_per_seed():
    groups = np.repeat(np.arange(30), 4)
    a, b = split_groups(groups, seed=5), split_groups(groups, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = split_groups(groups, seed=6)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_split_other_fractions_and_errors():
    groups = np.repeat(np.arange(10), 3)
    train, test = split_groups(groups, fractions=(0.8, 0.2), seed=0)
    assert (len(train), len(test)) == (24, 6)
    assert len(split_groups(groups, fractions=(1.0, 0.0, 0.0), seed=0)[1]) == 0
    for bad in [(0.7, 0.2, 0.2), (1.2, -0.2), (1.0,), ("a", "b")]:
        with pytest.raises(ConfigError, match="fractions"):
            split_groups(groups, fractions=bad, seed=0)
    with pytest.raises(InputError, match="2 group"):
        split_groups([0, 0, 1], seed=0)
    with pytest.raises(InputError, match="no samples"):
        split_groups([], seed=0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_groups=st.integers(2, 40), k=st.integers(2, 10))
def test_kfold_partitions_each_sample_once(seed, n_groups, k):
    k = min(k, n_groups)
    groups = _groups(np.random.default_rng(seed), n_groups, max_size=6)
    folds = group_kfold(groups, k, seed=seed)
    assert len(folds) == k
    tests = np.concatenate([t for _, t in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(len(groups)))
    for train, test in folds:
        assert len(test) > 0
        assert not set(groups[train]) & set(groups[test])
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])),
                                      np.arange(len(groups)))
    sizes = [len(t) for _, t in folds]
    assert max(sizes) - min(sizes) <= 6  # balanced to within one group


def test_kfold_equal_groups_give_equal_folds_and_seeds_matter():
    groups = np.repeat(np.arange(20), 5)
    folds = group_kfold(groups, 4, seed=0)
    assert [len(t) for _, t in folds] == [25] * 4
    again = group_kfold(groups, 4, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    other = group_kfold(groups, 4, seed=1)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_kfold_errors():
    with pytest.raises(ConfigError, match="k: 4 folds need at least 4 groups"):
        group_kfold([0, 0, 1, 2], 4, seed=0)
    with pytest.raises(ConfigError, match="k"):
        group_kfold([0, 1, 2], 1, seed=0)
    with pytest.raises(InputError, match="1-D"):
        group_kfold(np.zeros((2, 2)), 2, seed=0)
