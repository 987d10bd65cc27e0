"""`python -m acai_repro.tables`, the command the docs and the recorded provenance name, kept: the module is acai_repro.reporting.tables."""

from acai_repro.reporting.tables import main

if __name__ == "__main__":
    main()
