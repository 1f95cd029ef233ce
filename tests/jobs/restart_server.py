"""A server process for the restart test: ``python -m tests.jobs.restart_server DATA_DIR PORT LOG``.

It is ``openlipsync serve`` (API + embedded worker, durable queue) with the ffmpeg stand-in engine slowed
down to ``SECONDS`` per job and a log line when each run starts and finishes, so the test can kill the
process at a known point and count how often each job ran.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from openlipsync.api import create_app
from openlipsync.jobs.platform import Platform
from tests.api.support import SlowRunner, make_settings

SECONDS = float(os.environ.get("RESTART_TEST_JOB_SECONDS", "2.5"))


class LoggingRunner(SlowRunner):
    def __init__(self, log: Path) -> None:
        super().__init__(SECONDS)
        self.log = log

    def _write(self, event: str, output: Path) -> None:
        with open(self.log, "a") as fh:
            fh.write(f"{event} {Path(output).parent.name.split('-')[1]}\n")
            fh.flush()
            os.fsync(fh.fileno())

    def __call__(self, video: Path, audio: Path | None, output: Path, options: Any, **kw: Any) -> Any:
        self._write("start", output)
        result = super().__call__(video, audio, output, options, **kw)
        self._write("finish", output)
        return result


def main() -> None:
    data_dir, port, log = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    settings = make_settings(data_dir, lease_seconds=2.0, heartbeat_seconds=0.3, sweep_interval_seconds=0.5,
                             pending_requeue_seconds=3.0, port=port)
    platform = Platform.build(settings, runner=LoggingRunner(log))
    app = create_app(settings, platform=platform, embedded_worker=True, worker_concurrency=1, studio=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
