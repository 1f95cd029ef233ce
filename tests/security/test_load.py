"""A short run of the loopback load test (benchmarks/load/loadtest.py) against a live ``openlipsync serve``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load" / "loadtest.py"


def _loadtest():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("loadtest", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["loadtest"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(300)
def test_short_mixed_load_has_no_5xx_no_errors_and_loses_no_job() -> None:
    report = _loadtest().run_load(clients=20, seconds=4.0, tenants=3)
    assert report["requests"] > 0 and report["jobs_created"] > 0
    assert report["status_5xx"] == 0
    assert report["request_errors"] == {}
    assert report["unexpected"] == []
    assert report["jobs_lost"] == 0
    assert report["server_tracebacks"] == 0
    assert set(report["ops"]) == {"get", "list", "create", "create_invalid"}
