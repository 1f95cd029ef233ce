"""Run an iterator ahead of its consumer in a background thread (decoding, face detection).

The producer's work must release the GIL for this to pay (pipe reads, MediaPipe graphs, OpenCV); the
queue is bounded, so at most ``depth`` items wait in memory.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterator[T], depth: int) -> Iterator[T]:
    """Yield the items of ``items``, produced in a background thread up to ``depth`` items ahead.

    An exception in the producer is raised here; closing this generator stops the producer after its
    current item (and then closes ``items`` in the caller's thread)."""
    ready: queue.Queue[tuple[object, T | None]] = queue.Queue(max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                ready.put((None, item))
                if stop.is_set():
                    return
            ready.put((_DONE, None))
        except BaseException as exc:  # handed to the consumer
            ready.put((exc, None))

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            status, item = ready.get()
            if status is _DONE:
                return
            if isinstance(status, BaseException):
                raise status
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        worker.join()
        close = getattr(items, "close", None)
        if close is not None:
            close()
