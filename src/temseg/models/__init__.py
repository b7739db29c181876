"""Segmentation networks: residual U-Net, U-Net, MSD-net; receptive field; model files."""

from temseg.models.files import ModelConfig, load_model, save_model
from temseg.models.msdnet import MSDNet, msd_dilations, msd_forward_naive
from temseg.models.receptive import count_parameters, receptive_field
from temseg.models.registry import ARCHITECTURES, build_model
from temseg.models.resunet import ResUNet
from temseg.models.unet import UNet

__all__ = [
    "ARCHITECTURES", "MSDNet", "ModelConfig", "ResUNet", "UNet", "build_model",
    "count_parameters", "load_model", "msd_dilations", "msd_forward_naive", "receptive_field",
    "save_model",
]
