"""Reading micrographs, stacks and labelled folders; writing masks, records and datasets."""

from temseg.io.files import atomic_path, write_json
from temseg.io.labelled import (LabelledPair, LabelledSet, find_pairs,
                                read_labelled_folder)
from temseg.io.micrograph import Micrograph, read_frames, read_image, supported_suffixes
from temseg.io.writers import (confusion_image, write_confusion_overlay, write_mask,
                               write_overlay, write_tiff)

__all__ = [
    "LabelledPair", "LabelledSet", "Micrograph", "atomic_path", "confusion_image",
    "find_pairs", "read_frames", "read_image", "read_labelled_folder", "supported_suffixes",
    "write_confusion_overlay", "write_json", "write_mask", "write_overlay", "write_tiff",
]
