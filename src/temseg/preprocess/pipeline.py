"""The per-image preprocessing recipe stored with every model (a typed, validated config)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from temseg.errors import ConfigError
from temseg.preprocess._checks import as_image
from temseg.preprocess.flatfield import flatfield as _flatfield
from temseg.preprocess.normalize import standardize as _standardize
from temseg.preprocess.outliers import remove_outliers as _remove_outliers


@dataclass
class Preprocessing:
    """What is done to every image before it reaches a network, in this order.

    1. x-ray / hot-pixel removal (:func:`~temseg.preprocess.remove_outliers`),
    2. Bézier flat-field correction (:func:`~temseg.preprocess.flatfield`, paper 004 eq. 1–2),
    3. standardization to mean 0, std 1 (:func:`~temseg.preprocess.standardize`, eq. 3).

    Attributes
    ----------
    remove_outliers : bool
        Replace pixels far above their local median (default True, paper 000).
    outlier_threshold : float
        Outlier threshold in robust standard deviations (> 0).
    flatfield_order : int or None
        Bézier surface order (0..12; the paper uses 2), or None for no flat-field.
    standardize : bool
        Shift and scale to mean 0, std 1 (default True).

    Stored in model JSON files through :func:`temseg.config.to_dict` /
    :func:`temseg.config.from_dict`.

    Examples
    --------
    >>> import numpy as np
    >>> prep = Preprocessing(flatfield_order=2)
    >>> out = prep(np.random.default_rng(0).poisson(50, (64, 64)))
    >>> out.dtype, round(float(out.std()), 3)
    (dtype('float32'), 1.0)
    """

    remove_outliers: bool = True
    outlier_threshold: float = 6.0
    flatfield_order: int | None = None
    standardize: bool = True

    def __post_init__(self) -> None:
        for name in ("remove_outliers", "standardize"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ConfigError(f"{name}: must be true or false, got {getattr(self, name)!r}")
            setattr(self, name, bool(getattr(self, name)))
        t = self.outlier_threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (np.isfinite(t) and t > 0):
            raise ConfigError(f"outlier_threshold: must be a positive number, got {t!r}")
        self.outlier_threshold = float(t)
        o = self.flatfield_order
        if o is not None and (isinstance(o, bool) or not isinstance(o, (int, np.integer))
                              or not 0 <= o <= 12):
            raise ConfigError(f"flatfield_order: must be an integer in 0..12 or null, got {o!r}")
        if o is not None:
            self.flatfield_order = int(o)

    def __call__(self, image, *, name: str = "image") -> np.ndarray:
        """Apply the steps to one (H, W) image or (C, H, W) channels; returns float32, same shape.

        A (C, H, W) stack (a focal series, 003) is preprocessed channel by
        channel: each defocus has its own contrast (phase contrast changes sign
        and strength with defocus), so each channel gets its own outlier
        statistics, flat-field and mean/std, as a single image would.
        ``name`` labels error messages (e.g. the file the image came from);
        a constant channel is named as ``NAME channel I``.
        """
        data = as_image(image, name=name, ndim=(2, 3))
        if data.ndim == 3:
            return np.stack([self(channel, name=f"{name} channel {i}")
                             for i, channel in enumerate(data)])
        out = data.astype(np.float32)
        if self.remove_outliers:
            out = _remove_outliers(out, threshold=self.outlier_threshold)
        if self.flatfield_order is not None:
            out = _flatfield(out, order=self.flatfield_order)
        if self.standardize:
            out = _standardize(out, name=name)
        return out
