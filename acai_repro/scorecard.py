"""`python -m acai_repro.scorecard`, the command the docs and the recorded provenance name, kept: the module is acai_repro.reporting.scorecard."""

from acai_repro.reporting.scorecard import main

if __name__ == "__main__":
    raise SystemExit(main())
