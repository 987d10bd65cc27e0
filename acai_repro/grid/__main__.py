"""`python -m acai_repro.grid`: the grid's command line (acai_repro.grid.cli)."""

import sys

from acai_repro.grid.cli import main

if __name__ == "__main__":
    sys.exit(main())
