"""One segmenter for trained networks and fitted baselines: :func:`load_segmenter`.

A segmenter turns one ``(H, W)`` micrograph, or for a network with C > 1
input channels one ``(C, H, W)`` focal series (003), into probability maps of
the same ``(H, W)``. For a network that means, as its model file says:
resample to the model's pixel size (when both are known) → preprocess (each
channel on its own, as training does) → tiled prediction
(:func:`~temseg.infer.tiling.predict_tiled`) → resample the probabilities
back to the input shape. For a baseline (Fourier or Bragg
filter) it delegates to :func:`temseg.baselines.load_baseline`. ``evaluate``
and ``segment`` use nothing else.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from temseg.errors import ConfigError, InputError, ModelFileError
from temseg.models.locate import _read_kind, model_json
from temseg.infer.tiling import (_validate, count_tiles, model_min_size, model_multiple,
                                  predict_tiled, too_small)
from temseg.infer.windows import WINDOWS
from temseg.preprocess.resample import resampled_shape

Callback = Callable[[int, int], None]


def _default_warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


def _as_image(image, name: str, *, channels: int = 1, takes: str = "") -> np.ndarray:
    """``(H, W)`` (one channel) or ``(C, H, W)`` (``channels`` = C > 1) real array, or an
    :class:`InputError` saying what the model takes."""
    image = np.asarray(image)
    if channels > 1:
        if image.ndim != 3 or image.shape[0] != channels or min(image.shape) < 1:
            raise InputError(f"{name}: the model takes {takes or f'{channels} channels'} as "
                             f"a ({channels}, H, W) array; got shape {image.shape}")
    elif image.ndim != 2 or min(image.shape) < 1:
        raise InputError(f"{name}: expected a 2-D (H, W) image, got shape {image.shape}")
    if image.dtype.kind not in "biuf":
        raise InputError(f"{name}: expected real intensities, got dtype {image.dtype}")
    return image


def foreground(proba: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` class probabilities → ``(H, W)`` probability of any foreground class.

    One channel is already the foreground (sigmoid); otherwise ``1 − p(class 0)``
    (for two classes, ``p(class 1)``), as :mod:`temseg.train.losses` does.
    """
    if proba.shape[0] == 1:
        return proba[0]
    if proba.shape[0] == 2:
        return proba[1]
    return (1.0 - proba[0]).astype(np.float32)


def describe_channels(in_channels: int, names=None) -> str:
    """What a model takes, for messages: ``"focal series of 3 images (Δf -50, +0, +50 Å)"``.

    Names sharing a first word and a unit (``"Δf -50 Å"``, ``"Δf +0 Å"``) are
    shortened to one list; other names are listed as they are.
    """
    if in_channels == 1:
        return "single images"
    text = f"focal series of {in_channels} images"
    if not names:
        return text
    names = [str(n) for n in names]
    parts = [n.split(" ") for n in names]
    if (all(len(p) == 3 for p in parts) and len({p[0] for p in parts}) == 1
            and len({p[2] for p in parts}) == 1):
        listed = f"{parts[0][0]} {', '.join(p[1] for p in parts)} {parts[0][2]}"
    else:
        listed = ", ".join(names)
    return f"{text} ({listed})"


class Segmenter:
    """What :func:`load_segmenter` returns: shared attributes and the foreground map.

    Attributes
    ----------
    kind : {"network", "baseline"}
    path : Path or None
        The model file.
    threshold : float
        Foreground probability at and above which a pixel is foreground.
    sampling : float or None
        Å per pixel the model works at, ``None`` for any.
    classes : list of str
        Class names, index = channel of :meth:`predict_proba` (class 0 is the
        background).
    in_channels : int
        Images per input: 1 for a micrograph ``(H, W)``, C for a focal series
        ``(C, H, W)``.
    channels : list of str or None
        Names of the input channels, in order (e.g. the defoci), when known.
    weights_sha256 : str or None
        The model file's SHA-256 of its weights (networks), for run records.
    """

    kind = "segmenter"
    in_channels = 1
    channels: list[str] | None = None
    weights_sha256: str | None = None

    def __init__(self, *, threshold: float = 0.5, sampling: float | None = None,
                 classes=("background", "foreground"), path: str | Path | None = None,
                 warn: Callable[[str], None] | None = None):
        if not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
            raise ConfigError(f"threshold: must be in [0, 1], got {threshold!r}")
        if sampling is not None and not (math.isfinite(sampling) and sampling > 0):
            raise ConfigError(f"sampling: must be a positive number of Å/px, got {sampling!r}")
        self.threshold = float(threshold)
        self.sampling = None if sampling is None else float(sampling)
        self.classes = _class_names(classes)
        self.path = None if path is None else Path(path)
        self.warn = warn or _default_warn
        #: pixel sizes (Å/px) whose far resampling has been warned of (once each)
        self.resampling_said: set[float] = set()

    def __repr__(self) -> str:
        where = f"{self.path.name!r}, " if self.path is not None else ""
        sampling = f"{self.sampling:g} Å/px" if self.sampling is not None else "any pixel size"
        return (f"{type(self).__name__}({where}{self.takes}, classes {list(self.classes)}, "
                f"{sampling}, threshold {self.threshold:g})")

    @property
    def takes(self) -> str:
        """What one input is, in words (``"single images"``, ``"focal series of 3 images
        (Δf -50, +0, +50 Å)"``)."""
        return describe_channels(self.in_channels, self.channels)

    def predict_proba(self, image, *, sampling: float | None = None,
                      callback: Callback | None = None) -> np.ndarray:
        """``(K, H, W)`` float32 class probabilities of an ``(H, W)`` image (``(C, H, W)``
        for C input channels)."""
        raise NotImplementedError

    def predict(self, image, *, sampling: float | None = None,
                callback: Callback | None = None) -> np.ndarray:
        """Foreground probability of ``image``.

        Parameters
        ----------
        image : (H, W) array_like, or (C, H, W) for a network of C input channels
            Raw intensities (the segmenter preprocesses as its model says).
        sampling : float, optional
            Å per pixel of ``image``; lets a network resample to its own.
        callback : callable(done, total), optional
            Progress over tiles.

        Returns
        -------
        (H, W) ndarray of float32 in [0, 1]
        """
        return np.ascontiguousarray(
            foreground(self.predict_proba(image, sampling=sampling, callback=callback)),
            dtype=np.float32)

    def check_image(self, shape: tuple[int, ...], *, sampling: float | None = None,
                    name: str = "image") -> None:
        """Raise :class:`InputError` before any work if an image of ``shape`` cannot be
        segmented (not 2-D; for networks, smaller than the pooling factor after resampling).

        ``shape`` is ``(H, W)``, or ``(C, H, W)`` with C the segmenter's
        :attr:`in_channels` (an ``(H, W)`` shape is then one channel's).
        """
        shape = tuple(shape)
        if self.in_channels > 1 and len(shape) == 3:
            if shape[0] != self.in_channels:
                raise InputError(f"{name}: the model takes {self.takes}; got "
                                 f"{shape[0]} channel(s), shape {shape}")
            shape = shape[1:]
        if len(shape) != 2 or min(shape) < 1:
            raise InputError(f"{name}: expected a 2-D image, got shape {tuple(shape)}")

    def n_tiles(self, shape: tuple[int, int], *, sampling: float | None = None) -> int:
        """Forward passes :meth:`predict` makes for an image of ``shape`` (progress bars)."""
        return 1

    def describe(self) -> dict:
        """JSON-safe summary for run records (with the model file's ``weights_sha256``, which
        names the weights used whatever the file is called)."""
        out = {"kind": self.kind, "path": None if self.path is None else str(self.path),
               "threshold": self.threshold, "sampling": self.sampling, "classes": self.classes,
               "in_channels": self.in_channels, "channels": self.channels}
        if self.weights_sha256:
            out["weights_sha256"] = self.weights_sha256
        return out


#: tiles per forward pass: 4, and for an MSD-net 9, a 1024² frame at tile 512 in one pass
#: (its per-pass set-up, the kernels' spectra, costs about as much as a tile;
#: BENCHMARKS.md "Tiles per forward pass of MSD-net")
BATCH_SIZE, MSD_BATCH_SIZE = 4, 9


def default_batch_size(model) -> int:
    """Tiles per forward pass for ``model`` when none is given: :data:`MSD_BATCH_SIZE` for a
    network holding an MSD-net (also in an ensemble), else :data:`BATCH_SIZE`."""
    from temseg.models.msdnet import MSDNet

    modules = model.modules() if hasattr(model, "modules") else ()
    return MSD_BATCH_SIZE if any(isinstance(m, MSDNet) for m in modules) else BATCH_SIZE


class NetworkSegmenter(Segmenter):
    """A trained network with its preprocessing, pixel size and tiling settings.

    Parameters
    ----------
    model : torch.nn.Module
        ``(B, C_in, h, w)`` → ``(B, K, h, w)`` logits.
    preprocessing : callable (H, W) → (H, W), optional
        Applied to every image (usually a :class:`temseg.preprocess.Preprocessing`);
        to each channel on its own when ``in_channels`` > 1, as training does
        (every defocus image standardized by itself).
    in_channels : int
        ``C_in``: 1 takes ``(H, W)`` micrographs; C > 1 takes ``(C, H, W)``
        focal series.
    channels : list of str, optional
        Names of the C input channels (in the order the network takes them).
    sampling : float, optional
        Å per pixel of the training images; images with a known pixel size
        are resampled to it, and probabilities back to the input shape.
    threshold, classes, path, warn
        See :class:`Segmenter`; ``warn(message)`` receives warnings (default
        :func:`warnings.warn`).
    tile, overlap, batch_size, window, device, amp
        As :func:`~temseg.infer.tiling.predict_tiled`; attributes that may be
        changed after loading. ``batch_size`` None: :func:`default_batch_size`.
    tta : bool
        Test-time augmentation: average the probabilities over the 8 rotations
        and mirror images of the input (8× the time; micrographs have no
        preferred orientation).
    config : object, optional
        The :class:`temseg.models.ModelConfig` it came from (for records).
    """

    kind = "network"

    def __init__(self, model, *, preprocessing: Callable | None = None,
                 sampling: float | None = None, threshold: float = 0.5,
                 classes=("background", "foreground"),
                 path: str | Path | None = None, warn: Callable[[str], None] | None = None,
                 tile: int = 512, overlap: float = 0.25, batch_size: int | None = None,
                 window: str = "hamming", device=None, amp: bool = False, tta: bool = False,
                 config: Any = None, in_channels: int = 1, channels=None):
        super().__init__(threshold=threshold, sampling=sampling, classes=classes, path=path,
                         warn=warn)
        if isinstance(in_channels, bool) or not isinstance(in_channels, (int, np.integer)) \
                or in_channels < 1:
            raise ConfigError(f"in_channels: must be a positive integer, got {in_channels!r}")
        if channels is not None and len(channels) != in_channels:
            raise ConfigError(f"channels: {len(channels)} names for {in_channels} input "
                              "channels")
        self.in_channels = int(in_channels)
        self.channels = None if channels is None else [str(c) for c in channels]
        self.model = model
        self.preprocessing = preprocessing
        self.config = config
        self.configure(tile=tile, overlap=overlap, batch_size=batch_size, window=window,
                       device=device, amp=amp, tta=tta)

    @property
    def multiple(self) -> int:
        """The network's pooling factor (input sides are padded/tiled to multiples of it)."""
        return model_multiple(self.model)

    @property
    def min_size(self) -> int:
        """The smallest tile side the network takes (its pooling factor, or an MSD-net's
        41 px); smaller images are reflect-padded to it."""
        return model_min_size(self.model)

    def configure(self, *, tile: int | None = None, overlap: float | None = None,
                  batch_size: int | None = None, window: str | None = None,
                  device=None, amp: bool | None = None,
                  tta: bool | None = None) -> NetworkSegmenter:
        """Change tiling settings (``None`` keeps the current value); validated here."""
        from temseg.device import pick_device

        tile = getattr(self, "tile", 512) if tile is None else int(tile)
        overlap = getattr(self, "overlap", 0.25) if overlap is None else float(overlap)
        if batch_size is None:
            batch_size = getattr(self, "batch_size", None) or default_batch_size(self.model)
        batch_size = int(batch_size)
        window = getattr(self, "window", "hamming") if window is None else window
        _validate(overlap, batch_size)
        if window not in WINDOWS:
            raise ConfigError(f"window: unknown window {window!r} (use {', '.join(WINDOWS)})")
        why = too_small(tile, self.multiple, self.min_size)
        if why:
            raise ConfigError(f"tile: {tile} px is smaller than {why}")
        self.tile, self.overlap, self.batch_size, self.window = tile, overlap, batch_size, window
        if device is not None or not hasattr(self, "device"):
            self.device = device if hasattr(device, "type") else pick_device(device or "auto")
        if amp is not None:
            self.amp = bool(amp)
        if tta is not None or not hasattr(self, "tta"):
            self.tta = bool(tta)
        return self

    def _say_resampling(self, sampling: float, shape) -> None:
        """Warn, once per pixel size, of an image resampled ≥ RESAMPLE_WARN× to the model's
        (a pixel size in nm given as Å shrinks an image tenfold)."""
        from temseg.preprocess.resample import resampling_note

        if sampling in self.resampling_said:
            return
        note = resampling_note("image", sampling, self.sampling, tuple(shape),
                               hint="check the pixel size: sampling is in Å/px")
        if note:
            self.resampling_said.add(sampling)
            self.warn(note)

    def _working_shape(self, shape: tuple[int, int], sampling: float | None) -> tuple[int, int]:
        shape = tuple(shape)[-2:]
        if self.sampling is None or sampling is None:
            return tuple(shape)  # type: ignore[return-value]
        return resampled_shape(shape, sampling=sampling, target_sampling=self.sampling)

    def check_image(self, shape, *, sampling=None, name="image") -> None:
        super().check_image(shape, name=name)
        shape = tuple(shape)[-2:]
        try:
            work = self._working_shape(tuple(shape), sampling)
        except InputError as exc:  # a pixel size in nm given as Å, or so: say which file
            raise InputError(f"{name}: {exc}") from None
        if min(work) < self.multiple:
            at = "" if work == tuple(shape) else f" ({work[0]}×{work[1]} at the model's " \
                                                 f"{self.sampling:g} Å/px)"
            raise InputError(f"{name}: image {shape[0]}×{shape[1]}{at} is smaller than the "
                             f"network's pooling factor of {self.multiple} px")

    def n_tiles(self, shape, *, sampling=None) -> int:
        n = count_tiles(self._working_shape(tuple(shape), sampling), tile=self.tile,
                        overlap=self.overlap, multiple=self.multiple, min_size=self.min_size)
        return 8 * n if self.tta else n

    def predict_proba(self, image, *, sampling=None, callback=None) -> np.ndarray:
        """Class probabilities ``(K, H, W)`` float32 (softmax over the K classes).

        ``image`` is ``(H, W)``, or ``(C, H, W)`` for a network of C input
        channels. It is resampled to the model's pixel size when both are
        known, preprocessed as the model file says (channel by channel),
        predicted in tiles, and the probabilities resampled back (bilinear)
        to ``(H, W)``.
        """
        from temseg.preprocess import resample_to

        image = _as_image(image, "image", channels=self.in_channels, takes=self.takes)
        self.check_image(image.shape, sampling=sampling)
        input_shape, resampled = image.shape[-2:], False
        if self.sampling is not None and sampling is None:
            self.warn(f"image has no pixel size: predicting at its own sampling, although the "
                      f"model was trained at {self.sampling:g} Å/px (give sampling=, in Å/px; "
                      f"--sampling or --pixel-size-nm at the command line)")
        elif self.sampling is not None and sampling is not None:
            self._say_resampling(float(sampling), image.shape[-2:])
            work_shape = self._working_shape(image.shape, sampling)
            if work_shape != input_shape:  # every channel alike: resample_to takes (C, H, W)
                image, _ = resample_to(image, sampling=float(sampling),
                                       target_sampling=self.sampling)
                resampled = True
        x = image.astype(np.float32, copy=False)
        if self.preprocessing is not None:
            x = self._preprocess(x)
        proba = self._predict(x, callback)
        if resampled:
            from skimage.transform import resize

            # bilinear weights sum to one: the classes still sum to one
            proba = resize(proba, (proba.shape[0], *input_shape), order=1,
                           mode="edge", anti_aliasing=False, preserve_range=True
                           ).astype(np.float32)
        return proba

    def _preprocess(self, x: np.ndarray) -> np.ndarray:
        """The model's preprocessing of an ``(H, W)`` image, or of each channel of a
        ``(C, H, W)`` one on its own (a constant channel is named in the error)."""
        if x.ndim == 2:
            return np.asarray(self.preprocessing(x), dtype=np.float32)
        out = np.empty(x.shape, np.float32)
        for c in range(x.shape[0]):
            try:
                out[c] = self.preprocessing(x[c])
            except InputError as exc:
                label = f"channel {c}" + (f" ({self.channels[c]})" if self.channels else "")
                raise type(exc)(f"{label}: {str(exc).removeprefix('image: ')}") from None
        return out

    def _predict(self, x: np.ndarray, callback) -> np.ndarray:
        """Tiled ``(K, H, W)`` probabilities of a preprocessed ``(H, W)`` or ``(C, H, W)``
        image, dihedral-averaged (over the last two axes) with tta."""
        def tiled(image, cb):
            return predict_tiled(self.model, np.ascontiguousarray(image), tile=self.tile,
                                 overlap=self.overlap, batch_size=self.batch_size,
                                 window=self.window, device=self.device, amp=self.amp,
                                 callback=cb)

        if not self.tta:
            return tiled(x, callback)
        total = 8 * count_tiles(x.shape[-2:], tile=self.tile, overlap=self.overlap,
                                multiple=self.multiple, min_size=self.min_size)
        acc = None
        for n, (turns, flip) in enumerate((k, f) for k in range(4) for f in (False, True)):
            view = np.rot90(x, turns, axes=(-2, -1))
            view = view[..., ::-1] if flip else view
            done = n * total // 8
            proba = tiled(view, None if callback is None else
                          (lambda d, t, done=done: callback(done + d, total)))
            proba = proba[:, :, ::-1] if flip else proba
            proba = np.rot90(proba, -turns, axes=(1, 2))
            acc = proba.astype(np.float32) if acc is None else acc + proba
        return np.ascontiguousarray(acc / 8.0, dtype=np.float32)

    def describe(self) -> dict:
        from temseg.config import to_dict

        out = super().describe()
        out.update(tile=self.tile, overlap=self.overlap, batch_size=self.batch_size,
                   window=self.window, device=str(self.device), amp=self.amp, tta=self.tta,
                   pooling_factor=self.multiple, min_input_px=self.min_size)
        if self.config is not None:
            try:
                config = to_dict(self.config)
            except TypeError:
                return out
            training = config.get("training")
            if isinstance(training, dict):  # image lists as counts: a record per run, not a copy
                config["training"] = {key: (len(value) if key.endswith("_images") and
                                            isinstance(value, list) else value)
                                      for key, value in training.items()}
            out["model_config"] = config
        return out


class BaselineSegmenter(Segmenter):
    """A fitted baseline (Fourier or Bragg filter) behind the segmenter interface.

    Parameters
    ----------
    baseline : object
        What :func:`temseg.baselines.load_baseline` returns: ``.predict(image,
        *, sampling=None) -> (H, W)`` score in [0, 1]; its ``threshold`` and
        ``sampling`` attributes are used when present.
    path : path, optional
        The model file, for messages and the record.
    warn : callable(str), optional
        Hears warnings (default: :func:`warnings.warn`).
    """

    kind = "baseline"

    def __init__(self, baseline, *, path: str | Path | None = None,
                 warn: Callable[[str], None] | None = None):
        threshold = getattr(baseline, "threshold", None)
        sampling = getattr(baseline, "sampling", None)
        super().__init__(threshold=0.5 if threshold is None else float(threshold),
                         sampling=None if sampling is None else float(sampling),
                         path=path, warn=warn)
        self.baseline = baseline

    @property
    def method(self) -> str | None:
        return getattr(self.baseline, "method", None)

    def check_image(self, shape, *, sampling=None, name="image") -> None:
        from temseg.baselines.fourier import MIN_SIDE_PX

        super().check_image(shape, name=name)
        if min(shape) < MIN_SIDE_PX:
            raise InputError(f"{name}: image {shape[0]}×{shape[1]} is smaller than the "
                             f"{MIN_SIDE_PX}×{MIN_SIDE_PX} px a Fourier or Bragg filter needs")

    def predict(self, image, *, sampling=None, callback=None) -> np.ndarray:
        image = _as_image(image, "image")
        score = np.asarray(self.baseline.predict(image, sampling=sampling), dtype=np.float32)
        if score.shape != image.shape:
            raise ModelFileError(f"{self.path or 'baseline'}: returned shape {score.shape} "
                                 f"for an image of shape {image.shape}")
        if callback is not None:
            callback(1, 1)
        return np.clip(score, 0.0, 1.0)

    def predict_proba(self, image, *, sampling=None, callback=None) -> np.ndarray:
        """``(2, H, W)``: background and foreground score."""
        fg = self.predict(image, sampling=sampling, callback=callback)
        return np.stack([1.0 - fg, fg]).astype(np.float32)

    def describe(self) -> dict:
        return {**super().describe(), "method": self.method}


def _preprocessing(config, json_path: Path):
    from temseg.config import from_dict
    from temseg.preprocess import Preprocessing

    prep = getattr(config, "preprocessing", None)
    if prep is None or isinstance(prep, Preprocessing):
        return prep
    try:
        return from_dict(Preprocessing, dict(prep), prefix="preprocessing.")
    except (ConfigError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{json_path}: {exc}") from None


def _class_names(classes) -> list[str]:
    """Class names from names or a count (``class0``, ``class1``...)."""
    if classes is None:
        return ["background", "foreground"]
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        if classes == 2:
            return ["background", "foreground"]
        return [f"class{i}" for i in range(classes)]
    return [str(c) for c in classes]


def load_segmenter(path: str | Path, *, tile: int = 512, overlap: float = 0.25,
                   batch_size: int | None = None, window: str = "hamming", device=None,
                   amp: bool = False, tta: bool = False,
                   warn: Callable[[str], None] | None = None) -> Segmenter:
    """Load a trained network or a fitted baseline as a :class:`Segmenter`.

    Parameters
    ----------
    path : str or Path
        A model file (``.json`` / ``.safetensors`` / the stem), a checkpoint
        folder or a training run folder (its best checkpoint). The JSON's
        ``"kind"`` says network or baseline.
    tile, overlap, batch_size, window, device, amp, tta
        Tiled-prediction settings of a network (ignored for baselines); see
        :class:`NetworkSegmenter`.
    warn : callable(message), optional
        Receives warnings (e.g. an image without pixel size); default
        :func:`warnings.warn`.

    Returns
    -------
    NetworkSegmenter or BaselineSegmenter
        ``.predict(image, *, sampling=None)`` → ``(H, W)`` float32 foreground
        probability; ``.predict_proba``; ``.threshold``, ``.sampling``, ``.classes``.

        A network with C > 1 input channels (a focal series, 003) takes
        ``(C, H, W)`` images in the order of its ``.channels``.

    Raises
    ------
    ModelFileError
        Missing file, unreadable JSON, or neither a network nor a baseline.

    Examples
    --------
    >>> seg = load_segmenter("runs/graphene/checkpoints/best")     # doctest: +SKIP
    >>> prob = seg.predict(image, sampling=0.5)                     # doctest: +SKIP
    >>> mask = prob >= seg.threshold                                # doctest: +SKIP
    """
    json_path = model_json(path)
    kind, data = _read_kind(json_path)
    if kind == "baseline":
        from temseg.baselines import load_baseline

        return BaselineSegmenter(load_baseline(json_path), path=json_path, warn=warn)

    from temseg.models import load_model

    model, config = load_model(json_path)
    in_channels = int(getattr(config, "in_channels", 1) or 1)
    threshold = getattr(config, "threshold", None)
    segmenter = NetworkSegmenter(
        model, preprocessing=_preprocessing(config, json_path),
        sampling=getattr(config, "sampling", None),
        threshold=0.5 if threshold is None else float(threshold),
        classes=getattr(config, "classes", None), path=json_path, warn=warn,
        tile=tile, overlap=overlap, batch_size=batch_size, window=window, device=device,
        amp=amp, tta=tta, config=config, in_channels=in_channels,
        channels=getattr(config, "channels", None))
    segmenter.weights_sha256 = data.get("weights_sha256")  # (load_model checked it)
    return segmenter
