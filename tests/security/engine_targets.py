"""Stand-in engines for the isolation tests: each misbehaves in one way (run in a child process)."""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path
from typing import Any

from openlipsync.errors import NoFaceError


def ok(video: Any, audio: Any, output: Any, options: Any = None, *, progress: Any, **kw: Any) -> dict[str, Any]:
    progress("render", 0.5)
    Path(output).write_bytes(b"result")
    progress("encode", 1.0)
    return {"pid": os.getpid(), "output": str(output), "kwargs": sorted(kw)}


def segfault(*args: Any, progress: Any, **kw: Any) -> None:
    progress("render", 0.1)
    ctypes.string_at(0)  # reads address 0: SIGSEGV


def abort(*args: Any, progress: Any, **kw: Any) -> None:
    os.abort()


def exit_early(*args: Any, progress: Any, **kw: Any) -> None:
    os._exit(3)


def hog(*args: Any, progress: Any, **kw: Any) -> None:
    chunks = []
    for _ in range(64):
        chunks.append(bytearray(256 * 1024 * 1024))  # 16 GiB in total: far past the limit


def hang(*args: Any, progress: Any, **kw: Any) -> None:
    progress("render", 0.2)
    time.sleep(3600)


def chatty(*args: Any, progress: Any, **kw: Any) -> None:
    for i in range(10**6):
        progress("render", (i % 100) / 100)
        time.sleep(0.01)


def no_face(*args: Any, progress: Any, **kw: Any) -> None:
    raise NoFaceError("no usable face in the video")


def bug(*args: Any, progress: Any, **kw: Any) -> None:
    raise KeyError("oops")


def hang_and_tell(video: Any, audio: Any, output: Any, options: Any = None, *, progress: Any, **kw: Any) -> None:
    Path(output).write_text(str(os.getpid()))  # the test reads the engine's pid here
    time.sleep(3600)


def quiet(*args: Any, progress: Any, **kw: Any) -> None:
    progress("render", 0.1)
    time.sleep(3600)  # a long stage that never reports again
