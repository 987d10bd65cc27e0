"""`python -m acai_repro.figure_sets`, the command the docs and the recorded provenance name, kept: the module is acai_repro.reporting.figure_sets."""

from acai_repro.reporting.figure_sets import main

if __name__ == "__main__":
    raise SystemExit(main())
