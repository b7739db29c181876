"""Input checks shared by the preprocessing functions (one clear error per problem)."""

from __future__ import annotations

import numpy as np

from temseg.errors import InputError


def as_image(image, *, name: str = "image", ndim: tuple[int, ...] = (2,),
             finite: bool = True) -> np.ndarray:
    """``image`` as an ndarray, checked for dimensionality, emptiness and (optionally) finiteness.

    Raises :class:`~temseg.errors.InputError` naming ``name`` and the problem.
    """
    array = np.asarray(image)
    if array.ndim not in ndim:
        dims = " or ".join(f"{n}-D" for n in ndim)
        raise InputError(f"{name}: expected a {dims} array, got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{name}: empty array of shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InputError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise InputError(f"{name}: complex arrays are not supported")
    if finite and np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InputError(f"{name}: {bad} non-finite (NaN/inf) pixel(s)")
    return array
