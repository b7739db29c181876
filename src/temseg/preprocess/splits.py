"""Grouped splits: patches of one source image never straddle train/val/test (paper 000).

``groups`` gives, for every sample (patch), the id of the image it came from.
Whole groups are assigned to splits or folds so that sample counts follow
the requested fractions as closely as whole groups allow.
"""

from __future__ import annotations

import numpy as np

from temseg.errors import ConfigError, InputError
from temseg.rng import as_generator


def _group_ids(groups) -> tuple[np.ndarray, np.ndarray]:
    """(inverse, counts): the group index of each sample and each group's size."""
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise InputError(f"groups: expected one group id per sample (1-D), got shape {groups.shape}")
    if groups.size == 0:
        raise InputError("groups: no samples to split")
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return inverse.ravel(), counts


def split_groups(groups, *, fractions=(0.7, 0.1, 0.2),
                 seed: int | np.random.Generator | None) -> tuple[np.ndarray, ...]:
    """Split samples into train/val/test (or any number of parts) keeping groups whole.

    Parameters
    ----------
    groups : (N,) array_like
        Group id (e.g. source image name or index) of every sample.
    fractions : sequence of float
        Target fraction of *samples* per split, each ≥ 0, summing to 1;
        default 70/10/20 as in paper 000.
    seed : int or Generator
        Shuffles the groups; the same seed gives the same split.

    Returns
    -------
    tuple of (n_i,) ndarray of int64
        Sorted sample indices of each split, in the order of ``fractions``.
        Every sample is in exactly one split and every group in one split.

    Notes
    -----
    Groups are shuffled; each split with a positive fraction first receives
    one group, then every further group goes to the split furthest below its
    target sample count. Splits with a positive fraction are never empty.

    Raises
    ------
    ConfigError
        Bad ``fractions``.
    InputError
        Fewer groups than splits with a positive fraction.
    """
    try:
        fr = np.asarray(fractions, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"fractions: expected numbers, got {fractions!r}") from None
    if fr.ndim != 1 or fr.size < 2 or not np.isfinite(fr).all() or (fr < 0).any() \
            or abs(fr.sum() - 1.0) > 1e-6:
        raise ConfigError(f"fractions: need ≥ 2 non-negative fractions summing to 1, got {fractions!r}")
    inverse, counts = _group_ids(groups)
    n_groups, n = counts.size, inverse.size
    positive = np.flatnonzero(fr > 0)
    if n_groups < positive.size:
        raise InputError(f"groups: {n_groups} group(s) cannot fill {positive.size} non-empty splits")
    rng = as_generator(seed)
    order = rng.permutation(n_groups)
    assigned = np.empty(n_groups, dtype=np.int64)
    filled = np.zeros(fr.size)
    target = fr * n
    for i, split in enumerate(rng.permutation(positive)):  # one group for every split
        assigned[order[i]] = split
        filled[split] += counts[order[i]]
    for g in order[positive.size:]:
        deficit = np.where(fr > 0, target - filled, -np.inf)
        split = int(np.argmax(deficit))
        assigned[g] = split
        filled[split] += counts[g]
    sample_split = assigned[inverse]
    return tuple(np.flatnonzero(sample_split == s).astype(np.int64) for s in range(fr.size))


def group_kfold(groups, k: int, *, seed: int | np.random.Generator | None
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped k-fold cross-validation with folds balanced in sample count.

    Parameters
    ----------
    groups : (N,) array_like
        Group id of every sample.
    k : int
        Number of folds, 2 ≤ k ≤ number of groups.
    seed : int or Generator
        Breaks ties between equal-sized groups; the same seed gives the same folds.

    Returns
    -------
    list of (train_idx, test_idx)
        ``k`` pairs of sorted int64 index arrays. Each sample is in exactly one
        test fold; a group's samples are always in the same fold.

    Notes
    -----
    Groups are taken largest first (ties in random order) and each goes to the
    fold with the fewest samples so far, so fold sizes differ by at most the
    size of one group.
    """
    inverse, counts = _group_ids(groups)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"k: number of folds must be an integer ≥ 2, got {k!r}")
    if k > counts.size:
        raise ConfigError(f"k: {k} folds need at least {k} groups, got {counts.size}")
    rng = as_generator(seed)
    shuffled = rng.permutation(counts.size)
    order = shuffled[np.argsort(-counts[shuffled], kind="stable")]
    fold_of = np.empty(counts.size, dtype=np.int64)
    sizes = np.zeros(k, dtype=np.int64)
    for g in order:
        f = int(np.argmin(sizes))
        fold_of[g] = f
        sizes[f] += counts[g]
    sample_fold = fold_of[inverse]
    return [(np.flatnonzero(sample_fold != f).astype(np.int64),
             np.flatnonzero(sample_fold == f).astype(np.int64)) for f in range(k)]
