"""Shared fixtures: the real graphene data (by path, never copied) and the slow marker."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI and here alike);
# HYPOTHESIS_PROFILE=explore draws fresh ones to hunt for new failures.
settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TEMSEG_SHARED", REPO.parent / "shared"))
GRAPHENE = SHARED / "data" / "graphene"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("TEMSEG_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or TEMSEG_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    """Keep torch to the cores we have and deterministic."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def graphene_dir() -> Path:
    """The labelled graphene folder of Sadre et al. 2021 in ../shared (skip when absent)."""
    if not GRAPHENE.is_dir():
        pytest.skip(f"graphene data not found at {GRAPHENE}")
    return GRAPHENE


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def save_tiny_model():
    """A function saving a 2-block residual U-Net (pooling factor 4, seeded random
    weights) as a temseg model file; returns the JSON path.

    ``save_tiny_model(folder, sampling=0.3, name="tiny", **config_fields)``
    """
    def save(folder, *, sampling, name="tiny", **config_fields):
        import torch

        from temseg.models import ModelConfig, build_model, save_model

        torch.manual_seed(0)
        model = build_model("resunet", blocks=2, filters=2, pool=2)
        config = ModelConfig(architecture="resunet", options=model.options, sampling=sampling,
                             threshold=0.5, preprocessing={"remove_outliers": False},
                             **config_fields)
        save_model(Path(folder) / name, model, config)
        return Path(folder) / f"{name}.json"

    return save


#: the focal series of the species tests (003): three defoci, four classes
FOCAL_CHANNELS = ["Δf -50 Å", "Δf +0 Å", "Δf +50 Å"]
SPECIES = ["background", "Mo", "S2", "S1"]


@pytest.fixture(scope="session")
def save_focal_model():
    """A function saving a seeded, untrained 3-channel, 4-class residual U-Net (pooling
    factor 4) with the channel and class names of a MoS₂ focal series; returns the JSON path.
    Its head is scaled and biased so that gamma-noise series map to several classes.

    ``save_focal_model(folder, sampling=1.0, name="focal", **config_fields)``
    """
    def save(folder, *, sampling=1.0, name="focal", **config_fields):
        import torch

        from temseg.models import ModelConfig, build_model, save_model

        torch.manual_seed(3)
        model = build_model("resunet", in_channels=3, classes=4, blocks=2, filters=2, pool=2)
        with torch.no_grad():  # sharper, balanced classes: the class map is not all background
            model.head.weight.mul_(5.0)
            model.head.bias.copy_(torch.tensor([-0.68, -0.69, 0.54, -0.10]))
        config = ModelConfig(architecture="resunet", options=model.options, in_channels=3,
                             classes=SPECIES, channels=FOCAL_CHANNELS, sampling=sampling,
                             preprocessing={"remove_outliers": False}, **config_fields)
        save_model(Path(folder) / name, model, config)
        return Path(folder) / f"{name}.json"

    return save


_MODES = {np.dtype(np.uint8): 0, np.dtype(np.int16): 1, np.dtype(np.float32): 2,
          np.dtype(np.uint16): 6}


def _write_mrc(path, data, *, sampling=None):
    """A minimal MRC2014 file: 1024-byte header (cell size in Å) + data, z-y-x order."""
    data = np.asarray(data)
    stack = data if data.ndim == 3 else data[None]
    nz, ny, nx = stack.shape
    header = np.zeros(256, "<i4")
    floats = header.view("<f4")
    header[0:4] = nx, ny, nz, _MODES[data.dtype]
    header[7:10] = nx, ny, nz  # grid sampling
    if sampling is not None:
        floats[10:13] = nx * sampling, ny * sampling, nz * sampling  # cell lengths in Å
    floats[13:16] = 90.0
    header[16:19] = 1, 2, 3
    floats[19:22] = stack.min(), stack.max(), stack.mean()
    header[52] = int.from_bytes(b"MAP ", "little")
    header[53] = 0x00004444  # little-endian machine stamp
    with open(path, "wb") as handle:
        handle.write(header.tobytes())
        handle.write(np.ascontiguousarray(stack).astype(data.dtype.newbyteorder("<")).tobytes())


@pytest.fixture(scope="session")
def write_mrc():
    """``write_mrc(path, data, sampling=None)``: a minimal MRC2014 file (RosettaSciIO reads
    MRC but writes none), for image and stack readers fed a microscope format."""
    return _write_mrc
