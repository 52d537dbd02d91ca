"""``python -m demos NAME [--target T] [options]``: see ``demos/run.py``."""

import sys

from .run import main

sys.exit(main())
