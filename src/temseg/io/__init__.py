"""Reading micrographs, stacks and labelled folders; writing masks, records and datasets."""

from temseg.io.files import atomic_path, write_json

__all__ = ["atomic_path", "write_json"]
