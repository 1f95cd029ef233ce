"""``openlipsync keys``: create prints a working key once; list shows prefixes only; revoke disables it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from openlipsync.cli.main import cli
from openlipsync.db import Database
from openlipsync.jobs.tenants import authenticate


def test_keys_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)  # this test reads the embedded SQLite file
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path)]
    created = runner.invoke(cli, ["keys", "create", "--tenant", "acme", "--name", "ci", *args])
    assert created.exit_code == 0, created.output
    fields = dict(line.split(":", 1) for line in created.output.splitlines())
    key, key_id = fields["key"].strip(), fields["key id"].strip()
    assert key.startswith("ols_") and fields["webhook secret"].strip().startswith("whsec_")
    db = Database(f"sqlite:///{tmp_path / 'openlipsync.db'}")
    assert authenticate(db, key) is not None
    listed = runner.invoke(cli, ["keys", "list", *args])
    assert listed.exit_code == 0 and key_id in listed.output and "tenant=acme" in listed.output
    assert key not in listed.output  # the secret is never shown again
    revoked = runner.invoke(cli, ["keys", "revoke", key_id, *args])
    assert revoked.exit_code == 0 and authenticate(db, key) is None
    assert runner.invoke(cli, ["keys", "revoke", "ols_nope", *args]).exit_code != 0
    db.dispose()
