"""Training: typed config, data and batches, losses, the loop, checkpoints, cross-validation.

The usual entry points are :func:`temseg.train.crossval.run_training` (what
``temseg train`` calls) and :func:`temseg.train.loop.fit` for one model.
"""

from temseg.train.config import TrainConfig
from temseg.train.crossval import TrainingReport, run_training
from temseg.train.data import TrainingSet, load_training_data
from temseg.train.loop import FitResult, fit
from temseg.train.scoring import evaluate_pairs

__all__ = ["FitResult", "TrainConfig", "TrainingReport", "TrainingSet", "evaluate_pairs", "fit",
           "load_training_data", "run_training"]
