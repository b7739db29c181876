"""``python -m temseg``: the same as the ``temseg`` console script."""

import sys

try:
    from temseg.cli import run
except KeyboardInterrupt:  # a Ctrl-C before the CLI could take it over
    sys.stderr.write("interrupted\n")
    sys.exit(130)

sys.exit(run())
