"""``python -m temseg``: the same as the ``temseg`` console script."""

import sys

from temseg.cli import run

sys.exit(run())
