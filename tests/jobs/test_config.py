"""Settings: OPENLIPSYNC_ prefix, plain backend URL names, TOML file below the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from openlipsync.config import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "QUEUE_URL", "STORAGE_URL", "OPENLIPSYNC_CONFIG", "OPENLIPSYNC_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url() == f"sqlite:///{tmp_path / 'openlipsync.db'}"
    assert s.resolved_queue_url().startswith("sqlite:///") and s.resolved_storage_url().startswith("file://")
    secret = s.resolved_secret_key()
    assert len(secret) >= 32 and Settings(data_dir=tmp_path).resolved_secret_key() == secret  # kept


def test_plain_backend_urls_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("QUEUE_URL", "redis://q:6379/0")
    monkeypatch.setenv("OPENLIPSYNC_STORAGE_URL", "s3://bucket/p")
    s = Settings()
    assert (s.database_url, s.queue_url, s.storage_url) == ("postgresql://db/x", "redis://q:6379/0", "s3://bucket/p")


def test_toml_file_gives_defaults_that_the_environment_overrides(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "ols.toml"
    cfg.write_text('port = 9001\nworker_concurrency = 3\n[prices_per_second]\n"sync-3" = 0.2\n')
    monkeypatch.setenv("OPENLIPSYNC_PORT", "9002")
    s = load_settings(cfg)
    assert s.port == 9002 and s.worker_concurrency == 3 and s.price_per_second("sync-3") == 0.2
    assert Settings().price_per_second("sync-3") == 0.133  # the file applied to that load only


def test_unsafe_values_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(secret_key="short")
    with pytest.raises(ValidationError):
        Settings(prices_per_second={"lipsync-2": -1})
    with pytest.raises(ValidationError):
        Settings(worker_concurrency=0)
