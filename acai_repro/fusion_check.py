"""`python -m acai_repro.fusion_check`, the command the docs and the recorded provenance name, kept: the module is acai_repro.training.fusion_check."""

from acai_repro.training.fusion_check import main

if __name__ == "__main__":
    raise SystemExit(main())
