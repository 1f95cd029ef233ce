"""Forked: a function computed in a child process, with a fallback to the caller."""

from __future__ import annotations

import os

import pytest

from openlipsync.forked import Forked


def test_the_result_comes_from_a_child_process() -> None:
    job = Forked(lambda: (os.getpid(), [1.5, "x"]))
    pid, value = job.result()
    assert value == [1.5, "x"]
    assert pid != os.getpid()


def test_a_failing_child_falls_back_to_computing_in_the_caller() -> None:
    calls = {"n": 0}
    parent = os.getpid()

    def flaky() -> int:
        calls["n"] += 1
        if os.getpid() != parent:
            raise RuntimeError("only fails in the child")
        return 42

    assert Forked(flaky).result() == 42
    assert calls["n"] == 1  # the parent's own call (the child's count stayed in the child)


def test_an_error_in_the_caller_fallback_propagates() -> None:
    def broken() -> int:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        Forked(broken).result()


def test_cancel_stops_a_child_that_is_still_running() -> None:
    import time

    job = Forked(lambda: time.sleep(600))
    pid = job._pid
    assert pid > 0
    job.cancel()  # kills and reaps it: the pid is gone
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    job.cancel()  # idempotent
