"""Segmentation networks: residual U-Net, U-Net, MSD-net, ensembles; receptive field; files."""

from temseg.models.ensemble import Ensemble, combine_models
from temseg.models.files import ModelConfig, load_model, save_model
from temseg.models.msdnet import MSDNet, msd_dilations, msd_forward_naive
from temseg.models.receptive import count_parameters, receptive_field
from temseg.models.registry import ARCHITECTURES, build_model, model_defaults
from temseg.models.resunet import ResUNet
from temseg.models.unet import UNet

__all__ = [
    "ARCHITECTURES", "Ensemble", "MSDNet", "ModelConfig", "ResUNet", "UNet", "build_model",
    "combine_models", "count_parameters", "load_model", "model_defaults", "msd_dilations",
    "msd_forward_naive", "receptive_field", "save_model",
]
