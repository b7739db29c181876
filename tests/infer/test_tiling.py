"""Tiled prediction: equals the plain forward pass where it should, no seams, bounded memory."""

import time
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from temseg.errors import ConfigError, InputError
from temseg.infer.tiling import count_tiles, model_multiple, predict_tiled, tile_starts
from temseg.models import build_model


@pytest.fixture
def image(rng):
    return rng.standard_normal((150, 173)).astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 3000), tile=st.integers(1, 600),
       overlap=st.floats(0.0, 0.9))
def test_tile_starts_cover_with_the_requested_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0
    if length <= tile:
        assert len(starts) == 1
        return
    assert starts[-1] == length - tile
    gaps = np.diff(starts)
    assert (gaps > 0).all()
    # neighbours overlap by at least the requested fraction (rounded to pixels)
    assert (tile - gaps).min() >= min(int(round(overlap * tile)), tile - 1) - 1


def test_tile_sized_image_is_the_plain_forward_pass(rng, net_factory, forward):
    model = net_factory()
    img = rng.standard_normal((64, 64)).astype(np.float32)
    tiled = predict_tiled(model, img, tile=64, overlap=0.5, window="hamming", device="cpu")
    assert tiled.shape == (2, 64, 64) and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, forward(model, img), rtol=0, atol=1e-6)
    # an image smaller than the tile too (the tile shrinks to the image)
    img = img[:40, :57]
    np.testing.assert_allclose(predict_tiled(model, img, tile=512, device="cpu"),
                               forward(model, img), rtol=0, atol=1e-6)


@settings(max_examples=8, deadline=None)
@given(h=st.integers(20, 90), w=st.integers(20, 90), tile=st.integers(8, 40),
       overlap=st.sampled_from([0.0, 0.1, 0.25, 0.5]),
       window=st.sampled_from(["hamming", "gaussian", "flat"]), batch=st.integers(1, 5))
def test_pointwise_model_blends_to_the_exact_prediction(h, w, tile, overlap, window, batch,
                                                        net_factory, forward):
    """A 1×1-conv model has no context: any tiling must reproduce it (weights sum to one)."""
    model = net_factory(kernel=1)
    img = np.random.default_rng(h * 100 + w).standard_normal((h, w)).astype(np.float32)
    tiled = predict_tiled(model, img, tile=tile, overlap=overlap, window=window,
                          batch_size=batch, device="cpu")
    np.testing.assert_allclose(tiled, forward(model, img), rtol=0, atol=2e-6)
    np.testing.assert_allclose(tiled.sum(0), 1.0, atol=2e-6)


@pytest.mark.parametrize(("window", "max_err"), [("hamming", 0.04), ("gaussian", 2e-3)])
def test_no_seams_with_a_small_receptive_field(image, window, max_err, net_factory, forward):
    """Receptive field 5 px ≪ overlap (16 px): tiled ≈ whole image everywhere.

    Only pixels within rf/2 = 2 px of an interior tile edge see the tile's zero
    padding; there the neighbour's window dominates. Hamming keeps a pedestal of
    0.08 at its ends, so a few percent of the edge error survives on thin lines;
    the Gaussian (σ = tile/8) all but removes it. Measured: 0.027 and 0.0009.
    """
    model = net_factory(layers=2)
    ref = forward(model, image)
    tiled = predict_tiled(model, image, tile=64, overlap=0.25, window=window, device="cpu")
    err = np.abs(tiled - ref).max(0)
    assert err.max() < max_err
    assert (err > 1e-2).mean() < 0.01  # any residue is confined to thin lines
    assert np.median(err) < 1e-6
    # a flat window weighs the corrupted tile edge as much as the good tile: a visible seam
    flat = np.abs(predict_tiled(model, image, tile=64, overlap=0.25, window="flat",
                                device="cpu") - ref).max(0)
    assert flat.max() > 3 * err.max()
    assert (flat > 1e-2).mean() > 0.05


def test_focal_series_tiles_without_seams(net_factory, forward):
    """A (3, 200, 200) focal series through a 3-channel, 4-class net (receptive field 5 px):
    every channel is cut into the same tiles, and the blend matches the whole-image pass."""
    model = net_factory(seed=2, classes=4, layers=2, in_channels=3)
    series = np.random.default_rng(7).standard_normal((3, 200, 200)).astype(np.float32)
    ref = forward(model, series)
    tiled = predict_tiled(model, series, tile=64, overlap=0.25, window="gaussian",
                          batch_size=3, device="cpu")
    assert tiled.shape == (4, 200, 200) and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled.sum(0), 1.0, atol=2e-6)
    err = np.abs(tiled - ref).max(0)[2:-2, 2:-2]  # interior (measured: 0.0014 at most)
    assert err.max() < 3e-3 and np.median(err) < 1e-6
    # the test can fail: a flat window leaves seams (measured 0.095)
    flat = predict_tiled(model, series, tile=64, overlap=0.25, window="flat", device="cpu")
    assert np.abs(flat - ref).max(0)[2:-2, 2:-2].max() > 10 * err.max()
    # each channel matters: the same series with a channel swapped is another prediction
    swapped = predict_tiled(model, series[[1, 0, 2]], tile=64, device="cpu")
    assert np.abs(swapped - tiled).max() > 1e-2
    # a series of the wrong length is named, not a torch traceback
    net = build_model("resunet", in_channels=3, classes=4, blocks=1, filters=2)
    with pytest.raises(InputError, match="takes 3 input channel"):
        predict_tiled(net, series[:2], tile=64, device="cpu")


def test_batch_size_does_not_change_the_result(image, net_factory):
    model = net_factory()
    a = predict_tiled(model, image, tile=48, batch_size=1, device="cpu")
    b = predict_tiled(model, image, tile=48, batch_size=7, device="cpu")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_callback_counts_tiles_and_training_mode_is_restored(image, net_factory):
    model = net_factory()
    model.train()
    calls = []
    predict_tiled(model, image, tile=48, overlap=0.25, batch_size=3, device="cpu",
                  callback=lambda done, total: calls.append((done, total)))
    n = count_tiles(image.shape, tile=48, overlap=0.25)
    assert n == len(tile_starts(150, 48, 0.25)) * len(tile_starts(173, 48, 0.25)) == 20
    assert calls[-1] == (n, n) and len(calls) == -(-n // 3)
    assert model.training


class Pooling16(torch.nn.Module):
    """Accepts only sides that are multiples of its pooling factor, as a 4-level U-Net would."""

    pooling_factor = 16

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 3, 1)

    def forward(self, x):
        assert x.shape[2] % 16 == 0 and x.shape[3] % 16 == 0, x.shape
        return self.conv(x)


def test_tiles_are_multiples_of_the_pooling_factor(rng, net_factory, forward):
    model = Pooling16()
    assert model_multiple(model) == 16 and model_multiple(net_factory()) == 1
    img = rng.standard_normal((9, 30)).astype(np.float32)
    out = predict_tiled(model, img, tile=64, device="cpu")
    assert out.shape == (3, 9, 30)
    padded = np.pad(img, ((3, 4), (1, 1)), "reflect")  # to 16 × 32, centred
    np.testing.assert_allclose(out, forward(model, padded)[:, 3:12, 1:31], atol=1e-6)
    # a tile that is not a multiple is rounded down: 70 → 64, and larger images tile fine
    big = rng.standard_normal((100, 130)).astype(np.float32)
    expected = forward(model, np.pad(big, ((6, 6), (7, 7)), "reflect"))[:, 6:106, 7:137]
    np.testing.assert_allclose(predict_tiled(model, big, tile=70, device="cpu"), expected,
                               atol=1e-5)
    assert count_tiles(big.shape, tile=70, overlap=0.25, multiple=16) == 2 * 3
    with pytest.raises(ConfigError, match="tile"):
        predict_tiled(model, img, tile=8, device="cpu")


def test_an_msd_net_is_tiled_as_asked_and_small_images_padded_to_its_smallest_input(rng):
    """An MSD-net has no pooling: tiles of any size ≥ its smallest input (41 px for 9×9
    kernels dilated up to 10), not multiples of 41 (512 became 492); smaller images are
    reflect-padded to 41 px instead of refused as smaller than a "pooling factor"."""
    from temseg.infer.tiling import model_min_size

    torch.manual_seed(0)
    model = build_model("msdnet", depth=4, width=1, kernel_size=9, dilations=[1, 10, 3, 2])
    model.eval()
    assert model_multiple(model) == 1 and model_min_size(model) == 41
    assert count_tiles((100, 100), tile=50, overlap=0.25, min_size=41) == 3 * 3
    small = rng.standard_normal((30, 35)).astype(np.float32)
    out = predict_tiled(model, small, tile=50, device="cpu")
    padded = np.pad(small, ((5, 6), (3, 3)), "reflect")  # to 41 × 41, centred
    with torch.no_grad():
        plain = torch.softmax(model(torch.from_numpy(padded)[None, None]), 1)[0].numpy()
    np.testing.assert_allclose(out, plain[:, 5:35, 3:38], atol=1e-5)
    with pytest.raises(ConfigError, match="smallest input of 41 px"):
        predict_tiled(model, small, tile=40, device="cpu")


def test_bad_arguments_are_clear_errors(image, net_factory):
    model = net_factory()
    with pytest.raises(ConfigError, match="overlap"):
        predict_tiled(model, image, overlap=1.0)
    with pytest.raises(ConfigError, match="batch_size"):
        predict_tiled(model, image, batch_size=0)
    with pytest.raises(ConfigError, match="window"):
        predict_tiled(model, image, tile=64, window="hann", device="cpu")
    with pytest.raises(InputError, match="shape"):
        predict_tiled(model, image[None, None], device="cpu")
    shrinking = torch.nn.Conv2d(1, 2, 3)  # no padding: returns a smaller map
    with pytest.raises(InputError, match="model"):
        predict_tiled(shrinking, image, tile=64, device="cpu")


def _peak_traced(model, img, **kw):
    tracemalloc.start()
    try:
        out = predict_tiled(model, img, device="cpu", **kw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, peak


def test_memory_is_the_output_plus_a_batch(rng, net_factory):
    """Accumulation into one (C, H, W) array: no per-tile list, no (H, W) weight image."""
    model = net_factory(kernel=1)
    img = rng.standard_normal((1024, 1024)).astype(np.float32)
    out, peak = _peak_traced(model, img, tile=256, overlap=0.25, batch_size=4)
    assert out.shape == (2, 1024, 1024)
    tile_batch = 4 * 256 * 256 * 4
    # output = 2 image sizes; allow one more image size plus a few batches of tiles
    assert peak < 3 * img.nbytes + 4 * tile_batch, peak / img.nbytes


@pytest.mark.slow
def test_4096_image_runs_with_bounded_memory(net_factory):
    model = net_factory(kernel=1)
    img = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
    t0 = time.perf_counter()
    out, peak = _peak_traced(model, img, tile=512, overlap=0.25, batch_size=4)
    assert out.shape == (2, 4096, 4096)
    assert peak < 3 * img.nbytes + 4 * (4 * 512 * 512 * 4), peak / img.nbytes
    assert np.isfinite(out).all()
    print(f"4096² in {time.perf_counter() - t0:.1f} s, peak {peak / 2**20:.0f} MiB")


@pytest.mark.parametrize("window", ["hamming", "gaussian", "flat"])
def test_confident_predictions_stay_probabilities(window):
    """Saturated softmax blended over overlapping tiles must not round past 1.

    Without the clip a certain pixel blended by a Hamming or Gaussian window
    came out as 1.0000002, which the metrics rightly refuse.
    """
    class Certain(torch.nn.Module):
        def forward(self, x):
            return torch.cat([x * 0 - 50, x * 0 + 50], 1)

    img = np.zeros((300, 300), np.float32)
    for tile, overlap in ((48, 0.25), (100, 0.5), (256, 0.25), (300, 0.25)):
        proba = predict_tiled(Certain(), img, tile=tile, overlap=overlap, window=window,
                              device="cpu")
        assert proba.min() >= 0.0 and proba.max() <= 1.0
        np.testing.assert_allclose(proba[1], 1.0, atol=1e-6)
