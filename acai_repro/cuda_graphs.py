"""`python -m acai_repro.cuda_graphs`, the command the docs and the recorded provenance name, kept: the module is acai_repro.training.cuda_graphs."""

from acai_repro.training.cuda_graphs import main

if __name__ == "__main__":
    main()
