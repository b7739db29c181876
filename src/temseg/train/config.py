"""The typed training configuration: one dataclass, YAML one to one, CLI flags on top.

Every field is validated in :meth:`TrainConfig.__post_init__`; a bad value
raises :class:`~temseg.errors.ConfigError` naming the field. Build one from a recipe file
with :func:`load_recipe` (``load_recipe("recipe.yaml", epochs=10)``): its errors name the
file, a mistyped key gets the closest field, and the recipe's relative data paths are taken
from the recipe's folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from temseg.errors import ConfigError

#: loss names of :func:`temseg.train.losses.make_loss`
LOSSES = ("ce", "dice", "ce+dice", "lovasz", "ce+lovasz")
#: largest seed (numpy takes any non-negative integer, torch up to 2**64-1; 32 bits, as
#: most tools take)
MAX_SEED = 2**32 - 1
#: validation scores the loop can monitor for early stopping and the best checkpoint
#: (with ≥ 3 classes "f1" is "macro_f1"; see :func:`temseg.train.loop.monitored`)
MONITORS = ("f1", "dice", "soft_dice", "jaccard", "accuracy", "balanced_accuracy", "macro_f1")


def _paths(value) -> list[Path]:
    """One path (``data="folder"``) or several as a list of Paths (a lone string was split
    into its letters, each taken for a folder)."""
    return [Path(value)] if isinstance(value, (str, Path)) else [Path(p) for p in value]


@dataclass
class TrainConfig:
    """How to train a segmentation network.

    Parameters
    ----------
    data : list of paths
        Labelled folders (``NAME.png`` + ``NAME{label_suffix}.png``) or
        simulated zarr datasets (``images``/``labels`` arrays, attr ``sampling``).
        A dataset of (N, C, H, W) images (a focal series) trains a C-channel
        network; attrs ``channels`` and ``classes`` name its channels and classes.
    val_data : list of paths
        Explicit validation folders/datasets; when empty, ``val_fraction`` of
        the source groups of ``data`` is held out instead. Only with ``folds``
        1 (k-fold scores each fold on its test part and validates on
        ``val_fraction`` of its training folds).
    label_suffix : str
        Suffix of the label file names in labelled folders.
    multiclass : bool
        Keep label values as classes (else label > 0 is foreground). A dataset
        whose attrs name three or more ``classes`` keeps them without it.
    group_pattern : str
        Regular expression removed from an image name to get its source group
        (frames of one stack, ``..._layer_0031``, stay on one side of a split).
    init : str or None
        Fine-tune: start every run from this trained network's weights (a model
        file, a training run folder or a shipped model's name; see
        :mod:`temseg.train.init`). Its architecture and options are kept, and
        its preprocessing (fields given in ``preprocessing`` replace its own).
    init_member : int or None
        With an ``init`` ensemble (several networks averaged, e.g. the shipped
        ``graphene``): which member to start from, 1-based.
    architecture : str or None
        Registry name of :func:`temseg.models.build_model` (``resunet``, ``unet``,
        ``msdnet``); ``None``: the ``init`` model's, else ``resunet``.
    model : dict
        Options of the architecture (features, depth, ...).
    preprocessing : dict
        Fields of :class:`temseg.preprocess.Preprocessing`, applied to every
        image before training and stored in the model file (empty: the
        defaults, or the ``init`` model's).
    sampling : float or None
        Å per pixel of the data; overrides the data's own calibration.
    loss : {"ce", "dice", "ce+dice", "lovasz", "ce+lovasz"}
        Pixel-wise cross-entropy, soft dice, the Lovász-softmax surrogate of
        the Jaccard index, or cross-entropy plus one of the two.
    class_weights : list of float or None
        Cross-entropy weight per class (background first).
    amsgrad : bool
        Adam with the AMSGrad variant.
    lr, weight_decay : float
        Adam learning rate and L2 weight decay.
    lr_schedule : {"constant", "cosine"}
        Learning rate per epoch; cosine decays to 0 at ``epochs``.
    ema : float
        Decay per optimizer step of an exponential moving average of the
        weights (and batch-norm statistics), e.g. 0.995; 0 = off. When on,
        validation, the best checkpoint and the trained model use the average.
    batch_size, epochs : int
    patch_size : int or None
        Side of the random square crops (pixels); ``None`` trains on whole images
        (which must then share one shape).
    patches_per_image : int
        Random crops drawn from each training image per epoch.
    dihedral : bool
        Random rotation by k·90° and flip (8 symmetries of the square).
    intensity : float
        Strength of random gain and offset (relative, on standardized images); 0 = off.
    zoom : float
        Strength of random magnification: ``a`` draws a factor log-uniformly in
        ``[1/(1+a), 1+a]`` (:func:`temseg.preprocess.random_zoom`); 0 = off.
    noise : float
        Largest std of white Gaussian noise added to a training image, in units
        of its std (drawn uniformly from 0): robustness to a lower dose; 0 = off.
    blur : float
        Largest std (pixels) of a Gaussian blur of a training image (drawn
        uniformly from 0): robustness to defocus and a softer detector; 0 = off.
    val_fraction : float
        Fraction of the images held out for validation (whole source groups at a time,
        so the share may be a little off) when ``val_data`` is empty
        (0 = no validation: no early stopping, the last epoch is kept).
    monitor : str
        Validation score for early stopping and the best checkpoint (higher is better).
        With three or more classes ``f1`` (and ``macro_f1``) is the mean F1 of
        the foreground classes, ``val_macro_f1`` in the log; the other scores are
        of foreground (any class) against background.
    patience : int or None
        Stop after this many epochs without a better ``monitor``; ``None`` = never.
        Needs validation data (``val_fraction`` > 0, or ``val_data``).
    threshold : float
        Probability threshold of the foreground, stored in the model file.
    seeds : list of int
        One run per seed (each in 0 … 2**32-1); results reported as mean ± std.
    ensemble : bool
        With two or more seeds, also average each fold's (or the single
        split's) seed models into one ``ensemble`` model file and score it on
        the same held-out data (:func:`temseg.models.combine_models`).
    folds : int
        ``k`` ≥ 2 runs grouped k-fold cross-validation; 1 = a single split.
    split_seed : int
        Seed (0 … 2**32-1) of the validation split and the folds (kept apart from ``seeds`` so
        that every seed and every recipe sees the same folds).
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    amp : bool
        Mixed precision (float16 autocast) when on CUDA; ignored on the CPU.
    num_threads : int or None
        ``torch.set_num_threads`` for CPU training.
    """

    data: list[Path] = field(default_factory=list)
    val_data: list[Path] = field(default_factory=list)
    label_suffix: str = "_LABEL"
    multiclass: bool = False
    group_pattern: str = r"_layer_\d+$"
    init: str | None = None
    init_member: int | None = None
    architecture: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    sampling: float | None = None
    loss: Literal["ce", "dice", "ce+dice", "lovasz", "ce+lovasz"] = "ce"
    class_weights: list[float] | None = None
    amsgrad: bool = False
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_schedule: Literal["constant", "cosine"] = "constant"
    ema: float = 0.0
    batch_size: int = 4
    epochs: int = 50
    patch_size: int | None = None
    patches_per_image: int = 1
    dihedral: bool = True
    intensity: float = 0.0
    zoom: float = 0.0
    noise: float = 0.0
    blur: float = 0.0
    val_fraction: float = 0.2
    monitor: str = "f1"
    patience: int | None = None
    threshold: float = 0.5
    seeds: list[int] = field(default_factory=lambda: [0])
    ensemble: bool = False
    folds: int = 1
    split_seed: int = 0
    device: str = "auto"
    amp: bool = True
    num_threads: int | None = None

    def __post_init__(self) -> None:
        self.data = _paths(self.data)
        if self.init is not None:
            self.init = str(self.init)
            if not self.init.strip():
                raise ConfigError("init: give a model file, run folder or shipped model name")
        elif self.architecture is None:
            self.architecture = "resunet"
        if self.init_member is not None:
            if self.init is None:
                raise ConfigError("init_member: given without init (the ensemble to pick from)")
            if isinstance(self.init_member, bool) or not isinstance(self.init_member, int) \
                    or self.init_member < 1:
                raise ConfigError(f"init_member: must be a member number >= 1, got "
                                  f"{self.init_member!r}")
        self.val_data = _paths(self.val_data)
        if self.loss not in LOSSES:
            raise ConfigError(f"loss: {self.loss!r} is not one of {', '.join(map(repr, LOSSES))}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"lr_schedule: {self.lr_schedule!r} is not 'constant' or 'cosine'")
        for name in ("lr",):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name}: must be a positive number, got {value}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema: must be in [0, 1) (decay per step), got {self.ema}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay: must be ≥ 0, got {self.weight_decay}")
        for name in ("batch_size", "epochs", "patches_per_image", "folds", "patch_size",
                     "patience", "num_threads"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, numbers.Integral)):
                raise ConfigError(f"{name}: must be a whole number, got {value!r}")
        for name in ("batch_size", "epochs", "patches_per_image", "folds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be ≥ 1, got {getattr(self, name)}")
        if self.patch_size is not None and self.patch_size < 1:
            raise ConfigError(f"patch_size: must be ≥ 1 pixel, got {self.patch_size}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience: must be ≥ 1 epoch, got {self.patience}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction: must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.intensity < 1.0:
            raise ConfigError(f"intensity: must be in [0, 1), got {self.intensity}")
        if not 0.0 <= self.zoom < 1.0:
            raise ConfigError(f"zoom: must be in [0, 1), got {self.zoom}")
        if not 0.0 <= self.noise <= 5.0:
            raise ConfigError(f"noise: must be in [0, 5] image stds, got {self.noise}")
        if not 0.0 <= self.blur <= 10.0:
            raise ConfigError(f"blur: must be in [0, 10] pixels, got {self.blur}")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold: must be in (0, 1), got {self.threshold}")
        if self.sampling is not None and not (math.isfinite(self.sampling) and self.sampling > 0):
            raise ConfigError(f"sampling: must be a positive Å/px, got {self.sampling}")
        if self.monitor not in MONITORS:
            raise ConfigError(f"monitor: {self.monitor!r} is not one of {', '.join(MONITORS)}")
        if self.class_weights is not None and (
                len(self.class_weights) < 2 or any(not (w >= 0) for w in self.class_weights)):
            raise ConfigError("class_weights: give one non-negative weight per class (≥ 2)")
        if not self.seeds:
            raise ConfigError("seeds: give at least one seed")
        for name, values in (("seeds", self.seeds), ("split_seed", [self.split_seed])):
            for value in values:
                if isinstance(value, bool) or not isinstance(value, int) \
                        or not 0 <= value <= MAX_SEED:
                    raise ConfigError(f"{name}: a seed must be an integer in 0 … 2**32-1, "
                                      f"got {value!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: repeated seed in {self.seeds}")
        if self.ensemble and len(self.seeds) < 2:
            raise ConfigError(f"ensemble: needs two or more seeds to average, got {self.seeds}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads: must be ≥ 1, got {self.num_threads}")
        if self.val_data and self.folds >= 2:
            raise ConfigError("val_data: not used with folds ≥ 2 (each fold is scored on its "
                              "test part; validation for early stopping comes from "
                              "val_fraction of the training folds); leave val_data out or "
                              "set folds 1")
        if self.patience is not None and self.val_fraction == 0 and not self.val_data:
            where = ("val_fraction > 0, split off each fold's training part; the test "
                     "fold never stops training" if self.folds >= 2
                     else "val_fraction > 0 or val_data")
            raise ConfigError(f"patience: early stopping needs validation data ({where}); "
                              "or leave patience out")
        try:
            re.compile(self.group_pattern)
        except re.error as exc:
            raise ConfigError(f"group_pattern: not a regular expression ({exc})") from None
        if not (self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError(f"device: {self.device!r} is not auto, cpu, cuda or cuda:N")

    @property
    def n_classes(self) -> int | None:
        """Number of classes given by the class weights, if any."""
        return len(self.class_weights) if self.class_weights is not None else None


def _closest(key: str, known) -> str:
    """`` (did you mean 'epochs'?)`` for a mistyped ``key``, else where the fields are listed."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
    return (f" (did you mean {close[0]!r}?)" if close
            else " (`temseg train --show-config` lists every field)")


def _from_folder(value, folder: Path):
    """Relative paths of ``value`` (one path or a list) taken from ``folder``, made absolute;
    anything else as it is (the field's check reports it)."""
    def one(path):
        if not isinstance(path, (str, Path)):
            return path
        full = Path(path).expanduser()
        full = full if full.is_absolute() else Path(os.path.abspath(folder / full))
        return str(full) if isinstance(path, str) else full

    return [one(v) for v in value] if isinstance(value, list) else one(value)


def load_recipe(recipe: str | Path | dict | None = None, *, paths_from_recipe: bool = True,
                **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of a recipe YAML file (or mapping), with ``overrides`` on top.

    Like :func:`temseg.config.load_config`, with a recipe file's errors named for people:
    an error in a value the file gives starts with the file (``recipe.yaml: epochs: 'two'
    is not a valid int``), and an unknown key (also one of ``preprocessing``) is answered
    with the closest field (``patch_szie: unknown field (did you mean 'patch_size'?)``).
    ``pixel_size_nm`` (nm/px) may stand for ``sampling`` (Å/px), as on the command line.
    The file's relative ``data`` and ``val_data`` paths are taken from the file's folder,
    and kept absolute (paths given as ``overrides``, as on the command line, stay as they
    are: relative to the working folder).

    Parameters
    ----------
    recipe : path, dict or None
        The recipe YAML file, or its fields as a mapping (``None``: the defaults).
    paths_from_recipe : bool
        Take relative data paths of the file from its folder; ``False`` for the
        ``config.yaml`` of a run, whose relative paths (given on the command line) are
        relative to the working folder.
    **overrides
        Fields that replace the recipe's (``None``: not given).

    Raises
    ------
    ConfigError
        Not a YAML mapping, an unknown key, or a bad value (naming the field).
    """
    from temseg.config import from_dict, read_yaml

    path = Path(recipe) if isinstance(recipe, (str, Path)) else None
    data = read_yaml(path) if path is not None else dict(recipe or {})
    given = {k: v for k, v in overrides.items() if v is not None}
    where = f"{path}: " if path is not None else ""
    known = {f.name for f in dataclasses.fields(TrainConfig) if f.init}
    if "pixel_size_nm" in data:  # as --pixel-size-nm: the same pixel size in nm/px
        if data.get("sampling") is not None:
            raise ConfigError(f"{where}give either sampling (Å/px) or pixel_size_nm, not both")
        nm = data.pop("pixel_size_nm")
        if isinstance(nm, bool) or not isinstance(nm, (int, float)):
            raise ConfigError(f"{where}pixel_size_nm: {nm!r} is no pixel size in nm/px")
        data["sampling"] = 10.0 * nm
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}{key}: unknown field{_closest(str(key), known)}")
    steps = data.get("preprocessing")
    if isinstance(steps, dict) and "preprocessing" not in given:
        from temseg.preprocess import Preprocessing

        fields = {f.name for f in dataclasses.fields(Preprocessing) if f.init}
        for key in steps:
            if key not in fields:
                raise ConfigError(f"{where}preprocessing.{key}: unknown field"
                                  f"{_closest(str(key), fields)}")
    if path is not None and paths_from_recipe:
        for key in ("data", "val_data"):
            if data.get(key) is not None:
                data[key] = _from_folder(data[key], path.parent)
    from_file = set(data) - set(given)
    data.update(given)
    try:
        return from_dict(TrainConfig, data)
    except ConfigError as exc:
        named = re.match(r"[A-Za-z_]\w*", str(exc))
        if path is not None and named is not None and named.group() in from_file:
            raise ConfigError(f"{path}: {exc}") from None
        raise
