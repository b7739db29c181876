"""Baseline model files: round trip, the segmenter interface, clear errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from temseg.baselines import (BaselineModel, BraggParams, FourierParams, NoLatticeWarning,
                              bragg_filter, fourier_filter, load_baseline, save_baseline)
from temseg.errors import InputError, ModelFileError
from temseg.synthetic import particle_image


@pytest.fixture
def image_truth():
    return particle_image((96, 96), radius_px=(22, 26), spacing_px=5.0, noise_sigma=0.2, seed=2)


@pytest.mark.parametrize("method, params", [
    ("bragg", BraggParams(sigma=0.03, g_thresh=1.6, m_thresh=0.6, foreground="crystal")),
    ("fourier", FourierParams(blur_px=7.0)),
])
def test_round_trip_and_predict_matches_the_filter(tmp_path, image_truth, method, params):
    image, _ = image_truth
    path = save_baseline(tmp_path / "m.json", BaselineModel(method, params, sampling=0.5,
                                                            cv={"k": 5}))
    data = json.loads(path.read_text())
    assert data["kind"] == "baseline" and data["format_version"] == 1
    assert data["method"] == method and data["foreground"] == params.foreground
    model = load_baseline(path)
    assert model.params == params and model.sampling == 0.5 and model.cv == {"k": 5}
    assert model.threshold == 0.5 and model.method == method
    prob = model.predict(image)
    assert prob.dtype == np.float32 and prob.shape == image.shape
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    if method == "bragg":
        hard = bragg_filter(image, sigma=0.03, g_thresh=1.6, m_thresh=0.6, foreground="crystal")
    else:
        hard = fourier_filter(image, blur_px=7.0)
    # the soft score crosses 0.5 where the hard mask changes (up to float32 rounding)
    assert np.mean((prob > 0.5) == hard) > 0.999


def test_predict_resamples_to_the_model_sampling(image_truth):
    image, truth = image_truth
    model = BaselineModel("fourier", FourierParams(), sampling=1.0)
    from skimage.transform import rescale

    big = rescale(image, 2.0, order=1)  # the same scene at 0.5 Å/px
    prob = model.predict(big, sampling=0.5)
    assert prob.shape == big.shape
    small = rescale(truth.astype(float), 2.0, order=0) > 0.5
    mask = prob > 0.5
    assert 2 * (mask & small).sum() / (mask.sum() + small.sum()) > 0.8


def test_no_lattice_is_all_amorphous_with_one_warning():
    model = BaselineModel("bragg", BraggParams())  # foreground: amorphous
    with pytest.warns(NoLatticeWarning) as record:
        prob = model.predict(np.zeros((64, 64)))
    assert len(record) == 1
    assert prob.shape == (64, 64) and (prob == 1).all()
    crystal = BaselineModel("bragg", BraggParams(foreground="crystal"))
    with pytest.warns(NoLatticeWarning):
        assert not crystal.predict(np.zeros((64, 64))).any()


def test_network_file_is_refused(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"kind": "network", "format_version": 1}))
    with pytest.raises(ModelFileError, match="not a baseline"):
        load_baseline(path)


@pytest.mark.parametrize("content, match", [
    ("{not json", "not a valid JSON"),
    ("[1, 2]", "not a model file"),
    ('{"kind": "baseline", "format_version": 2, "method": "bragg", "params": {}}',
     "format_version"),
    ('{"kind": "baseline", "format_version": 1, "method": "wavelet", "params": {}}', "method"),
    ('{"kind": "baseline", "format_version": 1, "method": "fourier", '
     '"params": {"sigma": 0.01}}', "params.sigma"),
    ('{"kind": "baseline", "format_version": 1, "method": "bragg", '
     '"params": {"sigma": -1.0}}', "sigma"),
])
def test_corrupt_or_foreign_files_are_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ModelFileError, match=match):
        load_baseline(path)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_baseline(tmp_path / "nope.json")


def test_predict_with_a_lattice_does_not_warn(image_truth):
    image, _ = image_truth
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BaselineModel("fourier", FourierParams()).predict(image)
