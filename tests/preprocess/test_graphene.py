"""The preprocessing steps on the real graphene images of Sadre et al. (paper 004), by path."""

from __future__ import annotations

import numpy as np
import pytest

from temseg.preprocess import (Preprocessing, extract_patches, fit_bezier_surface, outlier_mask,
                               split_groups)

iio = pytest.importorskip("imageio.v3")


def _pairs(folder):
    images = sorted(p for p in folder.glob("*.png") if not p.stem.endswith("_LABEL"))
    return [(p, p.with_name(p.stem + "_LABEL.png")) for p in images]


def _series(path) -> str:
    """Frames of one acquisition series share the name before ``_layer_``."""
    return path.stem.split("_layer_")[0]


def test_split_by_acquisition_series(graphene_dir):
    pairs = _pairs(graphene_dir)
    assert len(pairs) == 105
    groups = np.array([_series(p) for p, _ in pairs])
    train, val, test = split_groups(groups, seed=0)
    fractions = np.array([len(train), len(val), len(test)]) / len(groups)
    np.testing.assert_allclose(fractions, [0.7, 0.1, 0.2], atol=0.02)
    assert not set(groups[train]) & (set(groups[val]) | set(groups[test]))
    assert not set(groups[val]) & set(groups[test])


def test_preprocessing_and_patches_on_graphene(graphene_dir):
    prep = Preprocessing(flatfield_order=2)
    kept = total = 0
    for image_path, label_path in _pairs(graphene_dir)[::7]:  # 15 images keep it fast
        image = iio.imread(image_path).astype(np.float64)
        label = iio.imread(label_path)
        assert image.shape == label.shape == (256, 256)
        assert outlier_mask(image).mean() < 2e-3  # real frames are (nearly) free of x-rays
        assert fit_bezier_surface(image, order=2).min() > 0  # intensities: flat-field applies
        out = prep(image, name=image_path.name)
        assert abs(float(out.mean())) < 1e-5 and float(out.std()) == pytest.approx(1, abs=1e-4)
        patches = extract_patches(out, label, size=128, drop_background=True)
        assert all((lab > 0).any() for lab in patches.labels)
        kept += len(patches.origins)
        total += 4
    assert 0 < kept < total  # graphene has some background-only 128² patches, not all
