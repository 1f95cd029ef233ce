"""Fixtures for job tests: reuse the API fixtures (tiny media, platform, keys)."""

from tests.api.conftest import (  # noqa: F401 (re-exported fixtures)
    engine_platform,
    key,
    media_url,
    other_key,
    platform,
    tiny_dir,
    worker,
)
