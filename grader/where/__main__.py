"""`python -m grader.where ID`: the same as `python -m grader --where ID`."""

import sys

from .command import main

sys.exit(main(sys.argv[1:]))
