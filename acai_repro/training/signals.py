"""Stop requests by signal: SIGTERM, SIGUSR1 or SIGINT ask a training run to save and exit.

SIGINT is ^C in a terminal: the terminal sends it to every process of the foreground group,
Snakemake and the training processes it started alike, so each pack saves every cell and
Snakemake, waiting for its jobs, reports them failed and leaves their state files. SLURM sends SIGTERM at a time limit or a pre-emption (then SIGKILL after KillWait or
GraceTime), and `--signal` lets a job ask for a signal some time ahead of its limit. The
handler only records the request: the training loop reads a plain Python attribute once per
step (no device synchronisation), writes its full state at the next step boundary and exits
with a non-zero status, so a retry or requeue resumes from that very step.
"""

from __future__ import annotations

import contextlib
import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)


class TrainingInterrupted(Exception):
    """A run saved its state and stopped early on a signal; rerunning it resumes."""

    def __init__(self, signum: int, step: int, state_path):
        self.signum, self.step, self.state_path = signum, step, state_path
        super().__init__(
            f"stopped by {signal.Signals(signum).name} at step {step}; training state saved to "
            f"{state_path}; a rerun resumes from step {step}"
        )


class StopRequest:
    """Set by a signal handler; `signum` is None until a stop signal arrives."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is None:  # the first signal names the stop; later ones change nothing
            self.signum = signum


@contextlib.contextmanager
def stop_requests(signals=STOP_SIGNALS):
    """Yield a StopRequest that SIGTERM/SIGUSR1/SIGINT set while the block runs; restore handlers after.

    Handlers can only be installed from the main thread; elsewhere (a training run inside a
    thread) the request is never set and the default signal behaviour stays.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    # A process started with SIGINT ignored (`nohup`, `cmd &` in a script) keeps ignoring it.
    signals = [s for s in signals if not (s == signal.SIGINT and signal.getsignal(s) == signal.SIG_IGN)]
    previous = {s: signal.signal(s, request._handle) for s in signals}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
