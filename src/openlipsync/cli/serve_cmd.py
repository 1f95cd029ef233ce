"""``openlipsync serve``: API + web studio + worker in one process (the embedded default)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from openlipsync.errors import LipSyncError


def _settings(config: Path | None, data_dir: Path | None, **overrides: object):  # type: ignore[no-untyped-def]
    from openlipsync.config import load_settings

    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return load_settings(config, **values)


config_option = click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
                             help="TOML file with settings (environment variables override it).")
data_dir_option = click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
                               help="Where the database, queue and files live (default ~/.local/share/openlipsync).")


@click.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
@click.option("--workers", "concurrency", type=click.IntRange(0, 64), default=None,
              help="Jobs run at once in this process (0 = API only; run `openlipsync worker` elsewhere).")
@click.option("--no-worker", is_flag=True,
              help="API only (same as --workers 0): jobs run in `openlipsync worker` processes elsewhere.")
@config_option
@data_dir_option
def serve(host: str | None, port: int | None, concurrency: int | None, no_worker: bool, config: Path | None,
          data_dir: Path | None) -> None:
    """Start the API (/v1, Sync-compatible /v2, docs at /docs), the web studio and a worker.

    On first start an API key is created and printed.
    """
    import uvicorn

    from openlipsync.api import create_app
    from openlipsync.jobs.platform import Platform
    from openlipsync.jobs.tenants import count_active_keys, create_key

    settings = _settings(config, data_dir, host=host, port=port)
    try:
        platform = Platform.build(settings)
    except LipSyncError as exc:
        raise click.ClickException(exc.message) from exc
    if count_active_keys(platform.db) == 0:
        created = create_key(platform.db, "default", "first key (created by serve)")
        click.secho("Created a first API key (shown once; manage keys with `openlipsync keys`):", fg="green")
        click.echo(f"  API key:        {created.key}")
        click.echo(f"  webhook secret: {created.webhook_secret}")
        # The fragment never reaches the server; the studio stores the key in the browser and drops it.
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        click.echo(f"  web studio:     http://{host}:{settings.port}/#key={created.key}")
    n = 0 if no_worker else settings.worker_concurrency if concurrency is None else concurrency
    app = create_app(settings, platform=platform, embedded_worker=n > 0, worker_concurrency=n or None)
    logging.getLogger("openlipsync").setLevel(logging.INFO)
    click.echo(f"openlipsync on http://{settings.host}:{settings.port}  (docs: /docs, data: {settings.data_dir}, "
               f"workers: {n})")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
