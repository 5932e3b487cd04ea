"""``python -m edgecnn.cli ARGS``: the console script's entry point (also under torchrun)."""

import sys

from edgecnn.cli import main

sys.exit(main())
