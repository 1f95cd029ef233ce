"""Worker isolation: run each engine job in its own process with a memory limit and a time limit.

``IsolatedRunner`` has the signature of ``openlipsync.lipsync`` (the platform's ``Runner``) so the worker
can use it unchanged. The child process sets ``RLIMIT_AS`` (address space) and ``RLIMIT_CORE`` = 0 before
importing the engine, reports progress through a pipe, and sends back the result or the error (class
name, message, code). The parent enforces the wall-clock limit and kills the child when the progress
callback asks to stop (cancel, shutdown, lease lost). A crash (segfault, abort, OOM kill, MemoryError)
becomes an ``EngineError`` of that job only; the worker process lives on.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from openlipsync import errors
from openlipsync.engine.preload import HEAVY_MODULES
from openlipsync.errors import EngineError, JobTimeoutError, LipSyncError

log = logging.getLogger("openlipsync.security")

DEFAULT_TARGET = "openlipsync.lipsync:lipsync"
_POLL_SECONDS = 0.2
# the fork server imports the engine's heavy dependencies once; every job's child inherits them
_PRELOAD = ["openlipsync.lipsync", *HEAVY_MODULES]


def _load(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _limit_memory(limit_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limit_bytes > 0:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit_bytes if hard == resource.RLIM_INFINITY else min(limit_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent (the fork server, which exits with the worker) dies, so a
    killed worker leaves no orphaned engine run behind."""
    # A forkserver child inherits the server's "alive" pipe, which keeps the server running as long as any
    # child lives; the engine never starts processes of its own, so it lets go of it.
    try:
        from multiprocessing import forkserver

        server = forkserver._forkserver  # type: ignore[attr-defined]
        fd = getattr(server, "_forkserver_alive_fd", None)
        if fd is not None:
            os.close(fd)
            server._forkserver_alive_fd = None  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _child(conn: Connection, target: str, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int) -> None:
    """Entry point of the engine process."""
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    try:
        _limit_memory(limit)

        def progress(stage: str, fraction: float) -> None:
            conn.send(("progress", stage, float(fraction)))

        result = _load(target)(*args, progress=progress, **kwargs)
        conn.send(("ok", result))
    except MemoryError:
        conn.send(("error", "EngineError", "the engine ran out of memory (limit "
                   f"{limit / 2**30:.1f} GiB)", "generation_memory_limit_exceeded"))
    except LipSyncError as exc:
        conn.send(("error", type(exc).__name__, exc.message, exc.code))
    except BaseException as exc:  # noqa: BLE001 - everything else is reported as an engine failure
        conn.send(("error", "EngineError", f"engine failed: {type(exc).__name__}: {exc}", EngineError.code))
    finally:
        conn.close()


def _rebuild(name: str, message: str, code: str) -> LipSyncError:
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, LipSyncError)):
        cls = EngineError
    exc = cls.__new__(cls)
    LipSyncError.__init__(exc, message, code=code)
    return exc


class IsolatedRunner:
    """Run ``target`` (``"module:function"``, default ``openlipsync.lipsync``) in a child process."""

    def __init__(self, *, memory_limit_bytes: int = 4 * 1024**3, time_limit_seconds: float = 1800.0,
                 target: str = DEFAULT_TARGET, start_method: str = "forkserver") -> None:
        self.memory_limit_bytes = memory_limit_bytes
        self.time_limit_seconds = time_limit_seconds
        self.target = target
        self._ctx: Any = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)

    def __call__(self, video: str | Path, audio: str | Path | None, output: str | Path, options: Any = None, *,
                 progress: Callable[[str, float], None] | None = None, **kwargs: Any) -> Any:
        parent, child = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_child, name="ols-engine", daemon=True,
                                 args=(child, self.target, (video, audio, output, options), kwargs,
                                       self.memory_limit_bytes))
        proc.start()
        child.close()
        try:
            return self._wait(proc, parent, progress)
        finally:
            parent.close()
            _stop(proc)

    def _wait(self, proc: Any, conn: Connection, progress: Callable[[str, float], None] | None) -> Any:
        deadline = time.monotonic() + self.time_limit_seconds
        last: tuple[str, float] | None = None
        while True:
            if time.monotonic() > deadline:
                raise JobTimeoutError(f"the engine exceeded its time limit of {self.time_limit_seconds:g}s")
            if conn.poll(_POLL_SECONDS):
                try:
                    message = conn.recv()
                except EOFError:
                    return self._crashed(proc)
                kind = message[0]
                if kind == "progress":
                    last = (message[1], message[2])
                    if progress is not None:
                        progress(*last)  # may raise to cancel: the caller's finally kills the child
                    continue
                if kind == "ok":
                    return message[1]
                raise _rebuild(*message[1:])
            elif not proc.is_alive():
                if conn.poll(0):
                    continue
                return self._crashed(proc)
            elif progress is not None and last is not None:
                # No news from the engine: ask again anyway so a cancel or shutdown stops it within a tick,
                # even in a long stage that reports rarely.
                progress(*last)

    def _crashed(self, proc: Any) -> Any:
        proc.join(5)
        code = proc.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            what = "was killed (out of memory?)" if -code == signal.SIGKILL else "crashed"
            raise EngineError(f"the engine process {what}: signal {name}", code="generation_engine_crashed")
        raise EngineError(f"the engine process exited unexpectedly (status {code})", code="generation_engine_crashed")


def _stop(proc: Any) -> None:
    if proc.is_alive():
        proc.terminate()
        proc.join(2)
        if proc.is_alive() and proc.pid:
            os.kill(proc.pid, signal.SIGKILL)
    proc.join(5)
    proc.close()


def runner_from_settings(settings: Any) -> IsolatedRunner:
    """An ``IsolatedRunner`` with the platform's job time limit and ``engine_memory_limit_bytes``."""
    memory = getattr(settings, "engine_memory_limit_bytes", None) or 4 * 1024**3
    timeout = float(getattr(settings, "job_timeout_seconds", 1800.0))
    return IsolatedRunner(memory_limit_bytes=int(memory), time_limit_seconds=timeout + 30.0)
