"""Tenants and API keys. Keys are shown once at creation; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from openlipsync.db import ApiKey, Database, Tenant
from openlipsync.errors import NotFoundError

KEY_PREFIX = "ols_"
_LAST_USED_GRANULARITY = timedelta(minutes=1)  # don't write on every request


@dataclass(frozen=True)
class CreatedKey:
    key: str  # the secret, shown once
    key_id: str
    tenant_id: str
    tenant_name: str
    webhook_secret: str


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant every query is scoped to."""

    tenant_id: str
    key_id: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def get_or_create_tenant(db: Database, name: str) -> Tenant:
    with db.session() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.name == name))
        if tenant is None:
            tenant = Tenant(name=name, webhook_secret="whsec_" + secrets.token_hex(24))
            s.add(tenant)
        return tenant


def create_key(db: Database, tenant_name: str = "default", name: str = "") -> CreatedKey:
    """Create an API key for ``tenant_name`` (creating the tenant on first use)."""
    tenant = get_or_create_tenant(db, tenant_name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with db.session() as s:
        row = ApiKey(tenant_id=tenant.id, name=name, prefix=key[:12], key_hash=hash_key(key))
        s.add(row)
        s.flush()
        key_id = row.id
    return CreatedKey(key, key_id, tenant.id, tenant.name, tenant.webhook_secret)


def list_keys(db: Database) -> list[tuple[ApiKey, Tenant]]:
    with db.session() as s:
        rows = s.execute(select(ApiKey, Tenant).join(Tenant).order_by(ApiKey.created_at)).all()
        return [(k, t) for k, t in rows]


def revoke_key(db: Database, key_id_or_prefix: str) -> ApiKey:
    """Revoke by id or by the shown prefix (``ols_xxxxxxxx``)."""
    with db.session() as s:
        rows = s.scalars(select(ApiKey).where(
            (ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix))).all()
        if len(rows) != 1:
            raise NotFoundError(f"no unique API key matches {key_id_or_prefix!r}")
        rows[0].revoked_at = datetime.now(UTC)
        return rows[0]


def count_active_keys(db: Database) -> int:
    with db.session() as s:
        return len(s.scalars(select(ApiKey.id).where(ApiKey.revoked_at.is_(None))).all())


def authenticate(db: Database, key: str | None) -> Principal | None:
    """The principal for a presented key, or None when it is unknown or revoked."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    with db.session() as s:
        digest = hash_key(key)
        row = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
        # the lookup is by hash; the final comparison is constant-time anyway (no timing oracle on the hash)
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
            return None
        now = datetime.now(UTC)
        if row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRANULARITY:
            row.last_used_at = now
        return Principal(tenant_id=row.tenant_id, key_id=row.id)


def tenant_webhook_secret(db: Database, tenant_id: str) -> str:
    with db.session() as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFoundError("tenant not found")
        return tenant.webhook_secret
