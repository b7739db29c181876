"""Analysis of images and results: particles, dose curves, detector noise fitting.

Import the submodules directly (``temseg.analyze.noise``, ``temseg.analyze.psd``,
...); nothing is imported here so that each stays light.
"""
