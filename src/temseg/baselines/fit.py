"""Fitting the baselines' parameters on labelled images, with k-fold cross-validation.

Bragg filter (004): σ, G_thresh and M_thresh. For each (σ, G_thresh) the
best M_thresh is found exactly by sweeping a threshold over the pooled
histogram of the difference maps; (log σ, log G_thresh) are searched on a
coarse grid and refined by Nelder–Mead (scipy) — a derivative-free stand-in
for 004's gradient descent, robust to the objective's steps (the set of
peaks changes discretely with G_thresh).

Fourier filter (000): the threshold is Otsu's per image, so only the band's
relative width and the blur are fitted, on a grid.

The objective is a pooled pixel score over the training images (F1 by
default, as 004 compares methods by it). An image without a lattice is
scored as the filters segment it: all amorphous, so all foreground when the
foreground is the amorphous side and all background when it is the crystal.
Per-image FFTs are computed once and reused across folds and parameter trials.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from temseg.baselines.bragg import BraggParams, Spectrum, analyse, difference_map
from temseg.baselines.fourier import (Foreground, FourierParams, NoLatticeWarning,
                                      check_foreground, check_image, fourier_score,
                                      strongest_ring)
from temseg.errors import ConfigError, InputError

#: objectives the fit can maximise (pooled over pixels)
OBJECTIVES = ("f1", "jaccard", "balanced_accuracy", "accuracy")
#: the parameters each method fits
FITTED = {"bragg": ("sigma", "g_thresh", "m_thresh"), "fourier": ("rel_width", "blur_px")}
#: the six scores of 004 table 1
REPORTED = ("accuracy", "balanced_accuracy", "jaccard", "f1", "precision", "recall")

Progress = Callable[[str, int, int], None]


def _objective_from_counts(tp, fp, fn, tn, objective: str):
    """Vectorised pooled score from count arrays (0 where undefined)."""
    tp, fp, fn, tn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn, tn))
    with np.errstate(divide="ignore", invalid="ignore"):
        if objective == "f1":
            out = 2 * tp / (2 * tp + fp + fn)
        elif objective == "jaccard":
            out = tp / (tp + fp + fn)
        elif objective == "accuracy":
            out = (tp + tn) / (tp + fp + fn + tn)
        else:
            out = 0.5 * (tp / (tp + fn) + tn / (tn + fp))
    return np.nan_to_num(out, nan=0.0)


def _check_objective(objective: str) -> str:
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective: {objective!r} is not one of {', '.join(OBJECTIVES)}")
    return objective


def best_threshold(maps: Sequence[np.ndarray | None], truths: Sequence[np.ndarray], *,
                   objective: str = "f1", foreground: Foreground = "amorphous",
                   n_bins: int = 512) -> tuple[float, float]:
    """The threshold on score maps that maximises a pooled score.

    Parameters
    ----------
    maps : sequence of (H, W) arrays or None
        Scores, higher = more foreground; ``None`` means "no lattice": the
        image is all amorphous, whatever the threshold.
    truths : sequence of (H, W) bool arrays
    objective : one of :data:`OBJECTIVES`
    foreground : {"amorphous", "crystal"}
        The side the scores and truths call foreground: a ``None`` map is all
        foreground for ``"amorphous"``, all background for ``"crystal"`` (as
        :func:`~temseg.baselines.bragg.bragg_filter` segments such an image).
    n_bins : int
        Resolution of the sweep (histogram bins between the smallest and
        largest score).

    Returns
    -------
    threshold : float — predict foreground where ``score > threshold``
    value : float — the objective at that threshold
    """
    finite = [m for m in maps if m is not None]
    n_pos = sum(int(np.count_nonzero(t)) for t in truths)
    n_all = sum(t.size for t in truths)
    # no-lattice images: foreground everywhere or nowhere, the same at every threshold
    tp0 = fp0 = 0
    if check_foreground(foreground) == "amorphous":
        absent = [t for m, t in zip(maps, truths) if m is None]
        tp0 = sum(int(np.count_nonzero(t)) for t in absent)
        fp0 = sum(t.size for t in absent) - tp0
    if not finite:
        return np.inf, float(_objective_from_counts(tp0, fp0, n_pos - tp0,
                                                    n_all - n_pos - fp0, objective))
    lo = min(float(m.min()) for m in finite)
    hi = max(float(m.max()) for m in finite)
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, n_bins + 1)
    pos = np.zeros(n_bins + 1)
    neg = np.zeros(n_bins + 1)
    for m, t in zip(maps, truths):
        if m is None:
            continue
        k = np.clip(((m - lo) / (hi - lo) * n_bins).astype(np.intp), 0, n_bins - 1)
        k = k.ravel()
        tt = t.ravel()
        pos += np.bincount(k[tt], minlength=n_bins + 1)
        neg += np.bincount(k[~tt], minlength=n_bins + 1)
    # predicting bins ≥ j as foreground (j = n_bins: nothing)
    tp = np.cumsum(pos[::-1])[::-1] + tp0
    fp = np.cumsum(neg[::-1])[::-1] + fp0
    fn = n_pos - tp
    tn = n_all - n_pos - fp
    values = _objective_from_counts(tp, fp, fn, tn, objective)
    j = int(np.argmax(values))
    threshold = np.inf if j >= n_bins else float(np.nextafter(edges[j], -np.inf))
    return threshold, float(values[j])


def pooled_counts(preds: Sequence[np.ndarray], truths: Sequence[np.ndarray]):
    """(tp, fp, fn, tn) summed over images (via :func:`temseg.metrics.confusion`)."""
    from temseg.metrics import Confusion, confusion

    total = Confusion(0, 0, 0, 0)
    for p, t in zip(preds, truths):
        total = total + confusion(p, t)
    return total


def _as_pairs(images, truths) -> tuple[list[np.ndarray], list[np.ndarray]]:
    images = [check_image(im) for im in images]
    truths = [np.asarray(t) > 0 for t in truths]
    if len(images) != len(truths) or not images:
        raise InputError(f"labelled data: {len(images)} images for {len(truths)} labels")
    for i, (im, t) in enumerate(zip(images, truths)):
        if im.shape != t.shape:
            raise InputError(f"labelled data: image {i} has shape {im.shape}, label {t.shape}")
    return images, truths


@dataclass
class FitResult:
    """A fitted baseline.

    params : the fitted :class:`BraggParams` or :class:`FourierParams`
    score, start_score : the objective on the training images after and
        before fitting
    n_evaluations : number of parameter sets tried
    """

    method: str
    params: BraggParams | FourierParams
    objective: str
    score: float
    start_score: float
    n_evaluations: int

    def fitted(self) -> dict[str, float]:
        """The fitted parameters by name."""
        return {name: float(getattr(self.params, name)) for name in FITTED[self.method]}


# ----------------------------------------------------------------------------- Bragg

class _BraggData:
    """Per-image spectra, computed once and shared by folds and trials."""

    def __init__(self, images, truths, params: BraggParams, progress: Progress | None):
        self.truths = truths
        self.spectra: list[Spectrum] = []
        for i, im in enumerate(images):
            self.spectra.append(analyse(im, peak_smooth_px=params.peak_smooth_px,
                                        pad_px=params.pad_px,
                                        flatfield_order=params.flatfield_order))
            if progress:
                progress("spectra", i + 1, len(images))

    def maps(self, idx, params: BraggParams, sigma: float, g_thresh: float):
        """Score maps, foreground high; None for an image without a lattice."""
        sign = 1.0 if params.foreground == "amorphous" else -1.0
        out = []
        for i in idx:
            d = difference_map(self.spectra[i], sigma=sigma, g_thresh=g_thresh,
                               max_peaks=params.max_peaks, lowpass_px=params.lowpass_px)
            out.append(None if d is None else sign * d)
        return out

    def predict(self, idx, params: BraggParams):
        """Masks as :func:`~temseg.baselines.bragg.bragg_filter` gives them.

        An image without a lattice is all amorphous: all foreground for an
        amorphous foreground, all background for a crystal one.
        """
        sign = 1.0 if params.foreground == "amorphous" else -1.0
        whole = params.foreground == "amorphous"  # the mask of an image without a lattice
        maps = self.maps(idx, params, params.sigma, params.g_thresh)
        return [np.full(self.truths[i].shape, whole) if m is None else m > sign * params.m_thresh
                for i, m in zip(idx, maps)]


def _fit_bragg(data: _BraggData, idx, start: BraggParams, objective: str, max_evals: int,
               progress: Progress | None) -> FitResult:
    truths = [data.truths[i] for i in idx]
    sign = 1.0 if start.foreground == "amorphous" else -1.0
    c = pooled_counts(data.predict(idx, start), truths)
    start_score = float(_objective_from_counts(*c, objective))
    cache: dict[tuple[float, float], tuple[float, float]] = {}

    def evaluate(log_sigma: float, log_g: float) -> float:
        key = (round(float(log_sigma), 6), round(float(log_g), 6))
        if key not in cache:
            sigma = float(np.clip(np.exp(log_sigma), 1e-3, 0.25))
            maps = data.maps(idx, start, sigma, float(np.exp(log_g)))
            cache[key] = best_threshold(maps, truths, objective=objective,
                                        foreground=start.foreground)
            if progress:
                progress("fit", min(len(cache), max_evals), max_evals)
        return cache[key][1]

    strengths = np.concatenate([data.spectra[i].strength[: start.max_peaks // 2] for i in idx])
    g_hi = max(float(np.quantile(strengths, 0.95)), 2.0) if strengths.size else 20.0
    g_grid = np.geomspace(1.2, g_hi, 6)
    s_grid = start.sigma * np.array([0.5, 1.0, 2.0])
    grid = [(np.log(s), np.log(g)) for s, g in itertools.product(s_grid, g_grid)]
    grid.append((np.log(start.sigma), np.log(start.g_thresh)))
    best = max(grid, key=lambda p: evaluate(*p))
    remaining = max_evals - len(cache)
    if remaining > 4:
        res = optimize.minimize(lambda p: -evaluate(*p), np.asarray(best), method="Nelder-Mead",
                                options={"maxfev": remaining, "xatol": 0.02, "fatol": 1e-4,
                                         "initial_simplex": np.asarray(best) + np.array(
                                             [[0.0, 0.0], [0.3, 0.0], [0.0, 0.3]])})
        if -res.fun >= evaluate(*best):
            best = tuple(res.x)
    key = (round(float(best[0]), 6), round(float(best[1]), 6))
    threshold, value = cache[key]
    sigma = float(np.clip(np.exp(best[0]), 1e-3, 0.25))
    m_thresh = sign * threshold if np.isfinite(threshold) else start.m_thresh
    params = dataclasses.replace(start, sigma=sigma, g_thresh=float(np.exp(best[1])),
                                 m_thresh=float(m_thresh))
    return FitResult("bragg", params, objective, value, start_score, len(cache))


# ----------------------------------------------------------------------------- Fourier

class _FourierData:
    """Per-image lattice rings, found once."""

    def __init__(self, images, truths, params: FourierParams, progress: Progress | None):
        self.images, self.truths = images, truths
        self.rings: list[float | None] = []
        for i, im in enumerate(images):
            self.rings.append(None if params.band is not None else
                              strongest_ring(im, min_contrast=params.min_contrast))
            if progress:
                progress("spectra", i + 1, len(images))

    def predict(self, idx, params: FourierParams):
        out = []
        # no lattice (or a flat band-pass): fourier_score's ∓inf threshold makes the mask all
        # amorphous, as fourier_filter's; its NoLatticeWarning is silenced while fitting
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoLatticeWarning)
            for i in idx:
                score, thr = fourier_score(self.images[i], params, ring=self.rings[i])
                out.append(score > thr)
        return out


def _fit_fourier(data: _FourierData, idx, start: FourierParams, objective: str,
                 progress: Progress | None) -> FitResult:
    truths = [data.truths[i] for i in idx]

    def evaluate(p: FourierParams) -> float:
        return float(_objective_from_counts(*pooled_counts(data.predict(idx, p), truths),
                                            objective))

    start_score = evaluate(start)
    widths = (0.1, 0.2, 0.3) if start.band is None else (start.rel_width,)
    blurs = (3.0, 6.0, 9.0, 14.0, 20.0)
    trials = [dataclasses.replace(start, rel_width=w, blur_px=b)
              for w, b in itertools.product(widths, blurs)]
    best, best_value = start, start_score
    for n, p in enumerate(trials):
        value = evaluate(p)
        if value > best_value:
            best, best_value = p, value
        if progress:
            progress("fit", n + 1, len(trials))
    return FitResult("fourier", best, objective, best_value, start_score, len(trials) + 1)


# ----------------------------------------------------------------------------- public API

def _start(method: str, start):
    if method == "bragg":
        return start if start is not None else BraggParams()
    if method == "fourier":
        return start if start is not None else FourierParams()
    raise ConfigError(f"method: {method!r} is not 'bragg' or 'fourier'")


def _data(method, images, truths, start, progress):
    cls = _BraggData if method == "bragg" else _FourierData
    return cls(images, truths, start, progress)


def _fit(method, data, idx, start, objective, max_evals, progress):
    if method == "bragg":
        return _fit_bragg(data, idx, start, objective, max_evals, progress)
    return _fit_fourier(data, idx, start, objective, progress)


def fit_baseline(images: Sequence, truths: Sequence, *, method: str = "bragg",
                 start: BraggParams | FourierParams | None = None, objective: str = "f1",
                 max_evals: int = 60, progress: Progress | None = None) -> FitResult:
    """Fit a baseline's parameters on labelled images.

    Parameters
    ----------
    images : sequence of (H, W) arrays
        Raw images (the Bragg filter flat-fields and standardizes them itself).
    truths : sequence of (H, W) arrays
        Labels; > 0 is foreground (the side ``start.foreground`` names).
    method : {"bragg", "fourier"}
    start : BraggParams or FourierParams, optional
        Start point and the fixed options (foreground side, smoothing, ...).
    objective : one of :data:`OBJECTIVES`, pooled over pixels
    max_evals : int
        Budget of (σ, G_thresh) trials for the Bragg filter (grid + Nelder–Mead).
    progress : callable(stage, done, total), optional

    Returns
    -------
    FitResult
    """
    _check_objective(objective)
    start = _start(method, start)
    images, truths = _as_pairs(images, truths)
    data = _data(method, images, truths, start, progress)
    return _fit(method, data, np.arange(len(images)), start, objective, max_evals, progress)


@dataclass
class CVResult:
    """k-fold cross-validation of a baseline.

    folds : per fold ``{"params", "scores", "n_train", "n_test", "train_score"}``
        (scores: the six of 004 table 1, pooled over the held-out images)
    params_mean, params_std, scores_mean, scores_std : over folds (std with ddof=0)
    pooled : the scores pooled over every held-out prediction
    final : the fit on all images (the model to save)
    """

    method: str
    objective: str
    k: int
    folds: list[dict] = field(default_factory=list)
    params_mean: dict = field(default_factory=dict)
    params_std: dict = field(default_factory=dict)
    scores_mean: dict = field(default_factory=dict)
    scores_std: dict = field(default_factory=dict)
    pooled: dict = field(default_factory=dict)
    final: FitResult | None = None

    def summary(self) -> dict:
        """JSON-ready statistics (stored in the model file)."""
        return {"k": self.k, "objective": self.objective, "folds": self.folds,
                "params_mean": self.params_mean, "params_std": self.params_std,
                "scores_mean": self.scores_mean, "scores_std": self.scores_std,
                "pooled": self.pooled}


def _six(counts) -> dict[str, float]:
    from temseg.metrics import scores_from_confusion

    allscores = scores_from_confusion(counts)
    return {k: allscores[k] for k in REPORTED}


def cross_validate(images: Sequence, truths: Sequence, *, method: str = "bragg", k: int = 5,
                   groups: Sequence | None = None, seed: int = 0,
                   start: BraggParams | FourierParams | None = None, objective: str = "f1",
                   max_evals: int = 60, final_fit: bool = True,
                   progress: Progress | None = None) -> CVResult:
    """k-fold cross-validation of :func:`fit_baseline`, then a final fit on all images.

    Parameters
    ----------
    images, truths, method, start, objective, max_evals, progress
        As :func:`fit_baseline`.
    k : int
        Number of folds.
    groups : sequence, optional
        Group of each image (e.g. its acquisition series); a group never spans
        folds (:func:`temseg.preprocess.group_kfold`). Default: one per image.
    seed : int
        Seed of the fold assignment.
    final_fit : bool
        Also fit on all images (``CVResult.final``).
    """
    from temseg.preprocess import group_kfold

    _check_objective(objective)
    start = _start(method, start)
    images, truths = _as_pairs(images, truths)
    groups = np.arange(len(images)) if groups is None else np.asarray(groups)
    if len(groups) != len(images):
        raise InputError(f"groups: {len(groups)} groups for {len(images)} images")
    folds = group_kfold(groups, k, seed=seed)
    data = _data(method, images, truths, start, progress)
    result = CVResult(method=method, objective=objective, k=k)
    total = pooled_counts([], [])
    for n, (train, test) in enumerate(folds):
        fit = _fit(method, data, train, start, objective, max_evals,
                   (lambda s, d, t, n=n: progress(f"fold {n + 1}/{k}", d, t)) if progress
                   else None)
        counts = pooled_counts(data.predict(test, fit.params), [truths[i] for i in test])
        total = total + counts
        result.folds.append({"params": fit.fitted(), "scores": _six(counts),
                             "n_train": int(len(train)), "n_test": int(len(test)),
                             "train_score": fit.score})
    for key, name in (("params", "params"), ("scores", "scores")):
        names = result.folds[0][key].keys()
        values = {m: np.array([f[key][m] for f in result.folds]) for m in names}
        setattr(result, f"{name}_mean", {m: float(v.mean()) for m, v in values.items()})
        setattr(result, f"{name}_std", {m: float(v.std()) for m, v in values.items()})
    result.pooled = _six(total)
    if final_fit:
        result.final = _fit(method, data, np.arange(len(images)), start, objective, max_evals,
                            (lambda s, d, t: progress("final fit", d, t)) if progress else None)
    return result
