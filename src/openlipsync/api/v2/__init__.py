"""Sync API v2-compatible routers (``/v2``)."""
