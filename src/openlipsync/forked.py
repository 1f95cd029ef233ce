"""Run one function in a forked child process while the caller goes on (used for the audio analysis,
which holds the GIL and would otherwise wait for the video analysis to finish).

``os.fork`` rather than ``multiprocessing``: the engine itself may run in a daemonic isolation process,
which multiprocessing forbids from having children. Where fork is unavailable, or the child fails,
the function simply runs in the caller when its result is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger("openlipsync.forked")

T = TypeVar("T")


class Forked(Generic[T]):
    """``fn()`` computed in a forked child; ``result()`` waits for it (or computes it here on failure)."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._pid = 0
        self._fd = -1
        if not hasattr(os, "fork"):
            return
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            log.warning("cannot fork (%s): the audio analysis runs in this process", exc)
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            _child(fn, read, write)
        os.close(write)
        self._pid, self._fd = pid, read

    def result(self) -> T:
        """The value of ``fn()``."""
        if self._fd < 0:
            return self._fn()
        with os.fdopen(self._fd, "rb") as pipe:
            self._fd = -1
            payload = pipe.read()
        self._reap()
        try:
            status, value = pickle.loads(payload)
        except Exception:  # the child died (killed, out of memory) before it could answer
            status, value = "error", "no answer from the child process"
        if status == "ok":
            return value  # type: ignore[no-any-return]
        log.warning("background computation failed (%s): computing it here", value)
        return self._fn()

    def cancel(self) -> None:
        """Stop the child if it still runs (the caller gave up on the result)."""
        if self._pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._reap()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _reap(self) -> None:
        if self._pid:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = 0


def _child(fn: Callable[[], object], read: int, write: int) -> None:  # pragma: no cover
    code = 0
    try:
        os.close(read)
        try:
            payload = pickle.dumps(("ok", fn()), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # reported to the parent, which falls back
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
    except BaseException:
        code = 1
    finally:
        os._exit(code)
