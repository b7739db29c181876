"""Inference: tiled prediction with window blending, stacks streamed frame by frame, segmenters.

:func:`predict_tiled` runs a network over an image of any size in blended
overlapping tiles; :func:`load_segmenter` gives one object for trained
networks and fitted baselines with ``.predict(image, *, sampling)``.
"""

from temseg.infer.segmenter import (BaselineSegmenter, NetworkSegmenter, Segmenter, foreground,
                                    load_segmenter, model_json)
from temseg.infer.stacks import (SegmentResult, collect_inputs, iter_predictions, output_names,
                                 output_paths, segment_micrograph)
from temseg.infer.tiling import count_tiles, model_multiple, predict_tiled, tile_starts
from temseg.infer.windows import WINDOWS, window_1d, window_2d

__all__ = [
    "WINDOWS", "BaselineSegmenter", "NetworkSegmenter", "SegmentResult", "Segmenter",
    "collect_inputs", "count_tiles", "foreground", "iter_predictions", "load_segmenter",
    "model_json", "model_multiple", "output_names", "output_paths", "predict_tiled",
    "segment_micrograph", "tile_starts", "window_1d", "window_2d",
]
