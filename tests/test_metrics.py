"""Metrics against scikit-learn on random masks, soft dice, pooling and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, f1_score, jaccard_score,
                             precision_score, recall_score)

from temseg.errors import InputError
from temseg.metrics import (SCORE_KEYS, confusion, mean_std, multiclass_scores, score_set,
                            scores)


def _sklearn(pred, truth):
    p, t = pred.ravel(), truth.ravel()
    return {
        "f1": f1_score(t, p), "dice": f1_score(t, p), "jaccard": jaccard_score(t, p),
        "accuracy": accuracy_score(t, p), "balanced_accuracy": balanced_accuracy_score(t, p),
        "precision": precision_score(t, p), "recall": recall_score(t, p),
    }


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), p_true=st.floats(0.05, 0.95), p_pred=st.floats(0.05, 0.95))
def test_scores_match_sklearn_on_random_masks(seed, p_true, p_pred):
    rng = np.random.default_rng(seed)
    truth = (rng.random((17, 23)) < p_true).astype(np.uint8)
    pred = (rng.random((17, 23)) < p_pred).astype(np.uint8)
    truth[0, 0], truth[0, 1], pred[0, 0] = 1, 0, 1  # both classes present, one TP
    ours = scores(pred, truth)
    for key, value in _sklearn(pred, truth).items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_confusion_counts_by_hand():
    pred = np.array([[1, 1, 0, 0]])
    truth = np.array([[1, 0, 1, 0]])
    assert confusion(pred, truth) == (1, 1, 1, 1)
    assert confusion(pred * 255, truth.astype(bool)) == (1, 1, 1, 1)  # > 0 is foreground


def test_soft_dice_equals_hard_dice_for_binary_probabilities(rng):
    truth = rng.random((32, 32)) < 0.3
    pred = rng.random((32, 32)) < 0.4
    s = scores(pred, truth, prob=pred.astype(np.float32))
    assert s["soft_dice"] == pytest.approx(s["dice"], abs=1e-12)


def test_soft_dice_by_formula_and_confidence(rng):
    truth = rng.random((16, 16)) < 0.5
    prob = rng.random((16, 16))
    expected = 2 * (prob * truth).sum() / (prob.sum() + truth.sum())
    assert scores(prob > 0.5, truth, prob=prob)["soft_dice"] == pytest.approx(expected, rel=1e-12)
    # a less confident but correct prediction has a lower soft dice, same hard dice
    sure = scores(truth, truth, prob=truth.astype(float))
    unsure = scores(truth, truth, prob=np.where(truth, 0.6, 0.4))
    assert sure["dice"] == unsure["dice"] == 1.0
    assert unsure["soft_dice"] < sure["soft_dice"] == 1.0


def test_edge_case_both_empty_is_perfect():
    z = np.zeros((8, 8), np.uint8)
    s = scores(z, z, prob=np.zeros((8, 8)))
    assert s == {"dice": 1.0, "soft_dice": 1.0, "f1": 1.0, "jaccard": 1.0, "accuracy": 1.0,
                 "balanced_accuracy": 1.0, "precision": 1.0, "recall": 1.0}


def test_edge_case_empty_prediction_nonempty_truth():
    truth = np.zeros((8, 8), np.uint8)
    truth[2:4, 2:4] = 1
    s = scores(np.zeros_like(truth), truth, prob=np.zeros((8, 8)))
    assert s["dice"] == s["f1"] == s["jaccard"] == s["precision"] == s["recall"] == 0.0
    assert s["soft_dice"] == 0.0
    assert s["accuracy"] == pytest.approx(60 / 64)
    assert s["balanced_accuracy"] == 0.5
    assert s["precision"] == precision_score(truth.ravel(), np.zeros(64), zero_division=0)


def test_edge_case_empty_truth_nonempty_prediction():
    pred = np.zeros((8, 8), np.uint8)
    pred[0, :4] = 1
    s = scores(pred, np.zeros_like(pred))
    assert s["dice"] == s["jaccard"] == s["precision"] == s["recall"] == 0.0
    # only the background class is present: balanced accuracy is its recall (as sklearn)
    assert s["balanced_accuracy"] == pytest.approx(60 / 64)
    assert s["soft_dice"] is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in s.values())


def test_bad_inputs_raise():
    with pytest.raises(InputError, match="shape"):
        scores(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(InputError, match="NaN"):
        scores(np.full((4, 4), np.nan), np.zeros((4, 4)))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        scores(np.zeros((4, 4)), np.zeros((4, 4)), prob=np.full((4, 4), 1.5))
    with pytest.raises(InputError, match="empty"):
        scores(np.zeros((0, 4)), np.zeros((0, 4)))
    with pytest.raises(InputError, match="no images"):
        score_set([], [])
    with pytest.raises(InputError, match="image 1"):
        score_set([np.zeros((2, 2))] * 2, [np.zeros((2, 2)), np.zeros((3, 3))])


def test_score_set_pooled_differs_from_mean_and_is_labelled(rng):
    # a big good image and a small bad one: pooling weighs pixels, the mean weighs images
    t1 = rng.random((64, 64)) < 0.5
    t2 = rng.random((8, 8)) < 0.5
    preds, truths = [t1.copy(), ~t2], [t1, t2]
    pooled, per_image = score_set(preds, truths, probs=[p.astype(float) for p in preds])
    assert pooled["pooling"] == "pixels" and pooled["n_images"] == 2
    assert [r["pooling"] for r in per_image] == ["image", "image"]
    assert per_image[0]["dice"] == 1.0 and per_image[1]["dice"] == 0.0
    flat_p = np.concatenate([p.ravel() for p in preds])
    flat_t = np.concatenate([t.ravel() for t in truths])
    assert pooled["dice"] == pytest.approx(f1_score(flat_t, flat_p), abs=1e-12)
    assert pooled["soft_dice"] == pytest.approx(pooled["dice"], abs=1e-12)
    assert pooled["tp"] + pooled["fp"] + pooled["fn"] + pooled["tn"] == 64 * 64 + 64
    summary = mean_std(per_image)
    assert summary["pooling"] == "mean over images"
    assert summary["dice"]["mean"] == pytest.approx(0.5)
    assert summary["dice"]["std"] == pytest.approx(np.std([1.0, 0.0], ddof=1))
    assert pooled["dice"] > 0.9


def test_mean_std_skips_missing_soft_dice():
    rows = [dict.fromkeys(SCORE_KEYS, 0.5), dict.fromkeys(SCORE_KEYS, 0.5)]
    rows[0]["soft_dice"] = rows[1]["soft_dice"] = None
    out = mean_std(rows)
    assert out["soft_dice"] is None
    assert out["jaccard"] == {"mean": 0.5, "std": 0.0, "n": 2}


def test_multiclass_macro_matches_sklearn(rng):
    truth = rng.integers(0, 3, (20, 20))
    pred = np.where(rng.random((20, 20)) < 0.7, truth, rng.integers(0, 3, (20, 20)))
    out = multiclass_scores(pred, truth, n_classes=3)
    assert out["macro"]["f1"] == pytest.approx(
        f1_score(truth.ravel(), pred.ravel(), average="macro"), abs=1e-12)
    assert out["macro"]["jaccard"] == pytest.approx(
        jaccard_score(truth.ravel(), pred.ravel(), average="macro"), abs=1e-12)
    assert out["macro"]["accuracy"] == pytest.approx(accuracy_score(truth.ravel(), pred.ravel()))
    assert len(out["per_class"]) == 3
    with pytest.raises(InputError, match="0..2"):
        multiclass_scores(pred + 1, truth, n_classes=3)


def test_a_probability_map_given_as_a_mask_is_refused():
    """> 0 of a probability map is nearly every pixel: recall 1.0, precision = the
    foreground share, silently wrong; a 0/1 float mask is still a mask."""
    truth = np.zeros((8, 8), bool)
    truth[2:5, 2:5] = True
    prob = np.where(truth, 0.9, 0.05)
    with pytest.raises(InputError, match=r"^prediction: holds values between 0 and 1 .*threshold"):
        scores(prob, truth)
    assert scores((prob >= 0.5).astype(np.float32), truth)["f1"] == 1.0
