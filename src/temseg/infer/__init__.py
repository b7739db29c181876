"""Inference: tiled prediction with window blending, stacks streamed frame by frame, segmenters.

:func:`predict_tiled` runs a network over an image of any size in blended
overlapping tiles; :func:`load_segmenter` gives one object for trained
networks and fitted baselines with ``.predict(image, *, sampling)``;
:func:`segment_micrograph` writes one file's outputs (focal series and class maps
through :func:`segment_series`).
"""

from temseg.models.locate import model_json
from temseg.infer.segmenter import (BaselineSegmenter, NetworkSegmenter, Segmenter,
                                    describe_channels, foreground, load_segmenter)
from temseg.infer.series import class_outputs, count_series, iter_series, segment_series
from temseg.infer.stacks import (SegmentResult, collect_inputs, output_names, output_paths,
                                 segment_micrograph)
from temseg.infer.tiling import count_tiles, model_multiple, predict_tiled, tile_starts
from temseg.infer.windows import WINDOWS, window_1d, window_2d

__all__ = [
    "WINDOWS", "BaselineSegmenter", "NetworkSegmenter", "SegmentResult", "Segmenter",
    "class_outputs", "collect_inputs", "count_series", "count_tiles", "describe_channels",
    "foreground", "iter_series", "load_segmenter", "model_json",
    "model_multiple", "output_names", "output_paths", "predict_tiled", "segment_micrograph",
    "segment_series", "tile_starts", "window_1d", "window_2d",
]
