"""One settings object for the platform, read from the environment (and optionally a TOML file).

Environment variables use the ``OPENLIPSYNC_`` prefix (``OPENLIPSYNC_DATA_DIR``...). The three backend URLs
also accept the plain names used by most deployment tools: ``DATABASE_URL``, ``QUEUE_URL``, ``STORAGE_URL``.
A TOML file (``OPENLIPSYNC_CONFIG`` or ``openlipsync serve --config``) gives defaults that the environment
overrides. The engine never sees this object; it gets ``LipSyncOptions``.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# USD per output second, billed at 25-fps frame granularity (SPEC §5; Sync's public list prices where
# published; lipsync-1.9 and react-1 have no published list price, so they follow the nearest tier).
DEFAULT_PRICES: dict[str, float] = {
    "lipsync-1.9": 0.04,
    "lipsync-2": 0.05,
    "lipsync-2-pro": 0.083,
    "sync-3": 0.133,
    "react-1": 0.133,
}


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "openlipsync"


class Settings(BaseSettings):
    """Platform configuration. Backends are chosen by URL; every path defaults under ``data_dir``."""

    model_config = SettingsConfigDict(env_prefix="OPENLIPSYNC_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENLIPSYNC_DATABASE_URL", "DATABASE_URL", "database_url"))
    queue_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENLIPSYNC_QUEUE_URL", "QUEUE_URL", "queue_url"))
    storage_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENLIPSYNC_STORAGE_URL", "STORAGE_URL", "storage_url"))

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # absolute base for links, without path_prefix (else from each request)
    path_prefix: str = ""  # serve the APIs under e.g. "/api" (the SDK's base_url may carry a prefix)
    secret_key: str | None = None  # signs output links; generated and kept in data_dir when unset
    signed_url_ttl_seconds: int = 24 * 3600
    # With object storage that can sign its own links (S3), answer an output download with a redirect to a
    # short-lived presigned URL, so video bytes flow from the store instead of through the API.
    presigned_redirect: bool = False
    presigned_ttl_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    auto_migrate: bool = True

    # Workers
    worker_concurrency: int = Field(default=1, ge=1, le=64)
    job_timeout_seconds: float = Field(default=1800.0, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    sweep_interval_seconds: float = Field(default=15.0, gt=0)
    pending_requeue_seconds: float = Field(default=60.0, gt=0)  # PENDING this long → enqueued again
    max_attempts: int = Field(default=3, ge=1)

    # Webhooks
    webhook_secret: str | None = None  # global fallback; each tenant normally has its own whsec_
    webhook_max_attempts: int = Field(default=6, ge=1)
    webhook_backoff_seconds: float = Field(default=2.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    # Inputs (the security layer reads these too)
    max_upload_bytes: int = 1024 * 1024 * 1024
    url_fetch_timeout_seconds: float = 300.0
    url_allow_networks: list[str] = Field(default_factory=list)  # e.g. ["127.0.0.1/32"] for local tests
    url_allow_hosts: list[str] = Field(default_factory=list)
    max_batch_lines: int = 500

    # Security limits (openlipsync.security; docs/SECURITY.md). 0 disables a limit.
    rate_limit_requests_per_second: float = 20.0  # per API key (token bucket)
    rate_limit_burst: int = 60
    rate_limit_max_inflight_requests: int = 32
    quota_max_active_jobs: int = 16  # PENDING + PROCESSING per tenant
    quota_max_stored_bytes: int = 20 * 1024**3  # input assets per tenant
    rate_limit_url: str | None = None  # Redis for limits shared by all API processes (default: a redis QUEUE_URL)
    input_max_duration_seconds: float = 1800.0
    input_max_width: int = 4096
    input_max_height: int = 4096
    input_max_frames: int = 108_000
    engine_isolation: bool = True  # each engine run in a child process with the limits below
    engine_memory_limit_bytes: int = 4 * 1024**3

    # Billing
    prices_per_second: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    billing_fps: float = 25.0

    @field_validator("prices_per_second")
    @classmethod
    def _complete_prices(cls, value: dict[str, float]) -> dict[str, float]:
        merged = dict(DEFAULT_PRICES)
        merged.update(value)
        if any(p < 0 for p in merged.values()):
            raise ValueError("prices must be >= 0")
        return merged

    @field_validator("path_prefix")
    @classmethod
    def _clean_prefix(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and (not value.startswith("/") or "//" in value or "?" in value or "#" in value):
            raise ValueError("path_prefix must look like /api")
        return value

    @field_validator("secret_key")
    @classmethod
    def _strong_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("secret_key must be at least 16 characters")
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init kwargs > environment > TOML file named by OPENLIPSYNC_CONFIG
        return init_settings, env_settings, _TomlSource(settings_cls)

    # --- derived values -------------------------------------------------------------------------------

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'openlipsync.db'}"

    def resolved_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{self.data_dir / 'queue'}"

    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{self.data_dir / 'files'}"

    def resolved_secret_key(self) -> str:
        """The link-signing secret: configured, or generated once and kept in ``data_dir``."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.is_file():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def external_base(self, request_base: str | None = None) -> str:
        """Absolute base of every link: ``public_url`` + ``path_prefix``, else the request's own base
        (which already carries the prefix it was called with)."""
        if self.public_url:
            return self.public_url.rstrip("/") + self.path_prefix
        if request_base:
            return request_base.rstrip("/")
        return f"http://{self.host}:{self.port}{self.path_prefix}"

    def price_per_second(self, model: str) -> float:
        return self.prices_per_second[model]


_CONFIG_FILE: ContextVar[str | None] = ContextVar("openlipsync_config_file", default=None)


class _TomlSource(PydanticBaseSettingsSource):
    """Values from the TOML file named by ``OPENLIPSYNC_CONFIG`` (lowest precedence)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _CONFIG_FILE.get() or os.environ.get("OPENLIPSYNC_CONFIG")
        if not path:
            return {}
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        return dict(data.get("openlipsync", data))


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from the environment, an optional TOML file and explicit overrides."""
    token = _CONFIG_FILE.set(None if config_file is None else str(config_file))
    try:
        return Settings(**overrides)
    finally:
        _CONFIG_FILE.reset(token)
