"""Each engine run is a child process with memory and time limits; its crash fails only that run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from openlipsync.errors import CancelledError, EngineError, JobTimeoutError, NoFaceError
from openlipsync.security.isolation import IsolatedRunner

pytestmark = pytest.mark.timeout(60)

T = "tests.security.engine_targets:"
GiB = 1024**3


def _runner(name: str, **kw: object) -> IsolatedRunner:
    kw.setdefault("memory_limit_bytes", 2 * GiB)
    kw.setdefault("time_limit_seconds", 20.0)
    return IsolatedRunner(target=T + name, **kw)  # type: ignore[arg-type]


def test_result_and_progress_come_back_from_another_process(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    result = _runner("ok")("v.mp4", "a.wav", tmp_path / "out.mp4", None, progress=lambda s, f: seen.append((s, f)),
                           workdir=str(tmp_path))
    assert result["pid"] != os.getpid()
    assert (tmp_path / "out.mp4").read_bytes() == b"result"
    assert seen == [("render", 0.5), ("encode", 1.0)] and result["kwargs"] == ["workdir"]


@pytest.mark.parametrize("name,signal_name", [("segfault", "SIGSEGV"), ("abort", "SIGABRT")])
def test_a_crashing_engine_fails_only_its_run(name: str, signal_name: str, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=signal_name) as err:
        _runner(name)("v", "a", tmp_path / "o", None)
    assert err.value.code == "generation_engine_crashed"
    # the same runner (and this process) carries on with the next job
    assert _runner("ok")("v", "a", tmp_path / "o2", None)["output"].endswith("o2")


def test_an_engine_that_exits_without_a_result_is_a_crash(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="status 3"):
        _runner("exit_early")("v", "a", tmp_path / "o", None)


def test_memory_limit_turns_a_runaway_allocation_into_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as err:
        _runner("hog", memory_limit_bytes=1 * GiB)("v", "a", tmp_path / "o", None)
    assert err.value.code == "generation_memory_limit_exceeded"


def test_time_limit_kills_a_hung_engine(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(JobTimeoutError):
        _runner("hang", time_limit_seconds=1.5)("v", "a", tmp_path / "o", None)
    assert time.monotonic() - start < 15


def test_progress_callback_can_cancel_the_child(tmp_path: Path) -> None:
    calls = []

    def progress(stage: str, fraction: float) -> None:
        calls.append(fraction)
        if len(calls) >= 5:
            raise CancelledError("job stopped (canceled)")

    with pytest.raises(CancelledError):
        _runner("chatty")("v", "a", tmp_path / "o", None, progress=progress)
    assert len(calls) == 5


@pytest.mark.parametrize("name,error,code", [("no_face", NoFaceError, "generation_no_face"),
                                             ("bug", EngineError, "generation_pipeline_failed")])
def test_engine_errors_keep_their_class_and_code(name: str, error: type, code: str, tmp_path: Path) -> None:
    with pytest.raises(error) as err:
        _runner(name)("v", "a", tmp_path / "o", None)
    assert type(err.value) is error and err.value.code == code


def test_killing_the_worker_leaves_no_orphaned_engine_run(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    pidfile = tmp_path / "engine.pid"
    code = ("from openlipsync.security.isolation import IsolatedRunner\n"
            "IsolatedRunner(target='tests.security.engine_targets:hang_and_tell', time_limit_seconds=300)"
            f"('v', 'a', {str(pidfile)!r}, None)\n")
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 40
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        engine = int(pidfile.read_text())
        os.kill(engine, 0)  # it runs
        worker.send_signal(signal.SIGKILL)  # the worker dies without cleaning up
        worker.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if not _running(engine):
                break
            time.sleep(0.1)
        else:
            os.kill(engine, signal.SIGKILL)
            pytest.fail("the engine process outlived its worker")
    finally:
        if worker.poll() is None:
            worker.kill()


def _running(pid: int) -> bool:
    """Alive and not a zombie (a dead child of PID 1 may stay a zombie where nothing reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_cancel_stops_an_engine_that_has_gone_quiet(tmp_path: Path) -> None:
    start = time.monotonic()
    cancel_at = start + 1.0

    def progress(stage: str, fraction: float) -> None:
        if time.monotonic() > cancel_at:
            raise CancelledError("job stopped (canceled)")

    with pytest.raises(CancelledError):
        _runner("quiet")("v", "a", tmp_path / "o", None, progress=progress)
    assert time.monotonic() - start < 10
