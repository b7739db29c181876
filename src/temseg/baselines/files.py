"""Baseline "model" files: a small JSON that ``evaluate`` and ``segment`` accept like a network.

Format (``format_version`` 1)::

    {"kind": "baseline", "format_version": 1, "method": "bragg" | "fourier",
     "foreground": "amorphous" | "crystal", "params": {...all parameters...},
     "sampling": Å/px of the training images or null, "threshold": 0.5,
     "cv": {k-fold statistics} or null, "record": {how it was made}}

The file is plain JSON: loading it runs no code.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from temseg.baselines.bragg import BraggParams, bragg_score
from temseg.baselines.fourier import FourierParams, NoLatticeWarning, check_image, fourier_score
from temseg.config import from_dict, to_dict
from temseg.errors import ConfigError, InputError, ModelFileError
from temseg.io.files import write_json

FORMAT_VERSION = 1
_PARAMS = {"bragg": BraggParams, "fourier": FourierParams}
#: width of the soft score's sigmoid, relative to the threshold's magnitude
SOFTNESS = 0.1
#: a baseline model file is a few kB of JSON; a larger file is not read as one
MAX_FILE_BYTES = 16 * 2**20


@dataclass
class BaselineModel:
    """A parametrised baseline with the segmenter interface of networks.

    Attributes
    ----------
    method : "bragg" or "fourier"
    params : BraggParams or FourierParams
    sampling : float or None — Å/px of the images the parameters were fitted on;
        images of another sampling are resampled to it before filtering
    cv : dict or None — cross-validation statistics (:meth:`CVResult.summary`)
    threshold : float — 0.5: ``predict(image) > threshold`` is the hard mask
    """

    method: str
    params: BraggParams | FourierParams
    sampling: float | None = None
    cv: dict | None = None
    record: dict | None = None
    threshold: float = field(default=0.5, init=False)

    def __post_init__(self):
        if self.method not in _PARAMS:
            raise ConfigError(f"method: {self.method!r} is not 'bragg' or 'fourier'")
        if not isinstance(self.params, _PARAMS[self.method]):
            raise ConfigError(f"params: a {self.method} model needs "
                              f"{_PARAMS[self.method].__name__}")
        if self.sampling is not None and not self.sampling > 0:
            raise ConfigError(f"sampling: must be positive (Å/px), got {self.sampling}")

    @property
    def foreground(self) -> str:
        return self.params.foreground

    def _score(self, image) -> tuple[np.ndarray, float]:
        if self.method == "bragg":
            return bragg_score(image, self.params)
        return fourier_score(image, self.params)

    def predict(self, image, *, sampling: float | None = None) -> np.ndarray:
        """Foreground score of an image.

        Parameters
        ----------
        image : (H, W) array_like
        sampling : float, optional
            Å/px of ``image``; when both it and the model's sampling are known and
            differ by more than 1 %, the image is resampled to the model's
            sampling, filtered, and the score resized back.

        Returns
        -------
        (H, W) ndarray of float32 in [0, 1]
            ``sigmoid((s − t) / (0.1·|t|))`` of the filter's score ``s`` and
            threshold ``t``: above 0.5 exactly where the hard baseline mask is
            foreground. For an image without a lattice (a :class:`NoLatticeWarning`)
            all zeros, or all ones when the foreground is the amorphous side.
        """
        arr = check_image(image)
        work = arr
        if sampling is not None and self.sampling is not None and \
                abs(sampling / self.sampling - 1.0) > 0.01:
            from temseg.preprocess import resample_to

            work, _ = resample_to(arr, sampling=sampling, target_sampling=self.sampling)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoLatticeWarning)
            score, thr = self._score(work)
        for w in caught:  # re-issue them from here, others unchanged
            warnings.warn(w.message, w.category, stacklevel=2)
        if not np.isfinite(thr):  # no lattice: +inf nothing is foreground, -inf everything
            return np.full(arr.shape, 0.0 if thr > 0 else 1.0, np.float32)
        scale = SOFTNESS * max(abs(thr), 1e-6)
        prob = 0.5 * (1.0 + np.tanh(0.5 * (score - thr) / scale))  # the logistic sigmoid
        if prob.shape != arr.shape:
            from skimage.transform import resize

            prob = resize(prob, arr.shape, order=1, mode="edge", anti_aliasing=False)
        return np.clip(prob, 0.0, 1.0).astype(np.float32)

    def segment(self, image, *, sampling: float | None = None) -> np.ndarray:
        """The hard mask ``predict(image) > threshold``, (H, W) bool."""
        return self.predict(image, sampling=sampling) > self.threshold

    def to_dict(self) -> dict:
        return {"kind": "baseline", "format_version": FORMAT_VERSION, "method": self.method,
                "foreground": self.params.foreground, "params": to_dict(self.params),
                "sampling": self.sampling, "threshold": self.threshold, "cv": self.cv,
                "record": self.record}


def save_baseline(path: str | Path, model: BaselineModel) -> Path:
    """Write ``model`` as JSON (atomically) and return the path."""
    return write_json(path, model.to_dict())


def baseline_from_dict(data: dict, *, source: str = "baseline") -> BaselineModel:
    """Build a :class:`BaselineModel` from the JSON mapping of a model file."""
    if not isinstance(data, dict):
        raise ModelFileError(f"{source}: not a model file (expected a JSON object)")
    kind = data.get("kind")
    if kind != "baseline":
        raise ModelFileError(f"{source}: kind is {kind!r}, not a baseline model file")
    if data.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{source}: format_version {data.get('format_version')!r} is not "
                             f"supported (expected {FORMAT_VERSION})")
    method = data.get("method")
    if method not in _PARAMS:
        raise ModelFileError(f"{source}: method {method!r} is not 'bragg' or 'fourier'")
    params = data.get("params")
    if not isinstance(params, dict):
        raise ModelFileError(f"{source}: params missing")
    try:
        parsed = from_dict(_PARAMS[method], params, prefix="params.")
        return BaselineModel(method, parsed, sampling=data.get("sampling"), cv=data.get("cv"),
                             record=data.get("record"))
    except ConfigError as exc:
        raise ModelFileError(f"{source}: {exc}") from None


def load_baseline(path: str | Path) -> BaselineModel:
    """Read a baseline model file.

    Raises
    ------
    InputError
        The file does not exist or cannot be read.
    ModelFileError
        It is not valid JSON, is another kind of model (a network) or method,
        or its parameters are invalid.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:  # a checkpoint or an image given as the model: never read
            raise ModelFileError(f"{path}: not a baseline model file ({size / 2**20:.0f} MiB; "
                                 "a baseline model is a small JSON file)")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read baseline model ({exc.strerror or exc})") from None
    try:  # bytes, then text: a binary file (a pickle, weights) is named, not a codec error
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a baseline model file (not JSON text)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ModelFileError(f"{path}: not a valid JSON baseline model file") from None
    return baseline_from_dict(data, source=str(path))


def is_baseline_file(path: str | Path) -> bool:
    """Whether ``path`` is a file holding a JSON object of ``"kind": "baseline"`` (any
    version): what ``baseline fit --overwrite`` may replace."""
    from temseg.io.files import json_kind

    return json_kind(path, max_bytes=MAX_FILE_BYTES) == "baseline"
