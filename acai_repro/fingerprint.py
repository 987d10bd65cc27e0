"""`python -m acai_repro.fingerprint`, the command the docs and the recorded provenance name, kept: the module is acai_repro.provenance.fingerprint."""

from acai_repro.provenance.fingerprint import main

if __name__ == "__main__":
    raise SystemExit(main())
