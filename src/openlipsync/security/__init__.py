"""Reliability and security building blocks: safe URL fetching, input limits, rate limits, isolation."""

from openlipsync.security.urlfetch import FetchPolicy, FetchResult, SafeFetcher, fetch_url

__all__ = ["FetchPolicy", "FetchResult", "SafeFetcher", "fetch_url"]
