"""Segmenters: preprocessing and pixel size as the model says, baselines behind the same face."""

import json

import numpy as np
import pytest
from skimage.transform import resize

from temseg.errors import ConfigError, InputError, ModelFileError
from temseg.models.locate import model_json
from temseg.infer.segmenter import (BaselineSegmenter, NetworkSegmenter, foreground,
                                    load_segmenter)
from temseg.infer.tiling import predict_tiled
from temseg.preprocess import Preprocessing, resample_to


@pytest.fixture
def image(rng):
    return (100 + 20 * rng.standard_normal((96, 80))).astype(np.float32)


def test_network_preprocesses_as_configured(net_factory, image):
    prep = Preprocessing(remove_outliers=False, standardize=True)
    seg = NetworkSegmenter(net_factory(), preprocessing=prep, tile=32, device="cpu")
    prob = seg.predict(image)
    assert prob.shape == image.shape and prob.dtype == np.float32
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    expected = predict_tiled(seg.model, prep(image), tile=32, device="cpu")[1]
    np.testing.assert_array_equal(prob, expected)
    # standardization makes it blind to gain and offset (it would not be without it)
    np.testing.assert_allclose(seg.predict(3 * image + 7), prob, atol=1e-5)
    raw = NetworkSegmenter(net_factory(), tile=32, device="cpu")
    assert np.abs(raw.predict(image / 100) - raw.predict(image)).max() > 0.05


def test_tta_averages_the_eight_dihedral_views(net_factory, image):
    seg = NetworkSegmenter(net_factory(), tile=32, device="cpu", tta=True)
    prob = seg.predict(image)
    assert prob.shape == image.shape and prob.dtype == np.float32
    views = []
    for k in range(4):
        for flip in (False, True):
            view = np.rot90(image, k)
            view = np.ascontiguousarray(view[:, ::-1] if flip else view)
            p = predict_tiled(seg.model, view, tile=32, device="cpu")[1]
            views.append(np.rot90(p[:, ::-1] if flip else p, -k))
    np.testing.assert_allclose(prob, np.mean(views, axis=0), atol=1e-6)
    # hence the prediction turns with the image, which a plain network's does not
    np.testing.assert_allclose(seg.predict(np.rot90(image).copy()), np.rot90(prob), atol=1e-6)
    plain = seg.configure(tta=False)
    assert np.abs(plain.predict(np.rot90(image).copy()) - np.rot90(plain.predict(image))).max() > 1e-3
    assert seg.n_tiles(image.shape) == 12 and seg.configure(tta=True).n_tiles(image.shape) == 96
    done = []
    seg.predict(image, callback=lambda d, t: done.append((d, t)))
    assert done[-1] == (96, 96) and all(t == 96 for _, t in done)


def test_resamples_to_the_model_pixel_size_and_back(net_factory, image):
    seg = NetworkSegmenter(net_factory(), sampling=1.0, tile=32, device="cpu")
    messages = []
    seg.warn = messages.append
    prob = seg.predict(image, sampling=0.5)  # twice as fine as the model: 48 × 40 inside
    assert prob.shape == image.shape and not messages
    small, achieved = resample_to(image, sampling=0.5, target_sampling=1.0)
    assert small.shape == (48, 40) and achieved == pytest.approx(1.0)
    inner = predict_tiled(seg.model, small, tile=32, device="cpu")
    expected = resize(inner, (2, *image.shape), order=1, mode="edge", anti_aliasing=False)[1]
    np.testing.assert_allclose(prob, expected, atol=1e-6)
    np.testing.assert_allclose(seg.predict_proba(image, sampling=0.5).sum(0), 1.0, atol=1e-5)
    # the same pixel size: no resampling at all
    np.testing.assert_array_equal(seg.predict(image, sampling=1.0),
                                  predict_tiled(seg.model, image, tile=32, device="cpu")[1])


def test_missing_pixel_size_warns_and_predicts_as_is(net_factory, image):
    seg = NetworkSegmenter(net_factory(), sampling=1.0, tile=32, device="cpu")
    with pytest.warns(UserWarning, match="no pixel size"):
        prob = seg.predict(image)
    np.testing.assert_array_equal(prob, predict_tiled(seg.model, image, tile=32, device="cpu")[1])
    messages = []
    NetworkSegmenter(net_factory(), sampling=1.0, tile=32, device="cpu",
                     warn=messages.append).predict(image)
    assert len(messages) == 1 and "1 Å/px" in messages[0]


def test_image_smaller_than_the_pooling_factor_is_refused(net_factory):
    model = net_factory()
    model.pooling_factor = 16
    seg = NetworkSegmenter(model, sampling=1.0, tile=64, device="cpu")
    seg.check_image((16, 40), sampling=1.0)
    with pytest.raises(InputError, match="pooling factor of 16"):
        seg.check_image((12, 40), sampling=1.0)
    # 30 px at 0.5 Å/px is 15 px at the model's 1 Å/px: too small after resampling
    with pytest.raises(InputError, match=r"15×20 at the model's 1 Å/px"):
        seg.predict(np.zeros((30, 40), np.float32), sampling=0.5)
    assert seg.n_tiles((200, 100), sampling=1.0) == 4 * 2  # 64-px tiles, 25 % overlap


def test_bad_settings_name_the_field(net_factory):
    with pytest.raises(ConfigError, match="threshold"):
        NetworkSegmenter(net_factory(), threshold=1.5, device="cpu")
    with pytest.raises(ConfigError, match="window"):
        NetworkSegmenter(net_factory(), window="hann", device="cpu")
    seg = NetworkSegmenter(net_factory(), device="cpu")
    with pytest.raises(ConfigError, match="overlap"):
        seg.configure(overlap=-0.1)
    assert seg.configure(tile=128, batch_size=2).tile == 128 and seg.overlap == 0.25
    with pytest.raises(InputError, match="2-D"):
        seg.predict(np.zeros((2, 8, 8), np.float32))


def test_foreground_of_one_two_and_three_classes():
    p = np.random.default_rng(0).dirichlet([1, 1, 1], size=(4, 5)).transpose(2, 0, 1)
    np.testing.assert_allclose(foreground(p.astype(np.float32)), 1 - p[0], atol=1e-6)
    np.testing.assert_array_equal(foreground(p[:2]), p[1])
    np.testing.assert_array_equal(foreground(p[:1]), p[0])


class FakeBaseline:
    method = "fourier"
    threshold = 0.3
    sampling = None

    def __init__(self):
        self.calls = []

    def predict(self, image, *, sampling=None):
        self.calls.append(sampling)
        return (np.asarray(image) > 0).astype(np.float32)


def test_baseline_behind_the_same_face(image):
    seg = BaselineSegmenter(FakeBaseline())
    assert (seg.threshold, seg.sampling, seg.kind) == (0.3, None, "baseline")
    assert seg.classes == ["background", "foreground"]
    img = image - 100
    prob = seg.predict(img, sampling=0.7)
    np.testing.assert_array_equal(prob, (img > 0).astype(np.float32))
    assert seg.baseline.calls == [0.7]
    proba = seg.predict_proba(img)
    assert proba.shape == (2, *img.shape)
    np.testing.assert_allclose(proba.sum(0), 1.0)
    assert seg.describe()["method"] == "fourier"


def test_model_paths_that_are_not_models(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_segmenter(tmp_path / "missing.json")
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG")
    with pytest.raises(ModelFileError, match="not a temseg model file"):
        load_segmenter(png)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelFileError, match="not a readable model JSON"):
        load_segmenter(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "dataset"}))
    with pytest.raises(ModelFileError, match="expected 'network' or 'baseline'"):
        load_segmenter(other)
    with pytest.raises(ModelFileError, match="folder holds no model.json"):
        load_segmenter(tmp_path)
    # the JSON is found from the stem, the weights file, a checkpoint and a run folder
    run = tmp_path / "run" / "checkpoints" / "best"
    run.mkdir(parents=True)
    (run / "model.json").write_text("{}")
    assert model_json(run) == run / "model.json"
    assert model_json(tmp_path / "run") == run / "model.json"
    assert model_json(run / "model") == run / "model.json"
    assert model_json(run / "model.safetensors") == run / "model.json"


def _tiny_resunet_file(tmp_path, **config):
    from temseg.models import ModelConfig, build_model, save_model

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = build_model("resunet", blocks=2, filters=2, pool=2)
    cfg = ModelConfig(architecture="resunet", options=model.options, **config)
    save_model(tmp_path / "tiny", model, cfg)
    return model, tmp_path / "tiny.json"


def test_network_file_round_trip(tmp_path, forward):
    prep = {"remove_outliers": False, "outlier_threshold": 6.0, "flatfield_order": None,
            "standardize": True}
    model, path = _tiny_resunet_file(tmp_path, preprocessing=prep, sampling=1.0, threshold=0.4)
    seg = load_segmenter(tmp_path / "tiny", tile=64, overlap=0.25, device="cpu")
    assert isinstance(seg, NetworkSegmenter) and seg.kind == "network"
    assert (seg.threshold, seg.sampling, seg.multiple) == (0.4, 1.0, 4)
    assert seg.classes == ["background", "foreground"]
    assert seg.preprocessing == Preprocessing(remove_outliers=False)
    image = np.random.default_rng(5).gamma(4.0, 25.0, (64, 64)).astype(np.float32)
    # an image of the tile size: exactly the whole-image forward pass of the preprocessed image
    expected = forward(model.eval(), seg.preprocessing(image))[1]
    np.testing.assert_allclose(seg.predict(image, sampling=1.0), expected, atol=1e-6)
    # larger than the tile: blended, same shape, a probability
    big = np.random.default_rng(6).gamma(4.0, 25.0, (150, 130)).astype(np.float32)
    prob = seg.predict(big, sampling=1.0)
    assert prob.shape == big.shape and 0 <= prob.min() and prob.max() <= 1
    desc = seg.describe()
    assert desc["model_config"]["architecture"] == "resunet" and desc["tile"] == 64


def test_description_counts_the_training_images_instead_of_copying_their_names(tmp_path):
    names = [f"train_{i:05d}" for i in range(600)]
    _tiny_resunet_file(tmp_path, training={"train_images": names, "val_images": names[:60],
                                           "best_epoch": 28, "recipe": {"epochs": 30}})
    training = load_segmenter(tmp_path / "tiny", device="cpu").describe()["model_config"][
        "training"]
    assert training == {"train_images": 600, "val_images": 60, "best_epoch": 28,
                        "recipe": {"epochs": 30}}


def test_focal_series_network_takes_c_h_w(tmp_path, save_focal_model, forward):
    """A 3-channel, 4-class model file (003): (3, H, W) in, four class maps out; each channel
    standardized on its own, as training does."""
    seg = load_segmenter(save_focal_model(tmp_path, sampling=1.0), tile=64, device="cpu")
    assert seg.in_channels == 3 and seg.channels == ["Δf -50 Å", "Δf +0 Å", "Δf +50 Å"]
    assert seg.classes == ["background", "Mo", "S2", "S1"]
    assert seg.takes == "focal series of 3 images (Δf -50, +0, +50 Å)"
    assert seg.describe()["channels"] == seg.channels
    rng = np.random.default_rng(4)
    series = rng.gamma(4.0, 25.0, (3, 64, 64)).astype(np.float32)
    proba = seg.predict_proba(series, sampling=1.0)
    assert proba.shape == (4, 64, 64) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(0), 1.0, atol=1e-5)
    # the tile-sized series is the plain forward pass of the channel-wise preprocessed series
    prepped = np.stack([seg.preprocessing(c) for c in series])
    np.testing.assert_allclose(proba, forward(seg.model.eval(), prepped), atol=1e-6)
    # per channel: a gain and an offset on one channel change nothing
    scaled = series.copy()
    scaled[2] = 10 * scaled[2] + 500
    np.testing.assert_allclose(seg.predict_proba(scaled, sampling=1.0), proba, atol=1e-5)
    # resampled per channel to the model's pixel size and back
    coarse = seg.predict_proba(series[:, :48, :40], sampling=2.0)
    assert coarse.shape == (4, 48, 40)
    assert seg.predict(series, sampling=1.0).shape == (64, 64)


def test_focal_series_tta_turns_every_channel(tmp_path, save_focal_model):
    seg = load_segmenter(save_focal_model(tmp_path), tile=32, device="cpu", tta=True)
    series = np.random.default_rng(5).gamma(4.0, 25.0, (3, 48, 64)).astype(np.float32)
    proba = seg.predict_proba(series, sampling=1.0)
    turned = seg.predict_proba(np.rot90(series, 1, axes=(1, 2)).copy(), sampling=1.0)
    np.testing.assert_allclose(turned, np.rot90(proba, 1, axes=(1, 2)), atol=1e-5)
    assert seg.n_tiles(series.shape, sampling=1.0) == 8 * seg.configure(tta=False).n_tiles(
        series.shape, sampling=1.0)


@pytest.mark.parametrize(("shape", "message"), [
    ((64, 64), r"takes focal series of 3 images \(Δf -50, \+0, \+50 Å\) as a \(3, H, W\) "
               r"array; got shape \(64, 64\)"),
    ((2, 64, 64), r"got shape \(2, 64, 64\)"),
    ((4, 64, 64), r"got shape \(4, 64, 64\)")])
def test_focal_series_of_the_wrong_length_is_one_line(tmp_path, save_focal_model, shape,
                                                      message):
    seg = load_segmenter(save_focal_model(tmp_path), tile=64, device="cpu")
    with pytest.raises(InputError, match=message) as info:
        seg.predict_proba(np.ones(shape, np.float32) + np.arange(64), sampling=1.0)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="got 4 channel"):
        seg.check_image((4, 64, 64), name="x.tif")
    seg.check_image((3, 64, 64))
    seg.check_image((64, 64))  # one channel's shape


def test_a_constant_channel_is_named(tmp_path, save_focal_model):
    from temseg.errors import BlankImageError

    seg = load_segmenter(save_focal_model(tmp_path), tile=64, device="cpu")
    series = np.random.default_rng(6).gamma(4.0, 25.0, (3, 64, 64)).astype(np.float32)
    series[1] = 7.0
    with pytest.raises(BlankImageError, match=r"^channel 1 \(Δf \+0 Å\): constant image"):
        seg.predict_proba(series, sampling=1.0)


def test_describe_channels():
    from temseg.infer.segmenter import describe_channels

    assert describe_channels(1) == "single images"
    assert describe_channels(2) == "focal series of 2 images"
    assert describe_channels(2, ["a", "b c"]) == "focal series of 2 images (a, b c)"
    assert describe_channels(3, ["defocus -20 nm", "defocus +0 nm", "defocus +20 nm"]) == (
        "focal series of 3 images (defocus -20, +0, +20 nm)")


def test_baseline_file_is_a_segmenter(tmp_path):
    from temseg.baselines import BaselineModel, FourierParams, save_baseline
    from temseg.synthetic import particle_image

    baseline = BaselineModel("fourier", FourierParams(), sampling=None)
    path = save_baseline(tmp_path / "fourier.json", baseline)
    seg = load_segmenter(path)
    assert isinstance(seg, BaselineSegmenter) and seg.method == "fourier"
    image, mask = particle_image((96, 96), n_particles=2, noise_sigma=0.1, seed=2)
    prob = seg.predict(image)
    np.testing.assert_array_equal(prob, baseline.predict(image))
    # the filter finds the lattice discs: far better than chance against the exact mask
    pred = prob >= seg.threshold
    assert (pred == mask.astype(bool)).mean() > 0.8


def test_a_segmenter_says_what_it_is():
    from temseg.infer import load_segmenter

    text = repr(load_segmenter("au_ceo2"))
    assert text == ("NetworkSegmenter('au_ceo2.json', single images, classes ['background', "
                    "'foreground'], 0.3 Å/px, threshold 0.5)")


def test_a_far_resampling_is_said_from_python_too_once_per_pixel_size():
    """predict(image, sampling=0.03) (nm given as Å) shrank a 128² image to 13² silently."""
    import warnings

    from temseg.infer import load_segmenter

    seg = load_segmenter("au_ceo2")  # 0.3 Å/px
    image = np.random.default_rng(0).random((128, 128)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for sampling in (0.03, 0.03, 0.3, 0.5):
            seg.predict(image, sampling=sampling)
    assert [str(w.message) for w in caught] == [
        "image: 0.03 Å/px is 10× finer than the model's 0.3 Å/px; resampled to 13×13 px "
        "(check the pixel size: sampling is in Å/px)"]


def test_an_msd_net_segments_nine_tiles_per_pass_unless_told():
    import torch

    from temseg.infer.segmenter import default_batch_size
    from temseg.models import MSDNet, ResUNet

    msd, unet = MSDNet(depth=3, width=1), ResUNet(blocks=2, filters=4)
    assert default_batch_size(msd) == 9 and default_batch_size(unet) == 4
    assert default_batch_size(torch.nn.ModuleList([unet, msd])) == 9  # an ensemble with one
    assert NetworkSegmenter(msd).batch_size == 9
    assert NetworkSegmenter(unet).batch_size == 4
    chosen = NetworkSegmenter(msd, batch_size=2)
    assert chosen.batch_size == 2 and chosen.configure(tile=256).batch_size == 2
