"""Glue between a Snakemake `script:` job and the library: threads, log file, errors."""

from __future__ import annotations

import contextlib
import sys
import traceback

import torch


@contextlib.contextmanager
def logged(smk, expected: tuple = ()):
    """Yield a `log(message)` that writes to the job's log and stderr; log any traceback.

    An `expected` error (a user-facing refusal) is one `ERROR:` line and exit status 1."""
    torch.set_num_threads(max(1, int(smk.threads)))
    with open(smk.log[0], "a") as log_file:

        def log(message: str) -> None:
            for stream in (log_file, sys.stderr):
                print(message, file=stream, flush=True)

        try:
            yield log
        except expected as error:
            log(f"ERROR: {error}")
            raise SystemExit(1) from None
        except BaseException:
            log(traceback.format_exc())
            raise
