"""Fitting baseline parameters and k-fold cross-validation on synthetic sets."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from scipy import ndimage

from temseg.baselines.bragg import BraggParams, bragg_filter
from temseg.baselines.fit import REPORTED, best_threshold, cross_validate, fit_baseline
from temseg.baselines.fourier import FourierParams, NoLatticeWarning, fourier_filter
from temseg.errors import ConfigError, InputError
from temseg.metrics import Confusion, confusion, scores_from_confusion
from temseg.preprocess import group_kfold
from temseg.synthetic import particle_set


@pytest.fixture(scope="module")
def patches():
    pairs = particle_set(6, (96, 96), seed=11, n_particles=1, radius_px=(20, 26),
                         spacing_px=5.0, noise_sigma=0.2)
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_best_threshold_is_exact_on_separable_scores():
    truth = np.zeros((20, 20), bool)
    truth[5:12, 3:9] = True
    score = np.where(truth, 2.0, 0.0) + np.linspace(0, 0.5, 400).reshape(20, 20)
    thr, f1 = best_threshold([score], [truth])
    assert f1 == pytest.approx(1.0)
    assert np.array_equal(score > thr, truth)
    # an image with no lattice (None) is all amorphous: all background when the crystal is
    # the foreground, all foreground (every background pixel a false positive) otherwise
    thr, f1 = best_threshold([score, None], [truth, truth], foreground="crystal")
    assert f1 == pytest.approx(2 * truth.sum() / (3 * truth.sum()))
    n = truth.sum()
    thr_amorphous, f1 = best_threshold([score, None], [truth, truth])
    assert f1 == pytest.approx(4 * n / (4 * n + truth.size - n))
    assert thr_amorphous == thr
    # only lattice-free images: the score of the all-amorphous masks, whatever the threshold
    assert best_threshold([None], [truth])[1] == pytest.approx(2 * n / (n + truth.size))
    assert best_threshold([None], [truth], foreground="crystal")[1] == 0.0


def test_bragg_fit_improves_on_the_start_point(patches):
    images, truths = patches
    start = BraggParams(sigma=0.008, g_thresh=1.5, m_thresh=0.9, foreground="crystal")
    result = fit_baseline(images, truths, method="bragg", start=start, max_evals=24)
    assert result.score > result.start_score + 0.1
    assert result.score > 0.8
    assert set(result.fitted()) == {"sigma", "g_thresh", "m_thresh"}
    assert result.params.foreground == "crystal"
    assert result.n_evaluations <= 24


def test_fourier_fit_does_not_get_worse(patches):
    images, truths = patches
    result = fit_baseline(images, truths, method="fourier")
    assert result.score >= result.start_score
    assert result.score > 0.85


def test_cross_validation_reports_mean_and_std(patches):
    images, truths = patches
    groups = ["a", "a", "b", "c", "d", "e"]
    calls = []
    cv = cross_validate(images, truths, method="bragg", k=3, groups=groups, seed=1,
                        start=BraggParams(foreground="crystal"), max_evals=12,
                        progress=lambda stage, done, total: calls.append(stage))
    assert len(cv.folds) == 3
    assert sum(f["n_test"] for f in cv.folds) == 6
    assert set(cv.scores_mean) == {"accuracy", "balanced_accuracy", "jaccard", "f1",
                                   "precision", "recall"}
    assert cv.scores_mean["f1"] > 0.7
    for name in ("sigma", "g_thresh", "m_thresh"):
        assert cv.params_std[name] >= 0.0
        values = [f["params"][name] for f in cv.folds]
        assert min(values) <= cv.params_mean[name] <= max(values)
    assert cv.final is not None and cv.final.score > 0.7
    summary = cv.summary()
    assert summary["k"] == 3 and len(summary["folds"]) == 3
    assert "spectra" in calls and any(s.startswith("fold") for s in calls)


@pytest.mark.parametrize("method, start", [
    ("bragg", BraggParams()),  # the amorphous side is the foreground by default
    ("fourier", FourierParams(foreground="amorphous")),
])
def test_cv_scores_a_lattice_free_image_as_the_filter_segments_it(patches, method, start):
    """A lattice-free image is all amorphous in the fit as in the filters: all foreground
    here (it was scored as all background, unlike what segment and evaluate produce)."""
    images, truths = patches
    rng = np.random.default_rng(3)
    noise = ndimage.gaussian_filter(rng.standard_normal((96, 96)), 1.5)
    noise += 0.3 * rng.standard_normal(noise.shape)  # amorphous texture + shot noise
    images = [*images[:3], noise]
    truths = [~t.astype(bool) for t in truths[:3]] + [np.ones(noise.shape, bool)]
    groups = ["a", "b", "c", "noise"]
    cv = cross_validate(images, truths, method=method, k=2, groups=groups, seed=0, start=start,
                        max_evals=8, final_fit=False)
    for (_, test), fold in zip(group_kfold(groups, 2, seed=0), cv.folds):
        params = dataclasses.replace(start, **fold["params"])
        masks = []
        for i in test:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if method == "bragg":
                    masks.append(bragg_filter(images[i], sigma=params.sigma,
                                              g_thresh=params.g_thresh,
                                              m_thresh=params.m_thresh))
                else:
                    masks.append(fourier_filter(images[i], rel_width=params.rel_width,
                                                blur_px=params.blur_px, foreground="amorphous"))
            no_lattice = any(issubclass(w.category, NoLatticeWarning) for w in caught)
            assert no_lattice == (i == 3)  # the noise image, and only it, has no lattice
            if i == 3:
                assert masks[-1].all()
        total = sum((confusion(m, truths[i]) for m, i in zip(masks, test)), Confusion(0, 0, 0, 0))
        expected = scores_from_confusion(total)
        assert fold["scores"] == pytest.approx({k: expected[k] for k in REPORTED})


def test_bad_inputs(patches):
    images, truths = patches
    with pytest.raises(ConfigError, match="objective"):
        fit_baseline(images, truths, objective="dice2")
    with pytest.raises(ConfigError, match="method"):
        fit_baseline(images, truths, method="wavelet")
    with pytest.raises(InputError, match="labels"):
        fit_baseline(images, truths[:-1])
    with pytest.raises(InputError, match="shape"):
        fit_baseline(images[:1], [truths[0][:-1]])
