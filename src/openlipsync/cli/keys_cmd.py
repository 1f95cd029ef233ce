"""``openlipsync keys``: create, list and revoke API keys (stored hashed; shown once)."""

from __future__ import annotations

from pathlib import Path

import click

from openlipsync.cli.serve_cmd import _settings, config_option, data_dir_option
from openlipsync.errors import LipSyncError


def _db(config: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from openlipsync.db import Database, upgrade

    settings = _settings(config, data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url())
    upgrade(db.engine)
    return db


@click.group()
def keys() -> None:
    """Manage API keys. Each key belongs to a tenant; tenants never see each other's jobs or files."""


@keys.command("create")
@click.option("--tenant", default="default", show_default=True, help="Tenant name (created on first use).")
@click.option("--name", default="", help="A label for the key.")
@config_option
@data_dir_option
def create(tenant: str, name: str, config: Path | None, data_dir: Path | None) -> None:
    """Create a key and print it (only its hash is stored)."""
    from openlipsync.jobs.tenants import create_key

    created = create_key(_db(config, data_dir), tenant, name)
    click.echo(f"key:            {created.key}")
    click.echo(f"key id:         {created.key_id}")
    click.echo(f"tenant:         {created.tenant_name} ({created.tenant_id})")
    click.echo(f"webhook secret: {created.webhook_secret}")


@keys.command("list")
@config_option
@data_dir_option
def list_(config: Path | None, data_dir: Path | None) -> None:
    """List keys (prefix, tenant, created, last used, revoked)."""
    from openlipsync.jobs.tenants import list_keys

    rows = list_keys(_db(config, data_dir))
    if not rows:
        click.echo("no keys; create one with `openlipsync keys create`")
    for key, tenant in rows:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        click.echo(f"{key.id}  {key.prefix}…  tenant={tenant.name}  created={key.created_at:%Y-%m-%d %H:%M}  "
                   f"last_used={used}  {state}  {key.name}")


@keys.command("revoke")
@click.argument("key")
@config_option
@data_dir_option
def revoke(key: str, config: Path | None, data_dir: Path | None) -> None:
    """Revoke KEY (its id or its shown prefix)."""
    from openlipsync.jobs.tenants import revoke_key

    try:
        row = revoke_key(_db(config, data_dir), key)
    except LipSyncError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"revoked {row.id} ({row.prefix}…)")
