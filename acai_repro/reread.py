"""`python -m acai_repro.reread`, the command the docs and the recorded provenance name, kept: the module is acai_repro.reporting.reread."""

from acai_repro.reporting.reread import main

if __name__ == "__main__":
    raise SystemExit(main())
