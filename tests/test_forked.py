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


def test_asking_again_returns_the_same_value_without_recomputing() -> None:
    job = Forked(lambda: (os.getpid(), object()))
    first = job.result()
    assert job.result() is first
    assert first[0] != os.getpid()  # still the child's answer, not a fallback computed here


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


def test_forked_map_returns_results_in_submission_order_from_several_processes() -> None:
    from openlipsync.forked import ForkedMap

    seen = {"n": 0}

    def work(x: int) -> tuple[int, int]:
        seen["n"] += 1
        return x * x, os.getpid()

    pool = ForkedMap(work, 2, finish=lambda: seen["n"])
    out = []
    for x in range(20):
        pool.submit(x)
        if pool.pending > 3:
            out.append(pool.result())
    while pool.pending:
        out.append(pool.result())
    assert [v for v, _ in out] == [x * x for x in range(20)]
    assert len({pid for _, pid in out}) == 2 and os.getpid() not in {pid for _, pid in out}
    assert sorted(pool.close()) == [10, 10]  # each worker's own count, round robin


def test_forked_map_raises_a_worker_error_and_can_be_terminated() -> None:
    from openlipsync.forked import ForkedMap, WorkerError

    def work(x: int) -> int:
        if x == 3:
            raise ValueError("frame 3 is bad")
        return x

    pool = ForkedMap(work, 2)
    for x in range(5):
        pool.submit(x)
    assert [pool.result() for _ in range(3)] == [0, 1, 2]
    with pytest.raises(WorkerError, match="frame 3 is bad"):
        pool.result()
    pool.terminate()


def test_forked_map_reports_a_worker_that_died() -> None:
    from openlipsync.forked import ForkedMap, WorkerError

    pool = ForkedMap(lambda x: os._exit(3), 1)
    pool.submit(1)
    with pytest.raises(WorkerError, match="died"):
        pool.result()
    pool.terminate()
