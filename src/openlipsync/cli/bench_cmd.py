"""``openlipsync bench``: engine speed against the transcode floor, measured in the same run (docs/BENCH.md)."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import click

from openlipsync.options import Model

STAGE_ORDER = ("reuse", "decode", "track", "library", "audio", "plan", "select", "render", "blend", "encode")


def _stages(seconds: dict[str, float]) -> str:
    keys = [k for k in STAGE_ORDER if k in seconds] + sorted(k for k in seconds
                                                           if k not in STAGE_ORDER and k != "total")
    return " ".join(f"{k} {seconds[k]:.1f}" for k in keys)


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _table(rows: list) -> object:  # type: ignore[type-arg]
    from rich.table import Table

    table = Table(title="openlipsync bench", title_justify="left", header_style="bold")
    for name in ("input", "size", "system", "video s", "wall s", "× real time", "× floor", "peak RSS MiB",
                 "child MiB", "tree PSS MiB", "imports s", "stages (s)"):
        table.add_column(name, justify="left" if name in ("input", "size", "system", "stages (s)") else "right")
    for r in rows:
        if r.error:
            table.add_row(r.input, r.resolution, r.system, f"{r.video_seconds:.1f}",
                          f"[red]error: {r.error[:80]}[/red]", "", "", _fmt(r.peak_rss_mib, ".0f"), "", "", "", "")
            continue
        table.add_row(r.input, r.resolution, r.system, f"{r.video_seconds:.1f}", _fmt(r.wall, ".2f"),
                      _fmt(r.realtime_factor, ".2f"), _fmt(r.floor_ratio, ".2f"), _fmt(r.peak_rss_mib, ".0f"),
                      _fmt(r.ffmpeg_peak_rss_mib, ".0f"), _fmt(r.tree_pss_mib, ".0f"), _fmt(r.imports_seconds, ".1f"),
                      _stages(r.stage_seconds))
    return table


@click.command("bench")
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--models", default="lipsync-1.9,lipsync-2", show_default=True,
              help="Comma-separated engine models to time.")
@click.option("--synthetic", default="720p,1080p", show_default=True,
              help="Generated astronaut inputs to include (comma-separated heights, e.g. 720p,1080p; '' for none).")
@click.option("--seconds", type=click.FloatRange(1, 3600), default=10.0, show_default=True,
              help="Length of the generated inputs.")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Driving audio for INPUTS (default: each input's own audio track).")
@click.option("--shared-media/--no-shared-media", default=True, show_default=True,
              help="Also time the clips in ../shared/media/video when present (ignored when INPUTS are given).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where generated inputs are kept [default: ~/.cache/openlipsync/bench].")
@click.option("--reuse", is_flag=True, default=False,
              help="Also time each model on a repeated job with the same video, its analysis taken from the "
                   "analysis cache (rows '<model> reused').")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the rows as JSON here.")
def bench_cmd(inputs: tuple[Path, ...], models: str, synthetic: str, seconds: float, audio: Path | None,
              shared_media: bool, cache_dir: Path | None, reuse: bool, json_out: Path | None) -> None:
    """Time the engine on INPUT videos and generated ones, against the ffmpeg transcode floor.

    For every input the floor (decode → numpy → libx264 with the engine's encoder settings, same pipe
    round trip, same audio mux) is measured first, then each model through `openlipsync.lipsync` in
    sync_mode cut_off. Every measurement runs in its own process: peak RSS is per run. Each run analyses
    its video afresh; --reuse adds rows for a repeated job on the same video (the analysis cache's case).

    \b
    Columns:
      × real time   video seconds per wall second (≥ 1 is faster than real time)
      × floor       wall time / the floor's wall time on the same input in this run
      peak RSS      the Python process's peak resident memory; child = its largest child (ffmpeg or a
                    render worker); tree PSS = peak proportional memory of the whole process tree
      imports s     the engine's one-time imports, done before the clock starts, as in a warm worker
      stages        LipSyncResult.stage_seconds (decode, track, audio, plan, render, blend, encode, ...)
    Timings are wall clock on a shared machine: compare rows of one run, not runs on different days.
    """
    from rich.console import Console

    from openlipsync.evaluation.bench import BenchRow, bench_input, run_bench, synthetic_input
    from openlipsync.evaluation.sources import default_media_dir, videos_in

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    model_list = [Model.parse(m.strip()).value for m in models.split(",") if m.strip()]
    cache = cache_dir or Path.home() / ".cache" / "openlipsync" / "bench"
    todo = [bench_input(p, audio) for p in inputs]
    if not inputs and shared_media and (media := default_media_dir()) is not None:
        todo += [bench_input(p) for p in videos_in(media)]
    for item in (s.strip().lower().rstrip("p") for s in synthetic.split(",") if s.strip()):
        if not item.isdigit():
            raise click.BadParameter(f"{item!r} is not a height like 720p", param_hint="--synthetic")
        console.print(f"preparing synthetic {item}p input ({seconds:g} s) …")
        todo.append(synthetic_input(cache, int(item), seconds))
    if not todo:
        click.secho("nothing to bench: give INPUT files or --synthetic", fg="red", err=True)
        sys.exit(2)
    console.print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
                  f"Python {platform.python_version()}")

    def show(r: BenchRow) -> None:
        status = f"error: {r.error}" if r.error else f"{r.wall or 0:.2f}s"
        console.print(f"  {r.input} · {r.system}: {status}")

    rows = run_bench(todo, model_list, reuse=reuse, on_row=show)
    console.print(_table(rows))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps([r.to_json() for r in rows], indent=2))
        console.print(f"results: {json_out}")
