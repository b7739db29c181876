"""temseg: neural-network segmentation of (HR)TEM images.

Pipeline, left to right: ``io`` → ``preprocess`` → ``simulate`` → ``models`` →
``train`` → ``baselines`` → ``infer`` → ``analyze``; ``cli`` wraps them.
Inside the library pixel size is ``sampling`` in Å per pixel and dose is in
e/Å².
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("temseg")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
