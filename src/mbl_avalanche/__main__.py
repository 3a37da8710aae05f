"""``python -m mbl_avalanche`` runs the command line."""

import sys

from .cli import main

sys.exit(main())
