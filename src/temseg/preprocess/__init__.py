"""Preprocessing: outliers, standardization, flat-field, resampling, patches, augmentation, splits.

Papers: Sytwu et al. (000, dataset creation) and Sadre et al. (004, eq. 1–3).
All functions take and return NumPy arrays; random steps take a seed or Generator.
"""

from temseg.preprocess.augment import (N_DIHEDRAL, dihedral, dihedral_inverse, dihedral_stack,
                                       random_dihedral, random_intensity, random_zoom)
from temseg.preprocess.flatfield import (bernstein, bezier_surface, fit_bezier_surface,
                                         flatfield, flatfield_standardize)
from temseg.preprocess.normalize import standardize
from temseg.preprocess.outliers import outlier_mask, remove_outliers
from temseg.preprocess.patches import Patches, extract_patches, patch_origins
from temseg.preprocess.pipeline import Preprocessing
from temseg.preprocess.resample import rebin, resample_to
from temseg.preprocess.splits import group_kfold, split_groups

__all__ = [
    "N_DIHEDRAL", "Patches", "Preprocessing", "bernstein", "bezier_surface", "dihedral",
    "dihedral_inverse", "dihedral_stack", "extract_patches", "fit_bezier_surface", "flatfield",
    "flatfield_standardize", "group_kfold", "outlier_mask", "patch_origins", "random_dihedral",
    "random_intensity", "random_zoom", "rebin", "remove_outliers", "resample_to", "split_groups",
    "standardize",
]
