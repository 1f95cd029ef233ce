"""Work in forked child processes: ``Forked`` runs one function while the caller goes on (the audio
analysis, which holds the GIL, during the video pass); ``ForkedMap`` spreads the per-frame render over
the cores.

``os.fork`` rather than ``multiprocessing``: the engine itself may run in a daemonic isolation process,
which multiprocessing forbids from having children. Where fork is unavailable, or the child fails,
the function simply runs in the caller when its result is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

log = logging.getLogger("openlipsync.forked")

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")


class Forked(Generic[T]):
    """``fn()`` computed in a forked child; ``result()`` waits for it (or computes it here on failure)."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._done: tuple[T] | None = None
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
        """The value of ``fn()`` (computed once; later calls return the same value)."""
        if self._done is None:
            self._done = (self._result(),)
        return self._done[0]

    def _result(self) -> T:
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


class ForkedMap(Generic[A, R]):
    """Apply ``fn`` to tasks in ``workers`` forked processes; results come back in submission order.

    The workers inherit everything the caller built before (models, libraries: nothing is pickled but
    the tasks and results). ``close()`` returns ``finish()`` of every worker (e.g. its counters).
    A worker's exception is raised in the caller as ``WorkerError``; so is a worker that died.
    """

    def __init__(self, fn: Callable[[A], R], workers: int, finish: Callable[[], object] | None = None) -> None:
        self._workers: list[_Worker] = []
        self._order: deque[_Worker] = deque()
        self._next = 0
        try:
            for _ in range(max(1, workers)):
                self._workers.append(_Worker.start(fn, finish, [w.fds for w in self._workers]))
        except BaseException:
            self.terminate()
            raise

    def submit(self, task: A) -> None:
        """Queue ``task`` for the next worker (round robin)."""
        worker = self._workers[self._next % len(self._workers)]
        self._next += 1
        worker.outbox.put(("task", task))
        self._order.append(worker)

    @property
    def pending(self) -> int:
        return len(self._order)

    def result(self) -> R:
        """The result of the oldest submitted task that has not been collected yet."""
        return self._order.popleft().receive()  # type: ignore[return-value]

    def close(self) -> list[object]:
        """Stop the workers (every result must have been collected) and return their ``finish()``."""
        if self._order:
            raise RuntimeError(f"{len(self._order)} results were not collected")
        finals = []
        for worker in self._workers:
            worker.outbox.put(("finish", None))
        for worker in self._workers:
            finals.append(worker.receive())
        self.terminate()
        return finals

    def terminate(self) -> None:
        """Stop every worker now (after an error, or when the caller gives up)."""
        for worker in self._workers:
            worker.stop()
        self._workers = []
        self._order.clear()


class WorkerError(RuntimeError):
    """A ForkedMap worker failed (its exception text) or died."""


class _Worker:
    def __init__(self, pid: int, tasks: Connection, results: Connection) -> None:
        self.pid, self.tasks, self.results = pid, tasks, results
        self.outbox: queue.Queue[tuple[str, object] | None] = queue.Queue()
        self.sender = threading.Thread(target=self._send, daemon=True)
        self.sender.start()

    @property
    def fds(self) -> tuple[int, int]:
        return self.tasks.fileno(), self.results.fileno()

    @classmethod
    def start(cls, fn: Callable[[Any], Any], finish: Callable[[], object] | None,
              inherited: list[tuple[int, int]]) -> _Worker:
        task_r, task_w = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                for fd in (task_w, res_r, *(fd for pair in inherited for fd in pair)):
                    os.close(fd)
                _serve(fn, finish, Connection(task_r, writable=False), Connection(res_w, readable=False))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(task_r)
        os.close(res_w)
        return cls(pid, Connection(task_w, readable=False), Connection(res_r, writable=False))

    def _send(self) -> None:
        # a thread per worker: a blocked write (worker busy) must not stop the caller from reading results
        while (item := self.outbox.get()) is not None:
            try:
                self.tasks.send(item)
            except (OSError, ValueError):
                return

    def receive(self) -> object:
        try:
            status, value = self.results.recv()
        except (EOFError, OSError) as exc:
            raise WorkerError("a render worker process died") from exc
        if status == "error":
            raise WorkerError(str(value))
        return value

    def stop(self) -> None:
        self.outbox.put(None)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        for conn in (self.tasks, self.results):
            conn.close()
        self.sender.join(timeout=5)


def _serve(fn: Callable[[Any], Any], finish: Callable[[], object] | None, tasks: Connection,
           results: Connection) -> None:  # pragma: no cover - runs in the child
    while True:
        try:
            kind, task = tasks.recv()
        except EOFError:
            return
        try:
            value = fn(task) if kind == "task" else (finish() if finish is not None else None)
            results.send(("ok", value))
        except Exception as exc:  # the caller raises it
            results.send(("error", f"{type(exc).__name__}: {exc}"))
        if kind == "finish":
            return
