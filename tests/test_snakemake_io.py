"""The glue of every `script:` job: its log file gets each message, an expected refusal is one
ERROR line and exit status 1, anything else leaves its traceback in the log and propagates."""

from types import SimpleNamespace

import pytest
import torch

from acai_repro.snakemake_io import logged


def _job(tmp_path, threads=1):
    return SimpleNamespace(threads=threads, log=[str(tmp_path / "job.log")])


def test_messages_reach_the_log_and_threads_are_set(tmp_path):
    before = torch.get_num_threads()
    try:
        with logged(_job(tmp_path, threads=1)) as log:
            log("wrote results/x.json")
            assert torch.get_num_threads() == 1, "the job's thread count is not applied"
    finally:
        torch.set_num_threads(before)
    assert (tmp_path / "job.log").read_text() == "wrote results/x.json\n"


def test_an_expected_refusal_is_one_error_line_and_exit_status_1(tmp_path):
    with pytest.raises(SystemExit) as stop, logged(_job(tmp_path), expected=(ValueError,)):
        raise ValueError("data/x.h5: damaged")
    assert stop.value.code == 1, f"exit status {stop.value.code}"
    assert (tmp_path / "job.log").read_text() == "ERROR: data/x.h5: damaged\n"


def test_an_unexpected_error_leaves_its_traceback_and_propagates(tmp_path):
    with pytest.raises(KeyError), logged(_job(tmp_path), expected=(ValueError,)):
        raise KeyError("missing")
    text = (tmp_path / "job.log").read_text()
    assert text.startswith("Traceback") and "KeyError: 'missing'" in text, text
