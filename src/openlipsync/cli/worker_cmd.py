"""``openlipsync worker``: run jobs from the queue (scale out by starting more of these anywhere)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click

from openlipsync.cli.serve_cmd import _settings, config_option, data_dir_option


@click.command()
@click.option("-c", "--concurrency", type=click.IntRange(1, 64), default=None,
              help="Jobs run at once by this process (default OPENLIPSYNC_WORKER_CONCURRENCY or 1).")
@config_option
@data_dir_option
def worker(concurrency: int | None, config: Path | None, data_dir: Path | None) -> None:
    """Consume jobs until stopped (Ctrl-C / SIGTERM release running jobs back to the queue)."""
    from openlipsync.jobs.platform import Platform
    from openlipsync.jobs.worker import Worker

    settings = _settings(config, data_dir)
    logging.getLogger("openlipsync").setLevel(logging.INFO)
    platform = Platform.build(settings)
    w = Worker(platform)

    def stop(signum: int, _frame: object) -> None:
        click.echo(f"stopping worker (signal {signum}); running jobs go back to the queue", err=True)
        w.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"worker {w.owner}: queue {type(platform.queue).__name__}, "
               f"concurrency {concurrency or settings.worker_concurrency}")
    try:
        w.run(concurrency)
    finally:
        platform.close()
