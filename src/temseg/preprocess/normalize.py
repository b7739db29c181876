"""Per-image standardization: mean 0, standard deviation 1 (papers 000 and 004 eq. 3)."""

from __future__ import annotations

import numpy as np

from temseg.errors import BlankImageError
from temseg.preprocess._checks import as_image


def standardize(image, *, name: str = "image") -> np.ndarray:
    """Shift and scale an image to mean 0 and standard deviation 1.

    Parameters
    ----------
    image : (H, W) array_like
        Any real dtype; must be finite and not constant.
    name : str
        How the image is named in error messages (e.g. its file name).

    Returns
    -------
    (H, W) ndarray of float32
        ``(image − mean) / std`` (population std), computed in float64.

    Raises
    ------
    InputError
        For NaN/inf pixels; :class:`~temseg.errors.BlankImageError` (an
        ``InputError``) for a constant image, whose standardized form would be all NaN.
    """
    data = as_image(image, name=name).astype(np.float64, copy=False)
    mean = float(data.mean())
    std = float(data.std())
    if np.ptp(data) == 0 or not std > 1e-12 * max(1.0, abs(mean)):
        raise BlankImageError(f"{name}: constant image (value {mean:g}); cannot standardize")
    return ((data - mean) / std).astype(np.float32)
