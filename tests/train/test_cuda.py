"""Training and tiled inference on a CUDA GPU, with and without mixed precision.

Skipped where torch sees no GPU (CI never has one); run them on a lent GPU
machine: ``PYTHONPATH=src python3 -m pytest -q tests/train/test_cuda.py``.
"""

import numpy as np
import pytest
import torch

from temseg.synthetic import particle_set
from temseg.train.config import TrainConfig
from temseg.train.data import TrainingSet
from temseg.train.loop import fit, init_seed

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _data(n=8, seed=0):
    pairs = particle_set(n, (64, 64), seed=seed, radius_px=(8, 14), spacing_px=4,
                         mass_contrast=1.0, noise_sigma=0.2)
    return TrainingSet([p[0] for p in pairs], [p[1] for p in pairs], [f"p{i}" for i in range(n)])


def _model():
    from temseg.models import build_model

    return build_model("resunet", blocks=2, filters=4, pool=2)


@pytest.mark.parametrize("amp", [False, True])
def test_training_on_cuda_learns_and_resumes(tmp_path, amp):
    data = _data()
    cfg = TrainConfig(epochs=6, batch_size=4, lr=1e-2, amsgrad=True, device="cuda", amp=amp,
                      val_fraction=0.25)
    init_seed(3)
    result = fit(_model(), data.subset(range(6)), data.subset([6, 7]), cfg, seed=3,
                 out_dir=tmp_path / "a")
    losses = [row["train_loss"] for row in result.history]
    assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0]
    assert next(result.model.parameters()).device.type == "cuda"
    # a run stopped after 3 epochs and resumed ends with weights close to the straight run's
    # (cuDNN's kernels need not be bit-identical from call to call, unlike the CPU's); without
    # validation both return their last weights, not a best epoch each chose
    runs = {}
    for name, epochs, resume in (("straight", 6, None), ("parts", 3, None),
                                 ("parts", 6, tmp_path / "parts")):
        init_seed(3)
        runs[name] = fit(_model(), data.subset(range(6)), None,
                         TrainConfig(**{**cfg.__dict__, "epochs": epochs}), seed=3,
                         out_dir=tmp_path / name, resume=resume)
    assert [r["epoch"] for r in runs["parts"].history] == list(range(1, 7))
    pairs = zip(runs["straight"].model.state_dict().values(),
                runs["parts"].model.state_dict().values())
    for a, b in pairs:
        if a.is_floating_point():
            assert torch.allclose(a, b, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize(("amp", "tolerance"), [(False, 1e-4), (True, 2e-2)])
def test_tiled_prediction_on_cuda_matches_the_cpu(amp, tolerance):
    from temseg.infer.segmenter import NetworkSegmenter

    init_seed(5)
    model = _model().eval()
    image = _data(1, seed=4).images[0]
    big = np.tile(image, (3, 3))  # 192² in 64² tiles: blending across tile seams
    probs = {}
    for device in ("cpu", "cuda"):
        seg = NetworkSegmenter(model, preprocessing=None, sampling=None, threshold=0.5,
                               classes=None, tile=64, overlap=0.25, batch_size=4,
                               device=device, amp=amp and device == "cuda")
        probs[device] = seg.predict(big)
    assert probs["cuda"].shape == big.shape
    assert np.abs(probs["cuda"] - probs["cpu"]).max() < tolerance
