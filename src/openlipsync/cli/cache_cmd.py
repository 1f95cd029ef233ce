"""``openlipsync cache``: what the analysis cache holds, and emptying it (``openlipsync.analysis_cache``)."""

from __future__ import annotations

import datetime

import click


def _cache():  # type: ignore[no-untyped-def]
    from openlipsync.analysis_cache import AnalysisCache

    cache = AnalysisCache.from_env()
    if cache is None:
        click.echo("the analysis cache is off (OPENLIPSYNC_ANALYSIS_CACHE=off)")
    return cache


@click.group("cache")
def cache_cmd() -> None:
    """The analysis cache: a video processed again (new speech, same video) skips its tracking pass.

    It holds each video's face track, mouth crops and calibration, keyed by the video's content; its
    directory is OPENLIPSYNC_ANALYSIS_CACHE (default ~/.cache/openlipsync/analysis, 'off' disables),
    its size OPENLIPSYNC_ANALYSIS_CACHE_MB (default 2048; least recently used entries go first).
    """


@cache_cmd.command("info")
def info() -> None:
    """Where the cache is, how full, and its entries (least recently used first)."""
    cache = _cache()
    if cache is None:
        return
    entries = cache.entries() if cache.root.is_dir() else []
    total = sum(size for _, size, _ in entries)
    click.echo(f"directory: {cache.root}")
    click.echo(f"entries:   {len(entries)}, {total / 2**20:.1f} MiB of {cache.max_bytes / 2**20:.0f} MiB")
    for used, size, path in entries:
        when = datetime.datetime.fromtimestamp(used).isoformat(sep=" ", timespec="seconds")
        click.echo(f"  {path.stem}  {size / 2**20:8.1f} MiB  last used {when}")


@cache_cmd.command("clear")
def clear() -> None:
    """Remove every entry (later jobs analyse their videos again)."""
    cache = _cache()
    if cache is None:
        return
    removed = cache.clear() if cache.root.is_dir() else 0
    click.echo(f"removed {removed} entries from {cache.root}")
