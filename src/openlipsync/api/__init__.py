"""HTTP API: ``create_app(settings, ...)`` serves /v1 (native) and /v2 (Sync-compatible)."""

from openlipsync.api.app import create_app

__all__ = ["create_app"]
