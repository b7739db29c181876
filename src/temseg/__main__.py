"""``python -m temseg``: the same as the ``temseg`` console script."""

import sys

from temseg.cli.main import main

sys.exit(main())
