"""Training: typed config, data and batches, losses, the loop, checkpoints, cross-validation.

The usual entry points are :func:`temseg.train.crossval.run_training` (what
``temseg train`` calls) and :func:`temseg.train.loop.fit` for one model.
The names below are imported when first used: ``temseg.train.config`` (all the CLI
needs to describe its options) does not pull in torch.
"""

import importlib

_HOMES = {"TrainConfig": "config", "TrainingReport": "crossval", "run_training": "crossval",
          "TrainingSet": "data", "load_training_data": "data", "FitResult": "loop",
          "fit": "loop", "evaluate_pairs": "scoring"}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"temseg.train.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'temseg.train' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
